//! `sensor run`'s sink: events in, Falco JSON alerts out. A kernel loss
//! becomes an alert too, as Falco's "syscall event drop" does: an analyst
//! must know that the stream had a gap.

use std::io::Write;

use log::warn;

use super::Detector;
use crate::event::Event;
use crate::metrics::Metrics;
use crate::pipeline::{PipelineError, Sink};
use crate::rules::time::{format_hms, format_rfc3339};
use crate::rules::{Alert, Priority};
use crate::syscall_table::Category;

pub const LOSS_RULE: &str = "Sensor internal: event loss";

pub struct AlertSink<W: Write> {
    pub detector: Detector,
    pub out: W,
    pub alerts: u64,
}

impl<W: Write> AlertSink<W> {
    pub fn new(detector: Detector, out: W) -> Self {
        Self { detector, out, alerts: 0 }
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
        for a in self.detector.process(ev) {
            m.alerts.with_label_values(&[a.rule.as_str(), &a.priority.to_string()]).inc();
            self.write(&a)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), PipelineError> {
        self.out.flush().map_err(PipelineError::Output).inspect_err(|e| warn!("flushing alerts: {e}"))
    }
}
