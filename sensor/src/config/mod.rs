//! `sensor run/replay --config FILE`: a YAML file with falco.yaml's keys
//! where they map onto this sensor, read with serde (serde-saphyr). Unknown
//! keys are errors naming their path (`append_output[0].match.tagz`) and
//! line.
//!
//! Falco's output options are top-level keys (`json_output`, ...); whole
//! sections (`append_output`, and the output channels to come such as
//! `http_output`) are their own types in their own files, one field of
//! [`Config`] each.

pub mod append;
pub mod check;
pub mod env;
pub mod output;
pub mod response;

#[cfg(test)]
mod tests;

use std::path::Path;

use serde::{Deserialize, Deserializer};
use thiserror::Error;

use crate::rules::Priority;
use append::AppendOutputEntry;

/// Configuration files larger than this are rejected before parsing.
pub const MAX_CONFIG_FILE: u64 = 16 << 20;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: larger than {MAX_CONFIG_FILE} bytes")]
    TooLarge { path: String },
    /// Not YAML, an unknown key, or a value of the wrong type.
    #[error("{file}:{line}:{column}: {at}: {message}")]
    Parse { file: String, line: u64, column: u64, at: String, message: String },
    /// Parsed, but not usable (a bad output format, a duplicate key...).
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

/// The configuration file. Every key is optional; absent keys keep the
/// sensor's defaults (see each field).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Falco's `priority`: rules less severe than this are not run.
    #[serde(default, deserialize_with = "priority")]
    pub priority: Option<Priority>,
    /// Falco's `json_output`. Default here: true (`--output-format` wins).
    pub json_output: Option<bool>,
    /// Default true.
    pub json_include_output_property: Option<bool>,
    /// Default true.
    pub json_include_tags_property: Option<bool>,
    /// Default false.
    pub json_include_message_property: Option<bool>,
    /// Default true.
    pub json_include_output_fields_property: Option<bool>,
    /// The text time as `evt.time.iso8601` (UTC, with the date). Default false.
    pub time_format_iso_8601: Option<bool>,
    /// Ours: text times in UTC instead of local time (also `--utc`).
    pub time_format_utc: Option<bool>,
    /// Falco's `append_output`; absent means `[{suggested_output: true}]`,
    /// Falco's default. Given, it replaces that default: keep a
    /// `- suggested_output: true` entry to keep the container fields.
    pub append_output: Option<Vec<AppendOutputEntry>>,
    /// Ours: where alerts go (stdout, files, webhooks, Alertmanager), with
    /// spool, queue and storm control (`output::OutputsConfig`). Targets
    /// given here replace the default stdout line; `--webhook` adds to it.
    pub outputs: Option<crate::output::OutputsConfig>,
    /// Ours: `monitor` (default) reports what rules' `actions:` would do;
    /// `enforce` does it (also `sensor run --enforce`).
    pub mode: Option<crate::respond::policy::Mode>,
    /// Ours: per-namespace modes, allow-lists, the action rate limit.
    pub response: Option<response::ResponseConfig>,
}

fn priority<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Priority>, D::Error> {
    let s = env::EnvString::deserialize(d)?;
    Priority::parse(&s.0).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "unknown priority {:?}, expected one of emergency, alert, critical, error, warning, notice, info, debug",
            s.0
        ))
    })
}

/// serde-saphyr ends messages with " at line L, column C"; the location is
/// printed first instead.
fn strip_location(message: &str, line: u64, column: u64) -> String {
    let suffix = format!(" at line {line}, column {column}");
    message.strip_suffix(&suffix).unwrap_or(message).to_owned()
}

impl Config {
    /// Parses configuration text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
        // An empty file (or only comments) is an empty configuration.
        if text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
            return Ok(Config::default());
        }
        let mut at = String::new();
        let mut options = serde_saphyr::Options::default();
        options.with_snippet = false;
        serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                at = e.path().to_string();
                e.into_inner()
            })
        })
        .map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            ConfigError::Parse {
                file: file.to_owned(),
                line,
                column,
                at: if at.is_empty() { ".".to_owned() } else { at },
                message: strip_location(&e.to_string(), line, column),
            }
        })
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let name = path.display().to_string();
        let io = |source| ConfigError::Io { path: name.clone(), source };
        if std::fs::metadata(path).map_err(io)?.len() > MAX_CONFIG_FILE {
            return Err(ConfigError::TooLarge { path: name });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::parse(&name, &text)
    }
}
