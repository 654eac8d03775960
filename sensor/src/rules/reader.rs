//! Turns YAML documents into collector operations, validating item shapes
//! and keys like Falco's `rule_loader_reader.cpp`.

use std::collections::BTreeSet;

use super::collector::{Collector, Mode, RulePatch};
use super::config::{EngineConfig, parse_version};
use super::error::{ItemKind, ItemRef, LoadError, Location};
use super::items::{ExcElem, ExceptionDef, Priority, RuleDef, Spanned};
use super::yaml_load::{Node, NodeData};

const RULE_KEYS: &[&str] = &[
    "rule",
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "enabled",
    "source",
    "exceptions",
    "skip-if-unknown-filter",
    "warn_evttypes",
    "capture",
    "capture_duration",
    "append",
    "override",
];
const RULE_APPEND_KEYS: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const RULE_REPLACE_KEYS: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "capture",
    "capture_duration",
    "warn_evttypes",
    "skip-if-unknown-filter",
];

/// Result type of one item decoding step; the error is already complete.
type R<T> = Result<T, LoadError>;

struct Ctx<'a> {
    kind: ItemKind,
    name: &'a str,
}

impl Ctx<'_> {
    fn err(&self, loc: &Location, message: impl Into<String>) -> LoadError {
        LoadError::Invalid { loc: loc.clone(), item: ItemRef::new(self.kind, self.name), message: message.into() }
    }

    fn string(&self, node: &Node, key: &str) -> R<String> {
        match &node.data {
            NodeData::Scalar { value, .. } => Ok(value.clone()),
            _ => Err(self.err(&node.loc, format!("key '{key}' must be a string, got {}", node.type_name()))),
        }
    }

    fn spanned(&self, node: &Node, key: &str) -> R<Spanned> {
        Ok(Spanned { value: self.string(node, key)?, loc: node.loc.clone() })
    }

    fn boolean(&self, node: &Node, key: &str) -> R<bool> {
        node.as_bool().ok_or_else(|| self.err(&node.loc, format!("key '{key}' must be a boolean (true/false)")))
    }

    fn string_seq(&self, node: &Node, key: &str) -> R<Vec<String>> {
        if node.is_null() {
            return Ok(Vec::new());
        }
        let seq = node
            .as_seq()
            .ok_or_else(|| self.err(&node.loc, format!("key '{key}' must be a sequence, got {}", node.type_name())))?;
        seq.iter().map(|n| self.string(n, key)).collect()
    }

    fn required<'n>(&self, map: &'n Node, key: &str) -> R<&'n Node> {
        map.get(key).ok_or_else(|| self.err(&map.loc, format!("Item has no mapping for key '{key}'")))
    }
}

/// Reads all documents of one file into the collector. Errors are
/// recorded in the collector; reading continues with the next item.
pub fn read_documents(docs: &[Node], col: &mut Collector, cfg: &EngineConfig) {
    for doc in docs {
        let Some(items) = doc.as_seq() else {
            col.errors.push(LoadError::Invalid {
                loc: doc.loc.clone(),
                item: ItemRef::file(),
                message: "Rules content is not yaml array of objects".to_string(),
            });
            continue;
        };
        for item in items {
            if let Err(e) = read_item(item, col, cfg) {
                col.errors.push(e);
            }
        }
    }
}

fn read_item(item: &Node, col: &mut Collector, cfg: &EngineConfig) -> R<()> {
    if item.as_map().is_none() {
        return Err(LoadError::Invalid {
            loc: item.loc.clone(),
            item: ItemRef::file(),
            message: "Unexpected element type. Each element should be a yaml associative array.".to_string(),
        });
    }
    if let Some(v) = item.get("required_engine_version") {
        return read_engine_version(v, cfg);
    }
    if let Some(v) = item.get("required_plugin_versions") {
        return read_plugin_versions(v, cfg);
    }
    for (key, kind) in [("list", ItemKind::List), ("macro", ItemKind::Macro), ("rule", ItemKind::Rule)] {
        if let Some(name_node) = item.get(key) {
            let name = match name_node.as_str() {
                Some(n) if !n.trim().is_empty() => n.to_string(),
                _ => {
                    return Err(LoadError::Invalid {
                        loc: name_node.loc.clone(),
                        item: ItemRef::new(kind, ""),
                        message: format!("Mapping for key '{key}' is empty or not a string"),
                    });
                }
            };
            let ctx = Ctx { kind, name: &name };
            return match kind {
                ItemKind::List => read_list(item, &ctx, col),
                ItemKind::Macro => read_macro(item, &ctx, col),
                _ => read_rule(item, &ctx, col, cfg),
            };
        }
    }
    col.warn(&item.loc, ItemRef::file(), "Unknown top level object");
    Ok(())
}

fn read_engine_version(v: &Node, cfg: &EngineConfig) -> R<()> {
    let ctx = Ctx { kind: ItemKind::RequiredEngineVersion, name: "" };
    let text = ctx.string(v, "required_engine_version")?;
    let req =
        parse_version(&text).ok_or_else(|| ctx.err(&v.loc, format!("Invalid required engine version '{text}'")))?;
    if req > cfg.engine_version {
        let (a, b, c) = cfg.engine_version;
        return Err(ctx.err(&v.loc, format!("Rules require engine version {text}, but engine version is {a}.{b}.{c}")));
    }
    Ok(())
}

fn plugin_satisfied(cfg: &EngineConfig, name: &str, version: &str) -> bool {
    let Some(req) = parse_version(version) else { return false };
    cfg.plugins.iter().any(|p| {
        p.name == name
            && match p.version.as_deref().map(parse_version) {
                None => true,
                Some(Some(have)) => have.0 == req.0 && have >= req,
                Some(None) => false,
            }
    })
}

fn read_plugin_versions(v: &Node, cfg: &EngineConfig) -> R<()> {
    let ctx = Ctx { kind: ItemKind::RequiredPluginVersions, name: "" };
    let seq = v.as_seq().ok_or_else(|| ctx.err(&v.loc, "Value of required_plugin_versions must be a sequence"))?;
    for req in seq {
        let name = ctx.string(ctx.required(req, "name")?, "name")?;
        let version = ctx.string(ctx.required(req, "version")?, "version")?;
        let mut ok = plugin_satisfied(cfg, &name, &version);
        if let Some(alts) = req.get("alternatives") {
            for alt in alts.as_seq().unwrap_or_default() {
                let an = ctx.string(ctx.required(alt, "name")?, "name")?;
                let av = ctx.string(ctx.required(alt, "version")?, "version")?;
                ok |= plugin_satisfied(cfg, &an, &av);
            }
        }
        if !ok {
            return Err(Ctx { kind: ItemKind::RequiredPluginVersions, name: &name }
                .err(&req.loc, format!("Plugin '{name}' version {version} is required but not available")));
        }
    }
    Ok(())
}

fn warn_unknown_keys(item: &Node, allowed: &[&str], ctx: &Ctx, col: &mut Collector) {
    for (k, _) in item.as_map().unwrap_or_default() {
        if let Some(key) = k.as_str()
            && !allowed.contains(&key)
        {
            col.warn(&k.loc, ItemRef::new(ctx.kind, ctx.name), format!("Unknown key '{key}'"));
        }
    }
}

/// Decodes `override:` and checks every other key is covered by it.
fn read_override(
    item: &Node,
    ctx: &Ctx,
    name_key: &str,
    append: &[&str],
    replace: &[&str],
) -> R<Option<Vec<(String, Mode)>>> {
    let Some(ov) = item.get("override") else { return Ok(None) };
    if item.get("append").and_then(Node::as_bool) == Some(true) {
        return Err(ctx.err(&ov.loc, "Keys 'override' and 'append: true' cannot be used together"));
    }
    let map = ov.as_map().ok_or_else(|| ctx.err(&ov.loc, "Key 'override' must be a mapping"))?;
    let mut out = Vec::new();
    for (k, v) in map {
        let key = ctx.string(k, "override")?;
        let mode = match v.as_str() {
            Some("append") if append.contains(&key.as_str()) => Mode::Append,
            Some("replace") if replace.contains(&key.as_str()) => Mode::Replace,
            Some(m @ ("append" | "replace")) => {
                return Err(ctx.err(&v.loc, format!("Key '{key}' cannot be overridden with '{m}'")));
            }
            _ => {
                return Err(
                    ctx.err(&v.loc, format!("Invalid override value for key '{key}': expected 'append' or 'replace'"))
                );
            }
        };
        if item.get(&key).is_none() {
            return Err(
                ctx.err(&k.loc, format!("An 'override' entry for '{key}' is specified but the key is not defined"))
            );
        }
        out.push((key, mode));
    }
    for (k, _) in item.as_map().unwrap_or_default() {
        let Some(key) = k.as_str() else { continue };
        if key != name_key && key != "override" && !out.iter().any(|(o, _)| o == key) {
            return Err(
                ctx.err(&k.loc, format!("Unexpected key '{key}': no corresponding entry under 'override' is defined."))
            );
        }
    }
    Ok(Some(out))
}

fn legacy_append(item: &Node, ctx: &Ctx) -> R<bool> {
    item.get("append").map_or(Ok(false), |n| ctx.boolean(n, "append"))
}

fn read_list(item: &Node, ctx: &Ctx, col: &mut Collector) -> R<()> {
    warn_unknown_keys(item, &["list", "items", "append", "override"], ctx, col);
    if let Some(ov) = read_override(item, ctx, "list", &["items"], &["items"])? {
        for (_, mode) in ov {
            let items = ctx.string_seq(ctx.required(item, "items")?, "items")?;
            col.update_list(ctx.name, mode, items, &item.loc);
        }
        return Ok(());
    }
    let items = ctx.string_seq(ctx.required(item, "items")?, "items")?;
    if legacy_append(item, ctx)? {
        col.update_list(ctx.name, Mode::Append, items, &item.loc);
    } else {
        col.define_list(ctx.name, items, &item.loc);
    }
    Ok(())
}

fn read_macro(item: &Node, ctx: &Ctx, col: &mut Collector) -> R<()> {
    warn_unknown_keys(item, &["macro", "condition", "append", "override", "source"], ctx, col);
    if let Some(ov) = read_override(item, ctx, "macro", &["condition"], &["condition"])? {
        for (_, mode) in ov {
            let c = ctx.spanned(ctx.required(item, "condition")?, "condition")?;
            col.update_macro(ctx.name, mode, c, &item.loc);
        }
        return Ok(());
    }
    let c = ctx.spanned(ctx.required(item, "condition")?, "condition")?;
    if legacy_append(item, ctx)? {
        col.update_macro(ctx.name, Mode::Append, c, &item.loc);
    } else {
        col.define_macro(ctx.name, c, &item.loc);
    }
    Ok(())
}

fn read_exceptions(node: &Node, ctx: &Ctx) -> R<Vec<ExceptionDef>> {
    if node.is_null() {
        return Ok(Vec::new());
    }
    let seq = node.as_seq().ok_or_else(|| ctx.err(&node.loc, "Rule exceptions must be a sequence"))?;
    let mut out: Vec<ExceptionDef> = Vec::new();
    for ex in seq {
        if ex.as_map().is_none() {
            return Err(ctx.err(&ex.loc, "Rule exception must be a mapping"));
        }
        let name = ctx.string(ctx.required(ex, "name")?, "name")?;
        let (fields_is_list, fields) = match ex.get("fields") {
            None => (true, Vec::new()),
            Some(f) => match &f.data {
                NodeData::Seq(items) => (true, items.iter().map(|n| ctx.spanned(n, "fields")).collect::<R<Vec<_>>>()?),
                NodeData::Scalar { .. } => (false, vec![ctx.spanned(f, "fields")?]),
                _ => {
                    return Err(
                        ctx.err(&f.loc, format!("Rule exception '{name}' fields must be a string or a sequence"))
                    );
                }
            },
        };
        let comps = match ex.get("comps") {
            None => None,
            Some(c) => Some(match &c.data {
                NodeData::Seq(items) => items.iter().map(|n| ctx.spanned(n, "comps")).collect::<R<Vec<_>>>()?,
                NodeData::Scalar { .. } => vec![ctx.spanned(c, "comps")?],
                _ => {
                    return Err(
                        ctx.err(&c.loc, format!("Rule exception '{name}' comps must be a string or a sequence"))
                    );
                }
            }),
        };
        let mut values = Vec::new();
        if let Some(v) = ex.get("values").filter(|v| !v.is_null()) {
            let rows = v
                .as_seq()
                .ok_or_else(|| ctx.err(&v.loc, format!("Rule exception '{name}' values must be a sequence")))?;
            for row in rows {
                values.push(match &row.data {
                    NodeData::Seq(elems) => elems
                        .iter()
                        .map(|e| match &e.data {
                            NodeData::Seq(list) => {
                                Ok(ExcElem::List(list.iter().map(|x| ctx.string(x, "values")).collect::<R<Vec<_>>>()?))
                            }
                            _ => Ok(ExcElem::Scalar(ctx.string(e, "values")?)),
                        })
                        .collect::<R<Vec<_>>>()?,
                    _ => vec![ExcElem::Scalar(ctx.string(row, "values")?)],
                });
            }
        }
        if out.iter().any(|e| e.name == name) {
            // Falco only warns about duplicate exception names; keep the first.
            continue;
        }
        out.push(ExceptionDef { name, fields_is_list, fields, comps, values, loc: ex.loc.clone() });
    }
    Ok(out)
}

fn read_rule(item: &Node, ctx: &Ctx, col: &mut Collector, cfg: &EngineConfig) -> R<()> {
    warn_unknown_keys(item, RULE_KEYS, ctx, col);
    let source = item.get("source").map(|s| ctx.string(s, "source")).transpose()?;
    if let Some(ov) = read_override(item, ctx, "rule", RULE_APPEND_KEYS, RULE_REPLACE_KEYS)? {
        let mut p = RulePatch::default();
        for (key, mode) in ov {
            let n = ctx.required(item, &key)?;
            match key.as_str() {
                "condition" => p.condition = Some((mode, ctx.spanned(n, &key)?)),
                "output" => p.output = Some((mode, ctx.spanned(n, &key)?)),
                "desc" => p.desc = Some((mode, ctx.string(n, &key)?)),
                "tags" => p.tags = Some((mode, ctx.string_seq(n, &key)?)),
                "exceptions" => p.exceptions = Some((mode, read_exceptions(n, ctx)?)),
                "priority" => p.priority = Some(read_priority(n, ctx)?),
                "enabled" => p.enabled = Some(ctx.boolean(n, &key)?),
                "capture" => p.capture = Some(ctx.boolean(n, &key)?),
                "warn_evttypes" => p.warn_evttypes = Some(ctx.boolean(n, &key)?),
                "skip-if-unknown-filter" => p.skip_if_unknown_filter = Some(ctx.boolean(n, &key)?),
                "capture_duration" => p.capture_duration = Some(read_u64(n, ctx, &key)?),
                _ => {}
            }
        }
        col.update_rule(ctx.name, source.as_deref(), p, &item.loc);
        return Ok(());
    }
    if legacy_append(item, ctx)? {
        let mut p = RulePatch::default();
        if let Some(c) = item.get("condition") {
            p.condition = Some((Mode::Append, ctx.spanned(c, "condition")?));
        }
        if let Some(e) = item.get("exceptions") {
            p.exceptions = Some((Mode::Append, read_exceptions(e, ctx)?));
        }
        if p.condition.is_none() && p.exceptions.is_none() {
            return Err(ctx.err(&item.loc, "Appended rule must have exceptions or condition property"));
        }
        col.warn(&item.loc, ItemRef::new(ctx.kind, ctx.name), "'append' key is deprecated, use 'override' instead");
        col.update_rule(ctx.name, source.as_deref(), p, &item.loc);
        return Ok(());
    }
    let has = |k: &str| item.get(k).is_some();
    if has("enabled") && !has("condition") && !has("output") && !has("desc") && !has("priority") {
        let enabled = ctx.boolean(ctx.required(item, "enabled")?, "enabled")?;
        col.warn(
            &item.loc,
            ItemRef::new(ctx.kind, ctx.name),
            "Using 'enabled' without other keys is deprecated, use 'override: {enabled: replace}'",
        );
        col.enable_rule(ctx.name, enabled, &item.loc);
        return Ok(());
    }
    let condition = ctx.spanned(ctx.required(item, "condition")?, "condition")?;
    let output = ctx.spanned(ctx.required(item, "output")?, "output")?;
    let desc = ctx.string(ctx.required(item, "desc")?, "desc")?;
    let priority = read_priority(ctx.required(item, "priority")?, ctx)?;
    let tags: BTreeSet<String> =
        item.get("tags").map(|t| ctx.string_seq(t, "tags")).transpose()?.unwrap_or_default().into_iter().collect();
    let opt_bool = |k: &str, d: bool| item.get(k).map_or(Ok(d), |n| ctx.boolean(n, k));
    let source = source.unwrap_or_else(|| "syscall".to_string());
    let rule = RuleDef {
        name: ctx.name.to_string(),
        desc,
        condition,
        output,
        priority,
        tags,
        enabled: opt_bool("enabled", true)?,
        unknown_source: !cfg.sources.contains(&source),
        source,
        exceptions: item.get("exceptions").map(|e| read_exceptions(e, ctx)).transpose()?.unwrap_or_default(),
        skip_if_unknown_filter: opt_bool("skip-if-unknown-filter", false)?,
        warn_evttypes: opt_bool("warn_evttypes", true)?,
        capture: opt_bool("capture", false)?,
        capture_duration: item
            .get("capture_duration")
            .map(|n| read_u64(n, ctx, "capture_duration"))
            .transpose()?
            .unwrap_or(0),
        loc: item.loc.clone(),
    };
    col.define_rule(rule);
    Ok(())
}

fn read_priority(n: &Node, ctx: &Ctx) -> R<Priority> {
    let s = ctx.string(n, "priority")?;
    Priority::parse(&s).ok_or_else(|| ctx.err(&n.loc, format!("Invalid priority '{s}'")))
}

fn read_u64(n: &Node, ctx: &Ctx, key: &str) -> R<u64> {
    n.as_str()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| ctx.err(&n.loc, format!("key '{key}' must be a non-negative integer")))
}
