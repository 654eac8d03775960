//! Alert outputs and their delivery.
//!
//! [`Outputs::start`] spawns the tasks of every configured output (stdout,
//! file, HTTP in one of six formats); [`Outputs::send`] hands an alert to
//! each output whose minimum priority it meets, through a bounded queue,
//! and never waits for the network or the disk: a full queue drops its
//! oldest alert, counts it and reports it. [`Outputs::shutdown`] delivers
//! what it can before a deadline.
//!
//! Network outputs deliver at least once: the alert goes into the output's
//! on-disk [`spool`] (redb, fsynced) before it is sent and leaves it after
//! a 2xx; a restart on the same `spool_dir` sends what is left. Failures are
//! retried with exponential backoff and jitter, `Retry-After` honoured; a
//! 4xx other than 408/429 is given up on (counted, logged once per status).
//! A full spool drops its oldest alerts and says so with a
//! `Sensor internal: alert spool overflow` alert through every output.
//!
//! [`storm::StormControl`] is the stage to put before [`Outputs::send`]:
//! repeats of one (rule, container, executable) inside a window become one
//! summary alert. Metrics: [`DeliveryMetrics`].

pub mod alert;
pub mod config;
pub mod error;
pub mod file;
pub mod format;
pub mod http;
mod lane;
pub mod metrics;
mod report;
pub mod retry;
pub mod spool;
pub mod stage;
pub mod storm;
mod worker;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use alert::{AlertError, DeliveredAlert, INTERNAL_RULE_PREFIX};
pub use config::{ConfigError, HttpConfig, HttpFormat, LineFormat, OutputConfig, OutputsConfig};
pub use error::OutputError;
pub use metrics::DeliveryMetrics;
pub use report::{OUTPUT_FAILING_RULE, OUTPUT_REJECTED_RULE, QUEUE_OVERFLOW_RULE, SPOOL_OVERFLOW_RULE};
pub use spool::Spool;
pub use storm::{StormConfig, StormControl, TokenBucket};

use config::Kind;
use lane::Lane;
use worker::{Counters, Delivery, Limiter, LineSink};

/// The running outputs.
pub struct Outputs {
    lanes: Arc<[Arc<Lane>]>,
    spools: BTreeMap<String, Arc<Spool>>,
    tasks: Vec<JoinHandle<()>>,
    reporter: Option<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
    hostname: String,
    failing: report::FailingPolicy,
}

/// What [`Outputs::shutdown`] left undelivered.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Every task finished before the deadline.
    pub complete: bool,
    /// Alerts still in each network output's spool (sent after a restart
    /// on the same `spool_dir`).
    pub spooled: BTreeMap<String, u64>,
}

fn fan_out(lanes: &[Arc<Lane>], alert: Arc<DeliveredAlert>) {
    // A refusal report is not offered to the output that refused: it would
    // refuse that too, and report it, forever.
    let refused_by = (alert.rule == OUTPUT_REJECTED_RULE).then(|| alert.field_text("sensor.output.name")).flatten();
    let mut last: Option<&Arc<Lane>> = None;
    for lane in lanes.iter().filter(|l| l.wants(&alert) && refused_by.as_deref() != Some(l.name.as_str())) {
        if let Some(prev) = last.replace(lane) {
            prev.push(alert.clone());
        }
    }
    if let Some(lane) = last {
        lane.push(alert);
    }
}

impl Outputs {
    /// Starts every output of `cfg` on the current tokio runtime.
    /// `hostname` goes into the sensor's own alerts.
    pub fn start(cfg: &OutputsConfig, metrics: &DeliveryMetrics, hostname: &str) -> Result<Outputs, OutputError> {
        let rt = tokio::runtime::Handle::try_current().map_err(|e| OutputError::Runtime(e.to_string()))?;
        let names = cfg.validate()?;
        let (shutdown, rx) = watch::channel(false);
        let mut lanes = Vec::new();
        let mut spools = BTreeMap::new();
        let mut tasks = Vec::new();
        for (t, name) in cfg.targets.iter().zip(names) {
            let queue_dropped = metrics.dropped.with_label_values(&[name.as_str(), "queue_full"]);
            let lane = Arc::new(Lane::new(name.clone(), t.min_priority, cfg.queue_capacity, queue_dropped));
            let c = Counters::new(metrics, &name);
            let limiter = Limiter::new(t.rate_limit);
            let file_err = |path: &std::path::Path, source| OutputError::File {
                output: name.clone(),
                path: path.to_owned(),
                source,
            };
            match t.kind() {
                Some(Kind::Stdout(s)) => {
                    tasks.push(rt.spawn(worker::run_local(
                        lane.clone(),
                        LineSink::Stdout,
                        s.format,
                        limiter,
                        c,
                        rx.clone(),
                    )));
                }
                Some(Kind::File(f)) => {
                    let file =
                        file::RotatingFile::open(&f.path, f.max_bytes, f.keep).map_err(|e| file_err(&f.path, e))?;
                    tasks.push(rt.spawn(worker::run_local(
                        lane.clone(),
                        LineSink::File(file),
                        f.format,
                        limiter,
                        c,
                        rx.clone(),
                    )));
                }
                Some(Kind::Http(h)) => {
                    let transport = http::Transport::new(&name, h)?;
                    let spool = match &cfg.spool_dir {
                        Some(dir) => Spool::open(&dir.join(format!("{name}.redb")), cfg.spool),
                        None => Spool::in_memory(cfg.spool),
                    }
                    .map_err(|source| OutputError::Spool { output: name.clone(), source })?;
                    let spool = Arc::new(spool);
                    c.depth.set(i64::try_from(spool.len()).unwrap_or(i64::MAX));
                    c.bytes.set(i64::try_from(spool.bytes()).unwrap_or(i64::MAX));
                    let spooled = Arc::new(Notify::new());
                    let delivery = Delivery {
                        lane: lane.clone(),
                        spool: spool.clone(),
                        transport,
                        encoder: format::Encoder::new(h),
                        batch: if h.format.single() { 1 } else { h.batch_max_alerts },
                        parallel: h.parallel,
                        backoff: retry::Backoff::new(&h.retry),
                        c: c.clone(),
                        spooled: spooled.clone(),
                    };
                    tasks.push(rt.spawn(worker::run_ingest(
                        lane.clone(),
                        spool.clone(),
                        limiter,
                        c,
                        spooled,
                        rx.clone(),
                    )));
                    tasks.push(rt.spawn(delivery.run()));
                    spools.insert(name.clone(), spool);
                }
                // validate() checked that every output has one kind.
                None => return Err(ConfigError::Kind { index: lanes.len(), found: 0 }.into()),
            }
            lanes.push(lane);
        }
        let lanes: Arc<[Arc<Lane>]> = lanes.into();
        let failing =
            report::FailingPolicy { after_ms: cfg.failing_alert_after_ms, repeat_ms: cfg.failing_alert_repeat_ms };
        let reporter = {
            let (lanes, host) = (lanes.clone(), hostname.to_owned());
            let every = Duration::from_millis(cfg.overflow_report_interval_ms.max(10));
            let mut rx = rx;
            rt.spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = rx.changed() => return,
                    }
                    for a in report::take_reports(&lanes, &host, failing) {
                        fan_out(&lanes, a);
                    }
                }
            })
        };
        Ok(Outputs { lanes, spools, tasks, reporter: Some(reporter), shutdown, hostname: hostname.to_owned(), failing })
    }

    /// Hands `alert` to every output whose minimum priority it meets.
    /// Never blocks: a full queue loses its oldest alert (counted, reported).
    pub fn send(&self, alert: Arc<DeliveredAlert>) {
        fan_out(&self.lanes, alert);
    }

    /// Output names, in configuration order.
    pub fn names(&self) -> Vec<String> {
        self.lanes.iter().map(|l| l.name.clone()).collect()
    }

    /// Alerts in `output`'s spool now.
    pub fn spool_depth(&self, output: &str) -> Option<u64> {
        self.spools.get(output).map(|s| s.len())
    }

    /// Alerts anywhere between [`Self::send`] and their receiver.
    pub fn pending(&self) -> u64 {
        let queued: u64 = self.lanes.iter().map(|l| l.queued() as u64 + l.in_flight.load(Ordering::Acquire)).sum();
        queued + self.spools.values().map(|s| s.len()).sum::<u64>()
    }

    /// Waits until everything sent so far is delivered; `false` at the
    /// deadline.
    pub async fn wait_idle(&self, deadline: Duration) -> bool {
        let end = Instant::now() + deadline;
        loop {
            if self.pending() == 0 {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Stops taking alerts, reports drops, moves every queued alert to its
    /// spool or file and delivers what it can before `deadline`; what is
    /// left stays in the spools.
    pub async fn shutdown(mut self, deadline: Duration) -> ShutdownReport {
        if let Some(r) = self.reporter.take() {
            r.abort();
        }
        for a in report::take_reports(&self.lanes, &self.hostname, self.failing) {
            fan_out(&self.lanes, a);
        }
        let _ = self.shutdown.send(true);
        for l in self.lanes.iter() {
            l.wake();
        }
        let tasks = std::mem::take(&mut self.tasks);
        let aborts: Vec<_> = tasks.iter().map(JoinHandle::abort_handle).collect();
        let complete = tokio::time::timeout(deadline, futures_util::future::join_all(tasks)).await.is_ok();
        for a in aborts {
            a.abort();
        }
        let mut spooled = BTreeMap::new();
        for (name, s) in &self.spools {
            let s2 = s.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || s2.sync()).await {
                log::warn!("output '{name}': syncing the spool: {e}");
            }
            spooled.insert(name.clone(), s.len());
        }
        ShutdownReport { complete, spooled }
    }
}

impl Drop for Outputs {
    /// Without [`Self::shutdown`] (a crash, in effect): tasks stop where
    /// they are; the spools keep what they hold.
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(r) = &self.reporter {
            r.abort();
        }
    }
}
