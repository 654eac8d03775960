//! Which rules' actions the kernel can take itself: a `kill_process` rule
//! whose condition, on an exec, is exactly "the new image's name is one of
//! these" (`proc.name = x`, `proc.name in (...)`, with `evt.type` checks
//! for `execve`/`execveat` around it) is pushed to the kernel as names.
//! So is one whose condition on an exec is exactly an executable path
//! (`proc.exepath`), and one that, on `open`/`openat`/`openat2` only, is
//! exactly "the file is one of these absolute paths" (`fd.name`): the
//! kernel kills at the open's entry.
//! Any other condition (another field, an exception, a negation) needs the
//! whole rule engine: user space decides and kills through a pidfd.

use std::collections::BTreeMap;

use crate::rules::ast::Op;
use crate::rules::compile::{Cmp, Filter, Mode as CmpMode, Operand, Rhs};
use crate::rules::fields::FieldId;
use crate::rules::{Action, CompiledRule, RuleSet};

/// Longest name the kernel decides: `task->comm` keeps 15 bytes, and a
/// 15-byte comm may be a longer name cut short (the kernel would kill
/// `abcdefghijklmnopq` for a rule on `abcdefghijklmno`), so 14.
pub const MAX_KERNEL_NAME: usize = sensor_common::COMM_LEN - 2;

/// Where a rule's `kill_process` is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillSite {
    /// In the kernel at exec, for these names.
    Kernel(Vec<String>),
    /// In the kernel at exec, for these executable paths (`proc.exepath`).
    KernelPath(Vec<String>),
    /// In the kernel at the entry of an open of one of these paths.
    KernelOpen(Vec<String>),
    /// In user space, after the rule fired; with why not in the kernel.
    UserSpace(&'static str),
}

/// The kernel's part of a rule set: names → rule id (from 1), and each
/// id's rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelPlan {
    pub names: BTreeMap<String, u32>,
    pub paths: BTreeMap<String, u32>,
    /// Absolute paths whose open is killed.
    pub opens: BTreeMap<String, u32>,
    /// Rule name by id − 1.
    pub rules: Vec<String>,
}

impl KernelPlan {
    /// The rule behind a kernel kill id.
    #[must_use]
    pub fn rule(&self, id: u32) -> Option<&str> {
        let i = usize::try_from(id.checked_sub(1)?).ok()?;
        self.rules.get(i).map(String::as_str)
    }
}

/// The names (false) or paths (true) a filter reduces to on one event
/// type, if it is exactly a name or an exe path test.
fn names_of(f: &Filter) -> Option<(bool, Vec<String>)> {
    let Filter::Cmp(c) = f else { return None };
    let Cmp { lhs: Operand::Field(field), op, rhs, mode: CmpMode::Single, .. } = c.as_ref() else { return None };
    let is_path = match field.id {
        FieldId::ProcName => false,
        FieldId::ProcExepath => true,
        _ => return None,
    };
    if field.arg.is_some() {
        return None;
    }
    let mut names: Vec<String> = match (op, rhs) {
        (Op::Eq, Rhs::Str(s)) => vec![s.to_string()],
        (Op::In | Op::Intersects, Rhs::StrSet(set)) => set.iter().map(ToString::to_string).collect(),
        _ => return None,
    };
    names.sort();
    Some((is_path, names))
}

/// The open system calls the open kill programs hook.
pub const OPEN_TYPES: [&str; 3] = ["open", "openat", "openat2"];

/// The paths a filter reduces to on one open type, if it is exactly an
/// `fd.name` test.
fn open_paths_of(f: &Filter) -> Option<Vec<String>> {
    let Filter::Cmp(c) = f else { return None };
    let Cmp { lhs: Operand::Field(field), op, rhs, mode: CmpMode::Single, .. } = c.as_ref() else { return None };
    if field.id != FieldId::FdName || field.arg.is_some() {
        return None;
    }
    let mut paths: Vec<String> = match (op, rhs) {
        (Op::Eq, Rhs::Str(s)) => vec![s.to_string()],
        (Op::In | Op::Intersects, Rhs::StrSet(set)) => set.iter().map(ToString::to_string).collect(),
        _ => return None,
    };
    paths.sort();
    Some(paths)
}

/// Whether the kernel sees `p` as the caller wrote it when `fd.name` is
/// `p`: absolute, normalized (no `.`, `..`, empty component or trailing
/// slash), and short enough for a key.
fn kernel_open_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() > 1
        && p.len() < sensor_common::KILL_PATH_LEN
        && !p.contains('\0')
        && p[1..].split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// A `kill_process` rule on opens only: its paths, or why user space decides.
fn open_kill_site(set: &RuleSet, rule: &CompiledRule) -> KillSite {
    let types = set.event_types();
    let ids: Vec<u16> =
        OPEN_TYPES.iter().filter_map(|n| types.id(n)).filter(|id| rule.evttypes.contains(Some(*id))).collect();
    let mut found: Option<Vec<String>> = None;
    for id in ids {
        let Some(paths) = open_paths_of(&crate::rules::specialize::for_type(&rule.filter, Some(id))) else {
            return KillSite::UserSpace("the condition tests more than the opened file's path");
        };
        if found.as_ref().is_some_and(|f| *f != paths) {
            return KillSite::UserSpace("the condition differs between open, openat and openat2");
        }
        found = Some(paths);
    }
    let paths = found.unwrap_or_default();
    if paths.is_empty() || !paths.iter().all(|p| kernel_open_path(p)) {
        return KillSite::UserSpace("a path is not absolute and normalized, or longer than 127 bytes");
    }
    KillSite::KernelOpen(paths)
}

/// Where `rule`'s `kill_process` is decided (`None`: it has none).
#[must_use]
pub fn kill_site(set: &RuleSet, rule: &CompiledRule) -> Option<KillSite> {
    if !rule.actions.contains(&Action::KillProcess) {
        return None;
    }
    let types = set.event_types();
    let t = &rule.evttypes;
    let open_ids: Vec<u16> = OPEN_TYPES.iter().filter_map(|n| types.id(n)).collect();
    let on_open = open_ids.iter().filter(|id| t.contains(Some(**id))).count();
    if !t.is_complement() && on_open > 0 && u32::try_from(on_open).ok() == Some(t.count()) {
        return Some(open_kill_site(set, rule));
    }
    let exec_ids: Vec<u16> = ["execve", "execveat"].iter().filter_map(|n| types.id(n)).collect();
    let on_exec = exec_ids.iter().filter(|id| t.contains(Some(**id))).count();
    if t.is_complement() || on_exec == 0 || u32::try_from(on_exec).ok() != Some(t.count()) {
        return Some(KillSite::UserSpace("the rule matches events other than an exec"));
    }
    let mut found: Option<(bool, Vec<String>)> = None;
    for id in exec_ids.iter().filter(|id| t.contains(Some(**id))) {
        let Some(names) = names_of(&crate::rules::specialize::for_type(&rule.filter, Some(*id))) else {
            return Some(KillSite::UserSpace("the condition tests more than the process name or exe path"));
        };
        if found.as_ref().is_some_and(|f| *f != names) {
            return Some(KillSite::UserSpace("the condition differs between execve and execveat"));
        }
        found = Some(names);
    }
    let (is_path, names) = found.unwrap_or_default();
    if is_path {
        if names.iter().any(|n| !n.starts_with('/') || n.len() >= sensor_common::KILL_PATH_LEN || n.contains('\0')) {
            return Some(KillSite::UserSpace("a path is not absolute or longer than 127 bytes"));
        }
        return Some(KillSite::KernelPath(names));
    }
    if names.iter().any(|n| n.is_empty() || n.len() > MAX_KERNEL_NAME || n.contains('\0')) {
        return Some(KillSite::UserSpace("a name is longer than 14 bytes (the kernel's process name keeps 15)"));
    }
    Some(KillSite::Kernel(names))
}

/// The kernel plan of the enabled rules; names on `allow` are left out
/// (the allow-list wins over any rule).
#[must_use]
pub fn kernel_plan(set: &RuleSet, allow: &dyn Fn(&str) -> bool) -> KernelPlan {
    let mut plan = KernelPlan::default();
    for r in set.rules().iter().filter(|r| r.enabled) {
        let (names, is_path) = match kill_site(set, r) {
            Some(KillSite::Kernel(n)) => (n, false),
            Some(KillSite::KernelPath(p)) => (p, true),
            Some(KillSite::KernelOpen(p)) => {
                plan.rules.push(r.name.clone());
                let id = u32::try_from(plan.rules.len()).unwrap_or(u32::MAX);
                for path in p {
                    plan.opens.entry(path).or_insert(id);
                }
                continue;
            }
            _ => continue,
        };
        // An allow-listed name, or a path whose file name is one, never
        // reaches the kernel.
        let names: Vec<String> = names.into_iter().filter(|n| !allow(n.rsplit('/').next().unwrap_or(n))).collect();
        if names.is_empty() {
            continue;
        }
        plan.rules.push(r.name.clone());
        let id = u32::try_from(plan.rules.len()).unwrap_or(u32::MAX);
        let map = if is_path { &mut plan.paths } else { &mut plan.names };
        for n in names {
            // The first rule in load order keeps a name two rules share.
            map.entry(n).or_insert(id);
        }
    }
    plan
}
