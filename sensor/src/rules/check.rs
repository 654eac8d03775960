//! `sensor rules check PATH... [--json]`: load rules files and report.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::config::EngineConfig;
use super::error::{LoadError, Warning};
use super::ruleset::{LoadReport, RuleSet, RuleText};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SkippedEntry {
    pub rule: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// `rule`, `macro`, `list`, ... (empty when not about an item).
    pub kind: String,
    pub name: String,
    /// Falco's code for warnings (`LOAD_UNUSED_MACRO`, ...); absent for errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckReport {
    pub rules_loaded: usize,
    /// Loaded rules that are enabled (Falco's default `enabled`, then any
    /// `--enable-rule`/`--disable-rule` selection).
    pub rules_enabled: usize,
    pub rules_skipped: Vec<SkippedEntry>,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

fn diag_from_error(e: &LoadError) -> Diagnostic {
    let (file, line, column) = match (e, e.location()) {
        (_, Some(l)) => (l.file.to_string(), l.line, l.column),
        (LoadError::Io { path, .. }, None) => (path.clone(), 0, 0),
        _ => (String::new(), 0, 0),
    };
    let (kind, name) =
        e.item().map_or((String::new(), String::new()), |i| (i.kind.as_str().to_string(), i.name.clone()));
    Diagnostic { file, line, column, kind, name, code: None, message: e.full_message() }
}

fn diag_from_warning(w: &Warning) -> Diagnostic {
    Diagnostic {
        file: w.loc.file.to_string(),
        line: w.loc.line,
        column: w.loc.column,
        kind: w.item.kind.as_str().to_string(),
        name: w.item.name.clone(),
        code: Some(w.code.as_str()),
        message: w.to_string(),
    }
}

impl From<&LoadReport> for CheckReport {
    fn from(r: &LoadReport) -> Self {
        CheckReport {
            rules_loaded: r.rules_loaded,
            rules_enabled: r.rules_enabled,
            rules_skipped: r
                .skipped
                .iter()
                .map(|s| SkippedEntry { rule: s.rule.clone(), reason: s.reason.clone() })
                .collect(),
            errors: r.errors.iter().map(diag_from_error).collect(),
            warnings: r.warnings.iter().map(diag_from_warning).collect(),
        }
    }
}

impl CheckReport {
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// Human-readable rendering: one `file:line:col: level: message` line each.
    #[must_use]
    pub fn render_human(&self) -> String {
        let mut s = String::new();
        for e in &self.errors {
            let _ = writeln!(s, "error: {}", e.message);
        }
        for w in &self.warnings {
            let _ = writeln!(s, "warning: {}", w.message);
        }
        for k in &self.rules_skipped {
            let _ = writeln!(s, "skipped: rule '{}': {}", k.rule, k.reason);
        }
        let _ = writeln!(
            s,
            "{}: {} rules loaded ({} enabled), {} skipped, {} errors, {} warnings",
            if self.is_ok() { "OK" } else { "FAILED" },
            self.rules_loaded,
            self.rules_enabled,
            self.rules_skipped.len(),
            self.errors.len(),
            self.warnings.len()
        );
        s
    }
}

/// Checks rules files (or directories of them) on disk.
#[must_use]
pub fn check_paths<P: AsRef<Path>>(paths: &[P], cfg: &EngineConfig) -> CheckReport {
    let (_, report) = RuleSet::load_paths(paths, cfg);
    CheckReport::from(&report)
}

/// Checks in-memory rules texts.
#[must_use]
pub fn check_texts(files: &[RuleText], cfg: &EngineConfig) -> CheckReport {
    let (_, report) = RuleSet::load_texts(files, cfg);
    CheckReport::from(&report)
}
