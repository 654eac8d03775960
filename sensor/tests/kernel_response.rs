//! Response on the real kernel: `sensor run --enforce` with a
//! `kill_process` rule on a copied binary's name kills it in the kernel at
//! exec, before its first instruction (a copy of `touch` never creates its
//! file), and reports the kill as an alert of its own carrying the rule; a
//! rule only user space can decide kills through a pidfd, its latency in
//! the metrics; in monitor mode nothing is killed and the alert says what
//! would have been done.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::Sensor;
use serde_json::Value;

/// A process name no other process uses, short enough for the kernel's
/// 15-byte `comm`.
fn short_name(tag: &str) -> String {
    format!("{tag}{}", std::process::id() % 1_000_000)
}

fn rules(dir: &Path, kernel_name: &str, user_name: &str) -> std::path::PathBuf {
    let text = format!(
        "- rule: Response test kill at exec
  desc: a process name the kernel can decide (kernel_response.rs)
  condition: evt.type in (execve, execveat) and proc.name = {kernel_name}
  output: forbidden program %proc.name started (pid %proc.pid)
  priority: CRITICAL
  actions: [kill_process]
- rule: Response test kill in user space
  desc: needs the command line, which only user space has (kernel_response.rs)
  condition: evt.type = execve and proc.name = {user_name} and proc.cmdline contains \"300\"
  output: forbidden sleeper %proc.cmdline (pid %proc.pid)
  priority: CRITICAL
  actions: [capture, kill_process]
"
    );
    let p = dir.join("response_rules.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[path = "support/runtime.rs"]
mod runtime_support;

const IMAGE: &str = "sensortest-response-busybox:1";

/// A private dockerd with the busybox image, or `None` (said why).
fn docker() -> Option<runtime_support::DockerEnv> {
    match runtime_support::DockerEnv::start() {
        Ok(d) => {
            d.import_busybox(IMAGE).unwrap();
            Some(d)
        }
        Err(why) => {
            runtime_support::skip_or_fail(&format!("Docker cannot run: {why}"));
            None
        }
    }
}

fn field<'a>(a: &'a Value, f: &str) -> &'a Value {
    &a["output_fields"][f]
}

fn copy_bin(dir: &Path, from: &str, name: &str) -> std::path::PathBuf {
    let bin = dir.join(name);
    std::fs::copy(from, &bin).unwrap();
    bin
}

/// The path rule: the copy at the rule's path dies in the kernel; the
/// same file name in another directory is walked and runs.
fn kills_by_path(s: &Sensor, dir: &Path, by_path: &Path) {
    // By path, in the kernel too.
    std::fs::copy("/usr/bin/touch", by_path).unwrap();
    let marker2 = dir.join("marker2");
    let st = common::retry_busy(Command::new(by_path).arg(&marker2), Command::status);
    assert_eq!(st.signal(), Some(libc::SIGKILL), "{st:?}");
    assert!(!marker2.exists());
    let kill = s.wait_for("the path kill's alert", |a| {
        a["rule"] == "Sensor response: kill_process"
            && field(a, "response.trigger.rule") == "Response test kill by path"
    });
    assert_eq!(field(&kill, "response.by"), "kernel");
    // The same file name in another directory: walked, not killed.
    let twin_dir = dir.join("twin");
    std::fs::create_dir(&twin_dir).unwrap();
    let twin = twin_dir.join(by_path.file_name().unwrap());
    std::fs::copy("/usr/bin/touch", &twin).unwrap();
    let marker3 = dir.join("marker3");
    let st = common::retry_busy(Command::new(&twin).arg(&marker3), Command::status);
    assert!(st.success(), "a program at another path with the rule's file name was killed: {st:?}");
    assert!(marker3.exists());
}

#[test]
fn enforce_kills_at_exec_in_the_kernel_and_through_a_pidfd() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (kname, uname) = (short_name("rk"), short_name("ru"));
    let rules = rules(dir.path(), &kname, &uname);
    // By path: a name no rule lists, at a path one does.
    let by_path = dir.path().join(short_name("rp"));
    let path_rules = dir.path().join("path_rules.yaml");
    std::fs::write(
        &path_rules,
        format!(
            "- rule: Response test kill by path\n  desc: an exe path the kernel can decide\n  condition: evt.type = execve \
             and proc.exepath = {}\n  output: forbidden path %proc.exepath\n  priority: CRITICAL\n  actions: [kill_process]\n",
            by_path.display()
        ),
    )
    .unwrap();
    let s = common::run_with_rules(
        &rules,
        &["--rules", path_rules.to_str().unwrap(), "--enforce", "--listen", "127.0.0.1:0"],
    );
    s.wait_stderr("process names and paths killed in the kernel at exec (armed)");

    // In the kernel: the copy of touch never runs an instruction.
    let bin = copy_bin(dir.path(), "/usr/bin/touch", &kname);
    let marker = dir.path().join("marker");
    let st = common::retry_busy(Command::new(&bin).arg(&marker), Command::status);
    assert_eq!(st.signal(), Some(libc::SIGKILL), "{st:?}");
    assert!(!marker.exists(), "the killed program ran: it created {}", marker.display());
    let kill = s.wait_for("the kernel kill's alert", |a| {
        a["rule"] == "Sensor response: kill_process" && field(a, "proc.name") == kname.as_str()
    });
    assert_eq!(field(&kill, "response.by"), "kernel");
    assert_eq!(field(&kill, "response.mode"), "enforce");
    assert_eq!(field(&kill, "response.outcome"), "kernel");
    assert_eq!(field(&kill, "response.trigger.rule"), "Response test kill at exec");
    assert_eq!(kill["priority"], "Critical");
    let trigger = s.wait_for("the rule's own alert", |a| {
        a["rule"] == "Response test kill at exec" && field(a, "proc.name") == kname.as_str()
    });
    assert_eq!(field(&trigger, "response.mode"), "enforce");
    assert_eq!(field(&trigger, "response.actions"), &serde_json::json!(["kill_process"]));
    assert_eq!(field(&kill, "response.trigger.id"), field(&trigger, "response.alert_id"));
    kills_by_path(&s, dir.path(), &by_path);
    // Any other program runs.
    let other = dir.path().join("other");
    assert!(Command::new("/usr/bin/touch").arg(&other).status().unwrap().success());
    assert!(other.exists());

    // In user space: the rule needs the command line; the sleeper dies by
    // SIGKILL long before its 300 s.
    let bin = copy_bin(dir.path(), "/bin/sleep", &uname);
    let t0 = Instant::now();
    let mut child = common::retry_busy(Command::new(&bin).arg("300"), Command::spawn);
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the user-space kill did not come\n{}", s.diagnosis());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(st.signal(), Some(libc::SIGKILL), "{st:?}");
    let kill = s.wait_for("the pidfd kill's alert", |a| {
        a["rule"] == "Sensor response: kill_process" && field(a, "proc.name") == uname.as_str()
    });
    assert_eq!(field(&kill, "response.by"), "pidfd");
    assert_eq!(field(&kill, "response.outcome"), "done");
    assert_eq!(field(&kill, "response.trigger.rule"), "Response test kill in user space");
    // Evidence taken before the kill, attached to the kill's alert.
    let ev = field(&kill, "response.evidence");
    assert_eq!(ev["process_tree"][0]["name"], uname.as_str(), "{ev}");
    assert_eq!(ev["process_tree"][0]["args"][1], "300", "{ev}");
    assert_eq!(ev["process_tree"][1]["pid"], std::process::id(), "{ev}");
    assert!(ev["process_tree"].as_array().unwrap().len() >= 2, "{ev}");
    assert!(
        ev["open_files"].as_array().is_some_and(|f| f.iter().any(|x| x.as_str().is_some_and(|x| x.starts_with("0: ")))),
        "{ev}"
    );
    let cap = s.wait_for("the capture's alert", |a| {
        a["rule"] == "Sensor response: capture" && field(a, "proc.name") == uname.as_str()
    });
    assert_eq!(field(&cap, "response.evidence"), ev);
    let m = common::scrape(&s.metrics_addr());
    let series = |outcome: &str| {
        format!("sensor_response_actions_total{{action=\"kill_process\",mode=\"enforce\",outcome=\"{outcome}\"}}")
    };
    assert_eq!(common::metric(&m, &series("kernel")), Some(2.0), "{m}");
    assert_eq!(common::metric(&m, &series("done")), Some(1.0), "{m}");
    let n = common::metric(&m, "sensor_response_kill_latency_seconds_count").unwrap();
    let sum = common::metric(&m, "sensor_response_kill_latency_seconds_sum").unwrap();
    assert!((n - 1.0).abs() < f64::EPSILON, "{m}");
    eprintln!("user-space kill latency (event to pidfd_send_signal): {:.0} us", sum * 1e6);
    assert_eq!(common::metric(&m, "sensor_response_kernel_armed"), Some(1.0));
    s.stop();
}

#[test]
fn monitor_mode_kills_nothing_and_reports_the_would_be_action() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (kname, uname) = (short_name("mk"), short_name("mu"));
    let rules = rules(dir.path(), &kname, &uname);
    let s: Sensor = common::run_with_rules(&rules, &["--no-listen"]);
    s.wait_stderr("process names and paths killed in the kernel at exec (monitor mode: not armed)");
    let bin = copy_bin(dir.path(), "/usr/bin/touch", &kname);
    let marker = dir.path().join("marker");
    let st = common::retry_busy(Command::new(&bin).arg(&marker), Command::status);
    assert!(st.success(), "{st:?}");
    assert!(marker.exists());
    let a = s.wait_for("the rule's alert", |a| {
        a["rule"] == "Response test kill at exec" && field(a, "proc.name") == kname.as_str()
    });
    assert_eq!(field(&a, "response.mode"), "monitor");
    assert_eq!(field(&a, "response.actions"), &serde_json::json!(["kill_process"]));
    let bin = copy_bin(dir.path(), "/bin/sleep", &uname);
    let mut child = common::retry_busy(Command::new(&bin).arg("300"), Command::spawn);
    s.wait_for("the user-space rule's alert", |a| {
        a["rule"] == "Response test kill in user space" && field(a, "response.mode") == "monitor"
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "monitor mode killed the sleeper");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        s.all(|a| a["rule"] == "Sensor response: kill_process").is_empty(),
        "monitor mode reported an action as done"
    );
    s.stop();
}

/// `kill_process` at an open: a rule on an absolute path alone is decided
/// in the kernel at the open's entry (the process dies before the open
/// returns to it and never reads a byte); the same file opened by a
/// relative path is left to user space, which kills through a pidfd; an
/// allow-listed process name is never killed.
#[test]
fn enforce_kills_at_an_open_of_a_protected_path() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "top secret\n").unwrap();
    let rules = dir.path().join("open_rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Response test kill at open\n  desc: an absolute path the kernel can decide\n  condition: evt.type in \
             (open, openat, openat2) and fd.name = {}\n  output: protected file opened by %proc.name\n  priority: \
             CRITICAL\n  actions: [kill_process]\n",
            secret.display()
        ),
    )
    .unwrap();
    let s = common::run_with_rules(&rules, &["--enforce", "--no-listen"]);
    s.wait_stderr("paths killed in the kernel at open (");
    let reader = copy_bin(dir.path(), "/bin/cat", &short_name("oc"));
    // By absolute path: killed in the kernel, nothing read.
    let out = common::retry_busy(Command::new(&reader).arg(&secret), Command::output);
    assert_eq!(out.status.signal(), Some(libc::SIGKILL), "{out:?}");
    assert!(out.stdout.is_empty(), "the killed reader printed {:?}", String::from_utf8_lossy(&out.stdout));
    let kill = s.wait_for("the open kill's alert", |a| {
        a["rule"] == "Sensor response: kill_process"
            && field(a, "response.trigger.rule") == "Response test kill at open"
    });
    assert_eq!(field(&kill, "response.by"), "kernel", "{kill}");
    assert_eq!(field(&kill, "response.outcome"), "kernel");
    // By a relative path: user space decides, after the open.
    let sleeper = copy_bin(dir.path(), "/bin/sh", &short_name("os"));
    let mut child = common::retry_busy(
        Command::new(&sleeper).current_dir(dir.path()).args(["-c", "exec 3<secret; exec sleep 300"]),
        Command::spawn,
    );
    let user = s.wait_for("the user-space kill's alert", |a| {
        a["rule"] == "Sensor response: kill_process"
            && field(a, "response.trigger.rule") == "Response test kill at open"
            && field(a, "response.by") == "pidfd"
    });
    assert_eq!(field(&user, "response.outcome"), "done", "{user}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let st = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "the relative opener was not killed");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(st.signal(), Some(libc::SIGKILL), "{st:?}");
    // An allow-listed name (sshd reads /etc/shadow) is never killed.
    let sshd_dir = dir.path().join("allowed");
    std::fs::create_dir(&sshd_dir).unwrap();
    let sshd = copy_bin(&sshd_dir, "/bin/cat", "sshd");
    let out = common::retry_busy(Command::new(&sshd).arg(&secret), Command::output);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, b"top secret\n");
    s.stop();
}

/// The kernel's kills obey the response rate limit: with
/// `max_actions_per_minute: 2`, two execs of a forbidden name die in the
/// kernel, the next ones run, and each is reported `rate_limited`.
#[test]
fn kernel_kills_stop_at_the_rate_limit_and_say_so() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (kname, uname) = (short_name("lk"), short_name("lu"));
    let rules = rules(dir.path(), &kname, &uname);
    let cfg = dir.path().join("sensor.yaml");
    std::fs::write(&cfg, "response:\n  max_actions_per_minute: 2\n").unwrap();
    let s = common::run_with_rules(&rules, &["--config", cfg.to_str().unwrap(), "--enforce", "--no-listen"]);
    s.wait_stderr("process names and paths killed in the kernel at exec (armed)");
    let bin = copy_bin(dir.path(), "/usr/bin/touch", &kname);
    let mut outcomes = Vec::new();
    for i in 0..4 {
        let marker = dir.path().join(format!("marker{i}"));
        let st = common::retry_busy(Command::new(&bin).arg(&marker), Command::status);
        outcomes.push((st.signal(), marker.exists()));
    }
    assert_eq!(
        outcomes,
        [(Some(libc::SIGKILL), false), (Some(libc::SIGKILL), false), (None, true), (None, true)],
        "two kills, then the limit"
    );
    let limited = |a: &Value| {
        a["rule"] == "Sensor response: kill_process"
            && field(a, "proc.name") == kname.as_str()
            && field(a, "response.outcome") == "rate_limited"
    };
    let last = s.wait_for("a rate-limited kill report", limited);
    assert_eq!(field(&last, "response.trigger.rule"), "Response test kill at exec");
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.all(limited).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(s.all(limited).len(), 2, "{}", s.diagnosis());
    let done = s.all(|a| {
        a["rule"] == "Sensor response: kill_process"
            && field(a, "proc.name") == kname.as_str()
            && field(a, "response.outcome") == "kernel"
    });
    assert_eq!(done.len(), 2, "{done:?}");
    s.stop();
}

/// The kernel's allow-list by cgroup: with the exec program loaded and
/// armed in this process, a name on the kill list dies in an ordinary
/// cgroup but runs in a cgroup below an exempt one (how a pod of
/// `kube-system` is spared, from its pod's cgroup down).
#[test]
fn exempt_cgroups_and_their_children_are_never_killed() {
    let Some((in_pod, outside)) =
        kill_in_cgroups("ex", sensor_common::enforce::ALL, sensor::kernel::response::KillMaps::exempt)
    else {
        return;
    };
    assert!(in_pod.success(), "killed below an exempt cgroup: {in_pod:?}");
    assert_eq!(outside.signal(), Some(libc::SIGKILL), "{outside:?}");
}

/// A global monitor with a namespace set to enforce: the kernel kills only
/// below that namespace's pod cgroups (`enforce::LISTED`).
#[test]
fn enforced_namespaces_under_a_global_monitor_are_killed_only_in_their_cgroups() {
    let Some((in_pod, outside)) =
        kill_in_cgroups("en", sensor_common::enforce::LISTED, sensor::kernel::response::KillMaps::enforce_in)
    else {
        return;
    };
    assert_eq!(in_pod.signal(), Some(libc::SIGKILL), "not killed below an enforced cgroup: {in_pod:?}");
    assert!(outside.success(), "killed outside the enforced cgroups: {outside:?}");
}

/// With the exec program loaded and armed in this process (`mode`) for
/// one name, `mark` given a pod cgroup's id: that name run in a container
/// cgroup below the pod, then in another cgroup. A status whose program
/// was killed never created its marker (asserted here).
fn kill_in_cgroups(
    tag: &str,
    mode: u32,
    mark: impl Fn(&mut sensor::kernel::response::KillMaps, &[u64]) -> Result<(), sensor::kernel::response::ResponseMapError>,
) -> Option<(std::process::ExitStatus, std::process::ExitStatus)> {
    use std::os::unix::fs::MetadataExt as _;
    use std::os::unix::process::CommandExt as _;
    if !common::kernel_tests_can_run() {
        return None;
    }
    let Ok(root) = sensor::kernel::dns_hook::cgroup2_root(None) else {
        assert!(std::env::var("CI").is_err(), "no cgroup v2 hierarchy in CI");
        eprintln!("SKIPPED: no cgroup v2 hierarchy");
        return None;
    };
    let mut loaded = sensor::kernel::programs::load(&sensor::kernel::programs::Options {
        ring_bytes: 1 << 16,
        agent_tgid: std::process::id(),
        selection: sensor::kernel::programs::Selection {
            syscalls: Some(std::collections::HashSet::new()),
            no_dns: true,
        },
        hooks: sensor::kernel::programs::SyscallHooks::Btf,
        native: sensor::kernel::programs::NativeSyscalls::Tracepoints,
        compat: sensor::kernel::programs::CompatSyscalls::Always,
        cgroup_root: None,
    })
    .unwrap();
    let mut maps = sensor::kernel::response::KillMaps::take(&mut loaded.ebpf).unwrap();
    let name = short_name(tag);
    maps.sync(&[(name.clone(), 1)].into_iter().collect(), &std::collections::BTreeMap::new(), mode, false, 0).unwrap();
    let base = root.join(common::unique("resp"));
    let (pod, container, other) = (base.join("podx"), base.join("podx/c1"), base.join("other"));
    for d in [&container, &other] {
        std::fs::create_dir_all(d).unwrap();
    }
    mark(&mut maps, &[std::fs::metadata(&pod).unwrap().ino()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bin = copy_bin(dir.path(), "/usr/bin/touch", &name);
    let run_in = |cg: &Path, marker: &Path| {
        let procs = std::ffi::CString::new(cg.join("cgroup.procs").into_os_string().into_encoded_bytes()).unwrap();
        let mut cmd = Command::new(&bin);
        cmd.arg(marker);
        // SAFETY: open(2), write(2) and close(2) only, on memory allocated
        // before the fork: "0" moves the writing process itself.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
                Ok(())
            });
        }
        let st = common::retry_busy(&mut cmd, Command::status);
        assert_eq!(marker.exists(), st.success(), "{st:?}");
        st
    };
    let in_pod = run_in(&container, &dir.path().join("in_pod"));
    let outside = run_in(&other, &dir.path().join("outside"));
    drop(maps);
    drop(loaded);
    for d in [&container, &pod, &other, &base] {
        let _ = std::fs::remove_dir(d);
    }
    Some((in_pod, outside))
}

/// `deny_connect` to 127.0.0.3:PORT: from inside a real Docker container
/// (its own network namespace, loopback only) that connect fails with
/// EPERM, refused by the cgroup `connect4` program before any packet,
/// while a connect to a server on 127.0.0.1 in the same container works;
/// the refusal is an alert of its own.
#[test]
fn deny_connect_refuses_a_destination_from_inside_a_container() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let Some(mut d) = docker() else { return };
    let image = IMAGE;
    let dir = tempfile::tempdir().unwrap();
    let port = 20_000 + std::process::id() % 20_000;
    let rules = dir.path().join("deny.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Response test denied destination
  desc: a connect to a denied address and port (kernel_response.rs)
  condition: evt.type = connect and fd.sip = 127.0.0.3 and fd.sport = {port}
  output: connect to %fd.name by %proc.name
  priority: CRITICAL
  actions: [capture, deny_connect]
"
        ),
    )
    .unwrap();
    let s = common::run_with_rules(&rules, &["--enforce", "--no-listen"]);
    s.wait_stderr("destinations denied at connect");
    // (busybox's wget crashes on this machine; its nc speaks HTTP well enough.)
    let script = format!(
        "echo ok > /tmp/index.html; busybox httpd -p 127.0.0.1:8080 -h /tmp; \
         printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 127.0.0.1 8080 2>&1; echo A=$?; \
         busybox nc -w 3 127.0.0.3 {port} </dev/null 2>&1; echo B=$?"
    );
    let name = common::unique("deny");
    d.create(&name, &["--network", "none", image, "/bin/sh", "-c", &script]).unwrap();
    let out = d.docker().args(["start", "-a", &name]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("ok\n") && text.contains("A=0"), "127.0.0.1 must still work:\n{text}");
    assert!(text.contains("Operation not permitted") && text.contains("B=1"), "127.0.0.3:{port} not refused:\n{text}");
    let a = s.wait_for("the refusal's alert", |a| {
        a["rule"] == "Sensor response: deny_connect"
            && field(a, "response.trigger.rule") == "Response test denied destination"
    });
    assert_eq!(field(&a, "response.outcome"), "kernel", "{a}");
    // The evidence names the container and its last events (the shell's
    // execs of busybox before the refused connect).
    let ev = field(&a, "response.evidence");
    assert_eq!(ev["container"]["id"].as_str().map(str::len), Some(64), "{ev}");
    let last = ev["last_events"].as_array().unwrap();
    assert!(last.iter().any(|e| e["type"] == "execve"), "{ev}");
    assert!(last.iter().any(|e| e["type"] == "connect"), "{ev}");
    s.stop();
}

/// `kill_container`: a rule only user space can decide (the command line)
/// fires on a `docker exec` in a real container; every process of the
/// container dies at once (`cgroup.kill`), its init included, so the
/// container stops with 137.
#[test]
fn kill_container_kills_every_process_of_the_container() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let Some(mut d) = docker() else { return };
    let secs = 20_000 + std::process::id() % 20_000;
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("kill_container.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Response test container compromised
  desc: a sleeper started by docker exec (kernel_response.rs)
  condition: evt.type = execve and container.id != host and proc.cmdline = \"sleep {secs}\"
  output: compromised %container.id (%proc.cmdline)
  priority: CRITICAL
  actions: [kill_container]
"
        ),
    )
    .unwrap();
    let s = common::run_with_rules(&rules, &["--enforce", "--no-listen"]);
    let name = common::unique("killc");
    let id = d.run_detached(&name, &["--network", "none", IMAGE, "/bin/sleep", "300"]).unwrap();
    let st = d.docker().args(["exec", &name, "/bin/sleep", &secs.to_string()]).status().unwrap();
    assert!(!st.success(), "the exec'd sleeper survived: {st:?}");
    let a = s.wait_for("the container kill's alert", |a| a["rule"] == "Sensor response: kill_container");
    assert_eq!(field(&a, "response.outcome"), "done", "{a}");
    assert_eq!(field(&a, "response.by"), "cgroup");
    let t0 = Instant::now();
    loop {
        let out = d.docker().args(["inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", &id]).output().unwrap();
        let state = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if state == "false 137" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(15), "the container still runs: {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
    s.stop();
}
