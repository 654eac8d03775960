//! Syscall-to-receiver latency: `sensor run --webhook` on the real kernel,
//! a workload that raises 1 000 alerts/s (one failed `openat` per
//! millisecond, each matched by a rule), and a real HTTP receiver on
//! 127.0.0.1 that notes each POST's wall-clock arrival. The latency of an
//! alert is its arrival minus its event's kernel timestamp (the alert's
//! `time`). Prints p50/p90/p99/max and how many alerts arrived.
//!
//! Run as root: `cargo bench -p sensor --bench alert_latency` (release
//! build). `SENSOR_LATENCY_SECS` sets the run length (default 10).
#![allow(clippy::unwrap_used, clippy::missing_panics_doc, clippy::cast_precision_loss)]

#[path = "../tests/receiver/mod.rs"]
mod receiver;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use receiver::{Receiver, always_ok};

const RATE: u64 = 1000;

fn main() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("alert_latency: skipped, needs root (it loads the sensor's eBPF programs)");
        return;
    }
    let secs: u64 = std::env::var("SENSOR_LATENCY_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let rx = rt.block_on(Receiver::http(0, always_ok()));
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("latency.yaml");
    let prefix = format!("/nonexistent/sensor-latency-{}-", std::process::id());
    std::fs::write(
        &rules,
        format!(
            "- rule: Latency probe\n  desc: bench\n  condition: evt.type=openat and fd.name startswith {prefix}\n  \
             output: \"probe %fd.name\"\n  priority: WARNING\n"
        ),
    )
    .unwrap();
    let mut sensor = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["run", "--no-default-rules", "--rules"])
        .arg(&rules)
        .args(["--webhook", &rx.url("http", "/"), "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(sensor.stderr.take().unwrap());
    let mut lines = stderr.lines();
    for l in lines.by_ref() {
        if l.unwrap().contains("sensor: ready") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});

    // One open per millisecond, on a fixed schedule (no drift).
    let total = secs * RATE;
    let start = Instant::now();
    for n in 0..total {
        let due = start + Duration::from_micros(n * 1_000_000 / RATE);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let _ = std::fs::File::open(format!("{prefix}{n}"));
    }
    let sent_in = start.elapsed();
    let reqs = rt.block_on(rx.wait_for(Duration::from_secs(10), |r| r.len() as u64 >= total));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(sensor.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let _ = sensor.wait();

    let mut lat: Vec<f64> = reqs
        .iter()
        .filter_map(|q| {
            let body = q.json();
            let t: jiff::Timestamp = body["time"].as_str()?.parse().ok()?;
            let arrived = q.wall.duration_since(UNIX_EPOCH).ok()?.as_nanos() as i128;
            Some((arrived - t.as_nanosecond()) as f64 / 1e6)
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied();
    println!(
        "alert_latency: {} of {total} alerts arrived ({:.0} alerts/s offered over {:.1} s); latency ms: p50 {:.2} p90 \
         {:.2} p99 {:.2} max {:.2}",
        lat.len(),
        total as f64 / sent_in.as_secs_f64(),
        sent_in.as_secs_f64(),
        pct(0.5).unwrap_or(f64::NAN),
        pct(0.9).unwrap_or(f64::NAN),
        pct(0.99).unwrap_or(f64::NAN),
        lat.last().copied().unwrap_or(f64::NAN),
    );
}
