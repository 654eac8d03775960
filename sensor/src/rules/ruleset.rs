//! Loading pipeline (read → collect → expand → compile) and the compiled,
//! event-type-indexed rule set evaluated per event.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::collector::Collector;
use super::compile::{Compiler, Filter};
use super::config::{EngineConfig, RuleMatching};
use super::error::{ItemKind, ItemRef, LoadError, Location, Warning};
use super::eval::{Ctx, FieldSource};
use super::evttype::{EventTypes, TypeSet};
use super::exceptions::apply_exceptions;
use super::items::Priority;
use super::lists::{CompiledList, compile_lists, resolve_list};
use super::macros::{MacroEntry, expand, find_cycle, set_origin};
use super::output::OutputFormat;
use super::parser;
use super::reader::read_documents;
use super::yaml_load::load_documents;

/// Conditions longer than this (before or after list expansion) are rejected.
pub const MAX_CONDITION_LEN: usize = 1 << 20;
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

#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    types: EventTypes,
    /// Rule indices per interned event type, in load order.
    by_type: Vec<Box<[u32]>>,
    /// Rules that can match event types no rule names.
    other_types: Box<[u32]>,
    matching: RuleMatching,
}

impl RuleSet {
    /// Loads rules files from disk (directories: their `*.yaml`/`*.yml`
    /// files in name order). The rule set is `None` if there were errors.
    #[must_use]
    pub fn load_paths<P: AsRef<Path>>(paths: &[P], cfg: &EngineConfig) -> (Option<RuleSet>, LoadReport) {
        let mut texts: Vec<(String, String)> = Vec::new();
        let mut report = LoadReport::default();
        for p in paths {
            for file in expand_path(p.as_ref(), &mut report) {
                let name = file.display().to_string();
                match std::fs::metadata(&file).and_then(|m| {
                    if usize::try_from(m.len()).unwrap_or(usize::MAX) > MAX_FILE_LEN {
                        Err(std::io::Error::other(format!("file larger than {MAX_FILE_LEN} bytes")))
                    } else {
                        std::fs::read_to_string(&file)
                    }
                }) {
                    Ok(t) => texts.push((name, t)),
                    Err(source) => report.errors.push(LoadError::Io { path: name, source }),
                }
            }
        }
        let refs: Vec<RuleText> = texts.iter().map(|(n, c)| RuleText { name: n, content: c }).collect();
        let (set, mut r) = Self::load_texts(&refs, cfg);
        report.errors.append(&mut r.errors);
        r.errors = report.errors;
        let ok = r.errors.is_empty();
        (set.filter(|_| ok), r)
    }

    /// Loads rules from in-memory texts, in order.
    #[must_use]
    pub fn load_texts(files: &[RuleText], cfg: &EngineConfig) -> (Option<RuleSet>, LoadReport) {
        let mut col = Collector::default();
        for f in files {
            let file: Arc<str> = f.name.into();
            if f.content.len() > MAX_FILE_LEN {
                col.errors.push(LoadError::Invalid {
                    loc: Location { file, line: 1, column: 1 },
                    item: ItemRef::file(),
                    message: format!("file larger than {MAX_FILE_LEN} bytes"),
                });
                continue;
            }
            match load_documents(&file, f.content) {
                Ok(docs) => read_documents(&docs, &mut col, cfg),
                Err(e) => col.errors.push(e),
            }
        }
        let mut report = LoadReport {
            errors: std::mem::take(&mut col.errors),
            warnings: std::mem::take(&mut col.warnings),
            ..LoadReport::default()
        };
        if !report.errors.is_empty() {
            return (None, report);
        }
        let set = build(&col, cfg, &mut report);
        report.rules_loaded = set.rules.len();
        if report.errors.is_empty() { (Some(set), report) } else { (None, report) }
    }

    #[must_use]
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Enables or disables a rule by name; false if no such rule.
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> bool {
        let mut found = false;
        for r in self.rules.iter_mut().filter(|r| r.name == name) {
            r.enabled = enabled;
            found = true;
        }
        found
    }

    /// Appends the rules matching `ev` to `out`, in load order; with
    /// `rule_matching: first` at most one.
    pub fn evaluate<'s, E: FieldSource + ?Sized>(&'s self, ev: &E, out: &mut Vec<&'s CompiledRule>) {
        let type_id = self.types.id(ev.evt_type());
        let candidates = match type_id {
            Some(t) => self.by_type.get(usize::from(t)).map_or(&[][..], |v| &v[..]),
            None => &self.other_types[..],
        };
        let ctx = Ctx { src: ev, type_id };
        for &i in candidates {
            let r = &self.rules[i as usize];
            if r.enabled && ctx.eval(&r.filter) {
                out.push(r);
                if self.matching == RuleMatching::First {
                    return;
                }
            }
        }
    }
}

fn expand_path(p: &Path, report: &mut LoadReport) -> Vec<std::path::PathBuf> {
    if !p.is_dir() {
        return vec![p.to_path_buf()];
    }
    match std::fs::read_dir(p) {
        Ok(rd) => {
            let mut v: Vec<_> = rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            v.sort();
            v
        }
        Err(source) => {
            report.errors.push(LoadError::Io { path: p.display().to_string(), source });
            Vec::new()
        }
    }
}

fn resolve_lists(text: &str, lists: &[CompiledList], used: &mut [bool]) -> Result<String, String> {
    let too_long = || format!("condition longer than {MAX_CONDITION_LEN} bytes");
    if text.len() > MAX_CONDITION_LEN {
        return Err(too_long());
    }
    let mut s = text.to_string();
    for (l, u) in lists.iter().zip(used.iter_mut()) {
        s = resolve_list(&s, l, MAX_CONDITION_LEN, u).ok_or_else(too_long)?;
    }
    Ok(s)
}

fn invalid(loc: &Location, kind: ItemKind, name: &str, message: String) -> LoadError {
    LoadError::Invalid { loc: loc.clone(), item: ItemRef::new(kind, name), message }
}

// One linear pipeline mirroring Falco's compiler; splitting it would
// mostly shuffle the shared report around.
#[allow(clippy::too_many_lines)]
fn build(col: &Collector, cfg: &EngineConfig, report: &mut LoadReport) -> RuleSet {
    let (lists, too_large) = compile_lists(&col.lists.items);
    for i in too_large {
        let l = &col.lists.items[i];
        report.errors.push(invalid(
            &l.loc,
            ItemKind::List,
            &l.name,
            format!("list expands to more than {} bytes", super::lists::MAX_LIST_BYTES),
        ));
    }
    let mut list_used = vec![false; lists.len()];

    // Parse every macro once (lists already substituted).
    let mut macros: HashMap<String, MacroEntry> = HashMap::new();
    let mut macro_refs: HashMap<String, Vec<String>> = HashMap::new();
    for m in &col.macros.items {
        let item = ItemRef::new(ItemKind::Macro, &m.name);
        let raw = match resolve_lists(&m.condition.value, &lists, &mut list_used) {
            Err(msg) => {
                report.errors.push(invalid(&m.condition.loc, ItemKind::Macro, &m.name, msg));
                None
            }
            Ok(text) => match parser::parse(&text) {
                Ok(mut e) => {
                    set_origin(&mut e, &m.name);
                    Some(e)
                }
                Err(source) => {
                    report.errors.push(LoadError::Condition {
                        loc: m.condition.loc.clone(),
                        item,
                        source: Box::new(source),
                    });
                    None
                }
            },
        };
        macro_refs.insert(
            m.name.clone(),
            raw.as_ref()
                .map(|e| super::macros::references(e).into_iter().map(str::to_owned).collect())
                .unwrap_or_default(),
        );
        macros.insert(m.name.clone(), MacroEntry { visibility: m.visibility, raw, expanded: None, used: false });
    }
    if let Some(path) = find_cycle(&macros) {
        let first = path.split(" -> ").next().unwrap_or_default().to_string();
        let loc = col.macros.get(&first).map(|m| m.condition.loc.clone()).unwrap_or_default();
        report.errors.push(LoadError::Compile {
            loc,
            item: ItemRef::new(ItemKind::Macro, &first),
            source: Box::new(super::compile::CompileError::MacroCycle { path: path.clone() }),
        });
        for name in path.split(" -> ") {
            if let Some(e) = macros.get_mut(name) {
                e.raw = None;
            }
        }
    }
    let mut order: Vec<(usize, String)> = macros.iter().map(|(k, v)| (v.visibility, k.clone())).collect();
    order.sort();
    for (vis, name) in order {
        let Some(raw) = macros.get(&name).and_then(|e| e.raw.clone()) else { continue };
        match expand(&raw, &mut macros, Some(vis)) {
            Ok(x) => {
                if let Some(e) = macros.get_mut(&name) {
                    e.expanded = Some(x);
                }
            }
            Err(source) => {
                let loc = col.macros.get(&name).map(|m| m.condition.loc.clone()).unwrap_or_default();
                report.errors.push(LoadError::Compile {
                    loc,
                    item: ItemRef::new(ItemKind::Macro, &name),
                    source: Box::new(source),
                });
            }
        }
    }
    for e in macros.values_mut() {
        e.used = false;
    }

    let mut types = EventTypes::default();
    let mut rules = Vec::new();
    for r in &col.rules.items {
        let item = || ItemRef::new(ItemKind::Rule, &r.name);
        let cloc = &r.condition.loc;
        if r.unknown_source {
            let reason = format!("unknown source '{}'", r.source);
            report.warnings.push(Warning {
                loc: r.loc.clone(),
                item: item(),
                message: format!("Rule skipped: {reason}"),
            });
            report.skipped.push(SkippedRule { rule: r.name.clone(), reason, loc: r.loc.clone() });
            continue;
        }
        let text = match apply_exceptions(&r.condition.value, &r.exceptions)
            .and_then(|c| resolve_lists(&c, &lists, &mut list_used))
        {
            Ok(t) => t,
            Err(msg) => {
                report.errors.push(invalid(cloc, ItemKind::Rule, &r.name, msg));
                continue;
            }
        };
        let ast = match parser::parse(&text) {
            Ok(a) => a,
            Err(source) => {
                report.errors.push(LoadError::Condition { loc: cloc.clone(), item: item(), source: Box::new(source) });
                continue;
            }
        };
        let expanded = match expand(&ast, &mut macros, None) {
            Ok(x) => x.expr,
            Err(source) => {
                report.errors.push(LoadError::Compile { loc: cloc.clone(), item: item(), source: Box::new(source) });
                continue;
            }
        };
        let mut compiler = Compiler { types: &mut types, unknown_types: Vec::new() };
        let result = compiler.compile(&expanded);
        for t in std::mem::take(&mut compiler.unknown_types) {
            report.warnings.push(Warning {
                loc: cloc.clone(),
                item: item(),
                message: format!("unknown event type '{t}' in condition"),
            });
        }
        let filter = match result {
            Ok(f) => f,
            Err(source) if r.skip_if_unknown_filter && source.is_unknown_field() => {
                let reason = source.to_string();
                report.warnings.push(Warning {
                    loc: cloc.clone(),
                    item: item(),
                    message: format!("Rule skipped: {reason}"),
                });
                report.skipped.push(SkippedRule { rule: r.name.clone(), reason, loc: r.loc.clone() });
                continue;
            }
            Err(source) => {
                report.errors.push(LoadError::Compile { loc: cloc.clone(), item: item(), source: Box::new(source) });
                continue;
            }
        };
        let output = match OutputFormat::parse(&r.output.value) {
            Ok(o) => o,
            Err(source) => {
                report.errors.push(LoadError::Output {
                    loc: r.output.loc.clone(),
                    item: item(),
                    source: Box::new(source),
                });
                continue;
            }
        };
        let evttypes = filter.evttypes();
        if evttypes.is_complement() && r.warn_evttypes {
            report.warnings.push(Warning {
                loc: cloc.clone(),
                item: item(),
                message: "Rule matches too many evt.type values. This has a significant performance penalty.".into(),
            });
        }
        rules.push(CompiledRule {
            name: r.name.clone(),
            desc: r.desc.clone(),
            priority: r.priority,
            tags: r.tags.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect(),
            source: r.source.clone(),
            enabled: r.enabled,
            filter,
            output,
            evttypes,
            loc: r.loc.clone(),
        });
    }
    warn_unused(col, &lists, &list_used, &macros, &macro_refs, report);

    let n = types.len();
    let mut by_type: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut other = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let idx = u32::try_from(i).unwrap_or(u32::MAX);
        for (t, slot) in by_type.iter_mut().enumerate() {
            if r.evttypes.contains(u16::try_from(t).ok()) {
                slot.push(idx);
            }
        }
        if r.evttypes.contains(None) {
            other.push(idx);
        }
    }
    RuleSet {
        rules,
        types,
        by_type: by_type.into_iter().map(Vec::into_boxed_slice).collect(),
        other_types: other.into(),
        matching: cfg.rule_matching,
    }
}

fn warn_unused(
    col: &Collector,
    lists: &[CompiledList],
    list_used: &[bool],
    macros: &HashMap<String, MacroEntry>,
    refs: &HashMap<String, Vec<String>>,
    report: &mut LoadReport,
) {
    // A macro is used when a rule references it, directly or through macros.
    let mut used: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut stack: Vec<&str> = macros.iter().filter(|(_, e)| e.used).map(|(k, _)| k.as_str()).collect();
    while let Some(m) = stack.pop() {
        if used.insert(m) {
            stack.extend(refs.get(m).into_iter().flatten().map(String::as_str));
        }
    }
    for m in &col.macros.items {
        if !used.contains(m.name.as_str()) {
            report.warnings.push(Warning {
                loc: m.loc.clone(),
                item: ItemRef::new(ItemKind::Macro, &m.name),
                message: "macro not referred to by any rule/macro".into(),
            });
        }
    }
    for (i, l) in lists.iter().enumerate() {
        let referenced_by_list = col.lists.items.iter().any(|o| o.items.contains(&l.name));
        if !list_used[i] && !referenced_by_list {
            let loc = col.lists.get(&l.name).map(|d| d.loc.clone()).unwrap_or_default();
            report.warnings.push(Warning {
                loc,
                item: ItemRef::new(ItemKind::List, &l.name),
                message: "list not referred to by any rule/macro/list".into(),
            });
        }
    }
}
