//! Process events (exec, fork, exit) and in-kernel filtering, for real.
// A failed step should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::many_single_char_names, clippy::items_after_statements)]

mod common;

use std::ffi::CString;
use std::process::Command;

use common::{arg, is, me, sensor, unique};

#[test]
fn exec_with_unusual_argv_reports_argv_exe_ppid_and_fork_and_exit() {
    let Some(s) = sensor() else { return };
    let tag = unique("argv");
    let odd = ["", "with space", "ünïcödé", "--flag=\"quoted\"", &tag];
    let mut child = Command::new("/bin/sh").arg("-c").arg("exit 7").args(odd).spawn().unwrap();
    let pid = u64::from(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7));

    let ev = s.wait_for("exec of /bin/sh", |e| is(e, "execve") && e["pid"] == pid);
    let mut want = vec!["/bin/sh", "-c", "exit 7"];
    want.extend(odd);
    assert_eq!(arg(&ev, "args"), &serde_json::json!(want));
    assert_eq!(arg(&ev, "exe"), "/bin/sh");
    assert_eq!(arg(&ev, "ppid"), me());
    assert_eq!(ev["ret"], 0);
    assert_eq!(ev["comm"], "sh");
    // Enrichment: the parent is this test binary.
    let anc = &ev["proc"]["ancestors"][0];
    assert_eq!(anc["pid"], me(), "{ev}");

    let fork = s.wait_for("fork of the child", |e| is(e, "clone") && arg(e, "child_pid") == pid);
    assert_eq!(fork["pid"], me());
    let exit = s.wait_for("exit of the child", |e| is(e, "procexit") && e["pid"] == pid);
    assert_eq!(arg(&exit, "code"), 7);
}

#[test]
fn exit_by_signal_reports_signal() {
    let Some(s) = sensor() else { return };
    let mut child = Command::new("/bin/sleep").arg("30").spawn().unwrap();
    let pid = u64::from(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    let exit = s.wait_for("killed child exit", |e| is(e, "procexit") && e["pid"] == pid);
    assert_eq!(arg(&exit, "sig"), libc::SIGKILL);
}

#[test]
fn failed_exec_and_execveat_report_errno() {
    let Some(s) = sensor() else { return };
    let missing = format!("/nonexistent/{}", unique("exe"));
    let c = CString::new(missing.clone()).unwrap();
    let argv = [c.as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    // SAFETY: fails with ENOENT and returns; the process image is untouched.
    let r = unsafe { libc::execve(c.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    assert_eq!(r, -1);
    let ev = s.wait_for("failed execve", |e| is(e, "execve") && arg(e, "filename") == missing.as_str());
    assert_eq!(ev["pid"], me());
    assert_eq!(ev["errno"], "ENOENT");

    // SAFETY: as above.
    let r = unsafe { libc::syscall(libc::SYS_execveat, libc::AT_FDCWD, c.as_ptr(), argv.as_ptr(), envp.as_ptr(), 0) };
    assert_eq!(r, -1);
    let ev = s.wait_for("failed execveat", |e| is(e, "execveat") && arg(e, "filename") == missing.as_str());
    assert_eq!(ev["ret"], -libc::ENOENT);
}

#[test]
fn relative_exec_is_resolved_against_cwd() {
    let Some(s) = sensor() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/true", dir.path().join("true-copy")).unwrap();
    let tag = unique("rel");
    let mut child = common::retry_busy(Command::new("./true-copy").arg(&tag).current_dir(dir.path()), Command::spawn);
    child.wait().unwrap();
    let ev = s.wait_for("relative exec", |e| is(e, "execve") && arg(e, "args")[1] == tag.as_str());
    assert_eq!(arg(&ev, "exe"), "./true-copy");
    // The process view made it absolute (when the cwd could still be read).
    let exe = ev["proc"]["exe"].as_str().unwrap();
    assert!(exe == dir.path().join("true-copy").to_str().unwrap() || exe == "./true-copy", "{exe}");
}

#[test]
fn sensor_does_not_see_its_own_syscalls() {
    let Some(s) = sensor() else { return };
    // Make the sensor work (it writes to its stdout for every event) ...
    for _ in 0..50 {
        let _ = std::fs::File::open("/nonexistent/own-pid-filter");
    }
    s.wait_for("some event", |e| is(e, "openat") && arg(e, "name") == "/nonexistent/own-pid-filter");
    // ... yet none of its own syscalls came back (it would loop otherwise).
    let own = s.all(|e| e["pid"] == u64::from(s.pid) && e["category"] != "process" && e["category"] != "sensor");
    assert!(own.is_empty(), "sensor traced itself: {:?}", own.first());
}
