//! 32-bit (ia32) programs on x86-64: their syscalls arrive with i386
//! numbers and must be decoded as what they are.
#![cfg(target_arch = "x86_64")]
// A failed step should fail the test loudly.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::process::Command;

use common::{Sensor, arg, is, sensor, unique};

/// Builds the test's 32-bit static program, or says why it cannot (a
/// failure under CI, where setup installs gcc-multilib).
fn build_compat32(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/compat32.c");
    let out = dir.join("compat32");
    let r = Command::new("gcc").args(["-m32", "-static", "-O1", "-o"]).arg(&out).arg(&src).output();
    match r {
        Ok(o) if o.status.success() => Some(out),
        other => {
            let why =
                format!("gcc -m32 -static failed (gcc-multilib missing? scripts/setup.sh installs it): {other:?}");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

#[test]
fn i386_open_close_connect_and_socketcall_are_decoded() {
    let Some(s) = sensor() else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some(prog) = build_compat32(dir.path()) else { return };
    run_and_check(s, &prog, dir.path());
}

/// The syscalls of the 32-bit program, with a selection that every
/// per-syscall event covers: the raw hook is there for 32-bit syscalls
/// only, native ones come from their own events, once each.
const TYPES: &str = "open,openat,close,socket,connect";

/// `--compat-syscalls always` (the default) with per-syscall events for
/// native syscalls: the 32-bit program's first syscalls are all there, and
/// a native open is delivered exactly once (not by both hooks).
#[test]
fn always_mode_sees_the_first_32bit_program_and_native_once() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(prog) = build_compat32(dir.path()) else { return };
    let s = Sensor::start(&[
        "events",
        "--syscall-hooks",
        "btf",
        "--native-syscalls",
        "tracepoints",
        "--compat-syscalls",
        "always",
        "--type",
        TYPES,
    ]);
    let log = s.stderr.lock().unwrap().join("\n");
    // One event per selected syscall; the raw hook for 32-bit ones only.
    assert!(
        log.contains("native syscalls: 5 per-syscall tracepoints; 32-bit syscalls: raw hook; raw hook btf"),
        "{log}"
    );
    run_and_check(&s, &prog, dir.path());

    let path = dir.path().join(unique("native"));
    std::fs::write(&path, b"x").unwrap();
    let p = path.to_str().unwrap().to_owned();
    s.wait_for("the native open", |e| is(e, "openat") && arg(e, "name") == p.as_str());
    std::thread::sleep(std::time::Duration::from_millis(500));
    let opens = s.all(|e| (is(e, "openat") || is(e, "open")) && arg(e, "name") == p.as_str());
    assert_eq!(opens.len(), 1, "{opens:?}");
    assert_ne!(opens[0]["compat"], true, "{opens:?}");
}

/// `--compat-syscalls auto`: no raw hook until a 32-bit program runs; its
/// exec attaches the hook (logged, counted), and from then on 32-bit
/// syscalls are all recorded. (The other tests here run 32-bit programs
/// too: whichever exec comes first attaches it.) The first program's own syscalls may be
/// missed (it runs for well under a millisecond): not asserted either way.
#[test]
fn auto_mode_attaches_the_compat_hook_at_the_first_32bit_exec() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(prog) = build_compat32(dir.path()) else { return };
    let s = Sensor::start(&[
        "events",
        "--syscall-hooks",
        "btf",
        "--compat-syscalls",
        "auto",
        "--type",
        TYPES,
        "--listen",
        "127.0.0.1:0",
    ]);
    let log = s.stderr.lock().unwrap().join("\n");
    assert!(log.contains("32-bit syscalls: raw hook once a 32-bit program runs; raw hook not attached"), "{log}");
    let addr = s.metrics_addr();
    let metrics = || common::scrape(&addr);

    // The first 32-bit program: its exec attaches the hook.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let first = Command::new(&prog).arg(dir.path().join(unique("first"))).arg(port.to_string()).status().unwrap();
    assert!(first.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s.stderr.lock().unwrap().iter().any(|l| l.contains("32-bit program exec'd"))
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = s.stderr.lock().unwrap().join("\n");
    assert!(log.contains("32-bit syscalls recorded from now on"), "{log}");
    let m = metrics();
    assert!(m.contains("sensor_syscall_raw_hook_attached 1"), "{m}");
    assert!(m.contains("sensor_syscall_compat_covered 1"), "{m}");
    // At least ours: the other tests of this binary run 32-bit programs too.
    let uncovered = m
        .lines()
        .find_map(|l| l.strip_prefix("sensor_syscall_compat_uncovered_execs_total "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(uncovered.is_some_and(|n| n >= 1), "{m}");
    drop(listener);

    // The next one is seen whole.
    run_and_check(&s, &prog, dir.path());
}

/// Runs the 32-bit program and checks that its syscalls came decoded.
fn run_and_check(s: &Sensor, prog: &std::path::Path, dir: &std::path::Path) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let path = dir.join(unique("compat"));
    let p = path.to_str().unwrap().to_owned();
    let mut child = Command::new(prog).arg(&path).arg(port.to_string()).spawn().unwrap();
    let pid = u64::from(child.id());
    assert!(child.wait().unwrap().success(), "the 32-bit program failed");
    // i386 open (5) would read as x86-64 fstat without the translation.
    let ev = s.wait_for("the 32-bit open", |e| is(e, "open") && e["pid"] == pid);
    assert_eq!(ev["compat"], true, "{ev}");
    assert_eq!(arg(&ev, "name"), p.as_str());
    let flags = arg(&ev, "flags").as_u64().unwrap();
    assert_eq!(flags & (libc::O_ACCMODE as u64), libc::O_WRONLY as u64, "{ev}");
    assert_ne!(flags & libc::O_CREAT as u64, 0);
    assert_eq!(arg(&ev, "mode"), 0o600);
    let fd = ev["ret"].clone();
    let close = s.wait_for("the 32-bit close", |e| is(e, "close") && e["pid"] == pid);
    assert_eq!(arg(&close, "fd"), &fd);

    // Both connects, direct (362) and through socketcall(SYS_CONNECT).
    let want = serde_json::json!({"family": "inet", "ip": "127.0.0.1", "port": port});
    let connects = || s.all(|e| is(e, "connect") && e["pid"] == pid);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while connects().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let c = connects();
    assert_eq!(c.len(), 2, "{c:?}");
    for ev in &c {
        assert_eq!(ev["compat"], true);
        assert_eq!(arg(ev, "addr"), &want, "{ev}");
        assert_eq!(ev["ret"], 0);
    }
    let sockets = s.all(|e| is(e, "socket") && e["pid"] == pid);
    assert_eq!(sockets.len(), 2, "{sockets:?}");
    assert!(sockets.iter().all(|e| arg(e, "domain") == 2));
    // No 32-bit syscall leaked through as a wrong x86-64 one.
    assert!(s.all(|e| e["pid"] == pid && is(e, "fstat")).is_empty());
}
