//! Storm control: a rule firing thousands of times a second in one
//! container must not bury the SIEM (nor the other alerts).
//!
//! - [`StormControl`], a stage before the fan-out: per (rule, container id,
//!   executable) the first alert goes out at once and opens a window;
//!   repeats inside it are suppressed and, when it closes, summarised in one
//!   alert (the last repeat with `sensor.storm.count`, `.first_seen`,
//!   `.last_seen`). While repeats keep coming each window gets its summary;
//!   a window without repeats ends the burst.
//! - [`TokenBucket`], each output's global rate limit.
//!
//! Every suppression is counted (`sensor_alerts_suppressed_total`). The
//! sensor's own alerts (`Sensor internal: ...`) are never suppressed.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::alert::DeliveredAlert;
use super::metrics::DeliveryMetrics;
use crate::rules::time::format_rfc3339;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StormConfig {
    /// Deduplication window; 0 turns deduplication off (the default, as in
    /// Falco).
    #[serde(default)]
    pub dedup_window_ms: u64,
    /// Most bursts tracked at once; alerts of further keys pass unchanged.
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
}

impl Default for StormConfig {
    fn default() -> Self {
        Self { dedup_window_ms: 0, max_keys: default_max_keys() }
    }
}

fn default_max_keys() -> usize {
    10_000
}

type Key = (String, String, String);

struct Burst {
    window_end: Instant,
    suppressed: u64,
    first_ns: u64,
    last_ns: u64,
    last: Option<Arc<DeliveredAlert>>,
}

pub struct StormControl {
    window: Duration,
    max_keys: usize,
    bursts: HashMap<Key, Burst>,
    /// Window ends in order (all windows have the same length).
    deadlines: VecDeque<(Instant, Key)>,
    suppressed: prometheus::IntCounter,
    summaries: prometheus::IntCounter,
}

impl StormControl {
    pub fn new(cfg: &StormConfig, metrics: &DeliveryMetrics) -> Self {
        Self {
            window: Duration::from_millis(cfg.dedup_window_ms),
            max_keys: cfg.max_keys,
            bursts: HashMap::new(),
            deadlines: VecDeque::new(),
            suppressed: metrics.suppressed.with_label_values(&["dedup", "all"]),
            summaries: metrics.storm_summaries.clone(),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.window.is_zero()
    }

    fn key(a: &DeliveredAlert) -> Key {
        (a.rule.clone(), a.container_id().unwrap_or_default(), a.executable().unwrap_or_default())
    }

    /// Takes one alert; pushes onto `out` what goes to the outputs now:
    /// the summaries of windows closed by `now`, then the alert unless it
    /// repeats one inside its window.
    pub fn admit(&mut self, alert: Arc<DeliveredAlert>, now: Instant, out: &mut Vec<Arc<DeliveredAlert>>) {
        if !self.enabled() || alert.is_internal() {
            out.push(alert);
            return;
        }
        self.expire(now, out);
        let key = Self::key(&alert);
        if let Some(b) = self.bursts.get_mut(&key) {
            if b.suppressed == 0 {
                (b.first_ns, b.last_ns) = (alert.time_ns, alert.time_ns);
            } else {
                b.first_ns = b.first_ns.min(alert.time_ns);
                b.last_ns = b.last_ns.max(alert.time_ns);
            }
            b.suppressed += 1;
            b.last = Some(alert);
            self.suppressed.inc();
            return;
        }
        if self.bursts.len() < self.max_keys {
            let window_end = now + self.window;
            self.deadlines.push_back((window_end, key.clone()));
            self.bursts.insert(key, Burst { window_end, suppressed: 0, first_ns: 0, last_ns: 0, last: None });
        }
        out.push(alert);
    }

    /// Summaries of the windows closed by `now`.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<Arc<DeliveredAlert>>) {
        while let Some((deadline, _)) = self.deadlines.front() {
            if *deadline > now {
                break;
            }
            let Some((deadline, key)) = self.deadlines.pop_front() else { break };
            let Some(b) = self.bursts.get_mut(&key) else { continue };
            if b.window_end != deadline {
                continue;
            }
            if let Some(last) = b.last.take() {
                out.push(Arc::new(summary(&last, b.suppressed, b.first_ns, b.last_ns)));
                self.summaries.inc();
                b.suppressed = 0;
                b.window_end = now + self.window;
                self.deadlines.push_back((b.window_end, key));
            } else {
                self.bursts.remove(&key);
            }
        }
    }

    /// When [`Self::expire`] has something to do next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|(d, _)| *d)
    }

    /// Summaries of every open window (at shutdown).
    pub fn flush(&mut self, out: &mut Vec<Arc<DeliveredAlert>>) {
        for (_, b) in self.bursts.drain() {
            if let Some(last) = b.last {
                out.push(Arc::new(summary(&last, b.suppressed, b.first_ns, b.last_ns)));
                self.summaries.inc();
            }
        }
        self.deadlines.clear();
    }

    /// Bursts tracked now.
    pub fn tracked(&self) -> usize {
        self.bursts.len()
    }
}

/// The alert standing for `count` suppressed repeats, the last being `last`.
fn summary(last: &DeliveredAlert, count: u64, first_ns: u64, last_ns: u64) -> DeliveredAlert {
    let mut a = last.clone();
    a.uuid = Uuid::new_v4();
    let (first, lastt) = (format_rfc3339(first_ns), format_rfc3339(last_ns));
    let note = format!(" (storm control: {count} repeats suppressed between {first} and {lastt})");
    let line = a.output_line() + &note;
    a.alert.insert("output".into(), line.into());
    if let Some(Value::Object(f)) = a.alert.get_mut("output_fields") {
        f.insert("sensor.storm.count".into(), count.into());
        f.insert("sensor.storm.first_seen".into(), first.into());
        f.insert("sensor.storm.last_seen".into(), lastt.into());
    } else {
        let mut f = serde_json::Map::new();
        f.insert("sensor.storm.count".into(), count.into());
        f.insert("sensor.storm.first_seen".into(), first.into());
        f.insert("sensor.storm.last_seen".into(), lastt.into());
        a.alert.insert("output_fields".into(), Value::Object(f));
    }
    a
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        Self { rate, burst: f64::from(burst), tokens: f64::from(burst), last: now }
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
