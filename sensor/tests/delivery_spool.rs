//! At-least-once delivery: the receiver down and back, a crash (the
//! `Outputs` dropped mid-delivery, and a process killed with `SIGKILL`) and a restart on
//! the same spool, a spool that overflows.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod receiver;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use receiver::{DownPort, Receiver, alert, always_ok, metric, metric_settles, ns_of};
use sensor::metrics::Metrics;
use sensor::output::{
    DeliveryMetrics, HttpConfig, HttpFormat, LineFormat, OutputConfig, Outputs, OutputsConfig, SPOOL_OVERFLOW_RULE,
};

const WAIT: Duration = Duration::from_secs(30);

fn cfg(url: &str, spool_dir: &Path, format: HttpFormat) -> OutputsConfig {
    let mut h = HttpConfig::new(url, format);
    h.retry.initial_backoff_ms = 20;
    h.retry.max_backoff_ms = 200;
    h.connect_timeout_ms = 500;
    let mut o = OutputConfig::http(h);
    o.name = Some("siem".into());
    OutputsConfig { spool_dir: Some(spool_dir.to_owned()), targets: vec![o], ..OutputsConfig::default() }
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every `n` in `0..count` arrived (duplicates allowed).
async fn all_arrive(rx: &Receiver, count: u64) -> Vec<u64> {
    let want: BTreeSet<u64> = (0..count).collect();
    let reqs = rx.wait_for(WAIT, |r| ns_of(r).into_iter().collect::<BTreeSet<_>>() == want).await;
    ns_of(&reqs)
}

/// The receiver is down while 200 alerts are sent; when it comes up on
/// its port, all 200 arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_then_up_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let down = DownPort::new();
    let m = Metrics::new();
    let dm = DeliveryMetrics::register(&m.registry).unwrap();
    let outs = Outputs::start(&cfg(&down.url("/"), dir.path(), HttpFormat::FalcoJson), &dm, "n").unwrap();
    for n in 0..200 {
        outs.send(alert("r", "Error", n));
    }
    wait_until("200 spooled", || outs.spool_depth("siem") == Some(200)).await;
    wait_until("failed attempts", || metric(&m, "sensor_alerts_retried_total{output=\"siem\"}") >= 3).await;
    let rx = Receiver::http(down.release(), always_ok()).await;
    let got = all_arrive(&rx, 200).await;
    assert!(got.len() >= 200);
    assert!(outs.wait_idle(WAIT).await);
    metric_settles(&m, "sensor_alert_spool_depth{output=\"siem\"}", 0).await;
    assert!(metric(&m, "sensor_alerts_sent_total{output=\"siem\"}") >= 200);
}

/// The Outputs are dropped without shutdown while the receiver is down
/// (their tasks aborted, the runtime gone: nothing flushed); a new Outputs
/// on the same spool directory delivers every alert.
#[test]
fn drop_without_flush_then_restart_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let down = DownPort::new();
    let dead = down.url("/");
    let first = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    first.block_on(async {
        let dm = DeliveryMetrics::standalone();
        let outs = Outputs::start(&cfg(&dead, dir.path(), HttpFormat::Ndjson), &dm, "n").unwrap();
        for n in 0..100 {
            outs.send(alert("r", "Error", n));
        }
        wait_until("100 spooled", || outs.spool_depth("siem") == Some(100)).await;
        drop(outs);
    });
    first.shutdown_timeout(Duration::from_secs(5));

    let second = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    second.block_on(async {
        let rx = Receiver::http(0, always_ok()).await;
        let dm = DeliveryMetrics::standalone();
        let outs = Outputs::start(&cfg(&rx.url("http", "/"), dir.path(), HttpFormat::Ndjson), &dm, "n").unwrap();
        assert_eq!(outs.spool_depth("siem"), Some(100), "the spool survived");
        all_arrive(&rx, 100).await;
        assert!(outs.wait_idle(WAIT).await);
        let report = outs.shutdown(Duration::from_secs(5)).await;
        assert_eq!(report.spooled.get("siem"), Some(&0));
    });
}

const CHILD_DIR: &str = "SENSOR_DELIVERY_CRASH_DIR";
const CHILD_URL: &str = "SENSOR_DELIVERY_CRASH_URL";

/// The crashing process of `sigkill_then_restart_delivers` (does nothing
/// when run on its own).
#[test]
fn crash_child() {
    let (Ok(dir), Ok(url)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_URL)) else { return };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let dm = DeliveryMetrics::standalone();
        let outs = Outputs::start(&cfg(&url, Path::new(&dir), HttpFormat::FalcoJson), &dm, "n").unwrap();
        for n in 0..150 {
            outs.send(alert("r", "Error", n));
        }
        wait_until("150 spooled", || outs.spool_depth("siem") == Some(150)).await;
        println!("SPOOLED");
        tokio::time::sleep(Duration::from_secs(120)).await;
    });
}

/// A process with 150 alerts spooled and its receiver down is killed with
/// SIGKILL; a new Outputs on its spool directory delivers all 150.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_then_restart_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let down = DownPort::new();
    let dead = down.url("/");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_DIR, dir.path())
        .env(CHILD_URL, &dead)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).any(|l| l.contains("SPOOLED"))
    });
    assert!(tokio::time::timeout(WAIT, ready).await.unwrap().unwrap(), "the child did not spool its alerts");
    // SIGKILL: no destructor, no flush.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();

    let rx = Receiver::http(0, always_ok()).await;
    let dm = DeliveryMetrics::standalone();
    let outs = Outputs::start(&cfg(&rx.url("http", "/"), dir.path(), HttpFormat::FalcoJson), &dm, "n").unwrap();
    assert_eq!(outs.spool_depth("siem"), Some(150));
    all_arrive(&rx, 150).await;
}

/// A spool of 10 with the receiver down and 25 alerts: the oldest are
/// dropped and counted; a `Sensor internal: alert spool overflow` alert
/// (Critical, with the count) goes through every output (here also a
/// file); when the receiver comes back it gets the 9 newest alerts and one
/// report counting all 16 dropped (the report took one more place).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spool_full_drops_oldest_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let down = DownPort::new();
    let mut c = cfg(&down.url("/"), dir.path(), HttpFormat::FalcoJson);
    c.spool.max_alerts = 10;
    c.overflow_report_interval_ms = 100;
    let log = dir.path().join("alerts.jsonl");
    let mut file = OutputConfig::file(log.clone(), LineFormat::Json);
    file.name = Some("file".into());
    file.min_priority = sensor::rules::Priority::Critical;
    c.targets.push(file);
    let m = Metrics::new();
    let dm = DeliveryMetrics::register(&m.registry).unwrap();
    let outs = Outputs::start(&c, &dm, "node-1").unwrap();
    for n in 0..25 {
        outs.send(alert("r", "Error", n));
    }
    let reported = || -> u64 {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["rule"] == SPOOL_OVERFLOW_RULE)
            .map(|v| {
                assert_eq!(v["priority"], "Critical");
                assert_eq!(v["output_fields"]["sensor.output.name"], "siem");
                v["output_fields"]["sensor.drop.count"].as_u64().unwrap()
            })
            .sum()
    };
    wait_until("16 drops reported in the file", || reported() == 16).await;
    assert_eq!(metric(&m, "sensor_alerts_dropped_total{output=\"siem\",reason=\"spool_full\"}"), 16);
    // Stable: the report in the spool is replaced, not joined.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(metric(&m, "sensor_alerts_dropped_total{output=\"siem\",reason=\"spool_full\"}"), 16);
    assert_eq!(outs.spool_depth("siem"), Some(10));

    let rx = Receiver::http(down.release(), always_ok()).await;
    assert!(outs.wait_idle(WAIT).await);
    let reqs = rx.requests();
    let mut ns = ns_of(&reqs);
    ns.sort_unstable();
    ns.dedup();
    assert_eq!(ns, (16..25).collect::<Vec<_>>(), "the newest alerts survive");
    let reports: Vec<_> =
        reqs.iter().map(receiver::Received::json).filter(|v| v["rule"] == SPOOL_OVERFLOW_RULE).collect();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["output_fields"]["sensor.drop.count"], 16);
    assert_eq!(reports[0]["priority"], "Critical");
}
