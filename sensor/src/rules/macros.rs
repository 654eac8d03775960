//! Macro expansion on the AST (Falco's `filter_macro_resolver`), with
//! Falco's visibility rule, cycle detection and size/depth bounds.
//!
//! Visibility (`resolve_macros` in `rule_loader_compiler.cpp`): a macro may
//! reference a macro whose `index` (first definition) is below its own
//! `visibility` (latest definition or append); rules see every macro. So a
//! file that redefines `never_true` keeps it visible to the macros of an
//! earlier file that use it.

use std::collections::HashMap;
use std::sync::Arc;

use super::ast::Expr;
use super::compile::CompileError;

/// Expanded trees deeper than this are rejected (bounds evaluation recursion).
pub const MAX_EXPANDED_DEPTH: usize = 1000;
/// Expanded trees larger than this are rejected (bounds memory/CPU).
pub const MAX_EXPANDED_NODES: usize = 500_000;

/// One macro as known to the resolver.
#[derive(Debug)]
pub struct MacroEntry {
    pub index: usize,
    pub visibility: usize,
    /// `None` when the macro failed to parse (already reported).
    pub raw: Option<Expr>,
    pub expanded: Option<Expanded>,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub struct Expanded {
    pub expr: Expr,
    pub depth: usize,
    pub nodes: usize,
}

/// Marks every check in `e` as written inside macro `name`, so compile
/// errors can point at the macro.
pub fn set_origin(e: &mut Expr, name: &str) {
    let origin: Arc<str> = name.into();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(cs) | Expr::Or(cs) => stack.extend(cs.iter_mut()),
            Expr::Not(c) => stack.push(c),
            Expr::Check(c) => c.origin = Some(origin.clone()),
            Expr::Macro { .. } => {}
        }
    }
}

/// Names of macros referenced directly by `e`.
pub(super) fn references(e: &Expr) -> Vec<&str> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(cs) | Expr::Or(cs) => stack.extend(cs.iter()),
            Expr::Not(c) => stack.push(c),
            Expr::Macro { name, .. } => out.push(name.as_str()),
            Expr::Check(_) => {}
        }
    }
    out
}

/// References of macro `name` that it can see (see the module doc).
fn visible_refs<'m>(name: &str, macros: &'m HashMap<String, MacroEntry>) -> Vec<&'m str> {
    let Some(m) = macros.get(name) else { return Vec::new() };
    m.raw
        .as_ref()
        .map(references)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| macros.get_key_value(r))
        .filter(|(_, t)| t.index < m.visibility)
        .map(|(k, _)| k.as_str())
        .collect()
}

/// Orders the macros so that each comes after the macros it references
/// (and can see), or finds a cycle among those references and returns its
/// path, e.g. `a -> b -> a`.
///
/// # Errors
/// The path of the first cycle found (in name order).
#[allow(clippy::implicit_hasher)]
pub fn resolution_order(macros: &HashMap<String, MacroEntry>) -> Result<Vec<String>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        White,
        Grey,
        Black,
    }
    let mut color: HashMap<&str, Color> = macros.keys().map(|k| (k.as_str(), Color::White)).collect();
    let mut names: Vec<&str> = macros.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut order = Vec::with_capacity(names.len());
    for start in names {
        if color.get(start) != Some(&Color::White) {
            continue;
        }
        // Iterative DFS: (node, its references, next reference index).
        let mut stack: Vec<(&str, Vec<&str>, usize)> = vec![(start, visible_refs(start, macros), 0)];
        color.insert(start, Color::Grey);
        while let Some((node, refs, i)) = stack.last_mut() {
            if *i >= refs.len() {
                color.insert(node, Color::Black);
                order.push((*node).to_string());
                stack.pop();
                continue;
            }
            let next = refs[*i];
            *i += 1;
            match color.get(next) {
                Some(Color::White) => {
                    color.insert(next, Color::Grey);
                    stack.push((next, visible_refs(next, macros), 0));
                }
                Some(Color::Grey) => {
                    let pos = stack.iter().position(|(n, _, _)| *n == next).unwrap_or(0);
                    let mut path: Vec<&str> = stack[pos..].iter().map(|(n, _, _)| *n).collect();
                    path.push(next);
                    return Err(path.join(" -> "));
                }
                _ => {}
            }
        }
    }
    Ok(order)
}

/// Replaces macro references in `e` with their expansions. `visible_below`
/// restricts references to macros defined earlier (for macro bodies).
///
/// # Errors
/// Undefined (or not yet visible) macro, or a too large/deep expansion.
#[allow(clippy::implicit_hasher)]
pub fn expand(
    e: &Expr,
    macros: &mut HashMap<String, MacroEntry>,
    visible_below: Option<usize>,
) -> Result<Expanded, CompileError> {
    let mut nodes = 0usize;
    let mut max_depth = 0usize;
    let expr = expand_rec(e, macros, visible_below, 1, &mut nodes, &mut max_depth)?;
    Ok(Expanded { expr, depth: max_depth, nodes })
}

fn expand_rec(
    e: &Expr,
    macros: &mut HashMap<String, MacroEntry>,
    visible_below: Option<usize>,
    depth: usize,
    nodes: &mut usize,
    max_depth: &mut usize,
) -> Result<Expr, CompileError> {
    let too_large = |what: String| CompileError::TooLarge { what };
    *max_depth = (*max_depth).max(depth);
    if depth > MAX_EXPANDED_DEPTH {
        return Err(too_large(format!("nesting deeper than {MAX_EXPANDED_DEPTH}")));
    }
    *nodes += 1;
    if *nodes > MAX_EXPANDED_NODES {
        return Err(too_large(format!("more than {MAX_EXPANDED_NODES} nodes")));
    }
    let rec = |c: &Expr, macros: &mut HashMap<String, MacroEntry>, nodes: &mut usize, max_depth: &mut usize| {
        expand_rec(c, macros, visible_below, depth + 1, nodes, max_depth)
    };
    Ok(match e {
        Expr::And(cs) => Expr::And(cs.iter().map(|c| rec(c, macros, nodes, max_depth)).collect::<Result<_, _>>()?),
        Expr::Or(cs) => Expr::Or(cs.iter().map(|c| rec(c, macros, nodes, max_depth)).collect::<Result<_, _>>()?),
        Expr::Not(c) => Expr::Not(Box::new(rec(c, macros, nodes, max_depth)?)),
        Expr::Check(_) => e.clone(),
        Expr::Macro { name, .. } => {
            let undefined = || CompileError::UndefinedMacro { name: name.clone() };
            let entry = macros.get_mut(name).ok_or_else(undefined)?;
            if visible_below.is_some_and(|v| entry.index >= v) {
                return Err(undefined());
            }
            entry.used = true;
            let x = entry.expanded.as_ref().ok_or_else(|| CompileError::BrokenMacro { name: name.clone() })?;
            *nodes += x.nodes;
            *max_depth = (*max_depth).max(depth + x.depth);
            if *nodes > MAX_EXPANDED_NODES {
                return Err(too_large(format!("more than {MAX_EXPANDED_NODES} nodes")));
            }
            if depth + x.depth > MAX_EXPANDED_DEPTH {
                return Err(too_large(format!("nesting deeper than {MAX_EXPANDED_DEPTH}")));
            }
            x.expr.clone()
        }
    })
}
