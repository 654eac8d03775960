//! What the kernel records at exec, for processes that exit at once: the
//! exe path and cwd walked in the kernel, the environment, the controlling
//! terminal, the login uid, capabilities and the exe's writability.
// A failed step should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::items_after_statements)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::process::Command;

use common::{arg, is, sensor, unique};
use serde_json::Value;

/// A private copy of /bin/true in a fresh, world-traversable directory.
fn program(dir: &std::path::Path, name: &str, mode: u32) -> std::path::PathBuf {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = dir.join(name);
    std::fs::copy("/bin/true", &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn exec_of(s: &common::Sensor, pid: u32) -> Value {
    let pid = u64::from(pid);
    s.wait_for("the child's exec", |e| is(e, "execve") && e["pid"] == pid)
}

fn own_caps(key: &str) -> u64 {
    let st = std::fs::read_to_string("/proc/self/status").unwrap();
    let v = st.lines().find_map(|l| l.strip_prefix(key)).unwrap();
    u64::from_str_radix(v.trim(), 16).unwrap()
}

#[test]
fn relative_exec_in_a_directory_gets_absolute_exepath_cwd_env_and_caps() {
    let Some(s) = sensor() else { return };
    let dir = tempfile::tempdir().unwrap();
    program(dir.path(), "prog", 0o755);
    let mark = unique("env");
    let mut cmd = Command::new("./prog");
    cmd.current_dir(dir.path()).env_clear().env("SENSOR_MARK", &mark);
    let mut child = common::retry_busy(&mut cmd, Command::spawn);
    let pid = child.id();
    child.wait().unwrap();
    let ev = exec_of(s, pid);
    let want = dir.path().join("prog");
    let want = want.to_str().unwrap();
    // The process is gone before its record is read: these come from the kernel.
    assert_eq!(arg(&ev, "trusted_exepath"), want, "{ev}");
    assert_eq!(arg(&ev, "cwd"), dir.path().to_str().unwrap());
    assert_eq!(ev["proc"]["exepath"], want);
    assert_eq!(ev["proc"]["cwd"], dir.path().to_str().unwrap());
    let env = arg(&ev, "env").as_array().unwrap();
    assert!(env.iter().any(|v| v.as_str() == Some(&format!("SENSOR_MARK={mark}"))), "{env:?}");
    // Root with its full sets; they are what this test process holds.
    assert_eq!(ev["proc"]["cap_effective"], own_caps("CapEff:"));
    assert_eq!(ev["proc"]["cap_permitted"], own_caps("CapPrm:"));
    assert_eq!(ev["proc"]["cap_inheritable"], own_caps("CapInh:"));
    // Root owns the copy: writable, as Falco's proc.is_exe_writable says.
    assert_eq!(ev["proc"]["exe_writable"], true);
    assert!(ev["proc"].get("exe_upper_layer").is_none());
    assert!(ev["num"].as_u64().unwrap() > 0);
}

#[test]
fn exec_through_a_symlink_reports_the_real_file() {
    let Some(s) = sensor() else { return };
    let dir = tempfile::tempdir().unwrap();
    let real = program(dir.path(), "real", 0o755);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut child = common::retry_busy(&mut Command::new(&link), Command::spawn);
    let pid = child.id();
    child.wait().unwrap();
    let ev = exec_of(s, pid);
    assert_eq!(arg(&ev, "exe"), link.to_str().unwrap());
    assert_eq!(arg(&ev, "trusted_exepath"), real.to_str().unwrap());
}

/// Runs `prog` as uid/gid 65534 (nobody); returns its pid.
fn as_nobody(prog: &std::path::Path) -> u32 {
    let mut cmd = Command::new(prog);
    cmd.uid(65534).gid(65534);
    let mut child = common::retry_busy(&mut cmd, Command::spawn);
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    pid
}

#[test]
fn exe_writable_follows_the_users_rights() {
    let Some(s) = sensor() else { return };
    let dir = tempfile::tempdir().unwrap();
    let locked = program(dir.path(), "locked", 0o755);
    let open = program(dir.path(), "open", 0o777);
    let ev = exec_of(s, as_nobody(&locked));
    assert!(ev["proc"].get("exe_writable").is_none(), "root's 0755 file is not nobody's to write: {ev}");
    assert_eq!(ev["uid"], 65534);
    assert_eq!(ev["proc"]["cap_effective"], 0, "a non-root exec drops capabilities");
    let ev = exec_of(s, as_nobody(&open));
    assert_eq!(ev["proc"]["exe_writable"], true, "{ev}");
}

#[test]
fn controlling_terminal_is_read_from_the_task() {
    let Some(s) = sensor() else { return };
    let pty = nix::pty::openpty(None, None).unwrap();
    use std::os::fd::AsRawFd as _;
    let slave = pty.slave.as_raw_fd();
    // tty_nr encoding of the slave's device number, as /proc/PID/stat has it.
    let st = nix::sys::stat::fstat(&pty.slave).unwrap();
    let (major, minor) = (libc::major(st.st_rdev), libc::minor(st.st_rdev));
    let want = u64::from((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12));
    let mut cmd = Command::new("/bin/true");
    // SAFETY: setsid and ioctl only, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 || libc::ioctl(slave, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let ev = exec_of(s, pid);
    assert_eq!(arg(&ev, "tty"), want, "{ev}");
    assert_eq!(ev["proc"]["tty"], want);
    // And a new session without a terminal has none.
    let mut cmd = Command::new("/bin/true");
    // SAFETY: setsid only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| if libc::setsid() < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) });
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let ev = exec_of(s, pid);
    assert_eq!(arg(&ev, "tty"), 0, "{ev}");
}

#[test]
fn login_uid_is_read_from_the_task() {
    let Some(s) = sensor() else { return };
    let path = "/proc/self/loginuid";
    let Ok(mine) = std::fs::read_to_string(path) else {
        eprintln!("SKIPPED: no {path} (kernel without CONFIG_AUDIT)");
        return;
    };
    let mine: u32 = mine.trim().parse().unwrap();
    // An unset login uid may be set once (CAP_AUDIT_CONTROL); a set one is inherited.
    let want: i64 = if mine == u32::MAX { 4242 } else { i64::from(mine) };
    let mut cmd = Command::new("/bin/true");
    // SAFETY: a write to a proc file between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if mine == u32::MAX {
                std::fs::write("/proc/self/loginuid", "4242")?;
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    let ev = exec_of(s, pid);
    assert_eq!(arg(&ev, "loginuid"), want, "{ev}");
    assert_eq!(ev["proc"]["loginuid"], want);
}
