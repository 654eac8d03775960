//! `outputs:` of the configuration file: where alerts go, in which format,
//! from which priority on, and how delivery is made reliable.
//!
//! ```yaml
//! outputs:
//!   spool_dir: /var/lib/sensor/spool   # at-least-once spools (memory without it)
//!   targets:
//!     - stdout: { format: text }
//!     - name: siem
//!       min_priority: warning
//!       http:
//!         url: https://siem.example:8088/services/collector/event
//!         format: splunk_hec
//!         auth: { type: splunk, token: { env: HEC_TOKEN } }
//! ```
//!
//! Durations are integers with their unit in the key (`_ms`, `_secs`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use crate::rules::Priority;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("output #{index}: exactly one of `stdout`, `file`, `http` must be set (found {found})")]
    Kind { index: usize, found: usize },
    #[error("output name '{0}' is used twice")]
    DuplicateName(String),
    #[error("output name '{0}': use letters, digits, '_', '-' or '.' (it names the spool file and the metrics label)")]
    BadName(String),
    #[error("output '{output}': invalid URL '{url}': {reason}")]
    Url { output: String, url: String, reason: String },
    #[error("output '{output}': {reason}")]
    Invalid { output: String, reason: String },
}

/// The whole `outputs:` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputsConfig {
    /// Directory of the on-disk spools, one file per network output. Without
    /// it the spool lives in memory and a restart loses what it held.
    #[serde(default)]
    pub spool_dir: Option<PathBuf>,
    /// Bound of each network output's spool.
    #[serde(default)]
    pub spool: SpoolLimits,
    /// Alerts waiting in memory for each output's task; when full the oldest
    /// is dropped (counted and reported).
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// How often dropped alerts are reported as an alert of their own.
    #[serde(default = "default_report_interval_ms")]
    pub overflow_report_interval_ms: u64,
    /// A network output failing this long (every attempt refused, timed
    /// out or answered 5xx/429) is reported as a `Sensor internal: alert
    /// output failing` alert through every output...
    #[serde(default = "default_failing_after_ms")]
    pub failing_alert_after_ms: u64,
    /// ...and again this often while it keeps failing.
    #[serde(default = "default_failing_repeat_ms")]
    pub failing_alert_repeat_ms: u64,
    /// Storm control, a stage before the outputs (see `output::storm`).
    #[serde(default)]
    pub storm: crate::output::storm::StormConfig,
    #[serde(default)]
    pub targets: Vec<OutputConfig>,
}

impl Default for OutputsConfig {
    fn default() -> Self {
        Self {
            spool_dir: None,
            spool: SpoolLimits::default(),
            queue_capacity: default_queue_capacity(),
            overflow_report_interval_ms: default_report_interval_ms(),
            failing_alert_after_ms: default_failing_after_ms(),
            failing_alert_repeat_ms: default_failing_repeat_ms(),
            storm: crate::output::storm::StormConfig::default(),
            targets: Vec::new(),
        }
    }
}

fn default_queue_capacity() -> usize {
    16_384
}
fn default_report_interval_ms() -> u64 {
    10_000
}

fn default_failing_after_ms() -> u64 {
    60_000
}

fn default_failing_repeat_ms() -> u64 {
    600_000
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SpoolLimits {
    #[serde(default = "default_spool_alerts")]
    pub max_alerts: u64,
    #[serde(default = "default_spool_bytes")]
    pub max_bytes: u64,
}

impl Default for SpoolLimits {
    fn default() -> Self {
        Self { max_alerts: default_spool_alerts(), max_bytes: default_spool_bytes() }
    }
}
fn default_spool_alerts() -> u64 {
    100_000
}
fn default_spool_bytes() -> u64 {
    256 << 20
}

/// One output: a kind section (`stdout`, `file` or `http`) and what applies
/// to every kind.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Metrics label and spool file name; defaults to the kind (`http`,
    /// `http-2` for a second one, ...).
    #[serde(default)]
    pub name: Option<String>,
    /// Alerts less severe than this are not sent here (Falco's
    /// `priority`/sidekick's `minimumpriority`).
    #[serde(default = "default_priority", deserialize_with = "de_priority")]
    pub min_priority: Priority,
    /// A token bucket: at most `per_second` alerts on average, `burst` at
    /// once; the rest are suppressed (counted). Internal alerts pass.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub stdout: Option<StdoutConfig>,
    #[serde(default)]
    pub file: Option<FileConfig>,
    #[serde(default)]
    pub http: Option<HttpConfig>,
}

fn default_priority() -> Priority {
    Priority::Debug
}

fn de_priority<'de, D: Deserializer<'de>>(d: D) -> Result<Priority, D::Error> {
    let s = String::deserialize(d)?;
    Priority::parse(&s).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "unknown priority '{s}' (expected emergency, alert, critical, error, warning, notice, informational, debug)"
        ))
    })
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: f64,
    #[serde(default = "default_burst")]
    pub burst: u32,
}
fn default_burst() -> u32 {
    100
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum LineFormat {
    /// Falco's JSON, one alert a line.
    #[default]
    Json,
    /// Falco's text line, `time: Priority output`.
    Text,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {
    #[serde(default)]
    pub format: LineFormat,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub path: PathBuf,
    #[serde(default)]
    pub format: LineFormat,
    /// Rotate when the file would grow past this many bytes.
    #[serde(default = "default_file_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept (`path.1` newest ... `path.N`).
    #[serde(default = "default_keep")]
    pub keep: u32,
}
fn default_file_bytes() -> u64 {
    100 << 20
}
fn default_keep() -> u32 {
    5
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum HttpFormat {
    /// Falco's JSON, one alert per POST (falcosidekick's `POST /`).
    #[default]
    FalcoJson,
    /// Falco's JSON lines, a batch per POST (`application/x-ndjson`).
    Ndjson,
    /// Splunk HTTP Event Collector events (`/services/collector/event`).
    SplunkHec,
    /// Elasticsearch `_bulk` (`create` actions keyed by the alert's UUID).
    ElasticsearchBulk,
    /// Grafana Loki push (`/loki/api/v1/push`).
    Loki,
    /// Prometheus Alertmanager v2 (`/api/v2/alerts`).
    Alertmanager,
}

impl HttpFormat {
    /// The path used when the URL has none.
    pub fn default_path(self) -> &'static str {
        match self {
            HttpFormat::FalcoJson | HttpFormat::Ndjson => "/",
            HttpFormat::SplunkHec => "/services/collector/event",
            HttpFormat::ElasticsearchBulk => "/_bulk",
            HttpFormat::Loki => "/loki/api/v1/push",
            HttpFormat::Alertmanager => "/api/v2/alerts",
        }
    }

    /// The configuration's spelling.
    pub fn name(self) -> &'static str {
        match self {
            HttpFormat::FalcoJson => "falco_json",
            HttpFormat::Ndjson => "ndjson",
            HttpFormat::SplunkHec => "splunk_hec",
            HttpFormat::ElasticsearchBulk => "elasticsearch_bulk",
            HttpFormat::Loki => "loki",
            HttpFormat::Alertmanager => "alertmanager",
        }
    }

    /// One alert per request (the others batch).
    pub fn single(self) -> bool {
        self == HttpFormat::FalcoJson
    }
}

/// A secret's value comes from a file (trailing newline removed) or an
/// environment variable, never from the configuration itself.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    #[serde(default)]
    pub file: Option<PathBuf>,
    #[serde(default)]
    pub env: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// `Authorization: Bearer <token>`
    Bearer,
    /// `Authorization: Splunk <token>` (HEC)
    Splunk,
    /// `<header>: <token>`
    Header,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(rename = "type")]
    pub kind: AuthKind,
    /// The header for `type: header`.
    #[serde(default)]
    pub header: Option<String>,
    pub token: SecretSource,
}

/// An HMAC-SHA256 over the body, hex, in `header` as `<prefix><hex>`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SignatureConfig {
    #[serde(default = "default_sig_header")]
    pub header: String,
    #[serde(default = "default_sig_prefix")]
    pub prefix: String,
    pub key: SecretSource,
}
fn default_sig_header() -> String {
    "X-Sensor-Signature".into()
}
fn default_sig_prefix() -> String {
    "sha256=".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM CA certificates trusted instead of the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain and key (mTLS).
    #[serde(default)]
    pub client_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub client_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff")]
    pub max_backoff_ms: u64,
    /// Longest `Retry-After` honoured (a server asking for more gets this).
    #[serde(default = "default_max_retry_after")]
    pub max_retry_after_secs: u64,
}
impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            initial_backoff_ms: default_initial_backoff(),
            max_backoff_ms: default_max_backoff(),
            max_retry_after_secs: default_max_retry_after(),
        }
    }
}
fn default_initial_backoff() -> u64 {
    200
}
fn default_max_backoff() -> u64 {
    30_000
}
fn default_max_retry_after() -> u64 {
    600
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct SplunkConfig {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub sourcetype: Option<String>,
    #[serde(default)]
    pub index: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ElasticsearchConfig {
    #[serde(default = "default_es_index")]
    pub index: String,
}
impl Default for ElasticsearchConfig {
    fn default() -> Self {
        Self { index: default_es_index() }
    }
}
fn default_es_index() -> String {
    "falco".into()
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct LokiConfig {
    /// Static labels added to every stream (besides `source`, `priority`,
    /// `rule` and `hostname`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerConfig {
    /// `endsAt` is `startsAt` plus this; Alertmanager resolves the alert
    /// then (0: no `endsAt`, Alertmanager's `resolve_timeout` applies).
    #[serde(default = "default_expire")]
    pub expire_after_secs: u64,
    /// Extra static labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}
impl Default for AlertmanagerConfig {
    fn default() -> Self {
        Self { expire_after_secs: default_expire(), labels: BTreeMap::new() }
    }
}
fn default_expire() -> u64 {
    3600
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `${NAME}` is replaced by the environment variable's value (Falco's
    /// rule for configuration strings), so the URL can come from a Secret.
    #[serde(deserialize_with = "crate::config::env::expanded")]
    pub url: String,
    #[serde(default)]
    pub format: HttpFormat,
    /// Static extra headers (not secret: use `auth` for those).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    #[serde(default)]
    pub signature: Option<SignatureConfig>,
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_ms: u64,
    /// Whole request, response included.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
    #[serde(default)]
    pub retry: RetryConfig,
    /// Alerts per request for the batching formats.
    #[serde(default = "default_batch")]
    pub batch_max_alerts: usize,
    /// Requests in flight at once.
    #[serde(default = "default_parallel")]
    pub parallel: usize,
    #[serde(default)]
    pub splunk: Option<SplunkConfig>,
    #[serde(default)]
    pub elasticsearch: Option<ElasticsearchConfig>,
    #[serde(default)]
    pub loki: Option<LokiConfig>,
    #[serde(default)]
    pub alertmanager: Option<AlertmanagerConfig>,
}
fn default_connect_timeout() -> u64 {
    5_000
}
fn default_request_timeout() -> u64 {
    15_000
}
fn default_batch() -> usize {
    500
}
fn default_parallel() -> usize {
    4
}

impl HttpConfig {
    /// Defaults for `url` in `format`.
    pub fn new(url: &str, format: HttpFormat) -> Self {
        Self {
            url: url.to_owned(),
            format,
            headers: BTreeMap::new(),
            auth: None,
            signature: None,
            tls: None,
            connect_timeout_ms: default_connect_timeout(),
            request_timeout_ms: default_request_timeout(),
            retry: RetryConfig::default(),
            batch_max_alerts: default_batch(),
            parallel: default_parallel(),
            splunk: None,
            elasticsearch: None,
            loki: None,
            alertmanager: None,
        }
    }
}

/// The kind of an output, borrowed from its configuration.
#[derive(Debug, Clone, Copy)]
pub enum Kind<'a> {
    Stdout(&'a StdoutConfig),
    File(&'a FileConfig),
    Http(&'a HttpConfig),
}

impl OutputConfig {
    fn with_kind(stdout: Option<StdoutConfig>, file: Option<FileConfig>, http: Option<HttpConfig>) -> Self {
        Self { name: None, min_priority: default_priority(), rate_limit: None, stdout, file, http }
    }

    pub fn stdout(format: LineFormat) -> Self {
        Self::with_kind(Some(StdoutConfig { format }), None, None)
    }

    pub fn file(path: PathBuf, format: LineFormat) -> Self {
        Self::with_kind(
            None,
            Some(FileConfig { path, format, max_bytes: default_file_bytes(), keep: default_keep() }),
            None,
        )
    }

    pub fn http(http: HttpConfig) -> Self {
        Self::with_kind(None, None, Some(http))
    }

    /// `--webhook URL`: Falco JSON, one alert per POST, as falcosidekick
    /// takes it.
    pub fn webhook(url: &str) -> Result<Self, ConfigError> {
        let c = Self::http(HttpConfig::new(url, HttpFormat::FalcoJson));
        c.check(0)?;
        Ok(c)
    }

    pub fn kind(&self) -> Option<Kind<'_>> {
        match (&self.stdout, &self.file, &self.http) {
            (Some(s), None, None) => Some(Kind::Stdout(s)),
            (None, Some(f), None) => Some(Kind::File(f)),
            (None, None, Some(h)) => Some(Kind::Http(h)),
            _ => None,
        }
    }

    fn kind_name(&self) -> &'static str {
        match self.kind() {
            Some(Kind::Stdout(_)) => "stdout",
            Some(Kind::File(_)) => "file",
            Some(Kind::Http(h)) => match h.format {
                HttpFormat::Alertmanager => "alertmanager",
                HttpFormat::SplunkHec => "splunk",
                HttpFormat::ElasticsearchBulk => "elasticsearch",
                HttpFormat::Loki => "loki",
                _ => "http",
            },
            None => "output",
        }
    }

    fn check(&self, index: usize) -> Result<(), ConfigError> {
        let Some(kind) = self.kind() else {
            let found = usize::from(self.stdout.is_some())
                + usize::from(self.file.is_some())
                + usize::from(self.http.is_some());
            return Err(ConfigError::Kind { index, found });
        };
        let name = self.name.clone().unwrap_or_else(|| self.kind_name().to_owned());
        let invalid = |reason: &str| ConfigError::Invalid { output: name.clone(), reason: reason.to_owned() };
        if let Some(r) = self.rate_limit
            && (r.per_second.is_nan() || r.per_second <= 0.0 || r.burst == 0)
        {
            return Err(invalid("rate_limit needs per_second > 0 and burst >= 1"));
        }
        match kind {
            Kind::Stdout(_) => {}
            Kind::File(f) => {
                if f.max_bytes == 0 {
                    return Err(invalid("file.max_bytes must be > 0"));
                }
            }
            Kind::Http(h) => {
                check_url(&name, &h.url)?;
                if h.batch_max_alerts == 0 || h.parallel == 0 {
                    return Err(invalid("batch_max_alerts and parallel must be >= 1"));
                }
                if h.connect_timeout_ms == 0 || h.request_timeout_ms == 0 {
                    return Err(invalid("timeouts must be > 0"));
                }
                let sections = [
                    ("splunk", h.splunk.is_some(), HttpFormat::SplunkHec),
                    ("elasticsearch", h.elasticsearch.is_some(), HttpFormat::ElasticsearchBulk),
                    ("loki", h.loki.is_some(), HttpFormat::Loki),
                    ("alertmanager", h.alertmanager.is_some(), HttpFormat::Alertmanager),
                ];
                for (section, set, format) in sections {
                    if set && h.format != format {
                        return Err(invalid(&format!("`{section}` settings need `format: {}`", format.name())));
                    }
                }
                if let Some(a) = &h.auth {
                    if (a.kind == AuthKind::Header) != a.header.is_some() {
                        return Err(invalid("auth: `header` is required with `type: header` and only there"));
                    }
                    check_secret(&name, "auth.token", &a.token)?;
                }
                if let Some(s) = &h.signature {
                    check_secret(&name, "signature.key", &s.key)?;
                }
                if let Some(t) = &h.tls
                    && t.client_cert_file.is_some() != t.client_key_file.is_some()
                {
                    return Err(invalid("tls: client_cert_file and client_key_file go together"));
                }
            }
        }
        Ok(())
    }
}

fn check_secret(output: &str, what: &str, s: &SecretSource) -> Result<(), ConfigError> {
    if s.file.is_some() == s.env.is_some() {
        return Err(ConfigError::Invalid {
            output: output.to_owned(),
            reason: format!("{what}: exactly one of `file` or `env` must be set"),
        });
    }
    Ok(())
}

fn check_url(output: &str, url: &str) -> Result<(), ConfigError> {
    let err =
        |reason: &str| ConfigError::Url { output: output.to_owned(), url: url.to_owned(), reason: reason.to_owned() };
    let uri: hyper::Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| err(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(err(&format!("scheme '{other}' is not http or https"))),
        None => return Err(err("no scheme (http:// or https://)")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(err("no host"));
    }
    Ok(())
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n != "."
        && n != ".."
        && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl OutputsConfig {
    /// Adds `--webhook URL` (Falco JSON) to the configured outputs.
    pub fn add_webhook(&mut self, url: &str) -> Result<(), ConfigError> {
        self.targets.push(OutputConfig::webhook(url)?);
        self.validate().map(|_| ())
    }

    /// Checks everything [`serde`] cannot and returns each output's name.
    pub fn validate(&self) -> Result<Vec<String>, ConfigError> {
        let mut names: Vec<String> = Vec::with_capacity(self.targets.len());
        for (i, t) in self.targets.iter().enumerate() {
            t.check(i)?;
            let name = if let Some(n) = &t.name {
                if !valid_name(n) {
                    return Err(ConfigError::BadName(n.clone()));
                }
                if names.contains(n) {
                    return Err(ConfigError::DuplicateName(n.clone()));
                }
                n.clone()
            } else {
                let base = t.kind_name();
                let mut n = base.to_owned();
                let mut k = 2;
                while names.contains(&n) || self.targets.iter().any(|o| o.name.as_deref() == Some(&n)) {
                    n = format!("{base}-{k}");
                    k += 1;
                }
                n
            };
            names.push(name);
        }
        if self.queue_capacity == 0 {
            return Err(ConfigError::Invalid { output: "*".into(), reason: "queue_capacity must be >= 1".into() });
        }
        if self.spool.max_alerts == 0 || self.spool.max_bytes == 0 {
            return Err(ConfigError::Invalid { output: "*".into(), reason: "spool limits must be > 0".into() });
        }
        Ok(names)
    }
}
