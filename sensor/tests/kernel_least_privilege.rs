//! Least privilege, proven: the sensor started with the DaemonSet's
//! arguments and exactly the DaemonSet's capability list (read from
//! `kubectl kustomize deploy/`; every other capability dropped from the
//! bounding, inheritable and ambient sets with setpriv) loads its programs,
//! raises an alert with container metadata for a container of a private
//! dockerd, and serves every metric the PrometheusRule and the dashboard use.
//! Then, for each listed capability, a start without just that one fails in
//! a named start-up check that names the capability and what needs it; an
//! optional one (`NET_ADMIN`, DNS capture) starts without that feature and
//! says so, naming the capability.
#![allow(clippy::unwrap_used, clippy::doc_markdown)] // Kubernetes kinds are prose here.

mod common;
mod deploy;
#[path = "support/runtime.rs"]
mod runtime_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use deploy::spawned::{Spawned, http_get};
use runtime_support::{DockerEnv, skip_or_fail};

const SETPRIV: &str = "/usr/bin/setpriv";
const IMAGE: &str = "sensortest-lp:1";
/// Capabilities the DaemonSet adds for one optional feature, with what the
/// sensor says once when it runs without it.
const OPTIONAL: &[(&str, &str)] = &[("NET_ADMIN", "DNS capture off")];

/// The DaemonSet's args with the pod's paths mapped into `dir`: the
/// ConfigMap's mount point and the state hostPath; the listener on a free
/// loopback port (8765 may be another test's).
fn local_args(objs: &[serde_json::Value], dir: &Path) -> Vec<String> {
    let m = deploy::mounts(objs);
    deploy::write_config_map(objs, dir);
    let state = m.host.iter().find(|(c, ..)| c == "/var/lib/sensor").unwrap();
    let cfg = dir.join("config.yaml");
    let text = std::fs::read_to_string(&cfg).unwrap().replace(&state.0, &dir.join("state").display().to_string());
    std::fs::write(&cfg, text).unwrap();
    deploy::args(objs)
        .into_iter()
        .map(|a| if a.starts_with("--listen=") { "--listen=127.0.0.1:0".to_owned() } else { a })
        .map(|a| a.replace(&format!("={}/", state.0), &format!("={}/", dir.join("state").display())))
        .map(|a| a.replace(&format!("{}/", m.config_dir), &format!("{}/", dir.display())))
        .collect()
}

/// `sensor ARGS` under setpriv with exactly `caps` (manifest spelling, `BPF`).
fn start(caps: &[String], args: &[String], docker_sock: &Path) -> Spawned {
    let set: String = caps.iter().fold(String::new(), |acc, c| acc + ",+" + &c.to_lowercase());
    let mut cmd = Command::new(SETPRIV);
    cmd.arg(format!("--inh-caps=-all{set}"))
        .arg(format!("--ambient-caps=-all{set}"))
        .arg(format!("--bounding-set=-all{set}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_sensor"))
        .args(args)
        .env("NODE_NAME", "least-privilege-node")
        .env("DOCKER_HOST", format!("unix://{}", docker_sock.display()))
        .env("RUST_BACKTRACE", "0");
    Spawned::start(&mut cmd, "sensor")
}

/// The capability names of a `/proc/<pid>/status` mask line (`CapEff`).
fn caps_of(pid: u32, line: &str) -> Vec<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hex = status.lines().find_map(|l| l.strip_prefix(&format!("{line}:"))).unwrap().trim().to_owned();
    let out = Command::new("/usr/sbin/capsh").arg(format!("--decode={hex}")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut v: Vec<String> = text
        .trim()
        .split_once('=')
        .map(|(_, l)| {
            l.split(',').filter(|c| !c.is_empty()).map(|c| c.trim_start_matches("cap_").to_uppercase()).collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn daemonset_capabilities_suffice_and_each_is_needed() {
    if !common::kernel_tests_can_run() {
        return;
    }
    for tool in [SETPRIV, "/usr/sbin/capsh"] {
        if !Path::new(tool).exists() {
            skip_or_fail(&format!("{tool} missing"));
            return;
        }
    }
    let Some(objs) = deploy::render("deploy") else { return };
    let caps = deploy::capabilities(&objs);
    assert!(!caps.is_empty());
    let docker = match DockerEnv::start() {
        Ok(d) => d,
        Err(why) => {
            skip_or_fail(&format!("Docker cannot run: {why}"));
            return;
        }
    };
    docker.import_busybox(IMAGE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let args = local_args(&objs, dir.path());
    // A process of another user, as every node has (its /proc/<pid>/fd is
    // what CAP_DAC_READ_SEARCH opens).
    let mut nobody = Command::new(SETPRIV)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sleep", "600"])
        .spawn()
        .unwrap();

    // Exactly the list: loads, alerts with container metadata, serves metrics.
    let mut s = start(&caps, &args, &docker.socket);
    let ready = s.stderr.wait_for(Duration::from_secs(60), |l| l.contains("sensor: ready"));
    assert!(ready.is_some(), "not ready with {caps:?}:\n{}", s.stderr.text());
    let mut want = caps.clone();
    want.sort();
    let pid = s.child.id();
    assert_eq!(caps_of(pid, "CapEff"), want, "effective set");
    assert_eq!(caps_of(pid, "CapBnd"), want, "bounding set");
    let shadow = dir.path().join("shadow");
    std::fs::write(&shadow, "root:*:1::::::\n").unwrap();
    let name = common::unique("lp");
    let mut d = docker;
    let id = d
        .run_detached(
            &name,
            &[
                "--network",
                "none",
                "-v",
                &format!("{}:/etc/shadow:ro", shadow.display()),
                IMAGE,
                "/bin/cat",
                "/etc/shadow",
            ],
        )
        .unwrap();
    let alert = s.stdout.wait_for(Duration::from_secs(20), |l| l.contains(&id[..12]) && l.contains("\"rule\""));
    let alert: serde_json::Value = serde_json::from_str(
        &alert.unwrap_or_else(|| panic!("no alert from container {id}:\n{}\n{}", s.stdout.text(), s.stderr.text())),
    )
    .unwrap();
    let f = &alert["output_fields"];
    assert_eq!(f["container.id"], &id[..12], "{alert}");
    assert_eq!(f["container.name"], name.as_str(), "metadata from the runtime socket: {alert}");
    assert_eq!(f["fd.name"], "/etc/shadow", "{alert}");
    let addr = s
        .stderr
        .snapshot()
        .iter()
        .find_map(|l| {
            l.strip_prefix("sensor: metrics on http://").and_then(|r| r.strip_suffix("/metrics")).map(str::to_owned)
        })
        .unwrap();
    assert_eq!(http_get(&addr, "/readyz").unwrap().trim(), "ready");
    // Event counts reach the registry on the reader's next tick (500 ms).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let m = http_get(&addr, "/metrics").unwrap();
        if m.lines().any(|l| l.starts_with("sensor_events_total{type=\"execve\"}")) {
            break m;
        }
        assert!(std::time::Instant::now() < deadline, "no execve counted:\n{m}");
        std::thread::sleep(Duration::from_millis(200));
    };
    deploy::assert_metrics_served(&objs, &metrics);
    assert!(metrics.lines().any(|l| l == "sensor_dns_capture 1"), "DNS capture on with the list:\n{}", s.stderr.text());
    s.stop();
    drop(d);

    for missing in &caps {
        start_without(&caps, missing, &args);
    }
    let _ = nobody.kill();
    let _ = nobody.wait();
}

/// A start without `missing` only: a named check fails, naming it and its
/// use; an optional one turns its feature off, says so and names it.
fn start_without(caps: &[String], missing: &str, args: &[String]) {
    let fewer: Vec<String> = caps.iter().filter(|c| *c != missing).cloned().collect();
    let mut s = start(&fewer, args, Path::new("/nonexistent.sock"));
    if let Some((_, off)) = OPTIONAL.iter().find(|(c, _)| *c == missing) {
        let ready = s.stderr.wait_for(Duration::from_secs(60), |l| l.contains("sensor: ready"));
        let err = s.stderr.text();
        assert!(ready.is_some(), "an optional CAP_{missing} stops the start:\n{err}");
        let said: Vec<&str> = err.lines().filter(|l| l.contains(off)).collect();
        assert_eq!(said.len(), 1, "said once without CAP_{missing}:\n{err}");
        assert!(said[0].contains(&format!("CAP_{missing}")), "{err}");
        assert!(!err.contains("missing CAP_"), "no start-up check fails without CAP_{missing}:\n{err}");
        s.stop();
        return;
    }
    let status = s.wait_exit(Duration::from_secs(60)).unwrap_or_else(|| {
        panic!("started without CAP_{missing}:\n{}", s.stderr.text());
    });
    assert!(!status.success());
    let err = s.stderr.text();
    let named: Vec<&str> = err.lines().filter(|l| l.contains("missing CAP_")).collect();
    assert_eq!(named.len(), 1, "exactly one check fails without CAP_{missing}:\n{err}");
    assert!(named[0].contains(&format!("missing CAP_{missing} (needed for ")), "{err}");
    assert!(named[0].trim_start().starts_with("- check "), "a named check: {err}");
}

/// The enforce overlay adds exactly what carrying out actions needs:
/// `--enforce`, `CAP_KILL` and a writable cgroup mount. With its list, a
/// kill decided in user space reaches another user's process; without
/// `KILL` only, the sensor still starts, says once which capability its
/// kills lack, and the kill fails in its own alert.
#[test]
fn enforce_overlay_adds_kill_and_a_writable_cgroup_mount() {
    use std::os::unix::fs::PermissionsExt as _;
    use std::os::unix::process::ExitStatusExt as _;
    if !common::kernel_tests_can_run() {
        return;
    }
    if !Path::new(SETPRIV).exists() {
        skip_or_fail(&format!("{SETPRIV} missing"));
        return;
    }
    let (Some(base), Some(objs)) = (deploy::render("deploy"), deploy::render("deploy/overlays/enforce")) else {
        return;
    };
    let caps = deploy::capabilities(&objs);
    let mut want = deploy::capabilities(&base);
    want.push("KILL".into());
    assert_eq!(caps, want, "the base's capabilities and KILL");
    let args = deploy::args(&objs);
    assert_eq!(args.iter().filter(|a| *a == "--enforce").count(), 1, "{args:?}");
    let m = deploy::mounts(&objs);
    let cgroup = m.host.iter().find(|(c, ..)| c == "/sys/fs/cgroup").unwrap();
    assert!(!cgroup.2, "the cgroup hierarchy is mounted writable: {cgroup:?}");
    assert!(deploy::mounts(&base).host.iter().any(|(c, _, ro, _)| c == "/sys/fs/cgroup" && *ro), "base: read-only");

    // Programs a user other than root can run, under a name only this test uses.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let name = format!("lpk{}", std::process::id() % 1_000_000);
    let sleeper = dir.path().join(&name);
    std::fs::copy("/bin/sleep", &sleeper).unwrap();
    let rules = dir.path().join("kill_rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Least privilege kill in user space\n  desc: needs the command line, decided in user space\n  \
             condition: evt.type = execve and proc.name = {name} and proc.cmdline contains \"301\"\n  output: \
             sleeper %proc.cmdline\n  priority: CRITICAL\n  actions: [kill_process]\n"
        ),
    )
    .unwrap();
    let mut args = local_args(&objs, dir.path());
    args.push(format!("--rules={}", rules.display()));
    let nobody = |secs: &str| {
        Command::new(SETPRIV)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&sleeper)
            .arg(secs)
            .spawn()
            .unwrap()
    };
    // Another user's process for the start-up check to signal.
    let mut bystander = nobody("600");

    for with_kill in [true, false] {
        let set: Vec<String> = caps.iter().filter(|c| with_kill || *c != "KILL").cloned().collect();
        let mut s = start(&set, &args, Path::new("/nonexistent.sock"));
        let ready = s.stderr.wait_for(Duration::from_secs(60), |l| l.contains("sensor: ready"));
        assert!(ready.is_some(), "not ready with {set:?}:\n{}", s.stderr.text());
        let mut target = nobody("301");
        let alert = s
            .stdout
            .wait_for(Duration::from_secs(20), |l| l.contains("Sensor response: kill_process") && l.contains(&name));
        let alert: serde_json::Value = serde_json::from_str(
            &alert.unwrap_or_else(|| panic!("no kill alert:\n{}\n{}", s.stdout.text(), s.stderr.text())),
        )
        .unwrap();
        let f = &alert["output_fields"];
        let err = s.stderr.text();
        let said: Vec<&str> = err.lines().filter(|l| l.contains("missing CAP_KILL")).collect();
        if with_kill {
            assert_eq!(f["response.outcome"], "done", "{alert}");
            let st = target.wait().unwrap();
            assert_eq!(st.signal(), Some(libc::SIGKILL), "{st:?}");
            assert!(said.is_empty(), "{err}");
            assert!(err.contains("check signal_other_users passed"), "{err}");
        } else {
            assert_eq!(f["response.outcome"], "failed", "{alert}");
            assert!(f["response.error"].as_str().unwrap().contains("Operation not permitted"), "{alert}");
            assert!(target.try_wait().unwrap().is_none(), "killed without CAP_KILL");
            assert_eq!(said.len(), 1, "said once:\n{err}");
            assert!(said[0].contains("deploy/overlays/enforce"), "{err}");
            let _ = target.kill();
            let _ = target.wait();
        }
        s.stop();
    }
    let _ = bystander.kill();
    let _ = bystander.wait();
}
