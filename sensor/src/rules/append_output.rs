//! Falco's `append_output` (falco.yaml): text appended to rule outputs and
//! extra `output_fields`, for the rules an entry's `match` selects.
//!
//! As in Falco (`rule_loader_compiler.cpp`, `formats.cpp`): an entry
//! applies to a rule when its `source` (if given) is the rule's, every one of
//! its `tags` is among the rule's, and its `rule` (if given) is the rule's
//! name. Matching entries append, in order, ` <extra_output>` (and, with
//! `suggested_output`, the suggested fields) to the message; their
//! `extra_fields` go into `output_fields` only: `{key: format}` as the
//! rendered string, a bare field name as its typed value.

use std::collections::BTreeSet;
use std::sync::Arc;

use thiserror::Error;

use super::alert::Alert;
use super::eval::FieldSource;
use super::output::{FormatError, OutputFormat};
use super::ruleset::{CompiledRule, RuleSet};
use super::time::TimeZone;

/// Which rules an entry applies to (`match:`); empty matches every rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    pub source: Option<String>,
    /// The rule must have all of them.
    pub tags: BTreeSet<String>,
    pub rule: Option<String>,
}

impl Match {
    #[must_use]
    pub fn selects(&self, r: &CompiledRule) -> bool {
        self.source.as_ref().is_none_or(|s| *s == r.source)
            && self.rule.as_ref().is_none_or(|n| *n == r.name)
            && self.tags.iter().all(|t| r.tags.binary_search(t).is_ok())
    }
}

/// One `extra_fields` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtraField {
    /// `- key: "format"`: the rendered text under `key`.
    Formatted { key: String, format: String },
    /// `- field.name`: the field's typed value under its name.
    Raw(String),
}

/// One `append_output` entry, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendSpec {
    pub matching: Match,
    pub extra_output: Option<String>,
    pub suggested_output: bool,
    pub extra_fields: Vec<ExtraField>,
}

impl AppendSpec {
    /// Falco's default (`append_output: [{suggested_output: true}]`).
    #[must_use]
    pub fn suggested() -> Self {
        AppendSpec { suggested_output: true, ..AppendSpec::default() }
    }
}

#[derive(Debug, Error)]
pub enum AppendError {
    #[error("append_output[{index}].{what}: {source}")]
    Format {
        index: usize,
        /// `extra_output`, `extra_fields.KEY`.
        what: String,
        #[source]
        source: Box<FormatError>,
    },
    #[error("append_output[{index}].extra_fields: '{key}' is given twice")]
    DuplicateKey { index: usize, key: String },
}

#[derive(Debug, Clone)]
struct CompiledField {
    key: String,
    format: Arc<OutputFormat>,
    raw: bool,
}

#[derive(Debug, Clone)]
struct CompiledSpec {
    matching: Match,
    /// `extra_output`, then the suggested fields, each appended with a space.
    outputs: Vec<Arc<OutputFormat>>,
    fields: Vec<CompiledField>,
}

/// Every entry, formats parsed once.
#[derive(Debug, Default, Clone)]
pub struct AppendOutput {
    specs: Vec<CompiledSpec>,
}

/// What the entries add to one rule's alerts.
#[derive(Debug, Default)]
pub struct RuleExtras {
    outputs: Vec<Arc<OutputFormat>>,
    fields: Vec<(String, Arc<OutputFormat>, bool)>,
}

fn parse(index: usize, what: impl Fn() -> String, text: &str) -> Result<Arc<OutputFormat>, AppendError> {
    OutputFormat::parse(text).map(Arc::new).map_err(|source| AppendError::Format {
        index,
        what: what(),
        source: Box::new(source),
    })
}

impl AppendOutput {
    /// Compiles `specs`; `suggested` is the format `suggested_output` adds
    /// (the sensor's container and pod fields).
    pub fn compile(specs: &[AppendSpec], suggested: &str) -> Result<Self, AppendError> {
        let mut out = Vec::with_capacity(specs.len());
        for (index, s) in specs.iter().enumerate() {
            let mut outputs = Vec::new();
            if let Some(e) = s.extra_output.as_deref().filter(|e| !e.is_empty()) {
                outputs.push(parse(index, || "extra_output".into(), e)?);
            }
            if s.suggested_output {
                outputs.push(parse(index, || "suggested_output".into(), suggested.trim())?);
            }
            let mut fields: Vec<CompiledField> = Vec::new();
            for f in &s.extra_fields {
                let (key, text, raw) = match f {
                    ExtraField::Formatted { key, format } => (key, format.clone(), false),
                    ExtraField::Raw(name) => (name, format!("%{name}"), true),
                };
                if fields.iter().any(|c| c.key == *key) {
                    return Err(AppendError::DuplicateKey { index, key: key.clone() });
                }
                let format = parse(index, || format!("extra_fields.{key}"), &text)?;
                fields.push(CompiledField { key: key.clone(), format, raw });
            }
            out.push(CompiledSpec { matching: s.matching.clone(), outputs, fields });
        }
        Ok(AppendOutput { specs: out })
    }

    /// What applies to `rule`, in entry order.
    #[must_use]
    pub fn for_rule(&self, rule: &CompiledRule) -> RuleExtras {
        let mut x = RuleExtras::default();
        for s in self.specs.iter().filter(|s| s.matching.selects(rule)) {
            x.outputs.extend(s.outputs.iter().cloned());
            for f in &s.fields {
                // A later entry's key wins, as Falco's map assignment does.
                x.fields.retain(|(k, _, _)| *k != f.key);
                x.fields.push((f.key.clone(), f.format.clone(), f.raw));
            }
        }
        x
    }

    /// Entries whose `match` names a rule no loaded rule has: Falco loads
    /// them silently; the CLI warns.
    #[must_use]
    pub fn unmatched_rules<'s>(&'s self, set: &RuleSet) -> Vec<&'s str> {
        self.specs
            .iter()
            .filter_map(|s| s.matching.rule.as_deref())
            .filter(|n| !set.rules().iter().any(|r| r.name == *n))
            .collect()
    }
}

impl RuleExtras {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty() && self.fields.is_empty()
    }

    /// Adds the extra text to `alert`'s output and message and the extra
    /// fields to its `output_fields` (when it has them).
    pub fn apply<E: FieldSource + ?Sized>(&self, alert: &mut Alert, ev: &E, tz: &TimeZone) {
        for f in &self.outputs {
            let text = f.render_in(ev, tz);
            for s in [alert.output.as_mut(), alert.message.as_mut()].into_iter().flatten() {
                s.push(' ');
                s.push_str(&text);
            }
            if let Some(of) = &mut alert.output_fields {
                let mut more = serde_json::Map::new();
                f.fields_json(ev, &mut more);
                for (k, v) in more {
                    of.entry(k).or_insert(v);
                }
            }
        }
        let Some(of) = &mut alert.output_fields else { return };
        for (key, format, raw) in &self.fields {
            let value = if *raw {
                let mut one = serde_json::Map::new();
                format.fields_json(ev, &mut one);
                one.into_iter().next().map_or(serde_json::Value::Null, |(_, v)| v)
            } else {
                serde_json::Value::String(format.render_in(ev, tz))
            };
            of.insert(key.clone(), value);
        }
    }
}
