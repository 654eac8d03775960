//! Compiles the collected items, as Falco's `rule_loader::compiler` does:
//! lists (one level of list references, by visibility), macros (parsed
//! once with lists substituted, then expanded by visibility), rules
//! (exceptions, output, condition with every macro visible), then the
//! unused-macro and unused-list warnings.

use std::collections::{BTreeSet, HashMap};

use super::collector::Collector;
use super::compile::{CompileError, Compiler, LeafIds};
use super::config::EngineConfig;
use super::error::{ItemKind, ItemRef, LoadError, Location, Warning, WarningCode};
use super::evttype::{EventTypes, TypeSet};
use super::exceptions::apply_exceptions;
use super::items::RuleDef;
use super::lint;
use super::lists::{CompiledList, MAX_LIST_BYTES, compile_lists, resolve_list};
use super::macros::{MacroEntry, expand, resolution_order, set_origin};
use super::output::{FormatError, OutputFormat};
use super::parser;
use super::ruleset::{CompiledRule, LoadReport, SkippedRule};

/// Conditions longer than this (before or after list expansion) are rejected.
pub const MAX_CONDITION_LEN: usize = 1 << 20;

/// Falco warns when a rule can match more than this many event codes.
const MAX_EVTTYPE_CODES: u32 = 100;

/// Falco's placeholder for the old container output, now dropped.
const CONTAINER_INFO: &str = "%container.info";

pub struct Compiled {
    pub rules: Vec<CompiledRule>,
    pub types: EventTypes,
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

/// Whether Falco would warn "matches too many evt.type values": it counts
/// event codes (an enter and an exit code per syscall), so more than 50
/// named types, or a set that is all types but a few.
fn matches_too_many(t: &TypeSet) -> bool {
    if t.is_complement() {
        // Every known type (about 190) but the excluded ones.
        let known = u32::try_from(super::event_names::count()).unwrap_or(u32::MAX);
        return known.saturating_sub(t.count()).saturating_mul(2) > MAX_EVTTYPE_CODES;
    }
    t.count().saturating_mul(2) > MAX_EVTTYPE_CODES
}

struct State<'a> {
    col: &'a Collector,
    report: &'a mut LoadReport,
    lists: Vec<CompiledList>,
    list_used: Vec<bool>,
    macros: HashMap<String, MacroEntry>,
    types: EventTypes,
    leaves: LeafIds,
}

/// Compiles everything collected so far. Errors and warnings go to `report`.
pub fn compile(col: &Collector, _cfg: &EngineConfig, report: &mut LoadReport) -> Compiled {
    let cl = compile_lists(&col.lists.items);
    for &i in &cl.too_large {
        let l = &col.lists.items[i];
        report.errors.push(invalid(
            &l.loc,
            ItemKind::List,
            &l.name,
            format!("list expands to more than {MAX_LIST_BYTES} bytes"),
        ));
    }
    let mut st = State {
        col,
        report,
        list_used: cl.used_by_lists,
        lists: cl.lists,
        macros: HashMap::new(),
        types: EventTypes::default(),
        leaves: LeafIds::default(),
    };
    st.compile_macros();
    let rules: Vec<CompiledRule> = col.rules.items.iter().filter_map(|r| st.compile_rule(r)).collect();
    if st.report.errors.is_empty() {
        st.warn_unused();
    }
    Compiled { rules, types: st.types }
}

impl State<'_> {
    fn compile_macros(&mut self) {
        for m in &self.col.macros.items {
            let raw = match resolve_lists(&m.condition.value, &self.lists, &mut self.list_used) {
                Err(msg) => {
                    self.report.errors.push(invalid(&m.condition.loc, ItemKind::Macro, &m.name, msg));
                    None
                }
                Ok(text) => match parser::parse(&text) {
                    Ok(mut e) => {
                        set_origin(&mut e, &m.name);
                        Some(e)
                    }
                    Err(source) => {
                        self.report.errors.push(LoadError::Condition {
                            loc: m.condition.loc.clone(),
                            item: ItemRef::new(ItemKind::Macro, &m.name),
                            source: Box::new(source),
                        });
                        None
                    }
                },
            };
            let entry = MacroEntry { index: m.index, visibility: m.visibility, raw, expanded: None, used: false };
            self.macros.insert(m.name.clone(), entry);
        }
        // Break every cycle (reported once each), then expand dependencies first.
        let order = loop {
            match resolution_order(&self.macros) {
                Ok(order) => break order,
                Err(path) => {
                    let first = path.split(" -> ").next().unwrap_or_default().to_string();
                    let loc = self.col.macros.get(&first).map(|m| m.condition.loc.clone()).unwrap_or_default();
                    self.report.errors.push(LoadError::Compile {
                        loc,
                        item: ItemRef::new(ItemKind::Macro, &first),
                        source: Box::new(CompileError::MacroCycle { path: path.clone() }),
                    });
                    for name in path.split(" -> ") {
                        if let Some(e) = self.macros.get_mut(name) {
                            e.raw = None;
                        }
                    }
                }
            }
        };
        for name in order {
            let Some((raw, vis)) = self.macros.get(&name).and_then(|e| Some((e.raw.clone()?, e.visibility))) else {
                continue;
            };
            match expand(&raw, &mut self.macros, Some(vis)) {
                Ok(x) => {
                    if let Some(e) = self.macros.get_mut(&name) {
                        e.expanded = Some(x);
                    }
                }
                Err(source) => {
                    let loc = self.col.macros.get(&name).map(|m| m.condition.loc.clone()).unwrap_or_default();
                    self.report.errors.push(LoadError::Compile {
                        loc,
                        item: ItemRef::new(ItemKind::Macro, &name),
                        source: Box::new(source),
                    });
                }
            }
        }
    }

    fn warn(&mut self, loc: &Location, r: &RuleDef, code: WarningCode, message: String) {
        self.report.warnings.push(Warning::new(loc, ItemRef::new(ItemKind::Rule, &r.name), code, message));
    }

    fn skip(&mut self, r: &RuleDef, loc: &Location, reason: String) {
        self.warn(loc, r, WarningCode::UnknownFilter, reason.clone());
        self.report.skipped.push(SkippedRule { rule: r.name.clone(), reason, loc: r.loc.clone() });
    }

    /// The output format, after Falco's `%container.info` removal and
    /// deprecated-field warnings. `None` when the rule is skipped or failed.
    fn compile_output(&mut self, r: &RuleDef) -> Option<OutputFormat> {
        let mut text = r.output.value.clone();
        if text.contains(CONTAINER_INFO) {
            let msg = "%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. The \
                       container plugin will automatically add required fields to the output message.";
            self.warn(&r.loc, r, WarningCode::DeprecatedItem, msg.into());
            text = text.replace(CONTAINER_INFO, "");
        }
        match OutputFormat::parse(&text) {
            Ok(o) => {
                for m in lint::deprecated_in_output(&text) {
                    self.warn(&r.output.loc, r, WarningCode::DeprecatedItem, m);
                }
                Some(o)
            }
            Err(FormatError::Field { source, .. }) if r.skip_if_unknown_filter && source.is_unknown_field() => {
                self.skip(r, &r.output.loc.clone(), format!("invalid output format: {source}"));
                None
            }
            Err(source) => {
                self.report.errors.push(LoadError::Output {
                    loc: r.output.loc.clone(),
                    item: ItemRef::new(ItemKind::Rule, &r.name),
                    source: Box::new(source),
                });
                None
            }
        }
    }

    fn compile_rule(&mut self, r: &RuleDef) -> Option<CompiledRule> {
        let item = || ItemRef::new(ItemKind::Rule, &r.name);
        let cloc = &r.condition.loc;
        if r.unknown_source {
            // The collector already warned (LOAD_UNKNOWN_SOURCE).
            let reason = format!("unknown source '{}'", r.source);
            self.report.skipped.push(SkippedRule { rule: r.name.clone(), reason, loc: r.loc.clone() });
            return None;
        }
        let text = match apply_exceptions(&r.condition.value, &r.exceptions) {
            Ok(t) => t,
            Err(msg) => {
                self.report.errors.push(invalid(cloc, ItemKind::Rule, &r.name, msg));
                return None;
            }
        };
        let output = self.compile_output(r)?;
        let text = match resolve_lists(&text, &self.lists, &mut self.list_used) {
            Ok(t) => t,
            Err(msg) => {
                self.report.errors.push(invalid(cloc, ItemKind::Rule, &r.name, msg));
                return None;
            }
        };
        let ast = match parser::parse(&text) {
            Ok(a) => a,
            Err(source) => {
                self.report.errors.push(LoadError::Condition {
                    loc: cloc.clone(),
                    item: item(),
                    source: Box::new(source),
                });
                return None;
            }
        };
        let expanded = match expand(&ast, &mut self.macros, None) {
            Ok(x) => x.expr,
            Err(source) => {
                self.report.errors.push(LoadError::Compile {
                    loc: cloc.clone(),
                    item: item(),
                    source: Box::new(source),
                });
                return None;
            }
        };
        let (deprecated, compile_warnings) = lint::condition_warnings(&expanded);
        for m in deprecated {
            self.warn(cloc, r, WarningCode::DeprecatedItem, m);
        }
        let mut compiler = Compiler { types: &mut self.types, unknown_types: Vec::new(), leaves: &mut self.leaves };
        let result = compiler.compile(&expanded);
        let unknown_types = std::mem::take(&mut compiler.unknown_types);
        let filter = match result {
            Ok(f) => f,
            Err(source) if r.skip_if_unknown_filter && source.is_unknown_field() => {
                self.skip(r, cloc, source.to_string());
                return None;
            }
            Err(source) => {
                self.report.errors.push(LoadError::Compile {
                    loc: cloc.clone(),
                    item: item(),
                    source: Box::new(source),
                });
                return None;
            }
        };
        for t in unknown_types {
            self.warn(cloc, r, WarningCode::CompileCondition, format!("unknown event type '{t}' in condition"));
        }
        for m in compile_warnings {
            self.warn(cloc, r, WarningCode::CompileCondition, m);
        }
        let evttypes = filter.evttypes();
        if r.warn_evttypes && matches_too_many(&evttypes) {
            let msg = "Rule matches too many evt.type values. This has a significant performance penalty.";
            self.warn(&r.loc, r, WarningCode::NoEvttype, msg.into());
        }
        Some(CompiledRule {
            name: r.name.clone(),
            desc: r.desc.clone(),
            priority: r.priority,
            tags: r.tags.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect(),
            source: r.source.clone(),
            enabled: r.enabled,
            filter,
            output,
            evttypes,
            actions: r.actions.clone(),
            loc: r.loc.clone(),
        })
    }

    /// Falco's `LOAD_UNUSED_MACRO` / `LOAD_UNUSED_LIST`: a macro no rule or
    /// macro references, a list no rule, macro or list references.
    fn warn_unused(&mut self) {
        for m in &self.col.macros.items {
            if !self.macros.get(&m.name).is_some_and(|e| e.used) {
                self.report.warnings.push(Warning::new(
                    &m.loc,
                    ItemRef::new(ItemKind::Macro, &m.name),
                    WarningCode::UnusedMacro,
                    "Macro not referred to by any other rule/macro",
                ));
            }
        }
        for (l, used) in self.col.lists.items.iter().zip(&self.list_used) {
            if !used {
                self.report.warnings.push(Warning::new(
                    &l.loc,
                    ItemRef::new(ItemKind::List, &l.name),
                    WarningCode::UnusedList,
                    "List not referred to by any other rule/macro",
                ));
            }
        }
    }
}
