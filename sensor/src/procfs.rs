//! Reads of /proc for seeding the process table and filling gaps.

use std::fs;
use std::sync::OnceLock;

use crate::process::{Details, Process};

/// Nanoseconds per clock tick (the unit of `starttime` in /proc/PID/stat).
pub fn tick_ns() -> u64 {
    static TICK: OnceLock<u64> = OnceLock::new();
    *TICK.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if hz > 0 { 1_000_000_000 / hz as u64 } else { 10_000_000 }
    })
}

pub fn exists(pid: u32) -> bool {
    fs::metadata(format!("/proc/{pid}")).is_ok()
}

/// The container of a live process, from /proc/PID/cgroup.
pub fn container(pid: u32) -> Option<crate::container::ContainerRef> {
    crate::container::cgroup::parse_proc_cgroup(&fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?)
}

pub fn cwd(pid: u32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/cwd")).ok().map(|p| p.to_string_lossy().into_owned())
}

/// Attributes of a live process; a process that already exited yields the
/// defaults (its events still carry what the kernel recorded).
pub fn details(pid: u32) -> Details {
    let mut d = Details {
        exepath: fs::read_link(format!("/proc/{pid}/exe")).ok().map(|p| exepath(&p.to_string_lossy())),
        ..Details::default()
    };
    if let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat"))
        && let Some((sid, tty)) = parse_stat_session(&stat)
    {
        d.sid = sid;
        d.tty = tty;
    }
    if let Ok(l) = fs::read_to_string(format!("/proc/{pid}/loginuid")) {
        // 4294967295 is "unset": Falco shows -1.
        d.loginuid = l.trim().parse::<u32>().map_or(-1, |v| if v == u32::MAX { -1 } else { i64::from(v) });
    }
    if let Ok(st) = fs::read_to_string(format!("/proc/{pid}/status")) {
        d.cap_effective = st
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0);
    }
    d
}

/// The kernel shows a memfd executable as `/memfd:NAME (deleted)`; Falco's
/// `proc.exepath` (and rules matching on it) use `memfd:NAME`.
pub fn exepath(link: &str) -> String {
    match link.strip_prefix("/memfd:") {
        Some(rest) => format!("memfd:{}", rest.strip_suffix(" (deleted)").unwrap_or(rest)),
        None => link.to_owned(),
    }
}

/// `(session, tty_nr)`: fields 6 and 7 of /proc/PID/stat.
pub fn parse_stat_session(stat: &str) -> Option<(u32, u32)> {
    let close = stat.rfind(')')?;
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    Some((rest.get(3)?.parse().ok()?, rest.get(4)?.parse().ok()?))
}

/// Fields of /proc/PID/stat after the parenthesised comm, which may itself
/// contain spaces and parentheses: split at the last ')'.
pub fn parse_stat(stat: &str) -> Option<(String, u32, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is state (field 3); ppid is field 4, starttime field 22.
    let ppid = rest.get(1)?.parse().ok()?;
    let start_ticks: u64 = rest.get(19)?.parse().ok()?;
    Some((comm, ppid, start_ticks))
}

pub fn process(pid: u32) -> Option<Process> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (name, ppid, ticks) = parse_stat(&stat)?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args = crate::decode::split_argv(&cmdline);
    let exe = fs::read_link(format!("/proc/{pid}/exe")).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let (uid, euid) = fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?;
            let mut it = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok());
            Some((it.next()?, it.next()?))
        })
        .unwrap_or((0, 0));
    Some(Process {
        pid,
        ppid,
        start_ns: ticks * tick_ns(),
        name,
        exe,
        args,
        cwd: cwd(pid),
        uid,
        euid,
        details: details(pid),
        container: container(pid),
    })
}

pub fn all_processes() -> impl Iterator<Item = Process> {
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(process)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_hostile_comm() {
        let s = "42 (a) b (c) 1) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 1 2 3";
        assert_eq!(parse_stat(s), Some(("a) b (c) 1".to_owned(), 7, 12345)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S"), None);
        assert_eq!(parse_stat_session(s), Some((42, 0)));
        assert_eq!(exepath("/memfd:runc_cloned:/proc/self/exe (deleted)"), "memfd:runc_cloned:/proc/self/exe");
        assert_eq!(exepath("/usr/bin/ls"), "/usr/bin/ls");
    }

    #[test]
    fn reads_self() {
        let me = process(std::process::id()).expect("own /proc entry");
        assert_eq!(me.pid, std::process::id());
        assert!(
            me.exe.ends_with(std::env::current_exe().unwrap().file_name().unwrap().to_str().unwrap())
                || me.exe.contains("deleted")
        );
        assert!(!me.args.is_empty());
    }
}
