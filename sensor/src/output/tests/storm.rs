//! Storm control: deduplication windows and summaries, token bucket.

use std::time::{Duration, Instant};

use super::alert;
use crate::output::metrics::DeliveryMetrics;
use crate::output::storm::{StormConfig, StormControl, TokenBucket};
use crate::output::{DeliveredAlert, SPOOL_OVERFLOW_RULE};
use crate::rules::Priority;

fn storm(window_ms: u64, max_keys: usize) -> (StormControl, DeliveryMetrics) {
    let m = DeliveryMetrics::standalone();
    (StormControl::new(&StormConfig { dedup_window_ms: window_ms, max_keys }, &m), m)
}

fn n(a: &DeliveredAlert) -> u64 {
    a.output_field("n").and_then(serde_json::Value::as_u64).unwrap()
}

#[test]
fn first_goes_out_repeats_are_summarised() {
    let (mut s, m) = storm(1000, 100);
    let t0 = Instant::now();
    let mut out = Vec::new();
    s.admit(alert("Shell", "Warning", 0, "c1", "/bin/sh"), t0, &mut out);
    assert_eq!(out.len(), 1, "the first alert of a burst goes out at once");
    for i in 1..=5 {
        s.admit(alert("Shell", "Warning", i, "c1", "/bin/sh"), t0 + Duration::from_millis(i * 10), &mut out);
    }
    // Another container, another executable, another rule: not repeats.
    s.admit(alert("Shell", "Warning", 10, "c2", "/bin/sh"), t0, &mut out);
    s.admit(alert("Shell", "Warning", 11, "c1", "/bin/bash"), t0, &mut out);
    s.admit(alert("Other", "Warning", 12, "c1", "/bin/sh"), t0, &mut out);
    assert_eq!(out.iter().map(|a| n(a)).collect::<Vec<_>>(), vec![0, 10, 11, 12]);
    assert_eq!(m.suppressed.with_label_values(&["dedup", "all"]).get(), 5);

    out.clear();
    s.expire(t0 + Duration::from_millis(999), &mut out);
    assert!(out.is_empty(), "the window is still open");
    s.expire(t0 + Duration::from_millis(1000), &mut out);
    assert_eq!(out.len(), 1, "one summary (the other keys had no repeats)");
    let sum = &out[0];
    assert_eq!(sum.rule, "Shell");
    assert_eq!(sum.priority, Priority::Warning);
    assert_eq!(n(sum), 5, "the summary is the last repeat");
    assert_eq!(sum.output_field("sensor.storm.count").unwrap(), 5);
    let first = crate::rules::time::format_rfc3339(alert("x", "Warning", 1, "", "").time_ns);
    let last = crate::rules::time::format_rfc3339(alert("x", "Warning", 5, "", "").time_ns);
    assert_eq!(sum.output_field("sensor.storm.first_seen").unwrap(), &serde_json::Value::from(first.clone()));
    assert_eq!(sum.output_field("sensor.storm.last_seen").unwrap(), &serde_json::Value::from(last.clone()));
    assert!(sum.output_line().ends_with(&format!("(storm control: 5 repeats suppressed between {first} and {last})")));
    assert_eq!(m.storm_summaries.get(), 1);
}

#[test]
fn a_continuing_storm_gets_a_summary_per_window_and_ends() {
    let (mut s, _m) = storm(100, 100);
    let t0 = Instant::now();
    let mut out = Vec::new();
    let ms = |x| t0 + Duration::from_millis(x);
    s.admit(alert("R", "Error", 0, "c", "/e"), ms(0), &mut out);
    s.admit(alert("R", "Error", 1, "c", "/e"), ms(50), &mut out);
    // The window closes at 100: its summary comes before the next repeat,
    // which falls in the following window.
    s.admit(alert("R", "Error", 2, "c", "/e"), ms(150), &mut out);
    assert_eq!(out.iter().map(|a| n(a)).collect::<Vec<_>>(), vec![0, 1]);
    assert!(out[1].output_field("sensor.storm.count").is_some());
    s.expire(ms(260), &mut out);
    assert_eq!(out.len(), 3);
    assert_eq!(n(&out[2]), 2);
    // A window without repeats ends the burst: the next alert goes out.
    s.expire(ms(400), &mut out);
    assert_eq!(s.tracked(), 0);
    s.admit(alert("R", "Error", 3, "c", "/e"), ms(410), &mut out);
    assert_eq!(n(out.last().unwrap()), 3);
    assert!(out.last().unwrap().output_field("sensor.storm.count").is_none());
}

#[test]
fn off_internal_and_full_pass_through() {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let (mut off, _m) = storm(0, 100);
    for i in 0..3 {
        off.admit(alert("R", "Error", i, "c", "/e"), t0, &mut out);
    }
    assert_eq!(out.len(), 3);
    out.clear();
    let (mut s, _m) = storm(1000, 1);
    for i in 0..3 {
        s.admit(alert(SPOOL_OVERFLOW_RULE, "Critical", i, "c", "/e"), t0, &mut out);
    }
    assert_eq!(out.len(), 3, "the sensor's own alerts are never suppressed");
    out.clear();
    s.admit(alert("A", "Error", 0, "c", "/e"), t0, &mut out);
    s.admit(alert("B", "Error", 1, "c", "/e"), t0, &mut out);
    s.admit(alert("B", "Error", 2, "c", "/e"), t0, &mut out);
    assert_eq!(out.len(), 3, "past max_keys alerts pass unchanged");
    s.admit(alert("A", "Error", 3, "c", "/e"), t0, &mut out);
    assert_eq!(out.len(), 3);
    s.flush(&mut out);
    assert_eq!(out.len(), 4, "flush summarises open windows");
}

#[test]
fn token_bucket_rate_and_burst() {
    let t0 = Instant::now();
    let mut b = TokenBucket::new(10.0, 5, t0);
    let taken = (0..20).filter(|_| b.try_take(t0)).count();
    assert_eq!(taken, 5, "the burst");
    assert!(!b.try_take(t0 + Duration::from_millis(50)));
    assert!(b.try_take(t0 + Duration::from_millis(100)), "10/s: one token per 100 ms");
    assert!(!b.try_take(t0 + Duration::from_millis(150)));
    let later = t0 + Duration::from_secs(60);
    assert_eq!((0..20).filter(|_| b.try_take(later)).count(), 5, "never more than the burst saved up");
}

/// The queue behind `Outputs::send`: full, it drops its oldest alert and
/// counts it for the report.
#[test]
fn full_queue_drops_oldest() {
    use std::sync::atomic::Ordering;
    let m = DeliveryMetrics::standalone();
    let lane = crate::output::lane::Lane::new(
        "o".into(),
        Priority::Debug,
        2,
        m.dropped.with_label_values(&["o", "queue_full"]),
    );
    for i in 0..5 {
        lane.push(alert("R", "Error", i, "c", "/e"));
    }
    let kept: Vec<u64> = lane.take(10).iter().map(|a| n(a)).collect();
    assert_eq!(kept, vec![3, 4]);
    assert_eq!(m.dropped.with_label_values(&["o", "queue_full"]).get(), 3);
    assert_eq!(lane.unreported_queue_drops.load(Ordering::Relaxed), 3);
    let policy = crate::output::report::FailingPolicy { after_ms: 60_000, repeat_ms: 600_000 };
    let reports = crate::output::report::take_reports(&[std::sync::Arc::new(lane)], "h", policy);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].rule, crate::output::QUEUE_OVERFLOW_RULE);
    assert_eq!(reports[0].priority, Priority::Critical);
    assert_eq!(reports[0].output_field("sensor.drop.count").unwrap(), 3);
}
