//! Alert delivery: the cost of `Outputs::send` to the caller, and the
//! sustained delivery rate to a local HTTP receiver through the on-disk
//! spool (fsync per batch).
//!
//! `cargo bench -p sensor --bench delivery`
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]
// Rates from counts below 2^52: exact in f64.
#![allow(clippy::cast_precision_loss)]

#[path = "../tests/receiver/mod.rs"]
mod receiver;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use receiver::{Receiver, Reply, alert};
use sensor::output::{DeliveryMetrics, HttpConfig, HttpFormat, OutputConfig, Outputs, OutputsConfig};

/// A receiver counting the alerts it got (NDJSON lines or single bodies).
async fn counting_receiver() -> (Receiver, Arc<AtomicU64>) {
    let n = Arc::new(AtomicU64::new(0));
    let c = n.clone();
    let rx = Receiver::http(
        0,
        Arc::new(move |_, r: &receiver::Received| {
            let lines = memchr::memchr_iter(b'\n', &r.body).count().max(1);
            c.fetch_add(lines as u64, Ordering::Relaxed);
            Reply::ok()
        }),
    )
    .await;
    // The receiver keeps every request for the tests; here only counts.
    (rx, n)
}

fn start(url: &str, format: HttpFormat, spool: &std::path::Path) -> Outputs {
    let mut h = HttpConfig::new(url, format);
    h.parallel = 4;
    let mut o = OutputConfig::http(h);
    o.name = Some("bench".into());
    let cfg = OutputsConfig {
        spool_dir: Some(spool.to_owned()),
        queue_capacity: 65_536,
        targets: vec![o],
        ..OutputsConfig::default()
    };
    Outputs::start(&cfg, &DeliveryMetrics::standalone(), "bench").unwrap()
}

fn send_cost(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (rx, _n) = rt.block_on(counting_receiver());
    let outs = rt.block_on(async { start(&rx.url("http", "/"), HttpFormat::Ndjson, dir.path()) });
    let a = alert("Bench rule", "Warning", 1);
    c.bench_function("delivery/send (caller's cost per alert)", |b| b.iter(|| outs.send(a.clone())));
    rt.block_on(async { drop(outs.shutdown(Duration::from_secs(5)).await) });
    rx.got.lock().unwrap().clear();
}

/// 10k alerts/s for 3 s, paced in 1 ms steps: the caller's cost of each
/// send and the time until the receiver has them all.
fn sustained(format: HttpFormat, rate: u64, secs: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (rx, got) = rt.block_on(counting_receiver());
    let outs = rt.block_on(async { start(&rx.url("http", "/"), format, dir.path()) });
    let alerts: Vec<_> = (0..rate).map(|i| alert("Bench rule", "Warning", i)).collect();
    let total = rate * secs;
    let per_ms = rate / 1000;
    let start = Instant::now();
    let mut worst = Duration::ZERO;
    let mut spent = Duration::ZERO;
    let mut sent = 0u64;
    while sent < total {
        let due = start + Duration::from_micros(sent * 1_000_000 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        for _ in 0..per_ms.max(1) {
            let a = alerts[(sent % rate) as usize].clone();
            let t = Instant::now();
            outs.send(a);
            let d = t.elapsed();
            spent += d;
            worst = worst.max(d);
            sent += 1;
        }
    }
    let sending = start.elapsed();
    let delivered_all = rt.block_on(outs.wait_idle(Duration::from_secs(60)));
    let elapsed = start.elapsed();
    let received = got.load(Ordering::Relaxed);
    println!(
        "delivery/sustained {fmt}: {total} alerts at {rate}/s over {sending:.2?}; send() mean {mean:?}, max {worst:?}; \
         all delivered: {delivered_all} ({received} received) {elapsed:.2?} after the first, {drain:.0} alerts/s overall",
        fmt = format.name(),
        mean = spent / u32::try_from(total).unwrap(),
        drain = total as f64 / elapsed.as_secs_f64(),
    );
    rt.block_on(async { drop(outs.shutdown(Duration::from_secs(5)).await) });
}

/// As fast as the caller can: how many alerts a second reach the receiver.
fn burst(format: HttpFormat, total: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (rx, got) = rt.block_on(counting_receiver());
    let outs = rt.block_on(async { start(&rx.url("http", "/"), format, dir.path()) });
    let alerts: Vec<_> = (0..1000).map(|i| alert("Bench rule", "Warning", i)).collect();
    let start = Instant::now();
    for i in 0..total {
        outs.send(alerts[(i % 1000) as usize].clone());
        if i % 20_000 == 19_999 {
            // Keep within the queue: the point is the delivery rate.
            while outs.pending() > 40_000 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    let ok = rt.block_on(outs.wait_idle(Duration::from_secs(120)));
    let e = start.elapsed();
    println!(
        "delivery/burst {fmt}: {total} alerts delivered in {e:.2?} ({rate:.0} alerts/s, all: {ok}, received {r})",
        fmt = format.name(),
        rate = total as f64 / e.as_secs_f64(),
        r = got.load(Ordering::Relaxed),
    );
    rt.block_on(async { drop(outs.shutdown(Duration::from_secs(5)).await) });
}

fn rates(_c: &mut Criterion) {
    sustained(HttpFormat::Ndjson, 10_000, 3);
    sustained(HttpFormat::FalcoJson, 10_000, 3);
    burst(HttpFormat::Ndjson, 100_000);
    burst(HttpFormat::FalcoJson, 30_000);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = send_cost, rates
}
criterion_main!(benches);
