//! Lost alerts are reported as alerts: every interval, the drops of each
//! output since the last report (queue full, spool full) become one
//! `Sensor internal: ...` alert (priority Critical) sent through every
//! output, so the receiver learns of the gap.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use log::warn;
use serde_json::Map;

use super::alert::DeliveredAlert;
use super::lane::Lane;
use crate::rules::Priority;

pub const SPOOL_OVERFLOW_RULE: &str = "Sensor internal: alert spool overflow";
pub const QUEUE_OVERFLOW_RULE: &str = "Sensor internal: alert queue overflow";
pub const OUTPUT_FAILING_RULE: &str = "Sensor internal: alert output failing";
pub const OUTPUT_REJECTED_RULE: &str = "Sensor internal: alerts rejected by output";

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

pub fn now_ms() -> u64 {
    now_ns() / 1_000_000
}

/// When an output's failure is reported (see `OutputsConfig`).
#[derive(Debug, Clone, Copy)]
pub struct FailingPolicy {
    pub after_ms: u64,
    pub repeat_ms: u64,
}

fn failing_alert(output: &str, since_ms: u64, reason: &str, hostname: &str) -> DeliveredAlert {
    let secs = now_ms().saturating_sub(since_ms) / 1000;
    let msg = format!(
        "Alert output '{output}' has failed every delivery for {secs} s ({reason}); its alerts wait in its spool and \
         are delivered when it recovers"
    );
    let mut f = Map::new();
    f.insert("sensor.output.name".into(), output.into());
    f.insert("sensor.output.failing_seconds".into(), secs.into());
    f.insert("sensor.output.reason".into(), reason.into());
    DeliveredAlert::internal(OUTPUT_FAILING_RULE, Priority::Error, hostname, &msg, f, now_ns())
}

fn rejected_alert(output: &str, count: u64, hostname: &str) -> DeliveredAlert {
    let msg = format!(
        "{count} alerts were refused by the receiver of output '{output}' (HTTP 4xx, not retried); they were not \
         delivered there"
    );
    let mut f = Map::new();
    f.insert("sensor.output.name".into(), output.into());
    f.insert("sensor.drop.count".into(), count.into());
    f.insert("sensor.drop.reason".into(), "rejected".into());
    DeliveredAlert::internal(OUTPUT_REJECTED_RULE, Priority::Critical, hostname, &msg, f, now_ns())
}

fn overflow_alert(rule: &str, output: &str, count: u64, what: &str, hostname: &str) -> DeliveredAlert {
    let msg = format!(
        "{count} alerts for output '{output}' were dropped because its {what} was full (oldest first); they were \
         not delivered"
    );
    let mut f = Map::new();
    f.insert("sensor.output.name".into(), output.into());
    f.insert("sensor.drop.count".into(), count.into());
    f.insert("sensor.drop.reason".into(), format!("{what}_full").into());
    DeliveredAlert::internal(rule, Priority::Critical, hostname, &msg, f, now_ns())
}

/// `(rule, output)` of a drop report, `None` for other alerts.
pub fn report_subject(a: &DeliveredAlert) -> Option<(String, String)> {
    if a.rule != SPOOL_OVERFLOW_RULE && a.rule != QUEUE_OVERFLOW_RULE {
        return None;
    }
    Some((a.rule.clone(), a.field_text("sensor.output.name")?))
}

/// The report `a` with `earlier` more drops counted in (a report still
/// waiting in a spool is replaced by the sum rather than joined by one
/// more alert, which would push out another).
pub fn merge(a: &DeliveredAlert, earlier: u64) -> DeliveredAlert {
    let count = a.output_field("sensor.drop.count").and_then(serde_json::Value::as_u64).unwrap_or(0) + earlier;
    let output = a.field_text("sensor.output.name").unwrap_or_default();
    let what = if a.rule == SPOOL_OVERFLOW_RULE { "spool" } else { "queue" };
    overflow_alert(&a.rule, &output, count, what, a.hostname())
}

pub fn drop_count(a: &DeliveredAlert) -> u64 {
    a.output_field("sensor.drop.count").and_then(serde_json::Value::as_u64).unwrap_or(0)
}

/// The report alerts for the drops since the last call, and for outputs
/// failing longer than `failing` allows.
pub fn take_reports(lanes: &[Arc<Lane>], hostname: &str, failing: FailingPolicy) -> Vec<Arc<DeliveredAlert>> {
    let mut out = Vec::new();
    let now = now_ms();
    for lane in lanes {
        let since = lane.failing_since_ms.load(Ordering::Acquire);
        let last = lane.failing_reported_ms.load(Ordering::Acquire);
        if since > 0
            && now.saturating_sub(since) >= failing.after_ms
            && (last == 0 || now.saturating_sub(last) >= failing.repeat_ms)
        {
            lane.failing_reported_ms.store(now.max(1), Ordering::Release);
            let reason = lane.failure.lock().map(|r| r.clone()).unwrap_or_default();
            warn!("output '{}': failing since {} s ({reason}); reported as an alert", lane.name, (now - since) / 1000);
            out.push(Arc::new(failing_alert(&lane.name, since, &reason, hostname)));
        }
        let r = lane.unreported_rejects.swap(0, Ordering::Relaxed);
        if r > 0 {
            out.push(Arc::new(rejected_alert(&lane.name, r, hostname)));
        }
        let q = lane.unreported_queue_drops.swap(0, Ordering::Relaxed);
        if q > 0 {
            warn!("output '{}': {q} alerts dropped, queue full", lane.name);
            out.push(Arc::new(overflow_alert(QUEUE_OVERFLOW_RULE, &lane.name, q, "queue", hostname)));
        }
        let s = lane.unreported_spool_drops.swap(0, Ordering::Relaxed);
        if s > 0 {
            warn!("output '{}': {s} alerts dropped, spool full", lane.name);
            out.push(Arc::new(overflow_alert(SPOOL_OVERFLOW_RULE, &lane.name, s, "spool", hostname)));
        }
    }
    out
}
