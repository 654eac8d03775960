//! Falco's upstream rules end to end on the real kernel, host side:
//! processes, privileges and syscalls. One `sensor run` with the three
//! upstream files and every rule enabled; each test performs one rule's
//! behaviour and asserts that exactly the expected rules fired for it, with
//! the output fields Falco's output names. Programs a rule keys on by name
//! (nginx, xmrig, usermod, ...) are copies of the static helper under that
//! name: the condition's behaviour, without the real program.
#![allow(clippy::unwrap_used)]
// Each test binds sensor, tag, alert, event, field (s, t, a, e, f): one
// letter per role, the same in every test.
#![allow(clippy::many_single_char_names)]

mod common;
mod falco;

use std::io::Write as _;
use std::os::fd::{AsRawFd as _, FromRawFd as _};
use std::os::unix::process::CommandExt as _;
use std::process::Command;
use std::sync::OnceLock;

use common::Sensor;
use falco::{assert_field, assert_field_contains, expect, field, helper_as, run, tag, tag_arg, tagged, tagged_dir};

fn sensor() -> Option<&'static Sensor> {
    static S: OnceLock<Option<Sensor>> = OnceLock::new();
    S.get_or_init(|| {
        let s = falco::start(&[])?;
        falco::helper()?;
        Some(s)
    })
    .as_ref()
}

/// `cmd` as `nobody` (uid and gid 65534, no groups), through util-linux
/// `setpriv`.
fn as_nobody(program: &std::path::Path) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(program);
    c
}

/// Gives the child an audit login uid (a user who logged in as 4242), as
/// `pam_loginuid` does at login: the CVE rules ask for `user.loginuid != 0`,
/// which must not depend on how the test itself was started.
fn logged_in_as_4242(cmd: &mut Command) -> &mut Command {
    // SAFETY: open/write/close are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            std::fs::write("/proc/self/loginuid", b"4242")?;
            Ok(())
        })
    }
}

// ------------------------------------------------------------- stable

#[test]
fn trusted_server_reads_shadow_after_startup() {
    let Some(s) = sensor() else { return };
    let t = tag("trusted");
    let d = tagged_dir(&t);
    // A server process (named nginx) older than 5 s reads /etc/shadow.
    let nginx = helper_as(d.path(), "nginx");
    run(Command::new(&nginx).args(["sleep-open-read", "/etc/shadow", "5200", &tag_arg(&t)]));
    // "untrusted" fires too: nginx is in none of its trusted lists.
    let a = expect(s, tagged(&t), &["Read sensitive file trusted after startup", "Read sensitive file untrusted"]);
    let a = &a["Read sensitive file trusted after startup"];
    assert_field(a, "fd.name", "/etc/shadow");
    assert_field(a, "proc.name", "nginx");
    assert_field(a, "user.name", "root");
    assert_eq!(a["priority"], "Warning");
}

#[test]
fn untrusted_program_reads_shadow() {
    let Some(s) = sensor() else { return };
    let t = tag("untrusted");
    let d = tagged_dir(&t);
    let peek = helper_as(d.path(), "shadowpeek");
    run(Command::new(&peek).args(["open-read", "/etc/shadow", &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["Read sensitive file untrusted"]);
    let a = &a["Read sensitive file untrusted"];
    assert_field(a, "fd.name", "/etc/shadow");
    assert_field(a, "evt.type", "openat");
    assert_field(a, "proc.exepath", peek.to_str().unwrap());
    assert!(a["tags"].as_array().unwrap().iter().any(|t| t == "mitre_credential_access"), "{a}");
}

#[test]
fn protected_server_spawns_a_shell() {
    let Some(s) = sensor() else { return };
    let t = tag("shell");
    let d = tagged_dir(&t);
    // redis-server protects against shells (protected_shell_spawning_binaries)
    // and is no web server, so only this rule applies.
    let redis = helper_as(d.path(), "redis-server");
    run(Command::new(&redis).args(["run", "/bin/sh", "-c", &format!(": {t}")]));
    let a = expect(s, tagged(&t), &["Run shell untrusted"]);
    let a = &a["Run shell untrusted"];
    assert_field(a, "proc.name", "sh");
    assert_field(a, "proc.pname", "redis-server");
    assert_field(a, "proc.pexepath", redis.to_str().unwrap());
    assert_field(a, "evt.type", "execve");
}

#[test]
fn system_user_runs_a_command_below_sshd() {
    let Some(s) = sensor() else { return };
    let t = tag("sysuser");
    let d = tagged_dir(&t);
    // An ssh session (below a process named sshd) in which the system user
    // nobody runs a command.
    let sshd = helper_as(d.path(), "sshd");
    run(Command::new(&sshd).args([
        "run",
        "/usr/bin/setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "/bin/true",
        &tag_arg(&t),
    ]));
    let a = expect(s, tagged(&t), &["System user interactive"]);
    let a = &a["System user interactive"];
    assert_field(a, "user.name", "nobody");
    assert_eq!(field(a, "user.uid"), 65534);
    assert_field(a, "proc.name", "true");
}

#[test]
fn ptrace_attach_to_a_process() {
    let Some(s) = sensor() else { return };
    let t = tag("ptrace");
    let d = tagged_dir(&t);
    let mut victim = Command::new("/bin/sleep").arg("30").spawn().unwrap();
    let injector = helper_as(d.path(), "injector");
    run(Command::new(&injector).args(["ptrace-attach", &victim.id().to_string(), &tag_arg(&t)]));
    victim.kill().unwrap();
    victim.wait().unwrap();
    let a = expect(s, tagged(&t), &["PTRACE attached to process"]);
    let a = &a["PTRACE attached to process"];
    assert_field(a, "evt.type", "ptrace");
    assert_field(a, "proc.name", "injector");
}

#[test]
fn ptrace_traceme_anti_debug() {
    let Some(s) = sensor() else { return };
    let t = tag("traceme");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "antidebug");
    run(Command::new(&p).args(["traceme", &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["PTRACE anti-debug attempt"]);
    assert_field(&a["PTRACE anti-debug attempt"], "proc.name", "antidebug");
}

#[test]
fn grep_for_private_keys() {
    let Some(s) = sensor() else { return };
    let t = tag("grepkeys");
    let d = tagged_dir(&t);
    std::fs::write(d.path().join("notes"), "nothing here\n").unwrap();
    run(Command::new("grep").args(["-rl", "BEGIN PRIVATE"]).arg(d.path()));
    let a = expect(s, tagged(&t), &["Search Private Keys or Passwords"]);
    let a = &a["Search Private Keys or Passwords"];
    assert_field(a, "proc.name", "grep");
    assert_field_contains(a, "proc.cmdline", "BEGIN PRIVATE");
}

#[test]
fn grep_for_aws_credentials() {
    let Some(s) = sensor() else { return };
    let t = tag("grepaws");
    let d = tagged_dir(&t);
    run(Command::new("grep").args(["-rl", "aws_secret_access_key"]).arg(d.path()));
    let a = expect(s, tagged(&t), &["Find AWS Credentials"]);
    let a = &a["Find AWS Credentials"];
    assert_field(a, "proc.name", "grep");
    assert_field(a, "group.name", "root");
    assert!(field(a, "proc.cwd").is_string(), "{a}");
}

#[test]
fn shred_destroys_data() {
    let Some(s) = sensor() else { return };
    let t = tag("shred");
    let d = tagged_dir(&t);
    let f = d.path().join("data");
    std::fs::write(&f, b"important").unwrap();
    falco::run_ok(Command::new("shred").arg("-u").arg(&f));
    let a = expect(s, tagged(&t), &["Remove Bulk Data from Disk"]);
    assert_field(&a["Remove Bulk Data from Disk"], "proc.name", "shred");
}

#[test]
fn execution_from_dev_shm() {
    let Some(s) = sensor() else { return };
    let t = tag("devshm");
    let path = std::path::PathBuf::from(format!("/dev/shm/{t}"));
    std::fs::copy(falco::helper().unwrap(), &path).unwrap();
    let out = run(Command::new(&path).args(["true", &tag_arg(&t)]));
    std::fs::remove_file(&path).unwrap();
    assert!(out.status.success(), "{out:?}");
    let a = expect(s, tagged(&t), &["Execution from /dev/shm"]);
    let a = &a["Execution from /dev/shm"];
    assert_field(a, "proc.exepath", path.to_str().unwrap());
    assert_field(a, "evt.type", "execve");
}

#[test]
fn fileless_execution_from_memfd() {
    let Some(s) = sensor() else { return };
    let t = tag("memfd");
    let name = std::ffi::CString::new(t.clone()).unwrap();
    // SAFETY: memfd_create with a valid name; the fd is owned by the File.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
    assert!(fd >= 0);
    // SAFETY: fd was just created and is owned here.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(&std::fs::read(falco::helper().unwrap()).unwrap()).unwrap();
    let exe = format!("/proc/self/fd/{}", f.as_raw_fd());
    falco::run_ok(Command::new(&exe).args(["true", &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["Fileless execution via memfd_create"]);
    let a = &a["Fileless execution via memfd_create"];
    assert_field(a, "proc.exepath", &format!("memfd:{t}"));
    assert_eq!(a["priority"], "Critical");
}

// --------------------------------------------------------- incubating

#[test]
fn db_server_spawns_a_process() {
    let Some(s) = sensor() else { return };
    let t = tag("dbspawn");
    let d = tagged_dir(&t);
    let pg = helper_as(d.path(), "postgres");
    run(Command::new(&pg).args(["run", "/bin/true", &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["DB program spawned process"]);
    let a = &a["DB program spawned process"];
    assert_field(a, "proc.pname", "postgres");
    assert_field(a, "proc.name", "true");
}

#[test]
fn setns_by_an_unexpected_program() {
    let Some(s) = sensor() else { return };
    let t = tag("setns");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "nsjoin");
    falco::run_ok(Command::new(&p).args(["setns", &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["Change thread namespace"]);
    let a = &a["Change thread namespace"];
    assert_field(a, "evt.type", "setns");
    assert_field(a, "proc.name", "nsjoin");
}

#[test]
fn wget_with_an_http_proxy_environment() {
    let Some(s) = sensor() else { return };
    let t = tag("proxy");
    let d = tagged_dir(&t);
    let wget = d.path().join("wget");
    std::os::unix::fs::symlink("/bin/busybox", &wget).unwrap();
    // Nobody listens on the port: wget gives up at once; loopback only.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    run(Command::new(&wget)
        .args(["-q", "-T", "1", "-O", "/dev/null", &format!("http://127.0.0.1:{port}/{t}")])
        .env("HTTP_PROXY", format!("http://127.0.0.1:{port}")));
    let a = expect(s, tagged(&t), &["Program run with disallowed http proxy env"]);
    let a = &a["Program run with disallowed http proxy env"];
    assert_field(a, "proc.name", "wget");
    assert_field_contains(a, "proc.env", &format!("HTTP_PROXY=http://127.0.0.1:{port}"));
}

#[test]
fn setuid_by_a_non_root_user() {
    let Some(s) = sensor() else { return };
    let t = tag("setuid");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "setuider");
    // nobody tries to become root (refused: EPERM; the attempt is the behaviour).
    run(as_nobody(&p).args(["setuid", "0", &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["Non sudo setuid"]);
    let a = &a["Non sudo setuid"];
    assert_field(a, "user.name", "nobody");
    assert_field(a, "evt.type", "setuid");
    assert_eq!(field(a, "evt.arg.uid"), 0, "{a}");
}

#[test]
fn user_management_binary_on_the_host() {
    let Some(s) = sensor() else { return };
    let t = tag("usermgmt");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "usermod");
    falco::run_ok(Command::new(&p).args(["true", &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["User mgmt binaries"]);
    assert_field(&a["User mgmt binaries"], "proc.name", "usermod");
}

#[test]
fn network_tool_on_the_host() {
    let Some(s) = sensor() else { return };
    let t = tag("nmap");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "nmap");
    falco::run_ok(Command::new(&p).args(["true", &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["Launch Suspicious Network Tool on Host"]);
    assert_field(&a["Launch Suspicious Network Tool on Host"], "proc.name", "nmap");
}

#[test]
fn glibc_tunables_in_the_environment() {
    let Some(s) = sensor() else { return };
    let t = tag("tunables");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "tunable");
    falco::run_ok(Command::new(&p).args(["true", &tag_arg(&t)]).env("GLIBC_TUNABLES", "glibc.malloc.mxfast=0"));
    let rule = "Potential Local Privilege Escalation via Environment Variables Misuse";
    let a = expect(s, tagged(&t), &[rule]);
    assert_field_contains(&a[rule], "proc.env", "GLIBC_TUNABLES=glibc.malloc.mxfast=0");
}

#[test]
fn unprofiled_bpf_program_load() {
    let Some(s) = sensor() else { return };
    let t = tag("bpf");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "bpfload");
    falco::run_ok(Command::new(&p).args(["bpf-prog-load", &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["BPF Program Not Profiled"]);
    let a = &a["BPF Program Not Profiled"];
    assert_field(a, "evt.type", "bpf");
    assert_eq!(field(a, "evt.arg.cmd"), 5, "{a}");
}

// ------------------------------------------------------------ sandbox

#[test]
fn stratum_miner_command_line() {
    let Some(s) = sensor() else { return };
    let t = tag("stratum");
    falco::run_ok(Command::new("/bin/true").args(["-o", "stratum+tcp://pool.invalid:3333", &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["Detect crypto miners using the Stratum protocol"]);
    assert_field_contains(&a["Detect crypto miners using the Stratum protocol"], "proc.cmdline", "stratum+tcp://");
}

#[test]
fn known_cryptominer_executed() {
    let Some(s) = sensor() else { return };
    let t = tag("xmrig");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "xmrig");
    falco::run_ok(Command::new(&p).args(["true", &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["Known Cryptominer Process Executed"]);
    assert_field(&a["Known Cryptominer Process Executed"], "proc.exepath", p.to_str().unwrap());
}

#[test]
fn sudoedit_with_a_trailing_backslash() {
    let Some(s) = sensor() else { return };
    let t = tag("sudoedit");
    let d = tagged_dir(&t);
    // CVE-2021-3156's argument pattern (`sudoedit -s '\'`) by a logged-in user.
    let p = helper_as(d.path(), "sudoedit");
    run(logged_in_as_4242(Command::new(&p).args(["-s", "\\", &tag_arg(&t)])));
    let a = expect(s, tagged(&t), &["Sudo Potential Privilege Escalation"]);
    let a = &a["Sudo Potential Privilege Escalation"];
    assert_eq!(field(a, "user.loginuid"), 4242, "{a}");
    assert_field(a, "proc.name", "sudoedit");
}

#[test]
fn unprivileged_userfaultfd() {
    let Some(s) = sensor() else { return };
    let t = tag("uffd");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "uffd");
    run(as_nobody(&p).args(["userfaultfd", &tag_arg(&t)]));
    let rule = "Unprivileged Delegation of Page Faults Handling to a Userspace Process";
    let a = expect(s, tagged(&t), &[rule]);
    assert_field(&a[rule], "evt.type", "userfaultfd");
    assert_eq!(field(&a[rule], "user.uid"), 65534);
}

#[test]
fn pkexec_without_arguments() {
    let Some(s) = sensor() else { return };
    let t = tag("pkexec");
    let d = tagged_dir(&t);
    // CVE-2021-4034 runs pkexec with no arguments at all; the command line
    // is then just "pkexec", so the alert is this test's by its path.
    let p = helper_as(d.path(), "pkexec");
    run(logged_in_as_4242(&mut Command::new(&p)));
    let mine = |a: &serde_json::Value| field(a, "proc.exepath").as_str() == p.to_str();
    let rule = "Polkit Local Privilege Escalation Vulnerability (CVE-2021-4034)";
    let a = expect(s, mine, &[rule]);
    assert_field(&a[rule], "proc.args", "");
    assert_field(&a[rule], "proc.cmdline", "pkexec");
}

#[test]
fn interactive_reconnaissance_in_a_terminal() {
    let Some(s) = sensor() else { return };
    let t = tag("recon");
    let d = tagged_dir(&t);
    // `script` gives the command a terminal and its own session and
    // process group, as a login shell's job would have. The recon program
    // lives 300 ms: its process group is read from /proc at exec, which a
    // process that exits at once can beat (see README).
    let whoami = helper_as(d.path(), "whoami");
    let cmd = format!("exec {} sleep 300 {}", whoami.display(), tag_arg(&t));
    falco::run_ok(Command::new("script").args(["-qec", &cmd, "/dev/null"]));
    let a = expect(s, tagged(&t), &["Basic Interactive Reconnaissance"]);
    let a = &a["Basic Interactive Reconnaissance"];
    assert_field(a, "proc.name", "whoami");
    assert!(field(a, "proc.tty").as_u64().is_some_and(|t| t != 0), "{a}");
}

#[test]
fn netcat_with_exec_on_the_host() {
    let Some(s) = sensor() else { return };
    let t = tag("nchost");
    let d = tagged_dir(&t);
    let nc = d.path().join("nc");
    std::os::unix::fs::symlink("/bin/busybox", &nc).unwrap();
    // The program nc hands the connection to: its path carries the tag.
    let payload = d.path().join("payload");
    std::fs::copy("/bin/true", &payload).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || falco::accept_one(&listener));
    run(Command::new(&nc).args(["127.0.0.1", &port.to_string(), "-e"]).arg(&payload));
    assert!(server.join().unwrap(), "nc did not connect");
    let a = expect(
        s,
        tagged(&t),
        &["Netcat/Socat Remote Code Execution on Host", "Launch Suspicious Network Tool on Host"],
    );
    let a = &a["Netcat/Socat Remote Code Execution on Host"];
    assert_field(a, "proc.name", "nc");
    assert_field_contains(a, "proc.cmdline", "-e ");
}

#[test]
fn web_server_spawns_a_shell() {
    let Some(s) = sensor() else { return };
    let t = tag("webshell");
    let d = tagged_dir(&t);
    // php-fpm is a web server but not in Run shell untrusted's list.
    let php = helper_as(d.path(), "php-fpm");
    run(Command::new(&php).args(["run", "/bin/sh", "-c", &format!(": {t}")]));
    let a = expect(s, tagged(&t), &["Web Server Spawned Shell"]);
    let a = &a["Web Server Spawned Shell"];
    assert_field(a, "proc.name", "sh");
    assert_field(a, "proc.pname", "php-fpm");
}

#[test]
fn web_server_spawns_a_recon_child() {
    let Some(s) = sensor() else { return };
    let t = tag("webchild");
    let d = tagged_dir(&t);
    let php = helper_as(d.path(), "php-fpm");
    // `id TAG` fails (no such user) after its exec, which is the behaviour.
    run(Command::new(&php).args(["run", "/usr/bin/id", &t]));
    let a = expect(s, tagged(&t), &["Web Server Spawned Suspicious Child Process"]);
    let a = &a["Web Server Spawned Suspicious Child Process"];
    assert_field(a, "proc.name", "id");
    assert_field(a, "proc.pname", "php-fpm");
}

#[test]
fn web_server_spawns_a_reverse_shell_fifo() {
    let Some(s) = sensor() else { return };
    let t = tag("webfifo");
    let d = tagged_dir(&t);
    let php = helper_as(d.path(), "php-fpm");
    // The first step of `mkfifo /tmp/f; nc ... < /tmp/f | sh > /tmp/f`.
    let fifo = d.path().join("f");
    falco::run_ok(Command::new(&php).arg("run").arg("/usr/bin/mkfifo").arg(&fifo));
    let a = expect(s, tagged(&t), &["Reverse Shell from Web Server"]);
    let a = &a["Reverse Shell from Web Server"];
    assert_field(a, "proc.name", "mkfifo");
    assert_field(a, "proc.pname", "php-fpm");
}
