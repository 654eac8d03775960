//! The `append_output` section: falco.yaml's entries, turned into the rule
//! engine's [`AppendSpec`]s.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::env::EnvString;
use crate::rules::append_output::{AppendSpec, ExtraField, Match};

/// `match:` of an entry; every part optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchEntry {
    pub source: Option<EnvString>,
    /// The rule must carry all of them.
    #[serde(default)]
    pub tags: Vec<EnvString>,
    pub rule: Option<EnvString>,
}

/// An `extra_fields` element: a field name (its typed value), or a single
/// `name: format` pair (the rendered text).
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "a field name, or a single `name: format` mapping")]
pub enum ExtraFieldEntry {
    Raw(EnvString),
    Formatted(BTreeMap<String, EnvString>),
}

/// One entry of `append_output`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendOutputEntry {
    #[serde(rename = "match", default)]
    pub matching: MatchEntry,
    /// Text (with `%fields`) appended to the output of the matching rules.
    pub extra_output: Option<EnvString>,
    /// Fields added to `output_fields` only.
    #[serde(default)]
    pub extra_fields: Vec<ExtraFieldEntry>,
    /// Append the suggested container and pod fields.
    #[serde(default)]
    pub suggested_output: bool,
}

impl AppendOutputEntry {
    /// The engine's form; `index` names the entry in errors.
    pub fn to_spec(&self, index: usize) -> Result<AppendSpec, String> {
        let m = &self.matching;
        let mut extra_fields = Vec::with_capacity(self.extra_fields.len());
        for (j, f) in self.extra_fields.iter().enumerate() {
            extra_fields.push(match f {
                ExtraFieldEntry::Raw(name) => ExtraField::Raw(name.0.clone()),
                ExtraFieldEntry::Formatted(map) => {
                    let mut it = map.iter();
                    match (it.next(), it.next()) {
                        (Some((key, format)), None) => {
                            ExtraField::Formatted { key: key.clone(), format: format.0.clone() }
                        }
                        _ => {
                            return Err(format!(
                                "append_output[{index}].extra_fields[{j}]: a mapping must have exactly one `name: format` pair"
                            ));
                        }
                    }
                }
            });
        }
        Ok(AppendSpec {
            matching: Match {
                source: m.source.as_ref().map(|s| s.0.clone()),
                tags: m.tags.iter().map(|t| t.0.clone()).collect(),
                rule: m.rule.as_ref().map(|r| r.0.clone()),
            },
            extra_output: self.extra_output.as_ref().map(|e| e.0.clone()),
            suggested_output: self.suggested_output,
            extra_fields,
        })
    }
}
