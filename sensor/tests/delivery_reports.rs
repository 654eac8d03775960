//! The sensor's own delivery trouble becomes an alert through every
//! output: a network output that keeps failing (reported after a delay,
//! then at most once per repeat interval) and alerts its receiver refused.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod receiver;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use receiver::{DownPort, Receiver, Reply, alert};
use sensor::output::{
    DeliveryMetrics, HttpConfig, HttpFormat, LineFormat, OUTPUT_FAILING_RULE, OUTPUT_REJECTED_RULE, OutputConfig,
    Outputs, OutputsConfig,
};

/// An HTTP output named `siem` at `url`, and a file output `log` that
/// sees everything.
fn cfg(url: &str, log: &Path) -> OutputsConfig {
    let mut h = HttpConfig::new(url, HttpFormat::FalcoJson);
    h.retry.initial_backoff_ms = 20;
    h.retry.max_backoff_ms = 100;
    h.connect_timeout_ms = 300;
    let mut siem = OutputConfig::http(h);
    siem.name = Some("siem".into());
    let mut file = OutputConfig::file(log.to_owned(), LineFormat::Json);
    file.name = Some("log".into());
    OutputsConfig {
        targets: vec![siem, file],
        overflow_report_interval_ms: 50,
        failing_alert_after_ms: 300,
        failing_alert_repeat_ms: 60_000,
        ..OutputsConfig::default()
    }
}

fn reports(log: &Path, rule: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["rule"] == rule)
        .collect()
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_that_keeps_failing_is_reported_once_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("alerts.jsonl");
    let down = DownPort::new();
    let started = Instant::now();
    let outs = Outputs::start(&cfg(&down.url("/"), &log), &DeliveryMetrics::standalone(), "node-1").unwrap();
    outs.send(alert("r", "Error", 1));
    wait_for("the failing report", || !reports(&log, OUTPUT_FAILING_RULE).is_empty()).await;
    assert!(started.elapsed() >= Duration::from_millis(300), "reported before failing_alert_after_ms");
    // Within the repeat interval: no second report.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let r = reports(&log, OUTPUT_FAILING_RULE);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["priority"], "Error");
    assert_eq!(r[0]["hostname"], "node-1");
    assert_eq!(r[0]["output_fields"]["sensor.output.name"], "siem");
    assert!(r[0]["output_fields"]["sensor.output.reason"].as_str().is_some_and(|s| !s.is_empty()), "{r:?}");
    // The receiver comes up: the alert and the report (spooled in siem
    // too) arrive, and no further report follows.
    let rx = Receiver::http(down.release(), Arc::new(|_, _| Reply::ok())).await;
    let got = rx
        .wait_for(Duration::from_secs(20), |reqs| {
            reqs.iter().any(|q| q.json()["rule"] == OUTPUT_FAILING_RULE) && reqs.iter().any(|q| q.json()["rule"] == "r")
        })
        .await;
    assert!(!got.is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(reports(&log, OUTPUT_FAILING_RULE).len(), 1);
    outs.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_output_raises_no_failing_report() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("alerts.jsonl");
    let rx = Receiver::http(0, Arc::new(|_, _| Reply::ok())).await;
    let outs = Outputs::start(&cfg(&rx.url("http", "/"), &log), &DeliveryMetrics::standalone(), "n").unwrap();
    for n in 0..5 {
        outs.send(alert("r", "Error", n));
    }
    rx.wait_for(Duration::from_secs(10), |r| r.len() >= 5).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(reports(&log, OUTPUT_FAILING_RULE).is_empty());
    assert!(reports(&log, OUTPUT_REJECTED_RULE).is_empty());
    outs.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_refused_by_the_receiver_are_reported_with_their_count() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("alerts.jsonl");
    let rx = Receiver::http(0, Arc::new(|_, _| Reply::status(400).body("bad payload"))).await;
    let outs = Outputs::start(&cfg(&rx.url("http", "/"), &log), &DeliveryMetrics::standalone(), "n").unwrap();
    for n in 0..3 {
        outs.send(alert("r", "Error", n));
    }
    let count = || {
        reports(&log, OUTPUT_REJECTED_RULE)
            .iter()
            .map(|v| v["output_fields"]["sensor.drop.count"].as_u64().unwrap())
            .sum::<u64>()
    };
    wait_for("3 rejections reported", || count() >= 3).await;
    // The report does not go to the output that refused (it would refuse
    // it, and so on): the count stays at 3.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(), 3);
    assert_eq!(rx.count(), 3, "only the 3 alerts were offered to the refusing receiver");
    let r = reports(&log, OUTPUT_REJECTED_RULE);
    assert_eq!(r[0]["priority"], "Critical");
    assert_eq!(r[0]["output_fields"]["sensor.output.name"], "siem");
    assert!(reports(&log, OUTPUT_FAILING_RULE).is_empty(), "a 4xx is a refusal, not a failing output");
    outs.shutdown(Duration::from_secs(5)).await;
}
