//! The project's default rules end to end on the real kernel, in real
//! Docker containers (`--network none`) of a private dockerd, with runtime
//! metadata: one `sensor run` with the built-in rules only. Each test runs
//! a behaviour with `docker exec`, tagged in its command line, and asserts
//! the rule reported, its priority (Warning or worse) and the fields that
//! identify the process and the container. Network behaviours give the
//! container's own loopback device the addresses they need: nothing leaves
//! its namespace.
#![allow(clippy::unwrap_used)]
// Each test binds container, tag, alert, file, script (c, t, a, f, s):
// one letter per role, as in the kernel_falco_* tests.
#![allow(clippy::many_single_char_names)]

mod common;
mod default_rules;
mod falco;

use std::sync::OnceLock;

use common::Sensor;
use falco::docker::{Container, from};
use falco::{assert_field, assert_field_contains, tag, tag_arg, tagged};
use serde_json::Value;

fn sensor() -> Option<&'static Sensor> {
    static S: OnceLock<Option<Sensor>> = OnceLock::new();
    S.get_or_init(|| {
        default_rules::tools()?;
        let socket = falco::docker::runtime_socket_arg()?;
        default_rules::start(&["--runtime-socket", &socket])
    })
    .as_ref()
}

/// Files the credential and persistence behaviours act on, made once in
/// the main container (by an untagged command: not a behaviour).
const SETUP: &str = "mkdir -p /var/run/secrets/kubernetes.io/serviceaccount /root/.kube /root/.aws /root/.ssh \
    /root/.docker /etc/cron.d /etc/init.d /var/log /usr/lib /mnt \
    && for f in /etc/shadow /var/run/secrets/kubernetes.io/serviceaccount/token /root/.kube/config \
    /root/.aws/credentials /root/.ssh/id_rsa /root/.docker/config.json /var/log/app.log /root/.bash_history; \
    do echo data > $f; done";

/// The container most behaviours run in: default capabilities, the tools
/// at /opt/t, a tmpfs at /var/tmp (not the image's upper layer), and a
/// Unix socket of the test's at /run/docker.sock, a world-writable program
/// at /usr/local/sbin/wbin, and the host's /dev/null as a device node
/// named /dev/sdq.
fn main_ctr() -> Option<&'static Container> {
    static C: OnceLock<Option<(tempfile::TempDir, std::os::unix::net::UnixListener, Container)>> = OnceLock::new();
    sensor()?;
    C.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt as _;
        let tools = format!("{}:/opt/t:ro", default_rules::tools()?.display());
        let dir = falco::tagged_dir(&tag("sock"));
        let path = dir.path().join("docker.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let sock = format!("{}:/run/docker.sock", path.display());
        let sbin = dir.path().join("sbin");
        std::fs::create_dir(&sbin).unwrap();
        std::fs::set_permissions(&sbin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let wbin = falco::helper_as(&sbin, "wbin");
        std::fs::set_permissions(&wbin, std::fs::Permissions::from_mode(0o777)).unwrap();
        let sbin = format!("{}:/usr/local/sbin", sbin.display());
        let args =
            ["-v", &tools, "-v", &sock, "-v", &sbin, "--tmpfs", "/var/tmp:exec", "--device", "/dev/null:/dev/sdq"];
        let c = Container::start("main", &args)?;
        let out = c.exec(&[], &["sh", "-c", SETUP]);
        assert!(out.status.success(), "{out:?}");
        Some((dir, listener, c))
    })
    .as_ref()
    .map(|(_, _, c)| c)
}

/// A container granted `CAP_SYS_ADMIN`, `CAP_SYS_MODULE` and
/// `CAP_NET_ADMIN`, with /proc/sys writable (`systempaths=unconfined`;
/// `--privileged` cannot start here). Its network namespace is its own.
fn capable_ctr() -> Option<&'static Container> {
    static C: OnceLock<Option<Container>> = OnceLock::new();
    sensor()?;
    C.get_or_init(|| {
        let caps = ["--cap-add", "SYS_ADMIN", "--cap-add", "SYS_MODULE", "--cap-add", "NET_ADMIN"];
        let mut args = caps.to_vec();
        args.extend_from_slice(&["--security-opt", "systempaths=unconfined"]);
        Container::start("capable", &args)
    })
    .as_ref()
}

/// Runs `args` in `c` (with `docker exec OPTS`), then expects `rule` from
/// the process whose command line holds `t`, in `c`: asserts the container
/// fields (id, name, image) and the command line. Returns the alert.
fn check(c: &Container, opts: &[&str], args: &[&str], t: &str, rule: &str) -> Value {
    c.exec(opts, args);
    alert_of(c, t, rule)
}

fn alert_of(c: &Container, t: &str, rule: &str) -> Value {
    let tagged = tagged(t);
    let from = from(c);
    let a = default_rules::expect(sensor().unwrap(), &|a| tagged(a) && from(a), rule);
    assert_field(&a, "container.id", c.short_id());
    assert_field(&a, "container.name", &c.tag);
    assert_field(&a, "container.image.repository", "falcotest");
    assert_field_contains(&a, "proc.cmdline", t);
    a
}

// ------------------------------------------------------------ execution

#[test]
fn interactive_shell() {
    let Some(c) = main_ctr() else { return };
    let t = tag("tty");
    let a = check(c, &["-t"], &["sh", "-c", &format!(": {t}")], &t, "Interactive shell in container");
    assert_field(&a, "proc.name", "sh");
    assert_field(&a, "user.name", "root");
}

#[test]
fn package_manager() {
    let Some(c) = main_ctr() else { return };
    let t = tag("apk");
    let a = check(c, &[], &["apk", "true", &tag_arg(&t)], &t, "Package manager launched in container");
    assert_field(&a, "proc.name", "apk");
}

#[test]
fn drift_by_chmod_then_run() {
    let Some(c) = main_ctr() else { return };
    let t = tag("chmod");
    let f = format!("/tmp/{t}");
    c.exec(&[], &["sh", "-c", &format!("cat /bin/busybox > {f}")]);
    let a = check(c, &[], &["chmod", "755", &f], &t, "File made executable in container");
    assert_field(&a, "proc.name", "chmod");
    assert_field_contains(&a, "evt.arg.mode", "S_IXUSR");
    let a = check(c, &[], &[&f, "true", &tag_arg(&t)], &t, "Drifted binary executed in container");
    assert_field(&a, "proc.exepath", &f);
}

#[test]
fn drift_by_writing_an_executable_then_run() {
    let Some(c) = main_ctr() else { return };
    let t = tag("create");
    let f = format!("/tmp/dropped-{t}");
    // cp keeps the source's mode: the file is created executable.
    let a = check(c, &[], &["cp", "/opt/t/fhelper", &f], &t, "File made executable in container");
    assert_field(&a, "fd.name", &f);
    let a = check(c, &[], &[&f, "true", &tag_arg(&t)], &t, "Drifted binary executed in container");
    assert_field(&a, "proc.exepath", &f);
}

#[test]
fn exec_from_var_tmp_and_dev_shm() {
    let Some(c) = main_ctr() else { return };
    let t = tag("vartmp");
    // /var/tmp is a tmpfs here: no drift, only the place.
    let f = format!("/var/tmp/{t}");
    let run = format!("cp /opt/t/fhelper {f} && exec {f} true --tag={t}");
    let a = check(c, &[], &["sh", "-c", &run], &t, "Execution from a temporary directory in container");
    assert_field(&a, "proc.exepath", &f);
    // Docker's /dev/shm is noexec: a script run by a shell.
    let t = tag("shm");
    let s = format!("/dev/shm/{t}.sh");
    c.exec(&[], &["sh", "-c", &format!("echo true > {s}")]);
    let a = check(c, &[], &["sh", &s], &t, "Execution from /dev/shm");
    assert_field(&a, "proc.name", "sh");
}

#[test]
fn writable_system_binary_run_by_nobody() {
    let Some(c) = main_ctr() else { return };
    let t = tag("wbin");
    let rule = "Writable system binary executed by a non-root user in container";
    let a = check(c, &["-u", "65534"], &["/usr/local/sbin/wbin", "true", &tag_arg(&t)], &t, rule);
    assert_field(&a, "user.name", "nobody");
}

#[test]
fn interpreter_spawns_a_shell() {
    let Some(c) = main_ctr() else { return };
    let t = tag("pyshell");
    let args = ["/opt/t/python3", "run", "/bin/sh", "-c", &format!(": {t}")];
    let a = check(c, &[], &args, &t, "Shell spawned by an application runtime in container");
    assert_field(&a, "proc.pname", "python3");
}

#[test]
fn netcat_and_socat_run_a_program() {
    let Some(c) = main_ctr() else { return };
    let t = tag("ncexec");
    // Nobody listens on port 1: nc gives up before running the program.
    let rule = "Netcat or socat runs a program for a remote peer";
    let a = check(c, &[], &["nc", "127.0.0.1", "1", "-e", &format!("/tmp/{t}")], &t, rule);
    assert_field(&a, "proc.name", "nc");
    let t = tag("socat");
    let a = check(c, &[], &["/opt/t/socat", "tcp:127.0.0.1:1", "exec:/bin/sh", &tag_arg(&t)], &t, rule);
    assert_field(&a, "proc.name", "socat");
}

#[test]
fn kubernetes_client() {
    let Some(c) = main_ctr() else { return };
    let t = tag("kubectl");
    let rule = "Kubernetes or container runtime client launched in container";
    let a = check(c, &[], &["kubectl", "get", "pods", &tag_arg(&t)], &t, rule);
    assert_field(&a, "proc.name", "kubectl");
}

#[test]
fn netcat_and_scanner() {
    let Some(c) = main_ctr() else { return };
    let t = tag("nc");
    let a = check(c, &[], &["nc", "-h", &t], &t, "Netcat-like tool launched in container");
    assert_field(&a, "proc.name", "nc");
    let t = tag("nmap");
    let a = check(
        c,
        &[],
        &["/opt/t/nmap", "true", &tag_arg(&t)],
        &t,
        "Network scanner or attack tool launched in container",
    );
    assert_field(&a, "proc.name", "nmap");
}

// ---------------------------------------------------- credential access

#[test]
fn sensitive_files_read_by_hand() {
    let Some(c) = main_ctr() else { return };
    for (file, rule) in [
        ("/etc/shadow", "Read sensitive file by untrusted program"),
        ("/var/run/secrets/kubernetes.io/serviceaccount/token", "Service account token read by hand"),
        ("/root/.kube/config", "Kubernetes credentials read by hand"),
        ("/root/.aws/credentials", "Cloud credentials read by hand"),
        ("/root/.ssh/id_rsa", "SSH private key read by hand"),
        ("/root/.docker/config.json", "Container registry credentials read by hand"),
    ] {
        let t = tag("read");
        let a = check(c, &[], &["cat", file, &format!("/nonexistent/{t}")], &t, rule);
        assert_field(&a, "fd.name", file);
        assert_field(&a, "proc.name", "cat");
    }
}

#[test]
fn process_environment_and_memory_read() {
    let Some(c) = main_ctr() else { return };
    let t = tag("environ");
    let a = check(
        c,
        &[],
        &["cat", "/proc/1/environ", &format!("/nonexistent/{t}")],
        &t,
        "Process environment read by hand",
    );
    assert_field(&a, "fd.name", "/proc/1/environ");
    // Its own memory by pid (not /proc/self): allowed without ptrace rights.
    let t = tag("mem");
    let script = "exec fhelper open-read /proc/$$/mem \"--tag=$T\"";
    c.exec(&["-e", &format!("T={t}")], &["sh", "-c", script]);
    let a = alert_of(c, &t, "Process memory read through /proc");
    assert_field_contains(&a, "fd.name", "/mem");
}

#[test]
fn link_to_a_sensitive_file() {
    let Some(c) = main_ctr() else { return };
    let t = tag("link");
    let a = check(c, &[], &["ln", "-s", "/etc/shadow", &format!("/tmp/{t}")], &t, "Link created to a sensitive file");
    assert_field(&a, "proc.name", "ln");
}

#[test]
fn search_for_private_keys() {
    let Some(c) = main_ctr() else { return };
    let t = tag("grep");
    let a = check(c, &[], &["grep", "-rl", "BEGIN OPENSSH", "/root", &t], &t, "Search for private keys or passwords");
    assert_field(&a, "proc.name", "grep");
}

// ----------------------------------------------- persistence and evasion

#[test]
fn persistence_writes() {
    let Some(c) = main_ctr() else { return };
    for (file, rule) in [
        ("/usr/bin/implant", "Write below binary directory"),
        ("/usr/lib/libimplant.so", "Write below library directory"),
        ("/root/.ssh/authorized_keys", "SSH authorized keys modified"),
        ("/etc/cron.d/implant", "Cron job modified"),
        ("/root/.bashrc", "Shell profile modified"),
        ("/root/.bash_history", "Shell history tampered with"),
        ("/var/log/app.log", "Log files cleared or deleted"),
        ("/etc/.implant", "Hidden file created in a system directory"),
        ("/etc/ld.so.preload", "Dynamic linker preload file written"),
        ("/etc/sudoers", "Account or sudo configuration modified"),
        ("/etc/init.d/implant", "System service or init script created"),
    ] {
        let t = tag("write");
        // open(O_WRONLY|O_CREAT|O_TRUNC) and a write, in the container's own layer.
        let a = check(c, &[], &["fhelper", "open-write", file, &tag_arg(&t)], &t, rule);
        assert_field(&a, "proc.name", "fhelper");
    }
}

#[test]
fn timestomping() {
    let Some(c) = main_ctr() else { return };
    let t = tag("touch");
    let a = check(
        c,
        &[],
        &["touch", "-d", "2020-01-01 00:00", &format!("/tmp/{t}")],
        &t,
        "File timestamps forged with touch",
    );
    assert_field(&a, "proc.name", "touch");
}

// ---------------------------------------------------- privilege, escape

#[test]
fn setuid_to_root_by_nobody() {
    let Some(c) = main_ctr() else { return };
    let t = tag("setuid");
    let rule = "Privilege change to root by an unexpected program";
    let a = check(c, &["-u", "65534"], &["fhelper", "setuid", "0", &tag_arg(&t)], &t, rule);
    assert_field(&a, "user.name", "nobody");
}

#[test]
fn setuid_bit_set() {
    let Some(c) = main_ctr() else { return };
    let t = tag("suid");
    let f = format!("/tmp/{t}");
    c.exec(&[], &["touch", &f]);
    let a = check(c, &[], &["chmod", "u+s", &f], &t, "Setuid or setgid bit set");
    assert_field_contains(&a, "evt.arg.mode", "S_ISUID");
}

#[test]
fn capabilities_raised_by_non_root() {
    let Some(c) = main_ctr() else { return };
    let t = tag("capset");
    let rule = "Capabilities raised by a non-root process in container";
    let a = check(c, &[], &["fhelper", "capset", "65534", &tag_arg(&t)], &t, rule);
    assert_field(&a, "user.name", "nobody");
}

#[test]
fn mount_unshare_setns_nsenter() {
    let Some(c) = main_ctr() else { return };
    // Refused without CAP_SYS_ADMIN (EPERM): the attempt is the behaviour.
    let t = tag("mount");
    let a = check(c, &[], &["mount", "-t", "tmpfs", &t, "/mnt"], &t, "Mount attempted in container");
    assert_field(&a, "evt.arg.dir", "/mnt");
    let t = tag("unshare");
    let a = check(c, &[], &["unshare", "-n", "/bin/true", &t], &t, "Namespace change in container");
    assert_field(&a, "evt.type", "unshare");
    let t = tag("setns");
    let a = check(c, &[], &["fhelper", "setns", &tag_arg(&t)], &t, "Namespace change in container");
    assert_field(&a, "evt.type", "setns");
    let t = tag("nsenter");
    let rule = "Namespace or root escape tool launched in container";
    let a = check(c, &[], &["nsenter", "-t", "1", "-n", "/bin/true", &t], &t, rule);
    assert_field(&a, "proc.name", "nsenter");
}

#[test]
fn release_agent_written() {
    let Some(c) = main_ctr() else { return };
    let t = tag("release");
    let args = ["fhelper", "open-write", "/tmp/release_agent", &tag_arg(&t)];
    let a = check(c, &[], &args, &t, "Cgroup release agent written");
    assert_field(&a, "fd.name", "/tmp/release_agent");
}

#[test]
fn proc_sys_written() {
    let Some(c) = capable_ctr() else { return };
    let t = tag("sysctl");
    // The container's own network namespace; "x" is no valid value, so the
    // write itself is refused and nothing changes.
    let f = "/proc/sys/net/ipv4/ip_forward";
    let a = check(c, &[], &["fhelper", "open-write", f, &tag_arg(&t)], &t, "Kernel parameter written from a container");
    assert_field(&a, "fd.name", f);
}

#[test]
fn runtime_socket_contacted() {
    let Some(c) = main_ctr() else { return };
    let t = tag("sock");
    let args = ["fhelper", "connect-unix", "/run/docker.sock", &tag_arg(&t)];
    let a = check(c, &[], &args, &t, "Container runtime socket contacted from a container");
    assert_field_contains(&a, "fd.name", "docker.sock");
}

#[test]
fn debugfs_in_a_capable_container() {
    let Some(c) = capable_ctr() else { return };
    let t = tag("debugfs");
    let a = check(c, &[], &["debugfs", "true", &tag_arg(&t)], &t, "Debugfs launched in container");
    assert_field(&a, "proc.name", "debugfs");
}

#[test]
fn kernel_module_load() {
    let Some(c) = capable_ctr() else { return };
    let t = tag("insmod");
    let a = check(c, &[], &["fhelper", "init-module", &tag_arg(&t)], &t, "Kernel module load attempt");
    assert_field(&a, "evt.type", "init_module");
}

#[test]
fn anti_debugging_and_userfaultfd() {
    let Some(c) = main_ctr() else { return };
    let t = tag("traceme");
    let a = check(c, &[], &["fhelper", "traceme", &tag_arg(&t)], &t, "Anti-debugging with PTRACE_TRACEME");
    assert_field(&a, "proc.name", "fhelper");
    let t = tag("uffd");
    let rule = "Userfaultfd created by an unprivileged or container process";
    let a = check(c, &[], &["fhelper", "userfaultfd", &tag_arg(&t)], &t, rule);
    assert_field(&a, "proc.name", "fhelper");
}

#[test]
fn raw_disk_opened() {
    let Some(c) = main_ctr() else { return };
    let t = tag("disk");
    let a = check(
        c,
        &[],
        &["cat", "/dev/sdq", &format!("/nonexistent/{t}")],
        &t,
        "Raw disk or memory device opened in container",
    );
    assert_field(&a, "fd.name", "/dev/sdq");
}

// ------------------------------------------------------------- network

#[test]
fn packet_socket() {
    let Some(c) = main_ctr() else { return };
    let t = tag("packet");
    let a = check(c, &[], &["fhelper", "packet-socket", &tag_arg(&t)], &t, "Packet socket created in container");
    assert_field(&a, "proc.name", "fhelper");
}

#[test]
fn reverse_shell_socket_on_stdio() {
    let Some(c) = main_ctr() else { return };
    let t = tag("revshell");
    // nc hands the accepted connection to the program as 0, 1, 2 (dup2).
    c.exec(&["-d"], &["nc", "-l", "-p", "4445", "-e", &format!("/tmp/{t}")]);
    let client = "for i in $(seq 100); do nc 127.0.0.1 4445 </dev/null && break; sleep 0.05; done";
    c.exec(&[], &["sh", "-c", client]);
    let a = alert_of(c, &t, "Network socket duplicated onto standard input or output");
    assert!(falco::field(&a, "evt.type").as_str().unwrap().starts_with("dup"), "{a}");
}

#[test]
fn crypto_miner_by_name_url_and_port() {
    let Some(c) = main_ctr() else { return };
    let t = tag("xmrig");
    let a = check(c, &[], &["/opt/t/xmrig", "true", &tag_arg(&t)], &t, "Crypto miner launched");
    assert_field(&a, "proc.name", "xmrig");
    let t = tag("stratum");
    let args = ["fhelper", "true", "stratum+tcp://pool.invalid:3333", &tag_arg(&t)];
    check(c, &[], &args, &t, "Mining pool protocol on a command line");
    // A public (TEST-NET-2) address on the container's own loopback device.
    c.add_loopback_address(falco::NS_SERVER);
    c.exec(&["-d"], &["fhelper", "serve", falco::NS_SERVER, "3333", &tag_arg(&tag("pool-srv"))]);
    let t = tag("pool");
    let args = ["fhelper", "connect", falco::NS_SERVER, "3333", "tcp", &tag_arg(&t)];
    let a = check(c, &[], &args, &t, "Outbound connection to a mining pool port");
    assert_field_contains(&a, "fd.name", "->198.51.100.1:3333");
}

#[test]
fn metadata_service_and_kubernetes_api() {
    let Some(c) = main_ctr() else { return };
    for (ip, port, rule) in [
        ("169.254.169.254", "80", "Cloud metadata service contacted by hand from container"),
        ("10.96.0.1", "443", "Kubernetes API contacted by hand from container"),
    ] {
        c.add_loopback_address(ip);
        c.exec(&["-d"], &["fhelper", "serve", ip, port, &tag_arg(&tag("srv"))]);
        let t = tag("api");
        // The helper named curl (busybox's static wget crashes resolving
        // names here); it retries until the server listens.
        let args = ["/opt/t/curl", "connect", ip, port, "tcp", &tag_arg(&t)];
        let a = check(c, &[], &args, &t, rule);
        assert_field(&a, "proc.name", "curl");
    }
}
