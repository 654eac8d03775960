//! How alerts look: the configuration's output keys and the command line,
//! resolved into what the detector and the sink use.

use log::warn;

use super::{Config, ConfigError};
use crate::detect::SUGGESTED_OUTPUT;
use crate::pipeline::alert_stage::AlertFormat;
use crate::rules::append_output::{AppendOutput, AppendSpec};
use crate::rules::{AlertOptions, Priority, RuleSet, time};

/// Command-line settings that override the file.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputOverrides {
    /// `--output-format`.
    pub format: Option<AlertFormat>,
    /// `--utc`.
    pub utc: bool,
}

/// Everything that shapes alerts.
#[derive(Debug)]
pub struct OutputConfig {
    pub format: AlertFormat,
    pub alert: AlertOptions,
    pub append: AppendOutput,
    /// Rules less severe than this are disabled.
    pub min_priority: Priority,
}

impl OutputConfig {
    /// `file` names the configuration in errors.
    pub fn resolve(cfg: &Config, file: &str, cli: OutputOverrides) -> Result<OutputConfig, ConfigError> {
        let format = cli.format.unwrap_or(match cfg.json_output {
            Some(false) => AlertFormat::Text,
            _ => AlertFormat::Json,
        });
        let utc = cli.utc || cfg.time_format_utc.unwrap_or(false);
        let d = AlertOptions::default();
        let alert = AlertOptions {
            hostname: String::new(),
            time_format_iso_8601: cfg.time_format_iso_8601.unwrap_or(d.time_format_iso_8601),
            tz: if utc { time::TimeZone::UTC } else { time::local() },
            // The text line is the output itself: always there.
            include_output: format == AlertFormat::Text || cfg.json_include_output_property.unwrap_or(d.include_output),
            include_tags: cfg.json_include_tags_property.unwrap_or(d.include_tags),
            include_output_fields: cfg.json_include_output_fields_property.unwrap_or(d.include_output_fields),
            include_message: cfg.json_include_message_property.unwrap_or(d.include_message),
        };
        let specs = match &cfg.append_output {
            None => vec![AppendSpec::suggested()],
            Some(entries) => entries
                .iter()
                .enumerate()
                .map(|(i, e)| e.to_spec(i))
                .collect::<Result<_, _>>()
                .map_err(|message| ConfigError::Invalid { file: file.to_owned(), message })?,
        };
        for (i, s) in specs.iter().enumerate() {
            if let (Some(rule), false) = (&s.matching.rule, s.matching.tags.is_empty()) {
                // Falco's own warning for this combination.
                warn!(
                    "{file}: append_output[{i}] names a rule ({rule}) and tags: it applies to that rule only if it has all of them"
                );
            }
        }
        let append = AppendOutput::compile(&specs, SUGGESTED_OUTPUT)
            .map_err(|e| ConfigError::Invalid { file: file.to_owned(), message: e.to_string() })?;
        Ok(OutputConfig { format, alert, append, min_priority: cfg.priority.unwrap_or(Priority::Debug) })
    }

    /// Disables the rules below the minimum priority (Falco's `priority`);
    /// their names, in load order.
    pub fn apply_min_priority(&self, set: &mut RuleSet) -> Vec<String> {
        disable_below(set, self.min_priority)
    }
}

/// Disables the enabled rules less severe than `min`; their names.
pub fn disable_below(set: &mut RuleSet, min: Priority) -> Vec<String> {
    let below: Vec<String> =
        set.rules().iter().filter(|r| r.enabled && r.priority > min).map(|r| r.name.clone()).collect();
    for n in &below {
        set.set_enabled(n, false);
    }
    below
}
