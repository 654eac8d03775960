//! Falco's rule collector (`rule_loader_collector.cpp`): definitions,
//! redefinition in place, `append` and selective `override`.
//!
//! Every define, append and override takes the next id of one load-order
//! counter shared by lists, macros and rules. A redefinition keeps the
//! item's place and first id (`index`) and takes the new id as its
//! `visibility`; appends and overrides only move `visibility`. References
//! are resolved at compile time against those ids (see
//! [`ListDef`](super::items::ListDef)).

use std::collections::HashMap;

use super::action::Action;
use super::error::{ItemKind, ItemRef, LoadError, Location, Warning, WarningCode};
use super::exceptions;
use super::items::{ExceptionDef, ListDef, MacroDef, Priority, RuleDef, Spanned};

/// A vector whose items are also found by name; redefinition keeps the
/// original position (Falco's `indexed_vector`).
#[derive(Debug, Clone)]
pub struct Indexed<T> {
    pub items: Vec<T>,
    by_name: HashMap<String, usize>,
}

impl<T> Default for Indexed<T> {
    fn default() -> Self {
        Self { items: Vec::new(), by_name: HashMap::new() }
    }
}

impl<T> Indexed<T> {
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&T> {
        self.by_name.get(name).map(|&i| &self.items[i])
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.by_name.get(name).map(|&i| &mut self.items[i])
    }

    #[must_use]
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// Inserts or replaces in place.
    pub fn define(&mut self, name: &str, item: T) {
        if let Some(&i) = self.by_name.get(name) {
            self.items[i] = item;
        } else {
            self.by_name.insert(name.to_string(), self.items.len());
            self.items.push(item);
        }
    }
}

/// Decoded changes of an `override:` (one patch for its `append` keys, one
/// for its `replace` keys) or of a legacy `append: true` rule item.
#[derive(Debug, Default)]
pub struct RulePatch {
    pub condition: Option<Spanned>,
    pub output: Option<Spanned>,
    pub desc: Option<String>,
    pub tags: Option<Vec<String>>,
    pub exceptions: Option<Vec<ExceptionDef>>,
    pub priority: Option<Priority>,
    pub enabled: Option<bool>,
    pub capture: Option<bool>,
    pub capture_duration: Option<u64>,
    pub warn_evttypes: Option<bool>,
    pub skip_if_unknown_filter: Option<bool>,
}

impl RulePatch {
    fn has_any_value(&self) -> bool {
        self.condition.is_some()
            || self.output.is_some()
            || self.desc.is_some()
            || self.tags.is_some()
            || self.exceptions.is_some()
            || self.priority.is_some()
            || self.enabled.is_some()
            || self.capture.is_some()
            || self.capture_duration.is_some()
            || self.warn_evttypes.is_some()
            || self.skip_if_unknown_filter.is_some()
    }
}

pub const ERROR_NO_PREVIOUS_MACRO: &str =
    "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists";
pub const ERROR_NO_PREVIOUS_LIST: &str =
    "List uses 'append' or 'override.items: append' but no list by that name already exists";
pub const ERROR_NO_PREVIOUS_RULE_APPEND: &str =
    "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists";
pub const ERROR_NO_PREVIOUS_RULE_REPLACE: &str =
    "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists";

#[derive(Debug, Default)]
pub struct Collector {
    pub lists: Indexed<ListDef>,
    pub macros: Indexed<MacroDef>,
    pub rules: Indexed<RuleDef>,
    /// Falco's `m_cur_index`: the id the next define/append/override takes.
    counter: usize,
    pub errors: Vec<LoadError>,
    pub warnings: Vec<Warning>,
}

fn invalid(loc: &Location, kind: ItemKind, name: &str, message: impl Into<String>) -> LoadError {
    LoadError::Invalid { loc: loc.clone(), item: ItemRef::new(kind, name), message: message.into() }
}

impl Collector {
    fn next_id(&mut self) -> usize {
        let id = self.counter;
        self.counter += 1;
        id
    }

    pub fn warn(&mut self, loc: &Location, item: ItemRef, code: WarningCode, message: impl Into<String>) {
        self.warnings.push(Warning::new(loc, item, code, message));
    }

    pub fn define_list(&mut self, name: &str, items: Vec<String>, loc: &Location) {
        let id = self.next_id();
        let index = self.lists.get(name).map_or(id, |p| p.index);
        self.lists.define(name, ListDef { name: name.to_string(), items, loc: loc.clone(), index, visibility: id });
    }

    pub fn append_list(&mut self, name: &str, items: Vec<String>, loc: &Location) {
        let id = self.next_id();
        let Some(prev) = self.lists.get_mut(name) else {
            self.errors.push(invalid(loc, ItemKind::List, name, ERROR_NO_PREVIOUS_LIST));
            return;
        };
        prev.items.extend(items);
        prev.visibility = id;
    }

    pub fn define_macro(&mut self, name: &str, condition: Spanned, loc: &Location) {
        let id = self.next_id();
        let index = self.macros.get(name).map_or(id, |p| p.index);
        self.macros
            .define(name, MacroDef { name: name.to_string(), condition, loc: loc.clone(), index, visibility: id });
    }

    pub fn append_macro(&mut self, name: &str, condition: &Spanned, loc: &Location) {
        let id = self.next_id();
        let Some(prev) = self.macros.get_mut(name) else {
            self.errors.push(invalid(loc, ItemKind::Macro, name, ERROR_NO_PREVIOUS_MACRO));
            return;
        };
        prev.condition.value.push(' ');
        prev.condition.value.push_str(&condition.value);
        prev.visibility = id;
    }

    /// Falco's `find_prev_rule`: a redefinition must not change the source.
    fn check_source(&mut self, name: &str, source: Option<&str>, loc: &Location) -> bool {
        if let (Some(prev), Some(src)) = (self.rules.get(name), source.filter(|s| !s.is_empty()))
            && !prev.source.is_empty()
            && prev.source != src
        {
            let msg = format!("Rule has been re-defined with a different source ('{src}' vs '{}')", prev.source);
            self.errors.push(invalid(loc, ItemKind::Rule, name, msg));
            return false;
        }
        true
    }

    fn validate_exceptions(&mut self, name: &str, exs: &mut [ExceptionDef], check_fields: bool) -> bool {
        for ex in exs {
            if let Err(msg) = exceptions::validate(ex, check_fields) {
                self.errors.push(invalid(&ex.loc, ItemKind::Rule, name, msg));
                return false;
            }
        }
        true
    }

    pub fn define_rule(&mut self, mut rule: RuleDef) {
        if !self.check_source(&rule.name, Some(&rule.source), &rule.loc) {
            return;
        }
        if rule.unknown_source {
            let msg = format!("Unknown source {}, skipping", rule.source);
            self.warn(&rule.loc, ItemRef::new(ItemKind::Rule, &rule.name), WarningCode::UnknownSource, msg);
        }
        let name = rule.name.clone();
        let known = !rule.unknown_source;
        if !self.validate_exceptions(&name, &mut rule.exceptions, known) {
            return;
        }
        self.next_id();
        self.rules.define(&name, rule);
    }

    /// `- rule: X` + `enabled:` only (deprecated form).
    pub fn enable_rule(&mut self, name: &str, enabled: bool, loc: &Location) {
        match self.rules.get_mut(name) {
            Some(r) => r.enabled = enabled,
            None => self.errors.push(invalid(
                loc,
                ItemKind::Rule,
                name,
                "Rule has 'enabled' key but no rule by that name already exists",
            )),
        }
    }

    /// `actions:` on an item that changes an existing rule (ours).
    pub fn set_actions(&mut self, name: &str, actions: Vec<Action>, loc: &Location) {
        match self.rules.get_mut(name) {
            Some(r) => r.actions = actions,
            None => self.errors.push(invalid(
                loc,
                ItemKind::Rule,
                name,
                "Rule has 'actions' key but no rule by that name already exists",
            )),
        }
    }

    /// `override: {key: append}` or legacy `append: true`.
    pub fn append_rule(&mut self, name: &str, source: Option<&str>, patch: RulePatch, loc: &Location) {
        if !self.check_source(name, source, loc) {
            return;
        }
        let Some(prev) = self.rules.get(name) else {
            self.errors.push(invalid(loc, ItemKind::Rule, name, ERROR_NO_PREVIOUS_RULE_APPEND));
            return;
        };
        if !patch.has_any_value() {
            self.errors.push(invalid(
                loc,
                ItemKind::Rule,
                name,
                "Appended rule must have exceptions or condition property",
            ));
            return;
        }
        let known = !prev.unknown_source;
        let mut new_exceptions = Vec::new();
        for ex in patch.exceptions.into_iter().flatten() {
            let existing = prev.exceptions.iter().any(|e| e.name == ex.name);
            let problem = match (existing, &ex.fields, &ex.comps, &ex.values) {
                (false, None, _, _) => Some("Rule exception must have fields property with a list of fields"),
                (false, _, _, None) => Some("Rule exception must have values property with a list of values"),
                (true, Some(_), _, _) => Some("Can not append exception fields to existing exception, only values"),
                (true, _, Some(_), _) => Some("Can not append exception comps to existing exception, only values"),
                _ => None,
            };
            if let Some(msg) = problem {
                self.errors.push(invalid(&ex.loc, ItemKind::Rule, name, msg));
                return;
            }
            new_exceptions.push((existing, ex));
        }
        for (existing, ex) in &mut new_exceptions {
            if !*existing && let Err(msg) = exceptions::validate(ex, known) {
                self.errors.push(invalid(&ex.loc, ItemKind::Rule, name, msg));
                return;
            }
        }
        self.next_id();
        let Some(prev) = self.rules.get_mut(name) else { return };
        let join = |s: &mut String, add: &str| {
            if !add.is_empty() {
                s.push(' ');
                s.push_str(add);
            }
        };
        if let Some(c) = patch.condition {
            join(&mut prev.condition.value, &c.value);
        }
        if let Some(o) = patch.output {
            join(&mut prev.output.value, &o.value);
        }
        if let Some(d) = patch.desc {
            join(&mut prev.desc, &d);
        }
        if let Some(t) = patch.tags {
            prev.tags.extend(t);
        }
        for (existing, ex) in new_exceptions {
            if existing {
                if let Some(e) = prev.exceptions.iter_mut().find(|e| e.name == ex.name) {
                    e.values.get_or_insert_with(Vec::new).extend(ex.values.unwrap_or_default());
                }
            } else {
                prev.exceptions.push(ex);
            }
        }
    }

    /// `override: {key: replace}`.
    pub fn replace_rule(&mut self, name: &str, source: Option<&str>, patch: RulePatch, loc: &Location) {
        if !self.check_source(name, source, loc) {
            return;
        }
        let Some(prev) = self.rules.get(name) else {
            self.errors.push(invalid(loc, ItemKind::Rule, name, ERROR_NO_PREVIOUS_RULE_REPLACE));
            return;
        };
        if !patch.has_any_value() {
            self.errors.push(invalid(
                loc,
                ItemKind::Rule,
                name,
                "The rule must have at least one field that can be replaced",
            ));
            return;
        }
        let known = !prev.unknown_source;
        let mut patch = patch;
        if let Some(exs) = &mut patch.exceptions
            && !self.validate_exceptions(name, exs, known)
        {
            return;
        }
        self.next_id();
        let Some(prev) = self.rules.get_mut(name) else { return };
        if let Some(c) = patch.condition {
            prev.condition = c;
        }
        if let Some(o) = patch.output {
            prev.output = o;
        }
        if let Some(d) = patch.desc {
            prev.desc = d;
        }
        if let Some(t) = patch.tags {
            prev.tags = t.into_iter().collect();
        }
        if let Some(e) = patch.exceptions {
            prev.exceptions = e;
        }
        if let Some(v) = patch.priority {
            prev.priority = v;
        }
        if let Some(v) = patch.enabled {
            prev.enabled = v;
        }
        if let Some(v) = patch.capture {
            prev.capture = v;
        }
        if let Some(v) = patch.capture_duration {
            prev.capture_duration = v;
        }
        if let Some(v) = patch.warn_evttypes {
            prev.warn_evttypes = v;
        }
        if let Some(v) = patch.skip_if_unknown_filter {
            prev.skip_if_unknown_filter = v;
        }
    }
}
