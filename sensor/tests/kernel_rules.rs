//! End to end on the real kernel: `sensor run` with Falco's upstream rules;
//! the test performs a rule's behaviour and asserts on the alert JSON.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::Command;
use std::sync::OnceLock;

use common::{Sensor, unique};
use serde_json::Value;

/// One `sensor run --rules <upstream>` for all tests of this file.
fn falco() -> Option<&'static Sensor> {
    static S: OnceLock<Option<Sensor>> = OnceLock::new();
    S.get_or_init(|| {
        common::sensor()?;
        let rules = common::upstream_rules()?;
        Some(common::run_with_rules(&rules, &["--rule-matching", "all"]))
    })
    .as_ref()
}

fn field<'a>(a: &'a Value, f: &str) -> &'a Value {
    &a["output_fields"][f]
}

#[test]
fn untrusted_program_reading_etc_shadow() {
    let Some(s) = falco() else { return };
    let dir = tempfile::tempdir().unwrap();
    let name = "shadowpeek";
    let bin = dir.path().join(name);
    std::fs::copy("/bin/cat", &bin).unwrap();
    let out = common::retry_busy(Command::new(&bin).arg("/etc/shadow"), Command::output);
    assert!(out.status.success());
    let a = s.wait_for("Read sensitive file untrusted", |a| {
        a["rule"] == "Read sensitive file untrusted" && field(a, "proc.name") == name
    });
    assert_eq!(field(&a, "fd.name"), "/etc/shadow");
    assert_eq!(field(&a, "evt.type"), "openat");
    assert_eq!(field(&a, "proc.exepath"), bin.to_str().unwrap());
    assert_eq!(field(&a, "user.name"), "root");
    assert_eq!(a["priority"], "Warning");
    assert_eq!(a["source"], "syscall");
    assert!(a["output"].as_str().unwrap().contains("Sensitive file opened for reading by non-trusted program"));
    assert!(a["tags"].as_array().unwrap().iter().any(|t| t == "mitre_credential_access"));
}

#[test]
fn symlink_over_etc() {
    let Some(s) = falco() else { return };
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join(unique("etc-link"));
    std::os::unix::fs::symlink("/etc", &link).unwrap();
    let l = link.to_str().unwrap().to_owned();
    let a = s.wait_for("Create Symlink Over Sensitive Files", |a| {
        a["rule"] == "Create Symlink Over Sensitive Files" && field(a, "evt.arg.linkpath") == l.as_str()
    });
    assert_eq!(field(&a, "evt.arg.target"), "/etc");
}

#[test]
fn ptrace_attach_to_a_process() {
    let Some(s) = falco() else { return };
    common::ptrace_attach_a_sleeper();
    // The test binary is the tracer: its name is in the alert.
    let me = std::env::current_exe().unwrap().to_str().unwrap().to_owned();
    let a = s.wait_for("PTRACE attached to process", |a| {
        a["rule"] == "PTRACE attached to process" && field(a, "proc.exepath") == me.as_str()
    });
    assert_eq!(field(&a, "evt.type"), "ptrace");
}

#[test]
fn fileless_execution_from_memfd() {
    let Some(s) = falco() else { return };
    let name = std::ffi::CString::new("fileless-test").unwrap();
    // SAFETY: memfd_create with a valid name; the fd is owned by the File.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
    assert!(fd >= 0);
    // SAFETY: fd was just created and is owned here.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(&std::fs::read("/bin/sleep").unwrap()).unwrap();
    let path = format!("/proc/self/fd/{}", f.as_raw_fd());
    let out = Command::new(&path).arg("0.3").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let a = s.wait_for("Fileless execution via memfd_create", |a| {
        a["rule"] == "Fileless execution via memfd_create" && field(a, "proc.exepath") == "memfd:fileless-test"
    });
    assert_eq!(a["priority"], "Critical");
}

#[test]
fn builtin_rules_fire_on_a_shell_reading_shadow() {
    if common::sensor().is_none() {
        return;
    }
    // The built-in rules only (no --rules): what a node runs by default.
    let s = Sensor::start(&["run", "--syscall-hooks", "btf"]);
    let dir = tempfile::tempdir().unwrap();
    // A copy named like a shell: the rule keys on the process name.
    let sh = dir.path().join("bash");
    std::fs::copy("/bin/cat", &sh).unwrap();
    assert!(common::retry_busy(Command::new(&sh).arg("/etc/shadow"), Command::output).status.success());
    let a = s.wait_for("Read sensitive file by untrusted program", |a| {
        a["rule"] == "Read sensitive file by untrusted program" && field(a, "proc.exepath") == sh.to_str().unwrap()
    });
    assert_eq!(field(&a, "fd.name"), "/etc/shadow");
    assert_eq!(a["priority"], "Warning");
    assert!(a["output"].as_str().unwrap().contains("container_id=host"), "{a}");
}
