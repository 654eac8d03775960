//! Falco-compatible rule engine: loads Falco rules files (lists, macros,
//! rules, exceptions, append/override), compiles conditions into typed,
//! event-type-indexed filters, evaluates them against events supplied by
//! the sensor through [`FieldSource`], and formats Falco alerts.
//!
//! Entry points: [`RuleSet::load_paths`] / [`RuleSet::load_texts`],
//! [`RuleSet::evaluate`], [`Alert::new`], [`check::check_paths`].

pub mod action;
pub mod alert;
pub mod append_output;
pub mod ast;
pub mod check;
pub mod collector;
pub mod compile;
pub mod config;
pub mod error;
pub mod eval;
pub mod event_names;
pub mod evttype;
pub mod exceptions;
pub mod field_list;
pub mod fields;
pub mod files;
pub mod glob;
pub mod items;
pub mod lexer;
pub mod lint;
pub mod lists;
pub mod loader;
pub mod macros;
pub mod map_event;
pub mod operand;
pub mod output;
pub mod parser;
pub mod pmatch;
pub mod program;
pub mod re2posix;
pub mod reader;
pub mod rule_list;
pub mod ruleset;
pub mod selection;
pub mod specialize;
pub mod time;
pub mod transform;
pub mod values;
pub mod yaml_decode;
pub mod yaml_load;

#[cfg(test)]
mod tests;

pub use action::Action;
pub use alert::{Alert, AlertOptions};
pub use check::{CheckReport, check_paths, check_texts};
pub use config::{EngineConfig, ProvidedPlugin, RuleMatching};
pub use error::{ItemKind, ItemRef, LoadError, Location, Warning, WarningCode};
pub use eval::{FieldSource, FieldValue};
pub use fields::{FieldArg, FieldId, FieldType};
pub use items::Priority;
pub use map_event::MapEvent;
pub use ruleset::{CompiledRule, LoadReport, RuleSet, RuleText, SkippedRule};
pub use selection::{RuleSelection, Target as SelectionTarget};
