//! Typed reads of rule-item keys with Falco's checks and messages
//! (`decode_val`, `decode_seq`, `decode_overrides` and
//! `read_rule_exceptions` in `rule_loader_reader.cpp`).

use super::collector::Collector;
use super::error::{ItemKind, ItemRef, LoadError, Location, WarningCode};
use super::items::{ExcElem, ExcEntry, ExcValue, ExceptionDef, Spanned};
use super::yaml_load::{Node, NodeData};

/// Result type of one decoding step; the error is already complete.
pub type R<T> = Result<T, LoadError>;

/// The item being read, for error context.
pub struct Ctx<'a> {
    pub kind: ItemKind,
    pub name: &'a str,
    /// The item's own position (for "no mapping for key" errors).
    pub loc: &'a Location,
}

/// Booleans as yaml-cpp's `convert<bool>` reads them: y/yes/true/on and
/// n/no/false/off, in lower, UPPER or Capitalised case.
fn yaml_cpp_bool(s: &str) -> Option<bool> {
    let flexible = s.chars().all(|c| c.is_ascii_lowercase())
        || s.chars().all(|c| c.is_ascii_uppercase())
        || s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && s.chars().skip(1).all(|c| c.is_ascii_lowercase());
    if !flexible {
        return None;
    }
    match s.to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "on" => Some(true),
        "n" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

impl Ctx<'_> {
    pub fn item(&self) -> ItemRef {
        ItemRef::new(self.kind, self.name)
    }

    pub fn err(&self, loc: &Location, message: impl Into<String>) -> LoadError {
        LoadError::Invalid { loc: loc.clone(), item: self.item(), message: message.into() }
    }

    pub fn warn(&self, col: &mut Collector, loc: &Location, code: WarningCode, message: impl Into<String>) {
        col.warn(loc, self.item(), code, message);
    }

    /// A scalar value that must be present and non-empty (`decode_val`).
    pub fn req_str(&self, item: &Node, key: &str) -> R<Spanned> {
        let v = item.get(key).ok_or_else(|| self.err(self.loc, format!("Item has no mapping for key '{key}'")))?;
        self.scalar(v, key, false).map(Option::unwrap_or_default)
    }

    /// An optional scalar: absent is `None`; present must be non-empty
    /// (`decode_optional_val`).
    pub fn opt_str(&self, item: &Node, key: &str) -> R<Option<Spanned>> {
        item.get(key).map(|v| self.scalar(v, key, false).map(Option::unwrap_or_default)).transpose()
    }

    /// An optional scalar that may also be null or empty
    /// (`decode_optional_empty_val`): those read as `""`.
    pub fn opt_empty_str(&self, item: &Node, key: &str) -> R<Option<String>> {
        item.get(key).map(|v| self.scalar(v, key, true).map(|s| s.map(|s| s.value).unwrap_or_default())).transpose()
    }

    fn scalar(&self, v: &Node, key: &str, can_be_empty: bool) -> R<Option<Spanned>> {
        match &v.data {
            NodeData::Null if can_be_empty => Ok(None),
            NodeData::Null => Err(self.err(&v.loc, format!("Mapping for key '{key}' is empty"))),
            NodeData::Scalar { value, .. } if value.is_empty() && can_be_empty => Ok(None),
            NodeData::Scalar { value, .. } if value.is_empty() => {
                Err(self.err(&v.loc, format!("Value for key '{key}' must be non-empty")))
            }
            NodeData::Scalar { value, .. } => Ok(Some(Spanned { value: value.clone(), loc: v.loc.clone() })),
            _ => Err(self.err(&v.loc, format!("Value for key '{key}' is not a scalar value, got {}", v.type_name()))),
        }
    }

    /// An optional boolean.
    pub fn opt_bool(&self, item: &Node, key: &str) -> R<Option<bool>> {
        let Some(s) = self.opt_str(item, key)? else { return Ok(None) };
        yaml_cpp_bool(&s.value)
            .map(Some)
            .ok_or_else(|| self.err(&s.loc, format!("key '{key}' must be a boolean (true/false), got '{}'", s.value)))
    }

    pub fn req_bool(&self, item: &Node, key: &str) -> R<bool> {
        let s = self.req_str(item, key)?;
        yaml_cpp_bool(&s.value)
            .ok_or_else(|| self.err(&s.loc, format!("key '{key}' must be a boolean (true/false), got '{}'", s.value)))
    }

    /// An optional unsigned integer (yaml-cpp reads decimal, `0x` hex and
    /// `0o` octal).
    pub fn opt_u64(&self, item: &Node, key: &str) -> R<Option<u64>> {
        let Some(s) = self.opt_str(item, key)? else { return Ok(None) };
        let t = s.value.trim();
        let n = if let Some(h) = t.strip_prefix("0x") {
            u64::from_str_radix(h, 16).ok()
        } else if let Some(o) = t.strip_prefix("0o") {
            u64::from_str_radix(o, 8).ok()
        } else {
            t.strip_prefix('+').unwrap_or(t).parse().ok()
        };
        n.map(Some).ok_or_else(|| self.err(&s.loc, format!("key '{key}' must be a non-negative integer, got '{t}'")))
    }

    /// A sequence of scalars (`decode_seq`): `items` (required) and `tags`.
    pub fn str_seq(&self, item: &Node, key: &str) -> R<Option<Vec<String>>> {
        let Some(v) = item.get(key) else { return Ok(None) };
        let seq = v.as_seq().ok_or_else(|| {
            self.err(&v.loc, format!("Value for key '{key}' is not a sequence, got {}", v.type_name()))
        })?;
        seq.iter()
            .map(|n| match &n.data {
                NodeData::Scalar { value, .. } => Ok(value.clone()),
                _ => Err(self.err(&n.loc, format!("A value of key '{key}' is not a scalar, got {}", n.type_name()))),
            })
            .collect::<R<Vec<_>>>()
            .map(Some)
    }

    pub fn req_str_seq(&self, item: &Node, key: &str) -> R<Vec<String>> {
        self.str_seq(item, key)?.ok_or_else(|| self.err(self.loc, format!("Item has no mapping for key '{key}'")))
    }
}

/// The keys of an `override:` mapping, split by operation.
#[derive(Debug, Default)]
pub struct Overrides {
    pub append: Vec<String>,
    pub replace: Vec<String>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.append.is_empty() && self.replace.is_empty()
    }
}

/// `decode_overrides`: every key must allow the operation it asks for.
pub fn read_overrides(
    item: &Node,
    ctx: &Ctx,
    col: &mut Collector,
    can_append: &[&str],
    can_replace: &[&str],
) -> R<Overrides> {
    let mut out = Overrides::default();
    let Some(ov) = item.get("override") else { return Ok(out) };
    let Some(map) = ov.as_map() else {
        if ov.as_seq().is_some() {
            return Err(ctx.err(&ov.loc, "Key 'override' must be a mapping"));
        }
        // yaml-cpp iterates a scalar as an empty mapping: Falco ignores it.
        ctx.warn(col, &ov.loc, WarningCode::UnknownKey, "Key 'override' is not a mapping and is ignored");
        return Ok(out);
    };
    for (k, v) in map {
        let key = k.as_str().ok_or_else(|| ctx.err(&k.loc, "Keys under 'override' must be strings"))?;
        let op = v
            .as_str()
            .ok_or_else(|| ctx.err(&v.loc, format!("Override operation for key '{key}' must be a string")))?;
        match op {
            "append" if can_append.contains(&key) => out.append.push(key.to_string()),
            "append" => {
                return Err(ctx.err(&k.loc, format!("Key '{key}' cannot be appended to, use 'replace' instead")));
            }
            "replace" if can_replace.contains(&key) => out.replace.push(key.to_string()),
            "replace" => return Err(ctx.err(&k.loc, format!("Key '{key}' cannot be replaced"))),
            _ => {
                let mut allowed = String::new();
                if can_append.contains(&key) {
                    allowed.push_str("append ");
                }
                if can_replace.contains(&key) {
                    allowed.push_str("replace ");
                }
                return Err(ctx.err(
                    &v.loc,
                    format!("Invalid override operation for key '{key}': '{op}'. Allowed values are: {allowed}"),
                ));
            }
        }
    }
    Ok(out)
}

/// One `fields`/`comps` entry: a non-empty scalar or a list; an empty list
/// or null counts as absent (Falco's `entry::is_valid`).
fn exc_entry(ctx: &Ctx, n: &Node, key: &str) -> R<Option<ExcEntry>> {
    match &n.data {
        NodeData::Scalar { value, .. } if value.is_empty() => {
            Err(ctx.err(&n.loc, format!("Value for key '{key}' must be non-empty")))
        }
        NodeData::Scalar { value, .. } => {
            Ok(Some(ExcEntry { is_list: false, items: vec![Spanned { value: value.clone(), loc: n.loc.clone() }] }))
        }
        NodeData::Seq(items) => {
            let items = items
                .iter()
                .map(|i| match &i.data {
                    NodeData::Scalar { value, .. } if !value.is_empty() => {
                        Ok(Spanned { value: value.clone(), loc: i.loc.clone() })
                    }
                    NodeData::Scalar { .. } => Err(ctx.err(&i.loc, format!("Value for key '{key}' must be non-empty"))),
                    _ => Err(ctx.err(&i.loc, format!("Values of key '{key}' must be strings, got {}", i.type_name()))),
                })
                .collect::<R<Vec<_>>>()?;
            Ok((!items.is_empty()).then_some(ExcEntry { is_list: true, items }))
        }
        _ => Ok(None),
    }
}

fn scalar_value(ctx: &Ctx, n: &Node) -> R<String> {
    match &n.data {
        NodeData::Scalar { value, .. } if value.is_empty() => Err(ctx.err(&n.loc, "Exception value must be non-empty")),
        NodeData::Scalar { value, .. } => Ok(value.clone()),
        // A null or a deeper list reads as an empty item, as in Falco.
        _ => Ok(String::new()),
    }
}

fn exc_value(ctx: &Ctx, n: &Node) -> R<ExcValue> {
    let Some(elems) = n.as_seq() else { return scalar_value(ctx, n).map(ExcValue::Scalar) };
    elems
        .iter()
        .map(|e| match e.as_seq() {
            Some(list) => list.iter().map(|x| scalar_value(ctx, x)).collect::<R<Vec<_>>>().map(ExcElem::List),
            None => scalar_value(ctx, e).map(ExcElem::Scalar),
        })
        .collect::<R<Vec<_>>>()
        .map(ExcValue::Tuple)
}

/// `read_rule_exceptions`; `append` allows exceptions without `fields`.
pub fn read_exceptions(item: &Node, ctx: &Ctx, col: &mut Collector, append: bool) -> R<Option<Vec<ExceptionDef>>> {
    let Some(node) = item.get("exceptions") else { return Ok(None) };
    if node.is_null() {
        return Ok(Some(Vec::new()));
    }
    let seq = node.as_seq().ok_or_else(|| ctx.err(&node.loc, "Rule exceptions must be a sequence"))?;
    let mut out: Vec<ExceptionDef> = Vec::new();
    for ex in seq {
        if ex.as_map().is_none() {
            return Err(ctx.err(&ex.loc, "Rule exception must be a mapping"));
        }
        let ex_ctx = Ctx { kind: ctx.kind, name: ctx.name, loc: &ex.loc };
        let name = ex_ctx.req_str(ex, "name")?.value;
        if out.iter().any(|e| e.name == name) {
            ctx.warn(
                col,
                &ex.loc,
                WarningCode::ExceptionNameNotUnique,
                format!("Multiple definitions of exception '{name}' in the same rule"),
            );
        }
        let fields = match ex.get("fields") {
            None if append => None,
            None => {
                return Err(ex_ctx.err(&ex.loc, format!("Exception '{name}': Item has no mapping for key 'fields'")));
            }
            Some(f) => exc_entry(&ex_ctx, f, "fields")?,
        };
        let comps = ex.get("comps").map(|c| exc_entry(&ex_ctx, c, "comps")).transpose()?.flatten();
        let values = if let Some(v) = ex.get("values") {
            let rows = v.as_seq().ok_or_else(|| ctx.err(&v.loc, "Rule exception values must be a sequence"))?;
            Some(rows.iter().map(|r| exc_value(&ex_ctx, r)).collect::<R<Vec<_>>>()?)
        } else {
            if append {
                ctx.warn(col, &ex.loc, WarningCode::AppendNoValues, "Overriding/appending exception with no values");
            }
            None
        };
        out.push(ExceptionDef { name, fields, comps, values, loc: ex.loc.clone() });
    }
    Ok(Some(out))
}

/// Warns about keys the item kind does not know (`warn_unknown_keys`) and
/// about repeated keys (yaml-cpp keeps both; lookups see the first).
pub fn warn_unknown_keys(item: &Node, allowed: &[&str], ctx: &Ctx, col: &mut Collector) -> R<()> {
    let entries = item.as_map().unwrap_or_default();
    for (i, (k, _)) in entries.iter().enumerate() {
        let key =
            k.as_str().ok_or_else(|| ctx.err(&k.loc, format!("Item keys must be strings, got {}", k.type_name())))?;
        if !allowed.contains(&key) {
            ctx.warn(col, &k.loc, WarningCode::UnknownKey, format!("Unknown key '{key}'. The key will be ignored."));
        }
        if entries[..i].iter().any(|(p, _)| p.as_str() == Some(key)) {
            ctx.warn(
                col,
                &k.loc,
                WarningCode::UnknownKey,
                format!("Key '{key}' is repeated; the first value is used and this one is ignored"),
            );
        }
    }
    Ok(())
}
