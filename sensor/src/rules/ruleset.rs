//! Loading pipeline (read → collect → expand → compile) and the compiled,
//! event-type-indexed rule set evaluated per event.

use std::path::Path;
use std::sync::Arc;

use super::action::Action;
use super::collector::Collector;
use super::compile::{CompileError, Filter};
use super::config::{EngineConfig, RuleMatching};
use super::error::{ItemRef, LoadError, Location, Warning};
use super::eval::{Ctx, FieldSource};
use super::evttype::{EventTypes, TypeSet};
use super::files::rules_files;
use super::items::Priority;
use super::loader::{Compiled, compile};
use super::output::OutputFormat;
use super::program::Program;
use super::reader::read_documents;
use super::selection::RuleSelection;
use super::specialize;
use super::yaml_load::load_documents;

pub use super::loader::MAX_CONDITION_LEN;
/// Rules files larger than this are rejected before parsing.
pub const MAX_FILE_LEN: usize = 64 << 20;

/// A rule ready for evaluation.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    /// Sorted, as Falco's `std::set`.
    pub tags: Vec<String>,
    pub source: String,
    pub enabled: bool,
    pub filter: Filter,
    pub output: OutputFormat,
    pub evttypes: TypeSet,
    /// Ours: `actions:` (response), in the order written.
    pub actions: Vec<Action>,
    pub loc: Location,
}

/// A rule that was not loaded, and why.
#[derive(Debug, Clone)]
pub struct SkippedRule {
    pub rule: String,
    pub reason: String,
    pub loc: Location,
}

/// Everything a load produced besides the rules themselves.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub rules_loaded: usize,
    /// Loaded rules that are enabled (after any selection).
    pub rules_enabled: usize,
    pub skipped: Vec<SkippedRule>,
    pub errors: Vec<LoadError>,
    pub warnings: Vec<Warning>,
}

/// A rules file given by content (for tests, or files read by the caller).
#[derive(Debug, Clone)]
pub struct RuleText<'a> {
    pub name: &'a str,
    pub content: &'a str,
}

/// A rule index and its filter specialized for one event type.
type Candidate = (u32, Filter);

#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    types: EventTypes,
    /// Per interned event type: the rules that can match it, in load
    /// order, each with its filter specialized for that type, as one
    /// program.
    by_type: Vec<Program>,
    /// The same for event types no rule names.
    other_types: Program,
    /// `rules[i].enabled`, packed: evaluation reads it for every candidate.
    enabled: Vec<bool>,
    matching: RuleMatching,
}

impl RuleSet {
    /// Loads rules files from disk, in order; a directory contributes its
    /// `*.yaml`/`*.yml` files in Falco's order (see [`rules_files`]). The
    /// rule set is `None` if there were errors.
    #[must_use]
    pub fn load_paths<P: AsRef<Path>>(paths: &[P], cfg: &EngineConfig) -> (Option<RuleSet>, LoadReport) {
        let mut texts: Vec<(String, String)> = Vec::new();
        let mut io_errors = Vec::new();
        for p in paths {
            match rules_files(p.as_ref()) {
                Ok(files) => {
                    for file in files {
                        match read_rules_file(&file) {
                            Ok(t) => texts.push((file.display().to_string(), t)),
                            Err(e) => io_errors.push(e),
                        }
                    }
                }
                Err(e) => io_errors.push(e),
            }
        }
        let refs: Vec<RuleText> = texts.iter().map(|(n, c)| RuleText { name: n, content: c }).collect();
        let (set, mut r) = Self::load_texts(&refs, cfg);
        if io_errors.is_empty() {
            return (set, r);
        }
        io_errors.append(&mut r.errors);
        r.errors = io_errors;
        (None, r)
    }

    /// Loads rules from in-memory texts, in order, the way Falco loads a
    /// list of rules files: each file is read into the same collector (so
    /// a later definition replaces an earlier one and `append`/`override`
    /// act on what is defined when they are read), and after each file
    /// everything read so far is compiled. A file that uses a macro only
    /// a later file defines therefore fails, as in Falco. Warnings are those
    /// of reading every file and of the last compilation.
    #[must_use]
    pub fn load_texts(files: &[RuleText], cfg: &EngineConfig) -> (Option<RuleSet>, LoadReport) {
        Self::load_texts_selected(files, cfg, &[])
    }

    /// [`RuleSet::load_texts`], then `selection` applied in order (Falco's
    /// `rules:` enable/disable entries of falco.yaml).
    #[must_use]
    pub fn load_texts_selected(
        files: &[RuleText],
        cfg: &EngineConfig,
        selection: &[RuleSelection],
    ) -> (Option<RuleSet>, LoadReport) {
        let mut col = Collector::default();
        let mut report = LoadReport::default();
        let mut last: Option<Compiled> = None;
        let mut compile_failed = false;
        for (i, f) in files.iter().enumerate() {
            let file: Arc<str> = f.name.into();
            let read_ok = if f.content.len() > MAX_FILE_LEN {
                col.errors.push(LoadError::Invalid {
                    loc: Location { file, line: 1, column: 1 },
                    item: ItemRef::file(),
                    message: format!("file larger than {MAX_FILE_LEN} bytes"),
                });
                false
            } else {
                match load_documents(&file, f.content) {
                    Ok(docs) => read_documents(&docs, &mut col, cfg),
                    Err(e) => {
                        col.errors.push(e);
                        false
                    }
                }
            };
            report.errors.append(&mut col.errors);
            report.warnings.append(&mut col.warnings);
            if !read_ok || !report.errors.is_empty() || compile_failed {
                continue;
            }
            // Compile what has been read so far. Only the last compilation's
            // warnings and skipped rules are kept.
            let mut step = LoadReport::default();
            let compiled = compile(&col, cfg, &mut step);
            if !step.errors.is_empty() {
                compile_failed = true;
                report.errors.extend(step.errors);
                report.warnings.extend(step.warnings);
                report.skipped = step.skipped;
                continue;
            }
            if i + 1 == files.len() {
                report.warnings.extend(step.warnings);
                report.skipped = step.skipped;
                last = Some(compiled);
            }
        }
        if !report.errors.is_empty() {
            hint_later_definitions(&col, &mut report);
            return (None, report);
        }
        let Some(compiled) = last else {
            return (
                Some(RuleSet::from_compiled(Compiled { rules: Vec::new(), types: EventTypes::default() }, cfg)),
                report,
            );
        };
        let mut set = RuleSet::from_compiled(compiled, cfg);
        for sel in selection {
            sel.apply(&mut set.rules);
        }
        set.enabled = set.rules.iter().map(|r| r.enabled).collect();
        report.rules_loaded = set.rules.len();
        report.rules_enabled = set.rules.iter().filter(|r| r.enabled).count();
        (Some(set), report)
    }

    #[must_use]
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// The interned id of an event type name, `None` if no rule names it.
    #[must_use]
    pub fn type_id(&self, name: &str) -> Option<u16> {
        self.types.id(name)
    }

    /// The event types the rules name, interned.
    #[must_use]
    pub fn event_types(&self) -> &EventTypes {
        &self.types
    }

    /// Enables or disables a rule by name; false if no such rule.
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> bool {
        let mut found = false;
        for (r, e) in self.rules.iter_mut().zip(self.enabled.iter_mut()).filter(|(r, _)| r.name == name) {
            r.enabled = enabled;
            *e = enabled;
            found = true;
        }
        found
    }

    /// Appends the rules matching `ev` to `out`, in load order; with
    /// `rule_matching: first` at most one.
    pub fn evaluate<'s, E: FieldSource + ?Sized>(&'s self, ev: &E, out: &mut Vec<&'s CompiledRule>) {
        let type_id = self.types.id(ev.evt_type());
        let program = match type_id {
            Some(t) => self.by_type.get(usize::from(t)),
            None => Some(&self.other_types),
        };
        let Some(program) = program else { return };
        let ctx = Ctx { src: ev, type_id };
        let first = self.matching == RuleMatching::First;
        program.run(
            &ctx,
            |i| self.enabled.get(i as usize).copied().unwrap_or(false),
            |i| {
                if let Some(r) = self.rules.get(i as usize) {
                    out.push(r);
                }
                !first
            },
        );
    }
}

fn read_rules_file(file: &Path) -> Result<String, LoadError> {
    let name = file.display().to_string();
    std::fs::metadata(file)
        .and_then(|m| {
            if usize::try_from(m.len()).unwrap_or(usize::MAX) > MAX_FILE_LEN {
                Err(std::io::Error::other(format!("file larger than {MAX_FILE_LEN} bytes")))
            } else {
                std::fs::read_to_string(file)
            }
        })
        .map_err(|source| LoadError::Io { path: name, source })
}

/// Points an "Undefined macro" error at a definition in a later file: Falco
/// compiles each file with only the files before it.
fn hint_later_definitions(col: &Collector, report: &mut LoadReport) {
    for e in &mut report.errors {
        let LoadError::Compile { source, loc, .. } = e else { continue };
        let CompileError::UndefinedMacro { name } = source.as_ref() else { continue };
        if let Some(m) = col.macros.get(name)
            && m.loc.file != loc.file
        {
            let hint = format!(
                "macro '{name}' is defined only later, at {}; each rules file must compile with the files before it",
                m.loc
            );
            let message = format!("{source}: {hint}");
            let loc = loc.clone();
            let item = e.item().cloned().unwrap_or_else(ItemRef::file);
            *e = LoadError::Invalid { loc, item, message };
        }
    }
}

impl RuleSet {
    fn from_compiled(c: Compiled, cfg: &EngineConfig) -> RuleSet {
        let Compiled { rules, types } = c;
        let n = types.len();
        let mut by_type: Vec<Vec<Candidate>> = vec![Vec::new(); n];
        let mut other = Vec::new();
        let add = |slot: &mut Vec<Candidate>, idx: u32, r: &CompiledRule, t: Option<u16>| {
            let f = specialize::for_type(&r.filter, t);
            if !matches!(f, Filter::Const(false)) {
                slot.push((idx, f));
            }
        };
        for (i, r) in rules.iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            for (t, slot) in by_type.iter_mut().enumerate() {
                let t = u16::try_from(t).ok();
                if r.evttypes.contains(t) {
                    add(slot, idx, r, t);
                }
            }
            if r.evttypes.contains(None) {
                add(&mut other, idx, r, None);
            }
        }
        let enabled = rules.iter().map(|r| r.enabled).collect();
        RuleSet {
            rules,
            types,
            by_type: by_type.iter().map(|c| Program::build(c)).collect(),
            other_types: Program::build(&other),
            enabled,
            matching: cfg.rule_matching,
        }
    }
}
