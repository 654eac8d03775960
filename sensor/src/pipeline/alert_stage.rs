//! `sensor run`'s sink: events in, Falco JSON alerts out. A kernel loss
//! becomes an alert too, as Falco's "syscall event drop" does: an analyst
//! must know that the stream had a gap.

use std::io::Write;
use std::time::{Duration, Instant};

use log::warn;

use crate::detect::Detector;
use crate::detect::reload::Reload;
use crate::enrich::container::meta::HoldQueue;
use crate::event::Event;
use crate::kernel::syscall_table::Category;
use crate::metrics::{Metrics, RULE_EVAL_SAMPLE};
use crate::output::OutputsConfig;
use crate::output::stage::AlertStages;
use crate::pipeline::outputs_swap::OutputsControl;
use crate::pipeline::{PipelineError, Sink};
use crate::rules::append_output::AppendOutput;
use crate::rules::time::{format_hms, format_iso8601, format_rfc3339};
use crate::rules::{Alert, AlertOptions, Priority};

pub const LOSS_RULE: &str = "Sensor internal: event loss";
pub const RELOAD_FAILED_RULE: &str = "Sensor internal: rules reload failed";

/// Longest an event waits for its container's metadata. A loaded node's
/// runtime can take a second to answer an inspect; detections delayed by
/// two seconds beat detections without the workload's name.
pub const HOLD_LIMIT: Duration = Duration::from_secs(2);

/// How alerts are written: Falco's `json_output: true` or its text line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlertFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// `HH:MM:SS.nnnnnnnnn: Priority message` per line.
    Text,
}

pub struct AlertSink<W: Write> {
    pub detector: Detector,
    pub out: W,
    pub alerts: u64,
    pub format: AlertFormat,
    /// Alert lines on `out` (stdout); off when the configured outputs
    /// replace it.
    pub write_lines: bool,
    /// Storm control and the configured outputs (webhooks, files...).
    pub stages: Option<AlertStages>,
    /// Events of containers whose metadata is on its way.
    held: HoldQueue<Event>,
    /// Events evaluated, for sampling their evaluation time.
    evaluated: u64,
    /// Reloaded rule sets and settings, swapped in between two events.
    pub reloads: Option<tokio::sync::mpsc::Receiver<Reload<AlertSettings>>>,
    /// Restarts the outputs when a reload changes them (`None`: a reload
    /// keeps them).
    pub outputs_control: Option<OutputsControl>,
    /// `sensor_baseline_*`, updated from the detector's baselines.
    pub baseline_metrics: Option<crate::metrics::baseline::BaselineMetrics>,
    /// The response stage (rules' `actions:`); `None`: detection only.
    pub responder: Option<crate::respond::Responder>,
}

/// What a configuration reload can change after detection: how alerts are
/// shaped and written, and where they go.
pub struct AlertSettings {
    pub format: AlertFormat,
    pub alert: AlertOptions,
    pub append: AppendOutput,
    /// Rules less severe are disabled (applied while loading the rules).
    pub min_priority: Priority,
    /// The configured outputs; `None`: the stdout line only.
    pub outputs: Option<OutputsConfig>,
    /// The outputs replace the stdout line.
    pub replaces_stdout: bool,
    /// `mode` and `response` (the command line's `--enforce` applied).
    pub response: crate::respond::policy::Policy,
}

impl<W: Write> AlertSink<W> {
    pub fn new(detector: Detector, out: W) -> Self {
        Self {
            detector,
            out,
            alerts: 0,
            format: AlertFormat::Json,
            write_lines: true,
            stages: None,
            held: HoldQueue::new(HOLD_LIMIT, 10_000),
            evaluated: 0,
            reloads: None,
            outputs_control: None,
            baseline_metrics: None,
            responder: None,
        }
    }

    /// Detects on one event and writes its alerts.
    fn detect(&mut self, ev: &Event, m: &Metrics) -> Result<(), PipelineError> {
        self.evaluated += 1;
        let timed = self.evaluated.is_multiple_of(RULE_EVAL_SAMPLE).then(Instant::now);
        let mut alerts = self.detector.process(ev);
        if let Some(t) = timed {
            m.rule_eval.observe(t.elapsed().as_secs_f64());
        }
        if let Some(r) = &mut self.responder {
            if r.wants_history() {
                r.record(ev);
            }
            let exec = ev.kind.op() == crate::event::Op::Execve && r.kernel_armed();
            if exec || !alerts.is_empty() {
                let meta =
                    ev.proc.as_deref().and_then(|p| p.container.as_ref()).and_then(|c| self.detector.meta.get(&c.id));
                let pod = meta.and_then(|meta| meta.pod.as_ref().map(|p| (p.namespace.clone(), p.name.clone())));
                let pod_ref = pod.as_ref().map(|(namespace, name)| crate::respond::PodRef { namespace, name });
                if exec {
                    r.observe_exec(ev, pod_ref.map(|p| p.namespace));
                }
                if !alerts.is_empty() || ev.args.get(crate::event::decode::KILL_RULE_ARG).is_some() {
                    let actions =
                        r.respond(ev, pod_ref, meta.map(AsRef::as_ref), &mut alerts, self.detector.alert_options());
                    alerts.extend(actions);
                }
            }
        }
        for a in alerts {
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
            if let Some(f) = &a.output_fields
                && let (Some(ns), Some(pod)) = (
                    f.get("k8s.ns.name").and_then(serde_json::Value::as_str),
                    f.get("k8s.pod.name").and_then(serde_json::Value::as_str),
                )
            {
                m.pod_alerts.inc(ns, pod);
            }
            self.write(&a, ev.ts)?;
        }
        Ok(())
    }

    /// A reload that finished: the new rules from the next event on, or
    /// the failure reported (the running rules stay).
    fn take_reloads(&mut self, m: &Metrics) -> Result<(), PipelineError> {
        while let Some(r) = self.reloads.as_mut().and_then(|rx| rx.try_recv().ok()) {
            match r {
                Reload::Loaded { rules: set, config } => {
                    let n = set.rules().iter().filter(|r| r.enabled).count();
                    self.detector.reconfigure(config.alert, &config.append);
                    if let Some(r) = &mut self.responder {
                        r.set_policy(config.response);
                        r.set_rules(&set);
                    }
                    self.detector.replace_rules(set);
                    self.format = config.format;
                    self.write_lines = !(config.outputs.is_some() && config.replaces_stdout);
                    if let Some(c) = &mut self.outputs_control {
                        c.reconfigure(&mut self.stages, config.outputs);
                    }
                    m.rules_loaded.set(i64::try_from(n).unwrap_or(i64::MAX));
                    m.rule_reloads.inc();
                    log::info!("rules reloaded: {n} enabled");
                }
                Reload::Failed { report } => self.reload_failed(&report, m)?,
            }
        }
        Ok(())
    }

    /// A reload that did not take: counted, and an alert (`report`: the
    /// errors, `file:line` first).
    fn reload_failed(&mut self, report: &str, m: &Metrics) -> Result<(), PipelineError> {
        m.rule_reload_failures.inc();
        let a = reload_failed_alert(report, self.detector.alert_options());
        m.alerts.with_label_values(&[a.rule.as_str(), &a.priority.to_string()]).inc();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.write(&a, now)
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

    fn write(&mut self, a: &Alert, time_ns: u64) -> Result<(), PipelineError> {
        self.alerts += 1;
        match (&mut self.outputs_control, &mut self.stages) {
            (Some(c), _) if c.swapping() => c.hold(a, time_ns),
            (_, Some(st)) => st.alert(a, time_ns),
            _ => {}
        }
        if !self.write_lines {
            return Ok(());
        }
        let line = match self.format {
            AlertFormat::Json => a.to_json(),
            // Text output always has the line (see `OutputConfig`); the
            // fallback only guards hand-built options.
            AlertFormat::Text => a.output.clone().unwrap_or_else(|| format!("{}: {} {}", a.time, a.priority, a.rule)),
        };
        self.out.write_all(line.as_bytes()).map_err(PipelineError::Output)?;
        self.out.write_all(b"\n").map_err(PipelineError::Output)
    }
}

/// Wall clock, ns since the epoch.
fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// The alert for a `sensor_loss` event, shaped by the same options as the
/// rules' alerts.
pub fn loss_alert(ev: &Event, opts: &AlertOptions) -> Alert {
    let reason = ev.args.str("reason").unwrap_or("unknown");
    let count = ev.args.int("count").unwrap_or(0);
    let total = ev.args.int("total").unwrap_or(0);
    let msg = format!("Kernel events lost (reason={reason} count={count} total={total}); detections may have gaps");
    let mut fields = serde_json::Map::new();
    fields.insert("evt.time".into(), ev.ts.into());
    fields.insert("sensor.loss.reason".into(), reason.into());
    fields.insert("sensor.loss.count".into(), count.into());
    fields.insert("sensor.loss.total".into(), total.into());
    let time = if opts.time_format_iso_8601 { format_iso8601(ev.ts) } else { format_hms(ev.ts, &opts.tz) };
    Alert {
        hostname: opts.hostname.clone(),
        output: opts.include_output.then(|| format!("{time}: {} {msg}", Priority::Critical)),
        priority: Priority::Critical,
        rule: LOSS_RULE.to_owned(),
        source: "syscall".to_owned(),
        tags: opts.include_tags.then(|| vec!["sensor".to_owned()]),
        time: format_rfc3339(ev.ts),
        output_fields: opts.include_output_fields.then_some(fields),
        message: opts.include_message.then_some(msg),
    }
}

/// The alert for a rule set or configuration that failed to reload:
/// `report` lists its errors, `file:line:column` first.
pub fn reload_failed_alert(report: &str, opts: &AlertOptions) -> Alert {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let first = report.lines().find(|l| !l.trim().is_empty()).unwrap_or("unknown error").trim();
    let msg = format!("Reloaded rules or configuration failed to load; the running ones stay: {first}");
    let mut fields = serde_json::Map::new();
    fields.insert("evt.time".into(), now.into());
    fields.insert("sensor.reload.errors".into(), report.into());
    let time = if opts.time_format_iso_8601 { format_iso8601(now) } else { format_hms(now, &opts.tz) };
    Alert {
        hostname: opts.hostname.clone(),
        output: opts.include_output.then(|| format!("{time}: {} {msg}", Priority::Error)),
        priority: Priority::Error,
        rule: RELOAD_FAILED_RULE.to_owned(),
        source: "syscall".to_owned(),
        tags: opts.include_tags.then(|| vec!["sensor".to_owned()]),
        time: format_rfc3339(now),
        output_fields: opts.include_output_fields.then_some(fields),
        message: opts.include_message.then_some(msg),
    }
}

impl<W: Write> Sink for AlertSink<W> {
    fn emit(&mut self, ev: &Event, m: &Metrics) -> Result<(), PipelineError> {
        if ev.category == Category::Sensor {
            if let Some(b) = &mut self.detector.baselines
                && let Some(n) = ev.args.int("count")
            {
                b.note_loss(n.unsigned_abs());
            }
            let a = loss_alert(ev, self.detector.alert_options());
            m.alerts.with_label_values(&[a.rule.as_str(), &a.priority.to_string()]).inc();
            return self.write(&a, ev.ts);
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
        self.take_reloads(m)?;
        let done = self.responder.as_mut().map(|r| r.poll(self.detector.alert_options())).unwrap_or_default();
        for a in done {
            m.alerts.with_label_values(&[a.rule.as_str(), &a.priority.to_string()]).inc();
            self.write(&a, now_ns())?;
        }
        if let Some(report) = self.outputs_control.as_mut().and_then(|c| c.poll(&mut self.stages)) {
            if self.stages.is_none() && !self.write_lines {
                // No output runs: stdout keeps the alerts until one does.
                warn!("no alert output runs; alerts go to stdout until a reload starts one");
                self.write_lines = true;
            }
            self.reload_failed(&report, m)?;
        }
        self.release(m)?;
        if let Some(st) = &mut self.stages {
            st.tick();
        }
        if let Some(b) = &mut self.detector.baselines {
            b.tick(now_ns(), false);
            if let Some(bm) = &mut self.baseline_metrics {
                bm.update(&b.stats);
            }
        }
        self.out.flush().map_err(PipelineError::Output).inspect_err(|e| warn!("flushing alerts: {e}"))
    }

    fn finish(&mut self, m: &Metrics) -> Result<(), PipelineError> {
        self.detector.meta.poll();
        for ev in self.held.drain() {
            self.detect(&ev, m)?;
        }
        if let Some(b) = &mut self.detector.baselines {
            b.close(now_ns());
            if let Some(bm) = &mut self.baseline_metrics {
                bm.update(&b.stats);
            }
        }
        self.flush(m)
    }
}
