//! Collected (not yet compiled) rule-file items.

use std::collections::BTreeSet;
use std::fmt;

use super::action::Action;
use super::error::Location;

/// Falco priorities, most severe first (the order of `falco_common`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    /// Case-insensitive, accepting `info` for Informational like Falco.
    #[must_use]
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }

    /// The capitalised long form Falco prints.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string value with the position of the YAML node it came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spanned {
    pub value: String,
    pub loc: Location,
}

/// Falco's two load-order ids (`rule_loader_collector.cpp`): `index` is
/// the id of the first definition and never changes (a redefinition keeps
/// its place), `visibility` is the id of the latest definition, append or
/// override. An item sees a list or macro whose `index` is below its own
/// `visibility`.
#[derive(Debug, Clone)]
pub struct ListDef {
    pub name: String,
    pub items: Vec<String>,
    pub loc: Location,
    pub index: usize,
    pub visibility: usize,
}

/// See [`ListDef`] for `index` and `visibility`.
#[derive(Debug, Clone)]
pub struct MacroDef {
    pub name: String,
    pub condition: Spanned,
    pub loc: Location,
    pub index: usize,
    pub visibility: usize,
}

/// One element of an exception value tuple: a scalar or a nested list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExcElem {
    Scalar(String),
    List(Vec<String>),
}

/// One entry of an exception's `values`, as written: a scalar (the form
/// for a single field) or a tuple (one element per field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExcValue {
    Scalar(String),
    Tuple(Vec<ExcElem>),
}

/// `fields` or `comps` of an exception: a scalar or a list, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExcEntry {
    pub is_list: bool,
    pub items: Vec<Spanned>,
}

#[derive(Debug, Clone)]
pub struct ExceptionDef {
    pub name: String,
    /// `None` when the key is absent (allowed when appending values).
    pub fields: Option<ExcEntry>,
    /// `None` = defaulted at definition (`=` per field, or `in` for a
    /// single field).
    pub comps: Option<ExcEntry>,
    /// `None` when the key is absent.
    pub values: Option<Vec<ExcValue>>,
    pub loc: Location,
}

// One flag per Falco rule key; an enum would not make it clearer.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone)]
pub struct RuleDef {
    pub name: String,
    pub desc: String,
    pub condition: Spanned,
    pub output: Spanned,
    pub priority: Priority,
    pub tags: BTreeSet<String>,
    pub enabled: bool,
    pub source: String,
    pub exceptions: Vec<ExceptionDef>,
    pub skip_if_unknown_filter: bool,
    pub warn_evttypes: bool,
    pub capture: bool,
    pub capture_duration: u64,
    /// Ours: `actions:`, what the response stage may do (see [`Action`]).
    pub actions: Vec<Action>,
    pub loc: Location,
    /// Set when the rule's source is not one this engine handles; such
    /// rules are kept so appends still resolve, then skipped at compile.
    pub unknown_source: bool,
}
