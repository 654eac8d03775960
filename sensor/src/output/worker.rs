//! The tasks behind each output. A local output (stdout, file) has one:
//! queue -> lines. A network output has two, so that a slow or absent
//! receiver never backs up the queue: the ingest task moves queued alerts
//! into the spool (one fsynced commit per batch), the delivery task sends
//! what the spool holds, oldest first, and removes it after a 2xx.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use log::{error, warn};
use prometheus::{IntCounter, IntGauge};
use tokio::sync::{Notify, watch};

use super::alert::DeliveredAlert;
use super::config::{HttpFormat, LineFormat, RateLimit};
use super::file::RotatingFile;
use super::format::{Encoder, bulk_item_statuses};
use super::http::{Outcome, Transport};
use super::lane::Lane;
use super::metrics::DeliveryMetrics;
use super::report;
use super::retry::{Backoff, retryable};
use super::spool::Spool;
use super::storm::TokenBucket;

/// Alerts taken from the queue at once.
const TAKE: usize = 1024;

/// The per-output counters, resolved once.
#[derive(Clone)]
pub struct Counters {
    pub sent: IntCounter,
    pub failed: IntCounter,
    pub retried: IntCounter,
    pub spooled: IntCounter,
    pub spool_full: IntCounter,
    pub spool_corrupt: IntCounter,
    pub rate_limited: IntCounter,
    pub depth: IntGauge,
    pub bytes: IntGauge,
}

impl Counters {
    pub fn new(m: &DeliveryMetrics, output: &str) -> Self {
        Self {
            sent: m.sent.with_label_values(&[output]),
            failed: m.failed.with_label_values(&[output]),
            retried: m.retried.with_label_values(&[output]),
            spooled: m.spooled.with_label_values(&[output]),
            spool_full: m.dropped.with_label_values(&[output, "spool_full"]),
            spool_corrupt: m.dropped.with_label_values(&[output, "spool_corrupt"]),
            rate_limited: m.suppressed.with_label_values(&["rate_limit", output]),
            depth: m.spool_depth.with_label_values(&[output]),
            bytes: m.spool_bytes.with_label_values(&[output]),
        }
    }
}

/// The output's token bucket, if it has a rate limit.
pub struct Limiter(Option<TokenBucket>);

impl Limiter {
    pub fn new(r: Option<RateLimit>) -> Self {
        Self(r.map(|r| TokenBucket::new(r.per_second, r.burst, Instant::now())))
    }

    /// Keeps what the bucket lets through (internal alerts always pass).
    fn filter(&mut self, batch: &mut Vec<Arc<DeliveredAlert>>, c: &Counters) {
        let Some(b) = &mut self.0 else { return };
        let now = Instant::now();
        let before = batch.len();
        batch.retain(|a| a.is_internal() || b.try_take(now));
        c.rate_limited.inc_by((before - batch.len()) as u64);
    }
}

/// Waits for alerts; `false` once shutdown began and nothing is queued.
async fn next_batch(lane: &Lane, shutdown: &mut watch::Receiver<bool>) -> Option<Vec<Arc<DeliveredAlert>>> {
    loop {
        let batch = lane.take(TAKE);
        if !batch.is_empty() {
            return Some(batch);
        }
        if *shutdown.borrow() {
            return None;
        }
        tokio::select! {
            () = lane.wait() => {}
            _ = shutdown.changed() => {}
        }
    }
}

pub enum LineSink {
    Stdout,
    File(RotatingFile),
}

impl LineSink {
    fn write(&mut self, lines: &[Vec<u8>]) -> std::io::Result<()> {
        match self {
            LineSink::Stdout => {
                let mut out = std::io::stdout().lock();
                for l in lines {
                    out.write_all(l)?;
                    out.write_all(b"\n")?;
                }
                out.flush()
            }
            LineSink::File(f) => {
                for l in lines {
                    f.write_line(l)?;
                }
                f.flush()
            }
        }
    }
}

fn line(a: &DeliveredAlert, format: LineFormat) -> Vec<u8> {
    match format {
        LineFormat::Json => a.falco_json().into_bytes(),
        LineFormat::Text => a.output_line().into_bytes(),
    }
}

/// stdout or file: lines written by a blocking thread, flushed per batch.
pub async fn run_local(
    lane: Arc<Lane>,
    mut sink: LineSink,
    format: LineFormat,
    mut limiter: Limiter,
    c: Counters,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut logged = false;
    while let Some(mut batch) = next_batch(&lane, &mut shutdown).await {
        let n = batch.len();
        limiter.filter(&mut batch, &c);
        let lines: Vec<Vec<u8>> = batch.iter().map(|a| line(a, format)).collect();
        let count = lines.len() as u64;
        let res = tokio::task::spawn_blocking(move || {
            let r = sink.write(&lines);
            (sink, r)
        })
        .await;
        lane.done(n);
        match res {
            Ok((s, Ok(()))) => {
                sink = s;
                c.sent.inc_by(count);
                logged = false;
            }
            Ok((s, Err(e))) => {
                sink = s;
                c.failed.inc_by(count);
                if !logged {
                    error!(
                        "output '{}': writing alerts: {e} (further errors counted in sensor_alerts_failed_total)",
                        lane.name
                    );
                    logged = true;
                }
            }
            Err(e) => {
                c.failed.inc_by(count);
                error!("output '{}': writer thread failed: {e}", lane.name);
                break;
            }
        }
    }
    lane.drained.store(true, Ordering::Release);
}

fn gauges(spool: &Spool, c: &Counters) {
    c.depth.set(i64::try_from(spool.len()).unwrap_or(i64::MAX));
    c.bytes.set(i64::try_from(spool.bytes()).unwrap_or(i64::MAX));
}

/// Queue -> spool.
pub async fn run_ingest(
    lane: Arc<Lane>,
    spool: Arc<Spool>,
    mut limiter: Limiter,
    c: Counters,
    spooled: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut logged = false;
    // Drop reports waiting in the spool: (rule, output) -> (key, count).
    let mut reports: HashMap<(String, String), (u64, u64)> = HashMap::new();
    while let Some(mut batch) = next_batch(&lane, &mut shutdown).await {
        let taken = batch.len();
        limiter.filter(&mut batch, &c);
        let (report_alerts, batch): (Vec<_>, Vec<_>) =
            batch.into_iter().partition(|a| report::report_subject(a).is_some());
        for r in report_alerts {
            let Some(subject) = report::report_subject(&r) else { continue };
            let pending = reports.get(&subject).copied();
            let merged = match pending {
                Some((_, count)) => Arc::new(report::merge(&r, count)),
                None => r,
            };
            let total = report::drop_count(&merged);
            let sp = spool.clone();
            match tokio::task::spawn_blocking(move || sp.replace(pending.map(|p| p.0), &merged)).await {
                Ok(Ok((done, key))) => {
                    c.spooled.inc_by(done.stored);
                    if done.dropped > 0 {
                        c.spool_full.inc_by(done.dropped);
                        lane.unreported_spool_drops.fetch_add(done.dropped, Ordering::Relaxed);
                    }
                    if let Some(k) = key {
                        reports.insert(subject, (k, total));
                    }
                }
                Ok(Err(e)) => error!("output '{}': spooling a drop report: {e}", lane.name),
                Err(e) => error!("output '{}': spool thread failed: {e}", lane.name),
            }
        }
        // Reports already delivered are not merged into.
        if !reports.is_empty() {
            let sp = spool.clone();
            let keys: Vec<u64> = reports.values().map(|v| v.0).collect();
            if let Ok(Ok(present)) = tokio::task::spawn_blocking(move || sp.contains(&keys)).await {
                reports.retain(|_, v| present.contains(&v.0));
            }
        }
        let batch = Arc::new(batch);
        loop {
            let (sp, alerts) = (spool.clone(), batch.clone());
            match tokio::task::spawn_blocking(move || sp.append(&alerts)).await {
                Ok(Ok(done)) => {
                    c.spooled.inc_by(done.stored);
                    if done.dropped > 0 {
                        c.spool_full.inc_by(done.dropped);
                        lane.unreported_spool_drops.fetch_add(done.dropped, Ordering::Relaxed);
                    }
                    logged = false;
                    break;
                }
                Ok(Err(e)) => {
                    if !logged {
                        error!("output '{}': writing the spool: {e}; retrying every second", lane.name);
                        logged = true;
                    }
                }
                Err(e) => error!("output '{}': spool thread failed: {e}", lane.name),
            }
            if *shutdown.borrow() {
                c.spool_full.inc_by(batch.len() as u64);
                lane.unreported_spool_drops.fetch_add(batch.len() as u64, Ordering::Relaxed);
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        lane.done(taken);
        gauges(&spool, &c);
        spooled.notify_one();
    }
    lane.drained.store(true, Ordering::Release);
    spooled.notify_one();
}

/// The delivery task's fixed parts.
pub struct Delivery {
    pub lane: Arc<Lane>,
    pub spool: Arc<Spool>,
    pub transport: Transport,
    pub encoder: Encoder,
    pub batch: usize,
    pub parallel: usize,
    pub backoff: Backoff,
    pub c: Counters,
    pub spooled: Arc<Notify>,
}

/// What became of one round's alerts.
#[derive(Default)]
struct Round {
    done: Vec<u64>,
    rejected: Vec<(u64, u16, String)>,
    retry: usize,
    retry_after: Option<Duration>,
    reason: Option<String>,
}

impl Delivery {
    fn round_size(&self) -> usize {
        if self.encoder.format().single() { self.parallel } else { self.batch * self.parallel }
    }

    /// Spool -> receiver, until shutdown and an empty spool.
    pub async fn run(mut self) {
        let mut logged_status: HashSet<u16> = HashSet::new();
        let mut failing = false;
        loop {
            let (s, n) = (self.spool.clone(), self.round_size());
            let items = match tokio::task::spawn_blocking(move || s.peek(n)).await {
                Ok(Ok(items)) => items,
                Ok(Err(e)) => {
                    error!("output '{}': reading the spool: {e}", self.lane.name);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                Err(_) => return,
            };
            if items.is_empty() {
                if self.lane.drained.load(Ordering::Acquire) && self.lane.queued() == 0 {
                    return;
                }
                self.spooled.notified().await;
                continue;
            }
            let mut corrupt = Vec::new();
            let mut keys = Vec::with_capacity(items.len());
            let mut alerts = Vec::with_capacity(items.len());
            for (k, r) in items {
                match r {
                    Ok(a) => {
                        keys.push(k);
                        alerts.push(a);
                    }
                    Err(e) => {
                        warn!("output '{}': dropping unreadable spool record {k}: {e}", self.lane.name);
                        corrupt.push(k);
                    }
                }
            }
            self.c.spool_corrupt.inc_by(corrupt.len() as u64);
            let round = self.send(&keys, &alerts).await;
            for (_, status, body) in &round.rejected {
                if logged_status.insert(*status) {
                    error!(
                        "output '{}': the receiver rejected alerts with HTTP {status} ({body}); not retried, counted in \
                         sensor_alerts_failed_total (logged once per status)",
                        self.lane.name
                    );
                }
            }
            self.c.sent.inc_by(round.done.len() as u64);
            self.c.failed.inc_by(round.rejected.len() as u64);
            self.lane.unreported_rejects.fetch_add(round.rejected.len() as u64, Ordering::Relaxed);
            let mut remove = round.done;
            remove.extend(round.rejected.iter().map(|r| r.0));
            remove.extend(corrupt);
            let s = self.spool.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s.remove(&remove)).await {
                error!("output '{}': removing delivered alerts from the spool: {e}", self.lane.name);
            }
            gauges(&self.spool, &self.c);
            if round.retry > 0 {
                self.c.retried.inc_by(round.retry as u64);
                let wait = self.backoff.next(round.retry_after);
                if let Ok(mut f) = self.lane.failure.lock() {
                    round.reason.as_deref().unwrap_or("?").clone_into(&mut f);
                }
                if !failing {
                    warn!(
                        "output '{}': delivery failed ({}); retrying with backoff, alerts kept in the spool",
                        self.lane.name,
                        round.reason.as_deref().unwrap_or("?")
                    );
                    failing = true;
                    self.lane.failing_since_ms.store(super::report::now_ms().max(1), Ordering::Release);
                }
                tokio::time::sleep(wait).await;
            } else {
                if failing {
                    log::info!("output '{}': delivering again", self.lane.name);
                    failing = false;
                    self.lane.failing_since_ms.store(0, Ordering::Release);
                    self.lane.failing_reported_ms.store(0, Ordering::Release);
                }
                self.backoff.reset();
            }
        }
    }

    async fn send(&self, keys: &[u64], alerts: &[DeliveredAlert]) -> Round {
        let refs: Vec<&DeliveredAlert> = alerts.iter().collect();
        let mut bodies = Vec::new();
        for chunk in (0..refs.len()).collect::<Vec<_>>().chunks(self.batch.max(1)) {
            let part: Vec<&DeliveredAlert> = chunk.iter().map(|&i| refs[i]).collect();
            for mut b in self.encoder.encode(&part) {
                for it in &mut b.items {
                    *it = chunk[*it];
                }
                bodies.push(b);
            }
        }
        let outcomes: Vec<(Vec<usize>, Outcome)> = futures_util::stream::iter(bodies)
            .map(|b| async move { (b.items, self.transport.post(b.bytes, b.content_type).await) })
            .buffer_unordered(self.parallel.max(1))
            .collect()
            .await;
        let mut r = Round::default();
        for (items, outcome) in outcomes {
            match outcome {
                Outcome::Delivered(body) if self.encoder.format() == HttpFormat::ElasticsearchBulk => {
                    bulk_items(&items, keys, &body, &mut r);
                }
                Outcome::Delivered(_) => r.done.extend(items.iter().map(|&i| keys[i])),
                Outcome::Rejected { status, body } => {
                    r.rejected.extend(items.iter().map(|&i| (keys[i], status, body.clone())));
                }
                Outcome::Retry { reason, after, .. } => {
                    r.retry += items.len();
                    r.retry_after = r.retry_after.max(after);
                    r.reason = Some(reason);
                }
            }
        }
        r
    }
}

/// Elasticsearch answers 200 for a bulk request and gives each item its
/// own status: 2xx and 409 (already indexed under this UUID) are done,
/// 429/5xx are retried, others rejected.
fn bulk_items(items: &[usize], keys: &[u64], body: &[u8], r: &mut Round) {
    let Some(statuses) = bulk_item_statuses(body).filter(|s| s.len() == items.len()) else {
        r.done.extend(items.iter().map(|&i| keys[i]));
        return;
    };
    for (&i, status) in items.iter().zip(statuses) {
        if (200..300).contains(&status) || status == 409 {
            r.done.push(keys[i]);
        } else if retryable(status) {
            r.retry += 1;
            r.reason = Some(format!("bulk item HTTP {status}"));
        } else {
            r.rejected.push((keys[i], status, "bulk item".into()));
        }
    }
}
