//! Falco's JSON alert (`json_output: true`), as accepted by falcosidekick
//! (`POST /`) and the event-generator's HTTP retriever.

use serde::Serialize;

use super::eval::FieldSource;
use super::items::Priority;
use super::ruleset::CompiledRule;
use super::time::{TimeZone, format_hms, format_iso8601, format_rfc3339};

/// falco.yaml switches that shape the alert.
// Mirrors falco.yaml's independent json_include_* switches.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone)]
pub struct AlertOptions {
    pub hostname: String,
    /// `time_format_iso_8601`: the line's time as `evt.time.iso8601` (UTC)
    /// instead of `HH:MM:SS.ns`.
    pub time_format_iso_8601: bool,
    /// Zone of text times (`evt.time`, the line's prefix): Falco uses local
    /// time ([`super::time::local`]); the default here is UTC, so library
    /// output does not depend on the machine.
    pub tz: TimeZone,
    pub include_output: bool,
    pub include_tags: bool,
    pub include_output_fields: bool,
    pub include_message: bool,
}

impl Default for AlertOptions {
    fn default() -> Self {
        Self {
            hostname: String::new(),
            time_format_iso_8601: false,
            tz: TimeZone::UTC,
            include_output: true,
            include_tags: true,
            include_output_fields: true,
            include_message: false,
        }
    }
}

/// One alert. Field order matches Falco's JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub hostname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    pub priority: Priority,
    pub rule: String,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Event timestamp, RFC 3339 UTC with nanoseconds.
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_fields: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Alert {
    /// Builds the alert for `rule` firing on `ev` at `ts_ns` (event time,
    /// nanoseconds since the epoch).
    pub fn new<E: FieldSource + ?Sized>(rule: &CompiledRule, ev: &E, ts_ns: u64, opts: &AlertOptions) -> Alert {
        let message = rule.output.render_in(ev, &opts.tz);
        let time_text = if opts.time_format_iso_8601 { format_iso8601(ts_ns) } else { format_hms(ts_ns, &opts.tz) };
        let line = format!("{time_text}: {} {message}", rule.priority);
        let fields = opts.include_output_fields.then(|| {
            let mut m = serde_json::Map::new();
            m.insert("evt.time".to_string(), serde_json::Value::from(ts_ns));
            rule.output.fields_json(ev, &mut m);
            m
        });
        Alert {
            hostname: opts.hostname.clone(),
            output: opts.include_output.then_some(line),
            priority: rule.priority,
            rule: rule.name.clone(),
            source: rule.source.clone(),
            tags: opts.include_tags.then(|| rule.tags.clone()),
            time: format_rfc3339(ts_ns),
            output_fields: fields,
            message: opts.include_message.then_some(message),
        }
    }

    /// One-line JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serializing plain strings/maps cannot fail; fall back defensively.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}
