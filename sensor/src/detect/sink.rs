//! `sensor run`'s sink: events in, Falco JSON alerts out. A kernel loss
//! becomes an alert too, as Falco's "syscall event drop" does: an analyst
//! must know that the stream had a gap.

use std::io::Write;
use std::time::{Duration, Instant};

use log::warn;

use super::Detector;
use crate::container::meta::HoldQueue;
use crate::event::Event;
use crate::metrics::Metrics;
use crate::pipeline::{PipelineError, Sink};
use crate::rules::time::{format_hms, format_rfc3339};
use crate::rules::{Alert, Priority};
use crate::syscall_table::Category;

pub const LOSS_RULE: &str = "Sensor internal: event loss";

/// Longest an event waits for its container's metadata. A loaded node's
/// runtime can take a second to answer an inspect; detections delayed by
/// two seconds beat detections without the workload's name.
pub const HOLD_LIMIT: Duration = Duration::from_secs(2);

pub struct AlertSink<W: Write> {
    pub detector: Detector,
    pub out: W,
    pub alerts: u64,
    /// Events of containers whose metadata is on its way.
    held: HoldQueue<Event>,
}

impl<W: Write> AlertSink<W> {
    pub fn new(detector: Detector, out: W) -> Self {
        Self { detector, out, alerts: 0, held: HoldQueue::new(HOLD_LIMIT, 10_000) }
    }

    /// Detects on one event and writes its alerts.
    fn detect(&mut self, ev: &Event, m: &Metrics) -> Result<(), PipelineError> {
        for a in self.detector.process(ev) {
            m.alerts.with_label_values(&[a.rule.as_str(), &a.priority.to_string()]).inc();
            // A pod's container whose pod metadata never came: the gap
            // analysts complain about in other tools; counted, target 0.
            let in_pod = ev.proc.as_deref().and_then(|p| p.container.as_ref()).is_some_and(|c| c.pod_uid.is_some());
            if in_pod
                && a.output_fields
                    .as_ref()
                    .is_some_and(|f| f.get("k8s.pod.name").is_none_or(serde_json::Value::is_null))
            {
                m.alerts_without_pod.inc();
            }
            self.write(&a)?;
        }
        Ok(())
    }

    /// Processes held events that are ready (or waited long enough).
    fn release(&mut self, m: &Metrics) -> Result<(), PipelineError> {
        self.detector.meta.poll();
        for (ev, resolved) in self.held.release(&self.detector.meta, Instant::now()) {
            if !resolved {
                m.held_unresolved.inc();
            }
            self.detect(&ev, m)?;
        }
        Ok(())
    }

    fn write(&mut self, a: &Alert) -> Result<(), PipelineError> {
        self.alerts += 1;
        self.out.write_all(a.to_json().as_bytes()).map_err(PipelineError::Output)?;
        self.out.write_all(b"\n").map_err(PipelineError::Output)
    }
}

/// The alert for a `sensor_loss` event.
pub fn loss_alert(ev: &Event, hostname: &str) -> Alert {
    let reason = ev.args.str("reason").unwrap_or("unknown");
    let count = ev.args.int("count").unwrap_or(0);
    let total = ev.args.int("total").unwrap_or(0);
    let msg = format!("Kernel events lost (reason={reason} count={count} total={total}); detections may have gaps");
    let mut fields = serde_json::Map::new();
    fields.insert("evt.time".into(), ev.ts.into());
    fields.insert("sensor.loss.reason".into(), reason.into());
    fields.insert("sensor.loss.count".into(), count.into());
    fields.insert("sensor.loss.total".into(), total.into());
    Alert {
        hostname: hostname.to_owned(),
        output: Some(format!("{}: {} {msg}", format_hms(ev.ts), Priority::Critical)),
        priority: Priority::Critical,
        rule: LOSS_RULE.to_owned(),
        source: "syscall".to_owned(),
        tags: Some(vec!["sensor".to_owned()]),
        time: format_rfc3339(ev.ts),
        output_fields: Some(fields),
        message: None,
    }
}

impl<W: Write> Sink for AlertSink<W> {
    fn emit(&mut self, ev: &Event, m: &Metrics) -> Result<(), PipelineError> {
        if ev.category == Category::Sensor {
            let a = loss_alert(ev, self.detector.hostname());
            m.alerts.with_label_values(&[a.rule.as_str(), &a.priority.to_string()]).inc();
            return self.write(&a);
        }
        if let Some(c) = ev.proc.as_deref().and_then(|p| p.container.as_ref())
            && self.detector.meta.wants_wait(c)
        {
            if let Some(old) = self.held.push(c.id.clone(), ev.clone()) {
                m.held_unresolved.inc();
                self.detect(&old, m)?;
            }
            return Ok(());
        }
        self.detect(ev, m)
    }

    fn flush(&mut self, m: &Metrics) -> Result<(), PipelineError> {
        self.release(m)?;
        self.out.flush().map_err(PipelineError::Output).inspect_err(|e| warn!("flushing alerts: {e}"))
    }

    fn finish(&mut self, m: &Metrics) -> Result<(), PipelineError> {
        self.detector.meta.poll();
        for ev in self.held.drain() {
            self.detect(&ev, m)?;
        }
        self.flush(m)
    }
}
