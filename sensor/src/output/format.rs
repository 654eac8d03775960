//! Request bodies of the network formats, each as its receiver documents
//! it (the tests cite the documentation):
//!
//! - `falco_json`: Falco's alert object, one per POST (falcosidekick `POST /`).
//! - `ndjson`: the same objects, one a line (`application/x-ndjson`).
//! - `splunk_hec`: HTTP Event Collector events, stacked in one body:
//!   `{"time":<epoch s>,"host","source","sourcetype","index","event":{alert}}`.
//! - `elasticsearch_bulk`: `_bulk` pairs of a `create` action whose `_id` is
//!   the alert's UUID (a redelivered alert is a 409 for that item, not a
//!   duplicate document) and the alert with `@timestamp`; newline-terminated.
//! - `loki`: `{"streams":[{"stream":{labels},"values":[["<ns>","<line>"]]}]}`.
//! - `alertmanager`: the v2 API's array of postable alerts.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::alert::DeliveredAlert;
use super::config::{AlertmanagerConfig, ElasticsearchConfig, HttpConfig, HttpFormat, LokiConfig, SplunkConfig};
use crate::rules::time::format_rfc3339;

pub const JSON: &str = "application/json";
pub const NDJSON: &str = "application/x-ndjson";

/// One request: its body and which of the alerts it carries.
#[derive(Debug, Clone)]
pub struct Body {
    pub bytes: Bytes,
    pub content_type: &'static str,
    pub items: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct Encoder {
    format: HttpFormat,
    splunk: SplunkConfig,
    es: ElasticsearchConfig,
    loki: LokiConfig,
    am: AlertmanagerConfig,
}

/// `k8s.ns.name` -> `k8s_ns_name`: Prometheus label names are
/// `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn label_name(field: &str) -> String {
    let mut s: String = field.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) || s.is_empty() {
        s.insert(0, '_');
    }
    s
}

/// Output fields that become Alertmanager labels (they tell apart the
/// workloads an alert is about).
const AM_LABEL_FIELDS: [&str; 5] =
    ["k8s.ns.name", "k8s.pod.name", "container.id", "container.name", "container.image.repository"];

impl Encoder {
    pub fn new(cfg: &HttpConfig) -> Self {
        Self {
            format: cfg.format,
            splunk: cfg.splunk.clone().unwrap_or_default(),
            es: cfg.elasticsearch.clone().unwrap_or_default(),
            loki: cfg.loki.clone().unwrap_or_default(),
            am: cfg.alertmanager.clone().unwrap_or_default(),
        }
    }

    pub fn format(&self) -> HttpFormat {
        self.format
    }

    /// The requests carrying `alerts`.
    pub fn encode(&self, alerts: &[&DeliveredAlert]) -> Vec<Body> {
        if alerts.is_empty() {
            return Vec::new();
        }
        let all = (0..alerts.len()).collect::<Vec<_>>();
        match self.format {
            HttpFormat::FalcoJson => alerts
                .iter()
                .enumerate()
                .map(|(i, a)| Body { bytes: Bytes::from(a.falco_json()), content_type: JSON, items: vec![i] })
                .collect(),
            HttpFormat::Ndjson => {
                let mut s = String::new();
                for a in alerts {
                    s.push_str(&a.falco_json());
                    s.push('\n');
                }
                vec![Body { bytes: Bytes::from(s), content_type: NDJSON, items: all }]
            }
            HttpFormat::SplunkHec => {
                let mut s = String::new();
                for a in alerts {
                    s.push_str(&self.splunk_event(a).to_string());
                    s.push('\n');
                }
                vec![Body { bytes: Bytes::from(s), content_type: JSON, items: all }]
            }
            HttpFormat::ElasticsearchBulk => {
                let mut s = String::new();
                for a in alerts {
                    let action = json!({"create": {"_index": self.es.index, "_id": a.uuid.to_string()}});
                    let mut doc = a.falco_value();
                    if let Value::Object(m) = &mut doc {
                        m.insert("@timestamp".into(), format_rfc3339(a.time_ns).into());
                    }
                    s.push_str(&action.to_string());
                    s.push('\n');
                    s.push_str(&doc.to_string());
                    s.push('\n');
                }
                vec![Body { bytes: Bytes::from(s), content_type: NDJSON, items: all }]
            }
            HttpFormat::Loki => {
                vec![Body { bytes: Bytes::from(self.loki_push(alerts).to_string()), content_type: JSON, items: all }]
            }
            HttpFormat::Alertmanager => {
                let arr: Vec<Value> = alerts.iter().map(|a| self.am_alert(a)).collect();
                vec![Body { bytes: Bytes::from(Value::Array(arr).to_string()), content_type: JSON, items: all }]
            }
        }
    }

    fn splunk_event(&self, a: &DeliveredAlert) -> Value {
        // Seconds with milliseconds, as HEC's `time` takes them.
        // Milliseconds since the epoch fit f64's 52-bit mantissa for
        // another 140,000 years.
        #[allow(clippy::cast_precision_loss)]
        let secs = (a.time_ns / 1_000_000) as f64 / 1000.0;
        let mut m = Map::new();
        m.insert("time".into(), json!(secs));
        m.insert("host".into(), a.hostname().into());
        m.insert("source".into(), self.splunk.source.clone().unwrap_or_else(|| "sensor".into()).into());
        m.insert("sourcetype".into(), self.splunk.sourcetype.clone().unwrap_or_else(|| "falco".into()).into());
        if let Some(i) = &self.splunk.index {
            m.insert("index".into(), i.clone().into());
        }
        m.insert("event".into(), a.falco_value());
        Value::Object(m)
    }

    fn loki_push(&self, alerts: &[&DeliveredAlert]) -> Value {
        let mut streams: BTreeMap<BTreeMap<String, String>, Vec<Value>> = BTreeMap::new();
        for a in alerts {
            let mut labels = self.loki.labels.clone();
            for (k, v) in [
                ("source", a.source().to_owned()),
                ("priority", a.priority.as_str().to_owned()),
                ("rule", a.rule.clone()),
                ("hostname", a.hostname().to_owned()),
            ] {
                if !v.is_empty() {
                    labels.insert(k.to_owned(), v);
                }
            }
            streams.entry(labels).or_default().push(json!([a.time_ns.to_string(), a.falco_json()]));
        }
        let streams: Vec<Value> =
            streams.into_iter().map(|(stream, values)| json!({"stream": stream, "values": values})).collect();
        json!({ "streams": streams })
    }

    fn am_alert(&self, a: &DeliveredAlert) -> Value {
        let mut labels: BTreeMap<String, String> = self.am.labels.clone();
        labels.insert("alertname".into(), a.rule.clone());
        labels.insert("priority".into(), a.priority.as_str().to_owned());
        labels.insert("source".into(), a.source().to_owned());
        if !a.hostname().is_empty() {
            labels.insert("hostname".into(), a.hostname().to_owned());
        }
        for f in AM_LABEL_FIELDS {
            if let Some(v) = a.field_text(f).filter(|v| !v.is_empty()) {
                labels.insert(label_name(f), v);
            }
        }
        let mut annotations = BTreeMap::new();
        annotations.insert("summary", a.rule.clone());
        annotations.insert("description", a.message());
        annotations.insert("output", a.output_line());
        annotations.insert("uuid", a.uuid.to_string());
        if let Some(f) = a.alert.get("output_fields") {
            annotations.insert("output_fields", f.to_string());
        }
        let mut m = Map::new();
        m.insert("labels".into(), json!(labels));
        m.insert("annotations".into(), json!(annotations));
        m.insert("startsAt".into(), format_rfc3339(a.time_ns).into());
        if self.am.expire_after_secs > 0 {
            let end = a.time_ns.saturating_add(self.am.expire_after_secs.saturating_mul(1_000_000_000));
            m.insert("endsAt".into(), format_rfc3339(end).into());
        }
        Value::Object(m)
    }
}

/// The status of each item of an Elasticsearch `_bulk` answer, in order
/// (`None` when the answer is not one).
pub fn bulk_item_statuses(body: &[u8]) -> Option<Vec<u16>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let items = v.get("items")?.as_array()?;
    items
        .iter()
        .map(|it| {
            let action = it.as_object()?.values().next()?;
            u16::try_from(action.get("status")?.as_u64()?).ok()
        })
        .collect()
}
