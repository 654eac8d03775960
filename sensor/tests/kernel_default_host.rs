//! The project's default rules end to end on the real kernel, on the host:
//! one `sensor run` with the built-in rules only. Each test performs a
//! behaviour with a tagged command line and asserts the rule reported, its
//! priority (Warning or worse), the process fields and `container.id=host`.
//! System files are only ever touched inside a private mount namespace
//! (a temporary file bind-mounted over them, or a tmpfs), network only on
//! loopback.
#![allow(clippy::unwrap_used)]

mod common;
mod default_rules;
mod falco;

use std::process::Command;
use std::sync::OnceLock;

use common::Sensor;
use falco::{assert_field, assert_field_contains, run, run_ok, tag, tag_arg, tagged};
use serde_json::Value;

fn sensor() -> Option<&'static Sensor> {
    static S: OnceLock<Option<Sensor>> = OnceLock::new();
    S.get_or_init(|| {
        default_rules::tools()?;
        default_rules::start(&[])
    })
    .as_ref()
}

/// The helper's path, once the sensor runs.
fn helper() -> Option<String> {
    sensor()?;
    Some(default_rules::tools()?.join("fhelper").display().to_string())
}

/// Expects `rule` from the host process whose command line holds `t`.
fn alert_of(t: &str, rule: &str) -> Value {
    let a = default_rules::expect(sensor().unwrap(), &tagged(t), rule);
    default_rules::assert_host(&a);
    assert_field_contains(&a, "proc.cmdline", t);
    assert_field(&a, "user.name", "root");
    a
}

#[test]
fn fileless_memfd_exec() {
    let Some(h) = helper() else { return };
    let t = tag("memfd");
    run_ok(Command::new(&h).args(["memfd-exec", &tag_arg(&t)]));
    let a = alert_of(&t, "Fileless execution via memfd");
    assert_field_contains(&a, "proc.exepath", "memfd:");
}

#[test]
fn exec_from_dev_shm() {
    let Some(h) = helper() else { return };
    let t = tag("shm");
    let f = format!("/dev/shm/{t}");
    std::fs::copy(&h, &f).unwrap();
    // proc.cmdline is the 15-character name and the arguments: the tag goes in both.
    let out = default_rules::run_fresh_copy(Command::new(&f).args(["true", &tag_arg(&t)]));
    std::fs::remove_file(&f).unwrap();
    assert!(out.status.success(), "{out:?} (is /dev/shm noexec?)");
    let a = alert_of(&t, "Execution from /dev/shm");
    assert_field(&a, "proc.exepath", &f);
}

#[test]
fn ptrace_attach() {
    let Some(h) = helper() else { return };
    let t = tag("ptrace");
    let mut victim = Command::new("/bin/sleep").arg("30").spawn().unwrap();
    let out = run(Command::new(&h).args(["ptrace-attach", &victim.id().to_string(), &tag_arg(&t)]));
    victim.kill().unwrap();
    victim.wait().unwrap();
    assert!(out.status.success(), "{out:?}");
    let a = alert_of(&t, "Process attached with ptrace");
    assert_field(&a, "proc.name", "fhelper");
}

#[test]
fn bpf_program_loaded() {
    let Some(h) = helper() else { return };
    let t = tag("bpf");
    // A socket filter returning 0, freed when the helper exits.
    run_ok(Command::new(&h).args(["bpf-prog-load", &tag_arg(&t)]));
    alert_of(&t, "BPF program loaded by an unexpected program");
}

#[test]
fn kernel_escape_hooks_written() {
    let Some(h) = helper() else { return };
    // The rule's other paths (/proc/sysrq-trigger, /proc/sys/kernel/modprobe,
    // uevent_helper, binfmt_misc) do not exist on this machine's kernel.
    {
        let target = "/proc/sys/kernel/core_pattern";
        let t = tag("hook");
        // A scratch file is bind-mounted over the real one in a private
        // mount namespace: the write lands in the scratch file.
        let scratch = tempfile::NamedTempFile::new().unwrap();
        let script = "mount --bind \"$S\" \"$F\" && exec \"$H\" open-write \"$F\" \"--tag=$T\"";
        let s = scratch.path().display().to_string();
        falco::in_mountns(script, &[("S", &s), ("F", target), ("H", &h), ("T", &t)]);
        let a = alert_of(&t, "Kernel escape hook written");
        assert_field(&a, "fd.name", target);
        assert_eq!(std::fs::read_to_string(scratch.path()).unwrap(), "x\n");
    }
}

#[test]
fn write_below_etc_on_the_host() {
    let Some(h) = helper() else { return };
    let t = tag("etc");
    // A tmpfs over /etc/opt in a private mount namespace.
    let script = "mount -t tmpfs none /etc/opt && exec \"$H\" open-write \"/etc/opt/$T\" \"--tag=$T\"";
    falco::in_mountns(script, &[("H", &h), ("T", &t)]);
    let a = alert_of(&t, "Write below /etc on the host");
    assert_field(&a, "fd.name", &format!("/etc/opt/{t}"));
}

#[test]
fn shell_reverse_shell_and_its_connection() {
    if sensor().is_none() {
        return;
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = tag("devtcp");
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}; : {t}");
    let mut child = Command::new("bash").args(["-c", &script]).spawn().unwrap();
    assert!(falco::accept_one(&l));
    child.wait().unwrap();
    let a = alert_of(&t, "Reverse shell command line");
    assert_field(&a, "proc.name", "bash");
    // The shell's own connect: a shell should open no connection.
    let a = alert_of(&t, "Shell or core utility opened a network connection");
    assert_field_contains(&a, "fd.name", &format!("->127.0.0.1:{port}"));
}

#[test]
fn interpreter_reverse_shell_on_stdio() {
    if sensor().is_none() {
        return;
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = tag("pyrev");
    let code = format!(
        "import socket,os;s=socket.create_connection(('127.0.0.1',{port}));os.dup2(s.fileno(),0);os.dup2(s.fileno(),1) # {t}"
    );
    let mut child = Command::new("/usr/bin/python3").args(["-c", &code]).spawn().unwrap();
    assert!(falco::accept_one(&l));
    child.wait().unwrap();
    let a = alert_of(&t, "Reverse shell command line");
    assert_field_contains(&a, "proc.name", "python3");
    let a = alert_of(&t, "Network socket duplicated onto standard input or output");
    assert!(falco::field(&a, "evt.type").as_str().unwrap().starts_with("dup"), "{a}");
}

#[test]
fn miner_named_and_stratum_url_on_the_host() {
    let Some(h) = helper() else { return };
    let t = tag("xmrig");
    let x = default_rules::tools().unwrap().join("xmrig");
    run_ok(Command::new(&x).args(["true", &tag_arg(&t)]));
    let a = alert_of(&t, "Crypto miner launched");
    assert_field(&a, "proc.name", "xmrig");
    let t = tag("stratum");
    run_ok(Command::new(&h).args(["true", "stratum+ssl://pool.invalid:443", &tag_arg(&t)]));
    alert_of(&t, "Mining pool protocol on a command line");
}

#[test]
fn download_piped_to_a_shell() {
    if sensor().is_none() {
        return;
    }
    let t = tag("curlsh");
    // Nothing listens on port 1: the download is empty, the shell runs nothing.
    run(Command::new("sh").args(["-c", &format!("wget -q -O- http://127.0.0.1:1/{t} | sh")]));
    alert_of(&t, "Download piped to a shell");
}

#[test]
fn encoded_payload_piped_to_a_shell() {
    if sensor().is_none() {
        return;
    }
    let t = tag("b64sh");
    // "true" in base64.
    run_ok(Command::new("sh").args(["-c", &format!("echo dHJ1ZQo= | base64 -d | sh # {t}")]));
    alert_of(&t, "Encoded payload piped to a shell");
}

#[test]
fn kernel_thread_masquerade() {
    if helper().is_none() {
        return;
    }
    let t = tag("kworker");
    let k = default_rules::tools().unwrap().join("kworker");
    run_ok(Command::new(&k).args(["true", &tag_arg(&t)]));
    let a = alert_of(&t, "Process masquerading as a kernel thread");
    assert_field(&a, "proc.name", "kworker");
}
