//! The alert as the outputs carry it: Falco's JSON plus the identity and
//! event time delivery needs (a UUID receivers can deduplicate on, since
//! delivery is at-least-once).

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::rules::time::format_rfc3339;
use crate::rules::{Alert, Priority};

/// Rule name prefix of the alerts the sensor raises about itself.
pub const INTERNAL_RULE_PREFIX: &str = "Sensor internal:";

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("alert JSON is not an object")]
    NotAnObject,
    #[error("alert JSON has no string field '{0}'")]
    MissingField(&'static str),
    #[error("alert JSON has an unknown priority '{0}'")]
    BadPriority(String),
    #[error("spool record: {0}")]
    Record(#[from] serde_json::Error),
    #[error("spool record: bad uuid: {0}")]
    Uuid(#[from] uuid::Error),
}

/// One alert on its way to the outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveredAlert {
    pub uuid: Uuid,
    /// Event time, nanoseconds since the epoch.
    pub time_ns: u64,
    pub priority: Priority,
    pub rule: String,
    /// Falco's alert object (`hostname`, `output`, `priority`, `rule`,
    /// `source`, `tags`, `time`, `output_fields`), without `uuid`.
    pub alert: Map<String, Value>,
}

/// What the spool stores for one alert.
#[derive(serde::Serialize)]
struct RecordOut<'a> {
    uuid: &'a str,
    time_ns: u64,
    alert: &'a Map<String, Value>,
}

#[derive(serde::Deserialize)]
struct RecordIn {
    uuid: String,
    time_ns: u64,
    alert: Map<String, Value>,
}

/// Falco's object with `uuid` added, serialized without copying it.
#[derive(serde::Serialize)]
struct WithUuid<'a> {
    uuid: &'a str,
    #[serde(flatten)]
    alert: &'a Map<String, Value>,
}

impl DeliveredAlert {
    /// Wraps a rule's alert; `time_ns` is its event's time.
    pub fn from_alert(alert: &Alert, time_ns: u64) -> Self {
        let map = match serde_json::to_value(alert) {
            Ok(Value::Object(m)) => m,
            // A struct of strings and maps serializes to an object.
            _ => Map::new(),
        };
        Self { uuid: Uuid::new_v4(), time_ns, priority: alert.priority, rule: alert.rule.clone(), alert: map }
    }

    /// An alert given as Falco JSON (`rule` and `priority` required).
    pub fn from_json(value: Value, time_ns: u64) -> Result<Self, AlertError> {
        let Value::Object(mut alert) = value else { return Err(AlertError::NotAnObject) };
        let uuid = match alert.remove("uuid") {
            Some(Value::String(s)) => Uuid::parse_str(&s)?,
            _ => Uuid::new_v4(),
        };
        let rule = alert.get("rule").and_then(Value::as_str).ok_or(AlertError::MissingField("rule"))?.to_owned();
        let p = alert.get("priority").and_then(Value::as_str).ok_or(AlertError::MissingField("priority"))?;
        let priority = Priority::parse(p).ok_or_else(|| AlertError::BadPriority(p.to_owned()))?;
        Ok(Self { uuid, time_ns, priority, rule, alert })
    }

    /// An alert the sensor raises about itself (source `internal`).
    pub fn internal(
        rule: &str,
        priority: Priority,
        hostname: &str,
        message: &str,
        fields: Map<String, Value>,
        time_ns: u64,
    ) -> Self {
        let mut alert = Map::new();
        alert.insert("hostname".into(), hostname.into());
        alert.insert("output".into(), format!("{}: {priority} {message}", format_rfc3339(time_ns)).into());
        alert.insert("priority".into(), priority.as_str().into());
        alert.insert("rule".into(), rule.into());
        alert.insert("source".into(), "internal".into());
        alert.insert("tags".into(), Value::Array(vec!["sensor".into()]));
        alert.insert("time".into(), format_rfc3339(time_ns).into());
        let mut f = fields;
        f.insert("evt.time".into(), time_ns.into());
        alert.insert("output_fields".into(), Value::Object(f));
        Self { uuid: Uuid::new_v4(), time_ns, priority, rule: rule.to_owned(), alert }
    }

    pub fn is_internal(&self) -> bool {
        self.rule.starts_with(INTERNAL_RULE_PREFIX)
    }

    pub fn hostname(&self) -> &str {
        self.alert.get("hostname").and_then(Value::as_str).unwrap_or_default()
    }

    pub fn source(&self) -> &str {
        self.alert.get("source").and_then(Value::as_str).unwrap_or("syscall")
    }

    /// Falco's text line (`output`), or `time: Priority rule` without one.
    pub fn output_line(&self) -> String {
        match self.alert.get("output").and_then(Value::as_str) {
            Some(s) => s.to_owned(),
            None => format!("{}: {} {}", format_rfc3339(self.time_ns), self.priority, self.rule),
        }
    }

    /// The message without Falco's `time: Priority ` prefix.
    pub fn message(&self) -> String {
        if let Some(m) = self.alert.get("message").and_then(Value::as_str) {
            return m.to_owned();
        }
        let line = self.output_line();
        let marker = format!(": {} ", self.priority);
        match line.find(&marker) {
            Some(i) => line[i + marker.len()..].to_owned(),
            None => line,
        }
    }

    pub fn output_field(&self, name: &str) -> Option<&Value> {
        self.alert.get("output_fields").and_then(|f| f.get(name)).filter(|v| !v.is_null())
    }

    /// An output field as a string (numbers and booleans printed).
    pub fn field_text(&self, name: &str) -> Option<String> {
        match self.output_field(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Array(_) | Value::Object(_) | Value::Null => None,
            v => Some(v.to_string()),
        }
    }

    /// The container the alert is about (`container.id`, 12 chars, or
    /// `host`).
    pub fn container_id(&self) -> Option<String> {
        self.field_text("container.id")
            .or_else(|| self.field_text("container.full_id").map(|f| f.chars().take(12).collect()))
    }

    /// The executable the alert is about.
    pub fn executable(&self) -> Option<String> {
        ["proc.exepath", "proc.exe", "proc.name"].iter().find_map(|f| self.field_text(f))
    }

    /// Falco's JSON object with `uuid`, as one line (falcosidekick reads
    /// `uuid` when it is set).
    pub fn falco_json(&self) -> String {
        let uuid = self.uuid.to_string();
        serde_json::to_string(&WithUuid { uuid: &uuid, alert: &self.alert }).unwrap_or_default()
    }

    /// Falco's JSON object with `uuid`, as a value.
    pub fn falco_value(&self) -> Value {
        let mut m = self.alert.clone();
        m.insert("uuid".into(), self.uuid.to_string().into());
        Value::Object(m)
    }

    /// Serialized for the spool.
    pub(crate) fn encode_record(&self) -> Vec<u8> {
        let uuid = self.uuid.to_string();
        let rec = RecordOut { uuid: &uuid, time_ns: self.time_ns, alert: &self.alert };
        serde_json::to_vec(&rec).unwrap_or_default()
    }

    pub(crate) fn decode_record(bytes: &[u8]) -> Result<Self, AlertError> {
        let rec: RecordIn = serde_json::from_slice(bytes)?;
        let uuid = Uuid::parse_str(&rec.uuid)?;
        let mut a = Self::from_json(Value::Object(rec.alert), rec.time_ns)?;
        a.uuid = uuid;
        Ok(a)
    }
}
