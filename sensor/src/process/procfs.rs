//! Reads of /proc for seeding the process table and filling gaps.

use std::fs;
use std::sync::OnceLock;

use super::entry::{Details, Process};

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
pub fn container(pid: u32) -> Option<crate::event::cgroup::ContainerRef> {
    crate::event::cgroup::parse_proc_cgroup(&fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?)
}

pub fn cwd(pid: u32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/cwd")).ok().map(|p| p.to_string_lossy().into_owned())
}

/// `/proc/PID/exe` as Falco writes it.
pub fn exepath_of(pid: u32) -> Option<String> {
    fs::read_link(format!("/proc/{pid}/exe")).ok().map(|p| exepath(&p.to_string_lossy()))
}

/// Process group, session and controlling terminal from /proc/PID/stat,
/// and the ids in the process's own pid namespace from /proc/PID/status
/// (defaults for a process that is gone).
pub fn session(pid: u32) -> Details {
    let mut d = Details::default();
    if let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat"))
        && let Some((pgid, sid, tty)) = parse_stat_session(&stat)
    {
        d.pgid = pgid;
        d.sid = sid;
        d.tty = tty;
    }
    if let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) {
        (d.vpid, d.vpgid) = parse_status_ns_ids(&status);
    }
    d
}

/// `(vpid, vpgid)`: the last (innermost namespace) values of the `NSpid:`
/// and `NSpgid:` lines of /proc/PID/status.
pub fn parse_status_ns_ids(status: &str) -> (Option<u32>, Option<u32>) {
    let last = |key: &str| {
        status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().last()?.parse().ok())
    };
    (last("NSpid:"), last("NSpgid:"))
}

/// Attributes of a live process read from /proc (processes seeded at
/// start); a process that already exited yields the defaults.
pub fn details(pid: u32) -> Details {
    let mut d = Details { exepath: exepath_of(pid), ..session(pid) };
    if let Ok(l) = fs::read_to_string(format!("/proc/{pid}/loginuid")) {
        // 4294967295 is "unset": Falco shows -1.
        d.loginuid = l.trim().parse::<u32>().map_or(-1, |v| if v == u32::MAX { -1 } else { i64::from(v) });
    }
    if let Ok(st) = fs::read_to_string(format!("/proc/{pid}/status")) {
        let cap = |key: &str| {
            st.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .unwrap_or(0)
        };
        d.cap_effective = cap("CapEff:");
        d.cap_permitted = cap("CapPrm:");
        d.cap_inheritable = cap("CapInh:");
    }
    d.exe_from_memfd = d.exepath.as_deref().is_some_and(|p| p.starts_with("memfd:"));
    d.exe_writable = exe_writable(pid);
    d.unit =
        fs::read_to_string(format!("/proc/{pid}/cgroup")).ok().and_then(|t| crate::event::cgroup::parse_proc_unit(&t));
    if let Ok(env) = fs::read(format!("/proc/{pid}/environ")) {
        let env = env.get(..MAX_ENV.min(env.len())).unwrap_or_default();
        d.env = crate::event::decode::split_argv(env).into();
    }
    d
}

/// Whether a seeded process's filesystem user could write its executable
/// (the kernel decides the same for processes exec'd while we run).
fn exe_writable(pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(meta) = fs::metadata(format!("/proc/{pid}/exe")) else { return false };
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else { return false };
    // Uid:/Gid: lines hold real, effective, saved and filesystem ids.
    let fs_id = |key: &str| status.lines().find_map(|l| l.strip_prefix(key)?.split_whitespace().nth(3)?.parse().ok());
    let (Some(fsuid), Some(fsgid)) = (fs_id("Uid:"), fs_id("Gid:")) else { return false };
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let rdonly = nix::sys::statvfs::statvfs(format!("/proc/{pid}/exe").as_str())
        .is_ok_and(|v| v.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY));
    crate::event::decode::ExeAccess {
        mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
        fsuid,
        fsgid,
        cap_effective: caps,
        read_only_fs: rdonly,
        immutable: false,
    }
    .writable()
}

/// Bytes of a process's environment kept (as the kernel's exec record keeps).
pub const MAX_ENV: usize = sensor_common::MAX_ARGV;

/// The kernel shows a memfd executable as `/memfd:NAME (deleted)`; Falco's
/// `proc.exepath` (and rules matching on it) use `memfd:NAME`.
pub fn exepath(link: &str) -> String {
    match link.strip_prefix("/memfd:") {
        Some(rest) => format!("memfd:{}", rest.strip_suffix(" (deleted)").unwrap_or(rest)),
        None => link.to_owned(),
    }
}

/// `(process group, session, tty_nr)`: fields 5, 6 and 7 of /proc/PID/stat.
pub fn parse_stat_session(stat: &str) -> Option<(u32, u32, u32)> {
    let close = stat.rfind(')')?;
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    Some((rest.get(2)?.parse().ok()?, rest.get(3)?.parse().ok()?, rest.get(4)?.parse().ok()?))
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
    let args = crate::event::decode::split_argv(&cmdline);
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
        assert_eq!(parse_stat_session(s), Some((42, 42, 0)));
        let status = "Name:\tsh\nNSpid:\t4242\t17\t1\nNSpgid:\t4240\t15\t1\nNSsid:\t1\n";
        assert_eq!(parse_status_ns_ids(status), (Some(1), Some(1)));
        assert_eq!(parse_status_ns_ids("NSpid:\t77\n"), (Some(77), None));
        assert_eq!(parse_status_ns_ids("NSpid:\tx\n"), (None, None));
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
