//! Falco's textual list expansion (`resolve_list` in `rule_loader_compiler`).
//!
//! Lists are substituted into condition *text* before parsing, exactly as
//! Falco does, so `in (list_a, x, list_b)` flattens and an empty list also
//! swallows one adjacent comma.

use super::items::ListDef;

/// A list with its items fully expanded and quoted.
#[derive(Debug, Clone)]
pub struct CompiledList {
    pub name: String,
    pub items: Vec<String>,
}

/// Items with a space are wrapped in double quotes unless already quoted.
fn quote_item(s: &str) -> String {
    if s.contains(' ') && !s.starts_with('"') && !s.starts_with('\'') { format!("\"{s}\"") } else { s.to_string() }
}

/// Upper bound on the expanded text of one list (same as a condition).
pub const MAX_LIST_BYTES: usize = 1 << 20;

/// The lists with references to other lists expanded, as Falco's
/// `compile_list_infos` does: an item naming a list whose `index` is below
/// this list's `visibility` is replaced by that list's items *as written*
/// (one level: a list of lists of lists keeps the inner name, which the
/// condition-level substitution may or may not expand depending on order,
/// exactly as in Falco).
#[derive(Debug, Default)]
pub struct CompiledLists {
    pub lists: Vec<CompiledList>,
    /// Indices of lists whose expansion exceeds [`MAX_LIST_BYTES`] (left empty).
    pub too_large: Vec<usize>,
    /// Per list: named by an earlier-visible reference in another list.
    pub used_by_lists: Vec<bool>,
}

#[must_use]
pub fn compile_lists(lists: &[ListDef]) -> CompiledLists {
    let by_name: std::collections::HashMap<&str, usize> =
        lists.iter().enumerate().map(|(i, l)| (l.name.as_str(), i)).collect();
    let mut out = CompiledLists { used_by_lists: vec![false; lists.len()], ..CompiledLists::default() };
    for (i, l) in lists.iter().enumerate() {
        let mut items = Vec::with_capacity(l.items.len());
        let mut bytes = 0usize;
        for item in &l.items {
            if let Some(&j) = by_name.get(item.as_str()).filter(|&&j| lists[j].index < l.visibility) {
                out.used_by_lists[j] = true;
                for v in &lists[j].items {
                    bytes += v.len() + 2;
                    if bytes > MAX_LIST_BYTES {
                        break;
                    }
                    items.push(quote_item(v));
                }
            } else {
                bytes += item.len() + 2;
                items.push(quote_item(item));
            }
            if bytes > MAX_LIST_BYTES {
                break;
            }
        }
        if bytes > MAX_LIST_BYTES {
            out.too_large.push(i);
            items.clear();
        }
        out.lists.push(CompiledList { name: l.name.clone(), items });
    }
    out
}

const BLANKS: &[u8] = b" \t\n\r";

fn is_delim(b: u8) -> bool {
    BLANKS.contains(&b) || b"(),=".contains(&b)
}

/// Substitutes every delimited occurrence of `list.name` in `cnd`.
/// Returns `None` when the result would exceed `max_len` bytes.
/// `used` is set when a substitution happened.
#[must_use]
pub fn resolve_list(cnd: &str, list: &CompiledList, max_len: usize, used: &mut bool) -> Option<String> {
    let name = list.name.as_str();
    if name.is_empty() || !cnd.contains(name) {
        return Some(cnd.to_string());
    }
    let sub = list.items.join(", ");
    let bytes = cnd.as_bytes();
    let mut out = String::with_capacity(cnd.len());
    let mut pos = 0usize; // next unconsumed byte of cnd
    let mut search = 0usize;
    while let Some(found) = cnd[search..].find(name) {
        let start = search + found;
        let mut end = start + name.len();
        let left_ok =
            if start == pos { out.as_bytes().last().is_none_or(|&b| is_delim(b)) } else { is_delim(bytes[start - 1]) };
        let right_ok = end >= bytes.len() || is_delim(bytes[end]);
        if !(left_ok && right_ok) {
            search = start + 1;
            // Names are matched on char boundaries only.
            while !cnd.is_char_boundary(search) {
                search += 1;
            }
            continue;
        }
        out.push_str(&cnd[pos..start]);
        // Consume blanks around the name.
        while out.as_bytes().last().is_some_and(|b| BLANKS.contains(b)) {
            out.pop();
        }
        while end < bytes.len() && BLANKS.contains(&bytes[end]) {
            end += 1;
        }
        if sub.is_empty() {
            if out.ends_with(',') {
                out.pop();
            } else if end < bytes.len() && bytes[end] == b',' {
                end += 1;
            }
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&sub);
        out.push(' ');
        pos = end;
        search = end;
        *used = true;
        if out.len() + (cnd.len() - pos) > max_len {
            return None;
        }
    }
    out.push_str(&cnd[pos..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(name: &str, items: &[&str]) -> CompiledList {
        CompiledList { name: name.into(), items: items.iter().map(|s| (*s).to_string()).collect() }
    }

    #[test]
    fn flattens_inside_in() {
        let mut used = false;
        let a = l("shells", &["bash", "sh"]);
        let s = resolve_list("proc.name in (shells, zsh)", &a, 1 << 20, &mut used).unwrap();
        assert_eq!(s, "proc.name in ( bash, sh , zsh)");
        assert!(used);
    }

    #[test]
    fn empty_list_eats_comma() {
        let mut used = false;
        let e = l("empty", &[]);
        assert_eq!(resolve_list("x in (empty)", &e, 1 << 20, &mut used).unwrap(), "x in (  )");
        assert_eq!(resolve_list("x in (a, empty)", &e, 1 << 20, &mut used).unwrap(), "x in (a  )");
        assert_eq!(resolve_list("x in (empty, a)", &e, 1 << 20, &mut used).unwrap(), "x in (   a)");
    }

    #[test]
    fn needs_delimiters() {
        let mut used = false;
        let a = l("sh", &["X"]);
        assert_eq!(resolve_list("proc.name=bash", &a, 1 << 20, &mut used).unwrap(), "proc.name=bash");
        assert!(!used);
        assert_eq!(resolve_list("proc.name=sh", &a, 1 << 20, &mut used).unwrap(), "proc.name= X ");
    }

    fn def(name: &str, items: &[&str], index: usize, visibility: usize) -> ListDef {
        ListDef {
            name: name.into(),
            items: items.iter().map(|s| (*s).to_string()).collect(),
            loc: crate::rules::error::Location::default(),
            index,
            visibility,
        }
    }

    #[test]
    fn quoting_and_nesting() {
        let defs = vec![def("a", &["x y", "\"(q)\""], 0, 0), def("b", &["a", "z"], 1, 1)];
        let c = compile_lists(&defs);
        assert_eq!(c.lists[1].items, vec!["\"x y\"", "\"(q)\"", "z"]);
        assert_eq!(c.used_by_lists, [true, false]);
    }

    #[test]
    fn nesting_is_one_level_and_follows_visibility() {
        // c -> b -> a: c gets b's items as written, so "a" stays a name.
        let defs = vec![def("a", &["x"], 0, 0), def("b", &["a"], 1, 1), def("c", &["b"], 2, 2)];
        assert_eq!(compile_lists(&defs).lists[2].items, ["a"]);
        // A list redefined after the list naming it: index 0 < visibility 3.
        let defs = vec![def("a", &["y"], 0, 3), def("b", &["a"], 1, 1)];
        assert_eq!(compile_lists(&defs).lists[1].items, ["y"]);
        // A list defined after the one naming it is not expanded.
        let defs = vec![def("b", &["a"], 0, 0), def("a", &["x"], 1, 1)];
        assert_eq!(compile_lists(&defs).lists[0].items, ["a"]);
    }
}
