//! Error and warning types shared by every loading stage.
//!
//! Every diagnostic names the file, the 1-based line and column of the YAML
//! node it is about, and the rule/macro/list it belongs to, because a rules
//! file is edited by people who need to find the offending line quickly.

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use super::parser::ParseError;

/// A position inside a rules file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// Shared so that thousands of nodes of one file do not copy the path.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The kind of top-level item a diagnostic is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Rule,
    Macro,
    List,
    RequiredEngineVersion,
    RequiredPluginVersions,
    /// The file itself, or an item whose kind could not be determined.
    File,
}

impl ItemKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Rule => "rule",
            ItemKind::Macro => "macro",
            ItemKind::List => "list",
            ItemKind::RequiredEngineVersion => "required_engine_version",
            ItemKind::RequiredPluginVersions => "required_plugin_versions",
            ItemKind::File => "file",
        }
    }
}

/// The item (kind + name) a diagnostic belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRef {
    pub kind: ItemKind,
    pub name: String,
}

impl ItemRef {
    pub fn new(kind: ItemKind, name: impl Into<String>) -> Self {
        Self { kind, name: name.into() }
    }

    #[must_use]
    pub fn file() -> Self {
        Self { kind: ItemKind::File, name: String::new() }
    }
}

impl fmt::Display for ItemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.is_empty() {
            f.write_str(self.kind.as_str())
        } else {
            write!(f, "{} '{}'", self.kind.as_str(), self.name)
        }
    }
}

/// Errors produced while loading and compiling rules files.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("{path}: cannot read rules file")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{loc}: invalid YAML: {message}")]
    Yaml { loc: Location, message: String },
    #[error("{loc}: {item}: {message}")]
    Invalid { loc: Location, item: ItemRef, message: String },
    #[error("{loc}: {item}: invalid condition")]
    Condition {
        loc: Location,
        item: ItemRef,
        #[source]
        source: Box<ParseError>,
    },
    #[error("{loc}: {item}: invalid output format")]
    Output {
        loc: Location,
        item: ItemRef,
        #[source]
        source: Box<super::output::FormatError>,
    },
    #[error("{loc}: {item}: {source}")]
    Compile {
        loc: Location,
        item: ItemRef,
        #[source]
        source: Box<super::compile::CompileError>,
    },
}

impl LoadError {
    /// The location, when the error has one (I/O errors only know the path).
    #[must_use]
    pub fn location(&self) -> Option<&Location> {
        match self {
            LoadError::Io { .. } => None,
            LoadError::Yaml { loc, .. }
            | LoadError::Invalid { loc, .. }
            | LoadError::Condition { loc, .. }
            | LoadError::Output { loc, .. }
            | LoadError::Compile { loc, .. } => Some(loc),
        }
    }

    /// The item the error belongs to, when known.
    #[must_use]
    pub fn item(&self) -> Option<&ItemRef> {
        match self {
            LoadError::Io { .. } | LoadError::Yaml { .. } => None,
            LoadError::Invalid { item, .. }
            | LoadError::Condition { item, .. }
            | LoadError::Output { item, .. }
            | LoadError::Compile { item, .. } => Some(item),
        }
    }

    /// The message of this error followed by all its sources, joined by ": ".
    #[must_use]
    pub fn full_message(&self) -> String {
        let mut out = self.to_string();
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(self);
        // Compile errors already render their source inline.
        if matches!(self, LoadError::Compile { .. }) {
            cur = cur.and_then(std::error::Error::source);
        }
        while let Some(e) = cur {
            let s = e.to_string();
            if !out.ends_with(&s) {
                out.push_str(": ");
                out.push_str(&s);
            }
            cur = e.source();
        }
        out
    }
}

/// Falco's warning codes (`falco_load_result.h`), so tools can filter
/// warnings the way they do Falco's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum WarningCode {
    #[serde(rename = "LOAD_UNKNOWN_SOURCE")]
    UnknownSource,
    #[serde(rename = "LOAD_NO_EVTTYPE")]
    NoEvttype,
    #[serde(rename = "LOAD_UNKNOWN_FILTER")]
    UnknownFilter,
    #[serde(rename = "LOAD_UNUSED_MACRO")]
    UnusedMacro,
    #[serde(rename = "LOAD_UNUSED_LIST")]
    UnusedList,
    #[serde(rename = "LOAD_UNKNOWN_ITEM")]
    UnknownItem,
    #[serde(rename = "LOAD_DEPRECATED_ITEM")]
    DeprecatedItem,
    #[serde(rename = "LOAD_APPEND_NO_VALUES")]
    AppendNoValues,
    #[serde(rename = "LOAD_EXCEPTION_NAME_NOT_UNIQUE")]
    ExceptionNameNotUnique,
    #[serde(rename = "LOAD_INVALID_MACRO_NAME")]
    InvalidMacroName,
    #[serde(rename = "LOAD_INVALID_LIST_NAME")]
    InvalidListName,
    #[serde(rename = "LOAD_COMPILE_CONDITION")]
    CompileCondition,
    #[serde(rename = "LOAD_UNKNOWN_KEY")]
    UnknownKey,
}

impl WarningCode {
    /// Falco's name of the code, e.g. `LOAD_UNUSED_MACRO`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::UnknownSource => "LOAD_UNKNOWN_SOURCE",
            WarningCode::NoEvttype => "LOAD_NO_EVTTYPE",
            WarningCode::UnknownFilter => "LOAD_UNKNOWN_FILTER",
            WarningCode::UnusedMacro => "LOAD_UNUSED_MACRO",
            WarningCode::UnusedList => "LOAD_UNUSED_LIST",
            WarningCode::UnknownItem => "LOAD_UNKNOWN_ITEM",
            WarningCode::DeprecatedItem => "LOAD_DEPRECATED_ITEM",
            WarningCode::AppendNoValues => "LOAD_APPEND_NO_VALUES",
            WarningCode::ExceptionNameNotUnique => "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
            WarningCode::InvalidMacroName => "LOAD_INVALID_MACRO_NAME",
            WarningCode::InvalidListName => "LOAD_INVALID_LIST_NAME",
            WarningCode::CompileCondition => "LOAD_COMPILE_CONDITION",
            WarningCode::UnknownKey => "LOAD_UNKNOWN_KEY",
        }
    }
}

/// A non-fatal finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub loc: Location,
    pub item: ItemRef,
    pub code: WarningCode,
    pub message: String,
}

impl Warning {
    pub fn new(loc: &Location, item: ItemRef, code: WarningCode, message: impl Into<String>) -> Self {
        Self { loc: loc.clone(), item, code, message: message.into() }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.loc, self.item, self.message)
    }
}
