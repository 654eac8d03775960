//! Falco's rule collector: definitions, redefinition in place, `append`
//! and `override` semantics (`rule_loader_collector.cpp`).

use std::collections::HashMap;

use super::error::{ItemKind, ItemRef, LoadError, Location, Warning};
use super::items::{ExceptionDef, ListDef, MacroDef, Priority, RuleDef, Spanned};

/// A vector whose items are also found by name; redefinition keeps the
/// original position.
#[derive(Debug)]
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

/// Append-or-replace choice for one key of an `override` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Append,
    Replace,
}

/// Decoded changes of an `override:` (or legacy `append: true`) rule item.
#[derive(Debug, Default)]
pub struct RulePatch {
    pub condition: Option<(Mode, Spanned)>,
    pub output: Option<(Mode, Spanned)>,
    pub desc: Option<(Mode, String)>,
    pub tags: Option<(Mode, Vec<String>)>,
    pub exceptions: Option<(Mode, Vec<ExceptionDef>)>,
    pub priority: Option<Priority>,
    pub enabled: Option<bool>,
    pub capture: Option<bool>,
    pub capture_duration: Option<u64>,
    pub warn_evttypes: Option<bool>,
    pub skip_if_unknown_filter: Option<bool>,
}

#[derive(Debug, Default)]
pub struct Collector {
    pub lists: Indexed<ListDef>,
    pub macros: Indexed<MacroDef>,
    pub rules: Indexed<RuleDef>,
    /// Load-order counter: items see only lists/macros with lower visibility.
    counter: usize,
    pub errors: Vec<LoadError>,
    pub warnings: Vec<Warning>,
}

fn invalid(loc: &Location, kind: ItemKind, name: &str, message: impl Into<String>) -> LoadError {
    LoadError::Invalid { loc: loc.clone(), item: ItemRef::new(kind, name), message: message.into() }
}

impl Collector {
    fn next_visibility(&mut self) -> usize {
        self.counter += 1;
        self.counter
    }

    pub fn warn(&mut self, loc: &Location, item: ItemRef, message: impl Into<String>) {
        self.warnings.push(Warning { loc: loc.clone(), item, message: message.into() });
    }

    pub fn define_list(&mut self, name: &str, items: Vec<String>, loc: &Location) {
        let visibility = self.next_visibility();
        self.lists.define(name, ListDef { name: name.to_string(), items, loc: loc.clone(), visibility });
    }

    pub fn update_list(&mut self, name: &str, mode: Mode, items: Vec<String>, loc: &Location) {
        let v = self.next_visibility();
        match self.lists.get_mut(name) {
            Some(prev) => {
                match mode {
                    Mode::Append => prev.items.extend(items),
                    Mode::Replace => prev.items = items,
                }
                prev.visibility = v;
            }
            None => self.errors.push(invalid(
                loc,
                ItemKind::List,
                name,
                "List has 'append' or 'override' key but no list by that name already exists",
            )),
        }
    }

    pub fn define_macro(&mut self, name: &str, condition: Spanned, loc: &Location) {
        let visibility = self.next_visibility();
        self.macros.define(name, MacroDef { name: name.to_string(), condition, loc: loc.clone(), visibility });
    }

    pub fn update_macro(&mut self, name: &str, mode: Mode, condition: Spanned, loc: &Location) {
        let v = self.next_visibility();
        match self.macros.get_mut(name) {
            Some(prev) => {
                match mode {
                    Mode::Append => {
                        prev.condition.value.push(' ');
                        prev.condition.value.push_str(&condition.value);
                    }
                    Mode::Replace => prev.condition = condition,
                }
                prev.visibility = v;
            }
            None => self.errors.push(invalid(
                loc,
                ItemKind::Macro,
                name,
                "Macro has 'append' or 'override' key but no macro by that name already exists",
            )),
        }
    }

    pub fn define_rule(&mut self, rule: RuleDef) {
        self.next_visibility();
        if let Some(prev) = self.rules.get(&rule.name)
            && prev.source != rule.source
        {
            self.errors.push(invalid(
                &rule.loc,
                ItemKind::Rule,
                &rule.name,
                format!("Rule has been re-defined with a different source ('{}' vs '{}')", rule.source, prev.source),
            ));
            return;
        }
        let name = rule.name.clone();
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

    pub fn update_rule(&mut self, name: &str, source: Option<&str>, patch: RulePatch, loc: &Location) {
        self.next_visibility();
        let Some(prev) = self.rules.get_mut(name) else {
            self.errors.push(invalid(
                loc,
                ItemKind::Rule,
                name,
                "Rule has 'append' or 'override' key but no rule by that name already exists",
            ));
            return;
        };
        if let Some(src) = source
            && src != prev.source
        {
            let msg = format!("Rule has been re-defined with a different source ('{src}' vs '{}')", prev.source);
            self.errors.push(invalid(loc, ItemKind::Rule, name, msg));
            return;
        }
        let mut errors = Vec::new();
        apply_patch(prev, patch, &mut errors, loc);
        self.errors.extend(errors);
    }
}

fn join_space(prev: &mut String, new: &str) {
    prev.push(' ');
    prev.push_str(new);
}

fn apply_patch(prev: &mut RuleDef, p: RulePatch, errors: &mut Vec<LoadError>, loc: &Location) {
    if let Some((m, c)) = p.condition {
        match m {
            Mode::Append => join_space(&mut prev.condition.value, &c.value),
            Mode::Replace => prev.condition = c,
        }
    }
    if let Some((m, o)) = p.output {
        match m {
            Mode::Append => join_space(&mut prev.output.value, &o.value),
            Mode::Replace => prev.output = o,
        }
    }
    if let Some((m, d)) = p.desc {
        match m {
            Mode::Append => join_space(&mut prev.desc, &d),
            Mode::Replace => prev.desc = d,
        }
    }
    if let Some((m, t)) = p.tags {
        if m == Mode::Replace {
            prev.tags.clear();
        }
        prev.tags.extend(t);
    }
    if let Some((m, exs)) = p.exceptions {
        match m {
            Mode::Replace => prev.exceptions = exs,
            Mode::Append => {
                for ex in exs {
                    append_exception(prev, ex, errors, loc);
                }
            }
        }
    }
    if let Some(v) = p.priority {
        prev.priority = v;
    }
    if let Some(v) = p.enabled {
        prev.enabled = v;
    }
    if let Some(v) = p.capture {
        prev.capture = v;
    }
    if let Some(v) = p.capture_duration {
        prev.capture_duration = v;
    }
    if let Some(v) = p.warn_evttypes {
        prev.warn_evttypes = v;
    }
    if let Some(v) = p.skip_if_unknown_filter {
        prev.skip_if_unknown_filter = v;
    }
}

fn append_exception(prev: &mut RuleDef, ex: ExceptionDef, errors: &mut Vec<LoadError>, loc: &Location) {
    if let Some(existing) = prev.exceptions.iter_mut().find(|e| e.name == ex.name) {
        if !ex.fields.is_empty() || ex.comps.is_some() {
            errors.push(invalid(
                &ex.loc,
                ItemKind::Rule,
                &prev.name,
                format!("Can not append exception fields or comps to existing exception '{}', only values", ex.name),
            ));
            return;
        }
        existing.values.extend(ex.values);
    } else {
        if ex.fields.is_empty() {
            errors.push(invalid(
                loc,
                ItemKind::Rule,
                &prev.name,
                format!("Rule exception new item '{}' must have fields property with a list of fields", ex.name),
            ));
            return;
        }
        prev.exceptions.push(ex);
    }
}
