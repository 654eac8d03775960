//! Falco's upstream container rules end to end on the real kernel, in real
//! Docker containers (`--network none`) of a private dockerd, with runtime
//! metadata (`--runtime-socket docker:...`). Behaviours run with `docker
//! exec`, tagged in their command line; the containers' inits are tagged
//! too (`fhelper sleep ... --tag=...`), for the rules about container
//! starts. Network rules give the container's own loopback device a
//! non-local address (a namespace this test made): nothing leaves it.
#![allow(clippy::unwrap_used)]
// Each test binds sensor, tag, alert, event, field (s, t, a, e, f): one
// letter per role, the same in every test.
#![allow(clippy::many_single_char_names)]

mod common;
mod falco;

use std::sync::OnceLock;

use common::Sensor;
use falco::docker::{Container, from};
use falco::{assert_field, assert_field_contains, expect, field, tag, tag_arg, tagged};

fn sensor() -> Option<&'static Sensor> {
    static S: OnceLock<Option<Sensor>> = OnceLock::new();
    S.get_or_init(|| {
        falco::helper()?;
        let socket = falco::docker::runtime_socket_arg()?;
        falco::start(&["--runtime-socket", &socket])
    })
    .as_ref()
}

/// The container most behaviours run in: default capabilities.
fn main_ctr() -> Option<&'static Container> {
    static C: OnceLock<Option<Container>> = OnceLock::new();
    sensor()?;
    C.get_or_init(|| Container::start("main", &[])).as_ref()
}

/// A container granted `CAP_SYS_ADMIN` and `CAP_SYS_MODULE` (`--privileged`
/// cannot start here: the machine lacks `CAP_SYS_RESOURCE`).
fn capable_ctr() -> Option<&'static Container> {
    static C: OnceLock<Option<Container>> = OnceLock::new();
    sensor()?;
    C.get_or_init(|| Container::start("capable", &["--cap-add", "SYS_ADMIN", "--cap-add", "SYS_MODULE"])).as_ref()
}

/// A container with host paths mounted: /etc read-only, a test directory
/// at /host, and the host's /dev/null as a device node named /dev/sdq.
fn mounts_ctr() -> Option<&'static Container> {
    static C: OnceLock<Option<(tempfile::TempDir, Container)>> = OnceLock::new();
    sensor()?;
    C.get_or_init(|| {
        let dir = falco::tagged_dir(&tag("hostdir"));
        std::fs::write(dir.path().join("secret"), "host data\n").unwrap();
        let host = format!("{}:/host:ro", dir.path().display());
        let c =
            Container::start("mounts", &["-v", "/etc:/host-etc:ro", "-v", &host, "--device", "/dev/null:/dev/sdq"])?;
        Some((dir, c))
    })
    .as_ref()
    .map(|(_, c)| c)
}

/// Both: the rules' output names the container, and the alert is this test's.
fn mine<'a>(c: &'a Container, t: &'a str) -> impl Fn(&serde_json::Value) -> bool + 'a {
    let tagged = tagged(t);
    let from = from(c);
    move |a| tagged(a) && from(a)
}

// ------------------------------------------------------------- stable

#[test]
fn terminal_shell_in_a_container() {
    let Some(c) = main_ctr() else { return };
    let t = tag("tty");
    // `docker exec -t`: a shell with a terminal, as `kubectl exec -it` gives.
    c.exec(&["-t"], &["sh", "-c", &format!(": {t}")]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Terminal shell in container"]);
    let a = &a["Terminal shell in container"];
    assert_field(a, "proc.name", "sh");
    assert!(field(a, "proc.tty").as_u64().is_some_and(|t| t != 0), "{a}");
    assert_field(a, "container.id", c.short_id());
    assert_field(a, "user.name", "root");
}

#[test]
fn netcat_with_exec_in_a_container() {
    let Some(c) = main_ctr() else { return };
    let t = tag("ncexec");
    // Nobody listens on port 1: nc gives up before running the program.
    c.exec(&[], &["nc", "127.0.0.1", "1", "-e", &format!("/tmp/{t}")]);
    let a = expect(
        sensor().unwrap(),
        mine(c, &t),
        &["Netcat Remote Code Execution in Container", "Launch Suspicious Network Tool in Container"],
    );
    assert_field(&a["Netcat Remote Code Execution in Container"], "proc.name", "nc");
}

#[test]
fn packet_socket_in_a_container() {
    let Some(c) = main_ctr() else { return };
    let t = tag("packet");
    c.exec(&[], &["fhelper", "packet-socket", &tag_arg(&t)]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Packet socket created in container"]);
    let a = &a["Packet socket created in container"];
    assert_field(a, "evt.type", "socket");
    assert_field_contains(a, "evt.args", "AF_PACKET");
}

#[test]
fn stdio_redirected_to_a_network_connection() {
    let Some(c) = main_ctr() else { return };
    let t = tag("redirect");
    // A reverse shell's server side: nc hands the accepted connection to a
    // program as its stdin/stdout/stderr (dup2 onto 0, 1, 2); the program
    // (the tag) does not exist, the redirection is the behaviour.
    c.exec(&["-d"], &["nc", "-l", "-p", "4444", "-e", &format!("/tmp/{t}")]);
    let client = "for i in $(seq 100); do nc 127.0.0.1 4444 </dev/null && break; sleep 0.05; done";
    c.exec(&[], &["sh", "-c", client]);
    // nc -e is also netcat remote code execution, and nc a network tool.
    let a = expect(
        sensor().unwrap(),
        mine(c, &t),
        &[
            "Redirect STDOUT/STDIN to Network Connection in Container",
            "Netcat Remote Code Execution in Container",
            "Launch Suspicious Network Tool in Container",
        ],
    );
    let a = &a["Redirect STDOUT/STDIN to Network Connection in Container"];
    assert!(field(a, "evt.type").as_str().unwrap().starts_with("dup"), "{a}");
    assert_field(a, "fd.type", "ipv4");
    assert_eq!(field(a, "fd.lport"), 4444, "{a}");
}

#[test]
fn kernel_module_load_from_a_container() {
    let Some(c) = capable_ctr() else { return };
    let t = tag("insmod");
    // init_module with four bytes that are no ELF image: refused (ENOEXEC)
    // after the capability check, nothing is loaded; a kernel built without
    // module support (no /proc/modules) refuses it as ENOSYS. The attempt
    // is the rule's behaviour either way.
    c.exec(&[], &["fhelper", "init-module", &tag_arg(&t)]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Linux Kernel Module Injection Detected"]);
    let a = &a["Linux Kernel Module Injection Detected"];
    assert_field(a, "evt.type", "init_module");
    let res = if std::path::Path::new("/proc/modules").exists() { "ENOEXEC" } else { "ENOSYS" };
    assert_field(a, "evt.res", res);
}

#[test]
fn release_agent_written_in_a_container() {
    let Some(c) = capable_ctr() else { return };
    let t = tag("release");
    // A file named release_agent, written with CAP_SYS_ADMIN: the rule's
    // condition; a cgroup v1 release_agent itself would escape the container.
    c.exec(&[], &["fhelper", "open-write", "/tmp/release_agent", &tag_arg(&t)]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Detect release_agent File Container Escapes"]);
    let a = &a["Detect release_agent File Container Escapes"];
    assert_field(a, "fd.name", "/tmp/release_agent");
    assert_field_contains(a, "thread.cap_effective", "CAP_SYS_ADMIN");
}

#[test]
fn dropped_binary_executed_in_a_container() {
    let Some(c) = main_ctr() else { return };
    let t = tag("drop");
    // The copy lands in the container's upper overlay layer; only the
    // dropped program's command line carries the tag.
    let script = "cp /usr/bin/fhelper /tmp/dropped && exec /tmp/dropped true \"--tag=$T\"";
    c.exec(&["-e", &format!("T={t}")], &["sh", "-c", script]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Drop and execute new binary in container"]);
    let a = &a["Drop and execute new binary in container"];
    assert_field(a, "proc.exepath", "/tmp/dropped");
    assert_eq!(a["priority"], "Critical");
}

/// The cluster's API server by name: the container's resolver (a dnsmasq
/// this test runs in the container's own network namespace, answering
/// `kubernetes.default.svc.cluster.local` with 10.96.0.1 on the
/// container's loopback) is asked with `nslookup`, then another process
/// of the container connects to the answer: `fd.sip.name` is the name the
/// sensor learned from the answer it saw on the packet path.
#[test]
fn kubernetes_api_contacted_by_name() {
    const DNSMASQ: &str = "/usr/sbin/dnsmasq";
    const API: &str = "kubernetes.default.svc.cluster.local";
    if sensor().is_none() {
        return;
    }
    if !std::path::Path::new(DNSMASQ).exists() {
        falco::runtime_support::skip_or_fail(
            "dnsmasq missing (apt package dnsmasq-base; scripts/setup.sh installs it)",
        );
        return;
    }
    let t = tag("k8sapi");
    let dir = falco::tagged_dir(&t);
    let conf = dir.path().join("resolv.conf");
    std::fs::write(&conf, "search default.svc.cluster.local svc.cluster.local\nnameserver 127.0.0.1\n").unwrap();
    let mount = format!("{}:/etc/resolv.conf:ro", conf.display());
    // Its own container: the name it learns must not reach other tests' alerts.
    let Some(c) = Container::start("k8sapi", &["-v", &mount]) else { return };
    c.add_loopback_address("10.96.0.1");
    let mut dns = std::process::Command::new("nsenter")
        .args(["-t", &c.pid.to_string(), "-n", DNSMASQ])
        .args(["--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll"])
        .args(["--listen-address=127.0.0.1", "--bind-interfaces", "--port=53", "--user=root", "--pid-file="])
        .arg(format!("--address=/{API}/10.96.0.1"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut answered = false;
    for _ in 0..50 {
        let out = c.exec(&[], &["nslookup", API, "127.0.0.1"]);
        if String::from_utf8_lossy(&out.stdout).contains("10.96.0.1") {
            answered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = dns.kill();
    let _ = dns.wait();
    assert!(answered, "the container's resolver never answered");
    c.exec(&["-d"], &["fhelper", "serve", "10.96.0.1", "443", &tag_arg(&tag("k8sapi-srv"))]);
    c.exec(&[], &["fhelper", "connect", "10.96.0.1", "443", "tcp", &tag_arg(&t)]);
    let a = expect(sensor().unwrap(), mine(&c, &t), &["Contact K8S API Server From Container"]);
    let a = &a["Contact K8S API Server From Container"];
    assert_field_contains(a, "fd.name", "->10.96.0.1:443");
    assert_field(a, "container.id", c.short_id());
}

// --------------------------------------------------------- incubating

#[test]
fn unshare_without_sys_admin() {
    let Some(c) = main_ctr() else { return };
    let t = tag("unshare");
    // Docker's seccomp profile refuses it (EPERM): an attempt is enough.
    c.exec(&[], &["unshare", "-n", "/bin/true", &t]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Change namespace privileges via unshare"]);
    let a = &a["Change namespace privileges via unshare"];
    assert_field(a, "evt.type", "unshare");
    assert_field(a, "evt.res", "EPERM");
}

#[test]
fn excessively_capable_container_started() {
    let Some(c) = capable_ctr() else { return };
    // Any container start also matches Container Run as Root User (root
    // init) and Launch Sensitive Mount Container: its macro asks
    // `not container.mount.dest[/proc*] in (...)`, true when no such mount
    // exists (a missing value makes the comparison false), as in Falco.
    let a = expect(
        sensor().unwrap(),
        mine(c, &c.tag),
        &["Launch Excessively Capable Container", "Container Run as Root User", "Launch Sensitive Mount Container"],
    );
    let a = &a["Launch Excessively Capable Container"];
    assert_field_contains(a, "thread.cap_permitted", "CAP_SYS_MODULE");
    assert_field(a, "proc.name", "fhelper");
}

#[test]
fn cloud_metadata_service_contacted() {
    let Some(c) = main_ctr() else { return };
    let t = tag("imds");
    c.add_loopback_address("169.254.169.254");
    c.exec(&["-d"], &["fhelper", "serve", "169.254.169.254", "80", &tag_arg(&tag("imds-srv"))]);
    c.exec(&[], &["fhelper", "connect", "169.254.169.254", "80", "tcp", &tag_arg(&t)]);
    let a = expect(
        sensor().unwrap(),
        mine(c, &t),
        &["Contact EC2 Instance Metadata Service From Container", "Contact cloud metadata service from container"],
    );
    assert_field_contains(
        &a["Contact EC2 Instance Metadata Service From Container"],
        "fd.name",
        "->169.254.169.254:80",
    );
}

#[test]
fn package_manager_in_a_container() {
    let Some(c) = main_ctr() else { return };
    let t = tag("apk");
    c.exec(&[], &["apk", "true", &tag_arg(&t)]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Launch Package Management Process in Container"]);
    let a = &a["Launch Package Management Process in Container"];
    assert_field(a, "proc.name", "apk");
    // The container's own /etc/passwd names the user.
    assert_field(a, "user.name", "root");
}

#[test]
fn network_tool_in_a_container() {
    let Some(c) = main_ctr() else { return };
    let t = tag("nctool");
    c.exec(&[], &["nc", "-h", &t]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Launch Suspicious Network Tool in Container"]);
    assert_field(&a["Launch Suspicious Network Tool in Container"], "proc.name", "nc");
}

#[test]
fn remote_file_copy_in_a_container() {
    let Some(c) = main_ctr() else { return };
    let t = tag("scp");
    c.exec(&[], &["scp", "true", &tag_arg(&t)]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Launch Remote File Copy Tools in Container"]);
    assert_field(&a["Launch Remote File Copy Tools in Container"], "proc.name", "scp");
}

#[test]
fn ingress_file_copy_in_a_container() {
    let Some(c) = main_ctr() else { return };
    let t = tag("wget");
    c.exec(&[], &["wget", "-q", "-T", "1", "-O", "/dev/null", &format!("http://127.0.0.1:1/{t}")]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Launch Ingress Remote File Copy Tools in Container"]);
    assert_field(&a["Launch Ingress Remote File Copy Tools in Container"], "proc.name", "wget");
}

#[test]
fn environment_read_from_proc() {
    let Some(c) = main_ctr() else { return };
    let t = tag("environ");
    c.exec(&[], &["cat", "/proc/1/environ", &format!("/nonexistent/{t}")]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Read environment variable from /proc files"]);
    assert_field(&a["Read environment variable from /proc files"], "fd.name", "/proc/1/environ");
}

#[test]
fn artifacts_read_by_tar_from_the_runtime() {
    let Some(c) = main_ctr() else { return };
    let t = tag("kubectlcp");
    // `kubectl cp` runs tar in the container, straight from the runtime.
    c.exec(&[], &["tar", "cf", "/dev/null", "/bin/busybox", &format!("/nonexistent/{t}")]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Exfiltrating Artifacts via Kubernetes Control Plane"]);
    let a = &a["Exfiltrating Artifacts via Kubernetes Control Plane"];
    assert_field(a, "fd.name", "/bin/busybox");
    assert_field(a, "proc.name", "tar");
}

// ------------------------------------------------------------ sandbox

#[test]
fn sensitive_mount_container_started() {
    let Some(c) = mounts_ctr() else { return };
    let a =
        expect(sensor().unwrap(), mine(c, &c.tag), &["Launch Sensitive Mount Container", "Container Run as Root User"]);
    assert_field_contains(&a["Launch Sensitive Mount Container"], "container.mounts", "/etc:/host-etc:ro:false:");
}

#[test]
fn container_started_as_root() {
    let Some(c) = main_ctr() else { return };
    // See excessively_capable_container_started for the second rule.
    let a =
        expect(sensor().unwrap(), mine(c, &c.tag), &["Container Run as Root User", "Launch Sensitive Mount Container"]);
    let a = &a["Container Run as Root User"];
    assert_eq!(field(a, "user.uid"), 0);
    assert_field(a, "proc.name", "fhelper");
}

#[test]
fn nodeport_connection_in_a_container() {
    let Some(c) = main_ctr() else { return };
    let t = tag("nodeport");
    c.add_loopback_address(falco::NS_SERVER);
    let port = "30080";
    c.exec(&["-d"], &["fhelper", "serve", falco::NS_SERVER, port, &tag_arg(&tag("nodeport-srv"))]);
    c.exec(&[], &["fhelper", "connect", falco::NS_SERVER, port, "tcp", &tag_arg(&t)]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Unexpected K8s NodePort Connection"]);
    assert_eq!(field(&a["Unexpected K8s NodePort Connection"], "fd.rport"), 30080);
}

#[test]
fn kubernetes_client_in_a_container() {
    let Some(c) = main_ctr() else { return };
    let t = tag("kubectl");
    c.exec(&[], &["kubectl", "true", &tag_arg(&t)]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Kubernetes Client Tool Launched in Container"]);
    assert_field(&a["Kubernetes Client Tool Launched in Container"], "proc.name", "kubectl");
}

#[test]
fn drift_by_chmod() {
    let Some(c) = main_ctr() else { return };
    let t = tag("chmod");
    let f = format!("/tmp/drift-{t}");
    c.exec(&[], &["touch", &f]);
    c.exec(&[], &["chmod", "755", &f]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Container Drift Detected (chmod)"]);
    let a = &a["Container Drift Detected (chmod)"];
    assert_field_contains(a, "evt.arg.mode", "S_IXUSR");
    assert_field(a, "evt.arg.filename", &f);
}

#[test]
fn drift_by_creating_an_executable() {
    let Some(c) = main_ctr() else { return };
    let t = tag("create");
    c.exec(&[], &["cp", "/bin/busybox", &format!("/tmp/copy-{t}")]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Container Drift Detected (open+create)"]);
    let a = &a["Container Drift Detected (open+create)"];
    // openat names its path `name` (Falco's output prints both filename and
    // name: one of them is <NA> for each syscall).
    assert_field(a, "evt.arg.name", &format!("/tmp/copy-{t}"));
    assert_field(a, "evt.type", "openat");
}

#[test]
fn entrypoint_overwritten_through_proc_self_fd() {
    let Some(c) = main_ctr() else { return };
    let t = tag("entry");
    // CVE-2019-5736 writes the runtime's binary through /proc/self/...;
    // here a descriptor of a scratch file.
    let script = "exec 3>/tmp/entrypoint && exec fhelper open-write /proc/self/fd/3 \"--tag=$T\"";
    c.exec(&["-e", &format!("T={t}")], &["sh", "-c", script]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Modify Container Entrypoint"]);
    assert_field(&a["Modify Container Entrypoint"], "fd.name", "/proc/self/fd/3");
}

#[test]
fn payload_decoded_in_a_container() {
    let Some(c) = main_ctr() else { return };
    let t = tag("base64");
    c.exec(&[], &["base64", "-d", &format!("/nonexistent/{t}")]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Decoding Payload in Container"]);
    assert_field(&a["Decoding Payload in Container"], "proc.name", "base64");
}

#[test]
fn network_tool_below_a_node_package_manager() {
    let Some(c) = main_ctr() else { return };
    let t = tag("yarn");
    // An install script run by yarn starts nc.
    c.exec(&[], &["yarn", "run", "/bin/nc", "-h", &t]);
    let a = expect(
        sensor().unwrap(),
        mine(c, &t),
        &["Network Tool Executed During NPM Package Install", "Launch Suspicious Network Tool in Container"],
    );
    let a = &a["Network Tool Executed During NPM Package Install"];
    assert_field(a, "proc.name", "nc");
    assert_field(a, "proc.pname", "yarn");
}

#[test]
fn block_device_read_in_a_container() {
    let Some(c) = mounts_ctr() else { return };
    let t = tag("device");
    c.exec(&[], &["cat", "/dev/sdq", &format!("/nonexistent/{t}")]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Privileged Container Device Access"]);
    assert_field(&a["Privileged Container Device Access"], "fd.name", "/dev/sdq");
}

#[test]
fn host_path_read_in_a_container() {
    let Some(c) = mounts_ctr() else { return };
    let t = tag("hostpath");
    c.exec(&[], &["cat", "/host/secret", &format!("/nonexistent/{t}")]);
    let a = expect(sensor().unwrap(), mine(c, &t), &["Container Access to Host Sensitive Paths"]);
    assert_field(&a["Container Access to Host Sensitive Paths"], "fd.name", "/host/secret");
}
