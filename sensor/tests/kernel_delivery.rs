//! `sensor run` delivering its alerts: a real HTTP receiver gets each alert
//! as Falco JSON with its UUID while stdout keeps its line; a sensor killed
//! with SIGKILL while its spool holds alerts delivers them after a restart
//! on the same spool; `/metrics`, `/healthz` and `/readyz` answer on the
//! listener, and the delivery counters match what the receiver got.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;
mod receiver;

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Sensor, unique};
use receiver::{DownPort, Receiver, always_ok};
use serde_json::Value;

/// One rule, fired by creating a file whose name carries the test's tag.
const RULES: &str = r#"
- rule: Delivery test file created
  desc: A file named sensor-delivery-* was created (kernel_delivery.rs).
  condition: evt.type in (open, openat, openat2, creat) and evt.res = SUCCESS and fd.name contains "sensor-delivery-"
  output: delivery test file %fd.name created by %proc.name (pid %proc.pid)
  priority: WARNING
"#;

fn rules_file(dir: &Path) -> String {
    let p = dir.join("delivery_rules.yaml");
    std::fs::write(&p, RULES).unwrap();
    p.to_str().unwrap().to_owned()
}

/// Creates `dir/sensor-delivery-<tag>`: one alert.
fn fire(dir: &Path, tag: &str) -> String {
    let p = dir.join(format!("sensor-delivery-{tag}"));
    std::fs::File::create(&p).unwrap();
    p.to_str().unwrap().to_owned()
}

/// `GET path` on the listener: (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// A sample's value in Prometheus text (`name{labels} value`).
fn sample(metrics: &str, series: &str) -> Option<u64> {
    metrics.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.parse().ok()))
}

fn wait_metric(addr: &str, series: &str, pred: impl Fn(u64) -> bool) -> String {
    let t0 = Instant::now();
    loop {
        let (_, body) = get(addr, "/metrics");
        if sample(&body, series).is_some_and(&pred) {
            return body;
        }
        assert!(t0.elapsed() < Duration::from_secs(15), "{series} never satisfied the test; last scrape:\n{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `promtool check metrics` (Debian's `prometheus`, installed by
/// scripts/setup.sh) finds no problem in the exposition text.
fn promtool_accepts(body: &str) {
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        assert!(std::env::var("CI").is_err(), "promtool missing in CI (scripts/setup.sh installs it)");
        eprintln!("SKIPPED promtool check: promtool not installed (run scripts/setup.sh)");
        return;
    };
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics:\n{said}");
}

fn alerts_for<'a>(reqs: &'a [receiver::Received], path: &str) -> Vec<&'a receiver::Received> {
    reqs.iter().filter(|r| r.json()["output_fields"]["fd.name"].as_str() == Some(path)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_gets_falco_json_stdout_keeps_its_line_and_metrics_count_it() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::http(0, always_ok()).await;
    let url = rx.url("http", "/falco");
    let rules = rules_file(dir.path());
    let s = tokio::task::block_in_place(|| {
        Sensor::start(&["run", "--no-default-rules", "--rules", &rules, "--webhook", &url, "--listen", "127.0.0.1:0"])
    });
    let addr = s.metrics_addr();
    assert_eq!(get(&addr, "/readyz"), (200, "ready\n".to_owned()));
    assert_eq!(get(&addr, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(get(&addr, "/nothing").0, 404);

    let path = fire(dir.path(), &unique("wh"));
    let reqs = rx.wait_for(Duration::from_secs(15), |r| !alerts_for(r, &path).is_empty()).await;
    let got = alerts_for(&reqs, &path);
    let a = got[0].json();
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/falco");
    assert_eq!(got[0].header("content-type").as_deref(), Some("application/json"));
    assert_eq!(a["rule"], "Delivery test file created");
    assert_eq!(a["priority"], "Warning");
    assert_eq!(a["source"], "syscall");
    assert!(a["output"].as_str().unwrap().contains(&path), "{a}");
    assert_eq!(a["output_fields"]["proc.pid"], Value::from(std::process::id()));
    let uuid = a["uuid"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{uuid}");
    // stdout still has the alert line (the webhook is added to it).
    let line = tokio::task::block_in_place(|| {
        s.wait_for("the stdout alert", |v| v["output_fields"]["fd.name"].as_str() == Some(path.as_str()))
    });
    assert_eq!(line["rule"], "Delivery test file created");

    // The delivery counters match what the receiver got.
    let n = alerts_for(&rx.requests(), &path).len() as u64;
    let body =
        tokio::task::block_in_place(|| wait_metric(&addr, "sensor_alerts_sent_total{output=\"http\"}", |v| v >= n));
    assert_eq!(sample(&body, "sensor_alerts_failed_total{output=\"http\"}").unwrap_or(0), 0, "{body}");
    assert!(
        sample(&body, "sensor_alerts_total{priority=\"Warning\",rule=\"Delivery test file created\"}").unwrap() >= 1,
        "{body}"
    );
    promtool_accepts(&body);
    // Other tests' files raise alerts here too: the spool empties once
    // the receiver has them all.
    tokio::task::block_in_place(|| wait_metric(&addr, "sensor_alert_spool_depth{output=\"http\"}", |v| v == 0));
    tokio::task::block_in_place(|| s.stop());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_spooled_before_a_sigkill_are_delivered_after_the_restart() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let rules = rules_file(dir.path());
    // The receiver is down: its port is held, nothing listens.
    let down = DownPort::new();
    let url = down.url("/alerts");
    let args = |listen: &str| -> Vec<String> {
        [
            "run",
            "--no-default-rules",
            "--rules",
            &rules,
            "--webhook",
            &url,
            "--spool-dir",
            spool.to_str().unwrap(),
            "--listen",
            listen,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    let first_args = args("127.0.0.1:0");
    let first =
        tokio::task::block_in_place(|| Sensor::start(&first_args.iter().map(String::as_str).collect::<Vec<_>>()));
    let addr = first.metrics_addr();
    let paths: Vec<String> = (0..3).map(|i| fire(dir.path(), &unique(&format!("kill{i}")))).collect();
    // All three are in the on-disk spool (fsynced) before the kill.
    tokio::task::block_in_place(|| wait_metric(&addr, "sensor_alert_spool_depth{output=\"http\"}", |v| v >= 3));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first.pid as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    tokio::task::block_in_place(|| first.stop());

    let rx = Receiver::http(down.release(), always_ok()).await;
    let second_args = args("127.0.0.1:0");
    let second =
        tokio::task::block_in_place(|| Sensor::start(&second_args.iter().map(String::as_str).collect::<Vec<_>>()));
    let reqs = rx.wait_for(Duration::from_secs(20), |r| paths.iter().all(|p| !alerts_for(r, p).is_empty())).await;
    for p in &paths {
        let a = alerts_for(&reqs, p)[0].json();
        assert_eq!(a["rule"], "Delivery test file created", "{a}");
        assert!(a["uuid"].is_string(), "{a}");
    }
    tokio::task::block_in_place(|| second.stop());
}

#[test]
fn a_taken_default_port_is_said_and_does_not_stop_the_sensor() {
    if !common::kernel_tests_can_run() {
        return;
    }
    // Hold 8765 ourselves. A sensor of the previous test binary may still
    // hold it for a moment (it dies with its binary, asynchronously): wait
    // for it to go, up to 15 s; a holder that stays (Falco) serves as well.
    let t0 = Instant::now();
    let _held = loop {
        match std::net::TcpListener::bind("0.0.0.0:8765") {
            Ok(l) => break Some(l),
            Err(_) if t0.elapsed() < Duration::from_secs(15) => std::thread::sleep(Duration::from_millis(100)),
            Err(_) => break None,
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_file(dir.path());
    let s = Sensor::start(&["run", "--no-default-rules", "--rules", &rules]);
    let said = s.stderr.lock().unwrap().iter().any(|l| l.contains("running without /metrics"));
    assert!(said, "{:?}", s.stderr.lock().unwrap());
    s.stop();
}
