//! Every action, done or not, is an alert of its own (Falco JSON, rule
//! `Sensor response: <action>`), carrying the triggering alert's rule,
//! time and id (`response.trigger.*`).

use serde_json::{Map, Value};

use crate::rules::time::{format_hms, format_iso8601, format_rfc3339};
use crate::rules::{Action, Alert, AlertOptions, Priority};

use super::policy::Mode;

/// The rule name of an action's alert.
#[must_use]
pub fn rule_name(action: Action) -> String {
    format!("Sensor response: {action}")
}

/// How an action went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Carried out; `by` says where (`kernel`, `pidfd`).
    Done { by: &'static str },
    /// Tried and failed.
    Failed { by: &'static str, error: String },
    /// Not done: the rate limit was reached.
    RateLimited,
    /// Not done: this sensor cannot do it yet (said in the alert).
    Unsupported,
}

impl Outcome {
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done { by: "kernel" } => "kernel",
            Outcome::Done { .. } => "done",
            Outcome::Failed { .. } => "failed",
            Outcome::RateLimited => "rate_limited",
            Outcome::Unsupported => "unsupported",
        }
    }
}

/// What the triggering alert says about its target and itself.
#[derive(Debug, Clone, Default)]
pub struct Trigger<'a> {
    pub rule: &'a str,
    /// RFC 3339 time of the triggering alert (its event's).
    pub time: &'a str,
    /// The triggering alert's id (`response.alert_id` in its fields).
    pub id: &'a str,
    pub fields: Option<&'a Map<String, Value>>,
}

/// Fields of the triggering alert the action's alert repeats.
const TARGET_FIELDS: &[&str] = &[
    "proc.pid",
    "proc.name",
    "proc.exepath",
    "proc.cmdline",
    "container.id",
    "container.name",
    "k8s.ns.name",
    "k8s.pod.name",
];

/// The alert of one action on `pid` (`name`), at `now_ns`.
#[must_use]
pub fn action_alert(
    action: Action,
    mode: Mode,
    outcome: &Outcome,
    trigger: &Trigger<'_>,
    target: (u32, &str),
    now_ns: u64,
    opts: &AlertOptions,
) -> Alert {
    let (pid, name) = target;
    let (priority, what) = match outcome {
        Outcome::Done { by } => (Priority::Critical, format!("done ({by})")),
        Outcome::Failed { by, error } => (Priority::Error, format!("failed ({by}): {error}")),
        Outcome::RateLimited => (Priority::Warning, "not done: action rate limit reached".to_owned()),
        Outcome::Unsupported => (Priority::Warning, "not done: not supported by this sensor".to_owned()),
    };
    let msg = format!(
        "Response {action} on {name} (pid {pid}) for rule '{}' in {} mode: {what}",
        trigger.rule,
        mode.as_str()
    );
    let mut f = Map::new();
    f.insert("evt.time".into(), now_ns.into());
    f.insert("response.action".into(), action.as_str().into());
    f.insert("response.mode".into(), mode.as_str().into());
    f.insert("response.outcome".into(), outcome.label().into());
    match outcome {
        Outcome::Done { by } => {
            f.insert("response.by".into(), (*by).into());
        }
        Outcome::Failed { by, error } => {
            f.insert("response.by".into(), (*by).into());
            f.insert("response.error".into(), error.clone().into());
        }
        Outcome::RateLimited | Outcome::Unsupported => {}
    }
    f.insert("response.trigger.rule".into(), trigger.rule.into());
    f.insert("response.trigger.time".into(), trigger.time.into());
    f.insert("response.trigger.id".into(), trigger.id.into());
    for k in TARGET_FIELDS {
        if let Some(v) = trigger.fields.and_then(|t| t.get(*k)) {
            f.insert((*k).into(), v.clone());
        }
    }
    f.entry("proc.pid").or_insert_with(|| pid.into());
    f.entry("proc.name").or_insert_with(|| name.into());
    let time = if opts.time_format_iso_8601 { format_iso8601(now_ns) } else { format_hms(now_ns, &opts.tz) };
    Alert {
        hostname: opts.hostname.clone(),
        output: opts.include_output.then(|| format!("{time}: {priority} {msg}")),
        priority,
        rule: rule_name(action),
        source: "syscall".to_owned(),
        tags: opts.include_tags.then(|| vec!["response".to_owned(), "sensor".to_owned()]),
        time: format_rfc3339(now_ns),
        output_fields: opts.include_output_fields.then_some(f),
        message: opts.include_message.then_some(msg),
    }
}
