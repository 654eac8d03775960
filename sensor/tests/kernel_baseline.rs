//! Learned baselines on the real kernel, in real Docker containers of a
//! private dockerd (`--network none`): a workload learns, then enforces,
//! and a restart in the middle of learning loses nothing. The containers
//! run the falco tests' image (busybox and a static helper); a plain
//! Docker container's profile is keyed by its image repository.
#![allow(clippy::unwrap_used)]
// Sensors, container, object, profile (a, b, c, o, p): one letter per role.
#![allow(clippy::many_single_char_names)]

mod common;
mod falco;
// The stateful Kubernetes API stand-in (its other helpers serve the unit tests).
#[allow(dead_code)]
#[path = "support/profile_api.rs"]
mod profile_api;

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::Sensor;
use falco::docker::Container;
use serde_json::Value;

/// The key of the falco image's containers.
const KEY: &str = "image:falcotest";

/// One test at a time: each sensor sees every container of the machine,
/// and both tests' containers share the image (and so the profile key).
static TURN: Mutex<()> = Mutex::new(());

fn start(dir: &Path, learn: &str) -> Option<Sensor> {
    start_with(dir, learn, &[], &[])
}

fn start_with(dir: &Path, learn: &str, extra: &[&str], env: &[(&str, &str)]) -> Option<Sensor> {
    if !common::kernel_tests_can_run() {
        return None;
    }
    falco::helper()?;
    let socket = falco::docker::runtime_socket_arg()?;
    let d = dir.display().to_string();
    let mut args = vec![
        "run",
        "--syscall-hooks",
        "btf",
        "--rule-matching",
        "all",
        "--runtime-socket",
        &socket,
        "--baseline-dir",
        &d,
        "--baseline-learn",
        learn,
        "--baseline-min-events",
        "20",
        "--baseline-containers-only",
    ];
    args.extend_from_slice(extra);
    Some(Sensor::start_with_env(&args, env))
}

/// The workload's usual work, in one shell: run the helper (a UDP connect
/// to port 7001), write a file named after the shell's pid.
fn usual(c: &Container) {
    let out = c.exec(&[], &["sh", "-c", "fhelper connect 127.0.0.1 7001 udp; echo x > /tmp/data.$$; true"]);
    assert!(out.status.success(), "{out:?}");
}

fn baseline_alert(a: &Value) -> bool {
    a["rule"].as_str().is_some_and(|r| r.starts_with("Unexpected")) && a["output_fields"]["baseline.key"] == KEY
}

fn profile(dir: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["baseline", "show", "--dir"])
        .arg(dir)
        .arg(KEY)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls the profile file until `pred` holds (the agent writes every 5 s).
fn wait_profile(dir: &Path, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + Duration::from_secs(40);
    loop {
        let p = profile(dir);
        if pred(&p) {
            return p;
        }
        assert!(Instant::now() < end, "profile never {what}:\n{p}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_container_learns_then_alerts_once_per_new_behaviour() {
    let _turn = TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), "8s") else { return };
    let c = Container::start("baseline-learn", &[]).unwrap();
    // Learning: the same work until the profile enforces (8 s watched).
    let end = Instant::now() + Duration::from_secs(60);
    while !s.stderr.lock().unwrap().iter().any(|l| l.contains(&format!("baseline {KEY}: enforcing"))) {
        assert!(Instant::now() < end, "never enforcing\n{}", s.diagnosis());
        usual(&c);
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(s.all(baseline_alert).is_empty(), "alerts while learning: {:?}", s.all(baseline_alert));
    // Enforcing: the usual work again, then three new things.
    usual(&c);
    usual(&c);
    let new = "scp --tag=x; fhelper connect 127.0.0.1 7002 udp; mkdir -p /srv/new && echo x > /srv/new/file";
    let out = c.exec(&[], &["sh", "-c", new]);
    assert!(out.status.success() || out.status.code().is_some(), "{out:?}");
    let want = ["Unexpected process in workload", "Unexpected outbound connection", "Unexpected file write"];
    for rule in want {
        s.wait_for(rule, |a| baseline_alert(a) && a["rule"] == rule);
    }
    // A marker after them: every alert of the work above has been written.
    let marker = c.exec(&[], &["sh", "-c", "mkdir -p /srv/marker && echo x > /srv/marker/file"]);
    assert!(marker.status.success());
    s.wait_for("the marker's write", |a| {
        baseline_alert(a) && a["output_fields"]["fd.name"].as_str() == Some("/srv/marker/file")
    });
    let alerts = s.all(baseline_alert);
    let got: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            (a["rule"].as_str().unwrap().to_owned(), a["output_fields"]["baseline.item"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("Unexpected process in workload".to_owned(), "/usr/bin/scp <- /bin/busybox".to_owned()),
            ("Unexpected outbound connection".to_owned(), "udp 127.0.0.1:7002".to_owned()),
            ("Unexpected file write".to_owned(), "/srv/new/file".to_owned()),
            ("Unexpected file write".to_owned(), "/srv/marker/file".to_owned()),
        ],
        "exactly one alert per new behaviour, none for the usual work: {alerts:#?}"
    );
    let a = &alerts[0];
    assert_eq!(a["output_fields"]["baseline.status"], "enforcing");
    assert_eq!(a["output_fields"]["container.id"], c.short_id());
    // The profile on disk says what it learned and what deviated.
    let p = wait_profile(dir.path(), "shows the deviations", |p| p.contains("deviations: 4"));
    for item in ["/usr/bin/fhelper <- /bin/busybox", "udp 127.0.0.1:7001", "/tmp/data.*", "mode: enforcing"] {
        assert!(p.contains(item), "{item} missing:\n{p}");
    }
    s.stop();
}

/// `key: value` of the profile's YAML.
fn number(profile: &str, key: &str) -> u64 {
    profile
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_restart_in_the_middle_of_learning_loses_nothing() {
    let _turn = TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start(dir.path(), "1h") else { return };
    let c = Container::start("baseline-restart", &[]).unwrap();
    for _ in 0..3 {
        usual(&c);
        std::thread::sleep(Duration::from_millis(700));
    }
    wait_profile(dir.path(), "learned the usual work", |p| {
        p.contains("/tmp/data.*") && p.contains("udp 127.0.0.1:7001")
    });
    // SIGTERM: what was learned since the last write is written on the way out.
    s.stop();
    let before = profile(dir.path());
    let (events, learned) = (number(&before, "events"), number(&before, "learnedSeconds"));
    assert!(events > 0 && learned >= 1, "{before}");
    assert!(before.contains("mode: learning"), "{before}");

    let Some(s) = start(dir.path(), "1h") else { return };
    // Something new after the restart, beside the usual work.
    usual(&c);
    let out = c.exec(&[], &["sh", "-c", "mkdir -p /var/after && echo x > /var/after/restart"]);
    assert!(out.status.success());
    std::thread::sleep(Duration::from_secs(2));
    s.stop();
    let after = profile(dir.path());
    for item in ["/tmp/data.*", "udp 127.0.0.1:7001", "/usr/bin/fhelper <- /bin/busybox", "/var/after/restart"] {
        assert!(after.contains(item), "{item} missing after the restart:\n{after}");
    }
    assert!(after.contains("mode: learning"), "{after}");
    assert!(number(&after, "events") > events, "events counted on: {before}\n{after}");
    assert!(number(&after, "learnedSeconds") >= learned, "learned time kept: {before}\n{after}");
    assert!(s.all(baseline_alert).is_empty(), "a learning profile never alerts");
}

fn list(obj: &Value, field: &str) -> Vec<String> {
    obj["spec"][field]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[test]
fn two_sensors_merge_their_observations_into_one_cluster_object() {
    let _turn = TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !common::kernel_tests_can_run() {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(profile_api::ApiServer::start());
    let kube = tempfile::tempdir().unwrap();
    let kubeconfig = kube.path().join("config");
    server.write_kubeconfig(&kubeconfig);
    let kc = kubeconfig.display().to_string();
    let name = sensor::detect::baseline::key::ProfileKey::Image { repository: "falcotest".into() }.object_name();
    let object = |what: &str, pred: &dyn Fn(&Value) -> bool| -> Value {
        let end = Instant::now() + Duration::from_secs(40);
        loop {
            if let Some(o) = server.object("sensor", &name).filter(|o| pred(o)) {
                return o;
            }
            assert!(Instant::now() < end, "the cluster's object never {what}: {:?}", server.object("sensor", &name));
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    // Node A learns the usual work and shares it.
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let share = ["--baseline-share-every", "1s"];
    let Some(a) = start_with(da.path(), "1h", &share, &[("KUBECONFIG", &kc), ("NODE_NAME", "node-a")]) else { return };
    a.wait_stderr("profiles shared through the Kubernetes API");
    let c = Container::start("baseline-nodes", &[]).unwrap();
    usual(&c);
    let o = object("got node A's items", &|o| list(o, "write").contains(&"/tmp/data.*".to_owned()));
    assert!(list(&o, "exec").contains(&"/usr/bin/fhelper <- /bin/busybox".to_owned()), "{o}");
    a.stop();
    // Node B starts (a new replica's node), sees something else, and merges.
    let Some(b) = start_with(db.path(), "1h", &share, &[("KUBECONFIG", &kc), ("NODE_NAME", "node-b")]) else { return };
    b.wait_stderr("profiles shared through the Kubernetes API");
    let out = c.exec(&[], &["sh", "-c", "mkdir -p /var/nodeb && echo x > /var/nodeb/file"]);
    assert!(out.status.success());
    let o = object("merged node B's items", &|o| list(o, "write").contains(&"/var/nodeb/file".to_owned()));
    let writes = list(&o, "write");
    assert!(writes.contains(&"/tmp/data.*".to_owned()), "node A's items kept: {o}");
    // B's own profile started from the cluster's: A's items are in it.
    let p = wait_profile(db.path(), "holds both nodes' items", |p| {
        p.contains("/var/nodeb/file") && p.contains("/tmp/data.*")
    });
    assert!(p.contains("/usr/bin/fhelper <- /bin/busybox"), "{p}");
    let puts = server.requests().iter().filter(|r| r.starts_with("PUT ")).count();
    assert!(puts >= 1, "node B replaced the object node A created: {:?}", server.requests());
    b.stop();
}

#[test]
fn endless_names_and_ports_stay_bounded_and_a_full_list_is_partial() {
    let _turn = TURN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = start_with(dir.path(), "1h", &["--baseline-max-items", "40"], &[]) else { return };
    let c = Container::start("baseline-bounded", &[]).unwrap();
    // 100 random-looking file names in one directory, 60 ports of one host,
    // then 60 directories of one file each (nothing to collapse).
    let letters = "a b c d e f g h i j";
    let script = format!(
        "mkdir -p /tmp/spool; for x in {letters}; do for y in {letters}; do echo > /tmp/spool/q$x$y$x; done; done; \
         for p in $(seq 7100 7159); do fhelper connect 127.0.0.1 $p udp; done; \
         for x in a b c d e f; do for y in {letters}; do mkdir -p /srv/$x$y && echo > /srv/$x$y/f; done; done; true"
    );
    let out = c.exec(&[], &["sh", "-c", &script]);
    assert!(out.status.success(), "{out:?}");
    let p =
        wait_profile(dir.path(), "counted the overflow", |p| p.contains("overflow:") && p.contains("udp 127.0.0.1:*"));
    assert!(p.contains("- /tmp/spool/*"), "one item for the spool's names:\n{p}");
    assert!(!p.contains("/tmp/spool/q"), "{p}");
    assert!(!p.contains("udp 127.0.0.1:7150"), "one item for the ports:\n{p}");
    let writes =
        p.lines().skip_while(|l| !l.starts_with("  write:")).skip(1).take_while(|l| l.starts_with("  - ")).count();
    assert!(writes <= 40, "the write list is capped at 40: {writes}\n{p}");
    assert!(number(&p, "write") > 0, "what did not fit is counted:\n{p}");
    let list = std::process::Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["baseline", "list", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains("(partial: ") && list.contains("write list full: "), "{list}");
    s.stop();
}
