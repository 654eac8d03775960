//! Turns YAML documents into collector operations, validating item shapes
//! and keys like Falco's `rule_loader_reader.cpp` (`read_item`).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use super::action::Action;
use super::collector::{Collector, RulePatch};
use super::config::{EngineConfig, parse_version};
use super::error::{ItemKind, ItemRef, LoadError, WarningCode};
use super::items::{Priority, RuleDef};
use super::yaml_decode::{Ctx, R, read_exceptions, read_overrides, warn_unknown_keys};
use super::yaml_load::{Node, NodeData};

const RULE_KEYS: &[&str] = &[
    "rule",
    "condition",
    "output",
    "desc",
    "priority",
    "source",
    "enabled",
    "capture",
    "capture_duration",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "tags",
    "exceptions",
    "override",
    "append",
    // Ours (Falco warns about it and loads the rule without it).
    "actions",
];
const RULE_APPEND_KEYS: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const RULE_REPLACE_KEYS: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "capture",
    "capture_duration",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
];

pub const WARNING_APPEND: &str =
    "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
pub const WARNING_ENABLED: &str = "The standalone 'enabled' key usage is deprecated. The correct approach requires \
                                   also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').";
pub const ERROR_OVERRIDE_APPEND: &str = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' \
                                         entry (e.g. 'condition: append') under 'override' instead.";

/// Falco's `RGX_IDENTIFIER` (macro names) and `RGX_BARESTR` (list names).
const RGX_IDENTIFIER: &str = "([a-zA-Z]+[a-zA-Z0-9_]*)";
const RGX_BARESTR: &str = "([^()\"'[:space:]=,]+)";
static IDENTIFIER: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(&format!("^{RGX_IDENTIFIER}$")).ok());
static BARESTR: LazyLock<Option<regex::Regex>> = LazyLock::new(|| regex::Regex::new(&format!("^{RGX_BARESTR}$")).ok());

fn full_match(re: &LazyLock<Option<regex::Regex>>, s: &str) -> bool {
    re.as_ref().is_none_or(|r| r.is_match(s))
}

/// Reads all documents of one file into the collector. Like Falco, reading
/// stops at the file's first error (later items often depend on it).
/// Returns false when there was an error.
pub fn read_documents(docs: &[Node], col: &mut Collector, cfg: &EngineConfig) -> bool {
    for doc in docs {
        let Some(items) = doc.as_seq() else {
            let message = if doc.as_map().is_some() {
                "Rules content is not yaml array of objects"
            } else {
                "Rules content is not yaml"
            };
            col.errors.push(LoadError::Invalid {
                loc: doc.loc.clone(),
                item: ItemRef::file(),
                message: message.into(),
            });
            return false;
        };
        for item in items.iter().filter(|i| !i.is_null()) {
            let before = col.errors.len();
            if let Err(e) = read_item(item, col, cfg) {
                col.errors.push(e);
            }
            if col.errors.len() > before {
                return false;
            }
        }
    }
    true
}

fn read_item(item: &Node, col: &mut Collector, cfg: &EngineConfig) -> R<()> {
    if item.as_map().is_none() {
        return Err(LoadError::Invalid {
            loc: item.loc.clone(),
            item: ItemRef::file(),
            message: "Unexpected element type. Each element should be a yaml associative array.".to_string(),
        });
    }
    if item.get("required_engine_version").is_some() {
        let ctx = Ctx { kind: ItemKind::RequiredEngineVersion, name: "", loc: &item.loc };
        read_engine_version(item, &ctx, cfg)?;
        return warn_unknown_keys(item, &["required_engine_version"], &ctx, col);
    }
    if item.get("required_plugin_versions").is_some() {
        let ctx = Ctx { kind: ItemKind::RequiredPluginVersions, name: "", loc: &item.loc };
        read_plugin_versions(item, &ctx, cfg)?;
        return warn_unknown_keys(item, &["required_plugin_versions"], &ctx, col);
    }
    for (key, kind) in [("list", ItemKind::List), ("macro", ItemKind::Macro), ("rule", ItemKind::Rule)] {
        if item.get(key).is_some() {
            let name = Ctx { kind, name: "", loc: &item.loc }.req_str(item, key)?.value;
            let ctx = Ctx { kind, name: &name, loc: &item.loc };
            return match kind {
                ItemKind::List => read_list(item, &ctx, col),
                ItemKind::Macro => read_macro(item, &ctx, col),
                _ => read_rule(item, &ctx, col, cfg),
            };
        }
    }
    col.warn(&item.loc, ItemRef::file(), WarningCode::UnknownItem, "Unknown top level item");
    Ok(())
}

fn read_engine_version(item: &Node, ctx: &Ctx, cfg: &EngineConfig) -> R<()> {
    let text = ctx.req_str(item, "required_engine_version")?;
    let req = parse_version(&text.value).ok_or_else(|| {
        ctx.err(
            &text.loc,
            format!(
                "Unable to parse engine version '{}' as a semver string. Expected \"x.y.z\" semver format.",
                text.value
            ),
        )
    })?;
    // sinsp_version::compatible_with: same major, not newer.
    let have = cfg.engine_version;
    if req.0 != have.0 || req > have {
        let (a, b, c) = have;
        return Err(ctx.err(
            &text.loc,
            format!("Rules require engine version {}.{}.{}, but engine version is {a}.{b}.{c}", req.0, req.1, req.2),
        ));
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

fn read_plugin_versions(item: &Node, ctx: &Ctx, cfg: &EngineConfig) -> R<()> {
    let Some(v) = item.get("required_plugin_versions") else { return Ok(()) };
    let seq = v.as_seq().ok_or_else(|| ctx.err(&v.loc, "Value of required_plugin_versions must be a sequence"))?;
    for req in seq {
        if req.as_map().is_none() {
            return Err(ctx.err(&req.loc, "Plugin version must be a mapping"));
        }
        let rctx = Ctx { kind: ctx.kind, name: "", loc: &req.loc };
        let name = rctx.req_str(req, "name")?.value;
        let pctx = Ctx { kind: ctx.kind, name: &name, loc: &req.loc };
        let version = pctx.req_str(req, "version")?;
        if parse_version(&version.value).is_none() {
            return Err(
                pctx.err(&version.loc, format!("Invalid required version '{}' for plugin '{name}'", version.value))
            );
        }
        let mut ok = plugin_satisfied(cfg, &name, &version.value);
        if let Some(alts) = req.get("alternatives") {
            let alts = alts
                .as_seq()
                .ok_or_else(|| pctx.err(&alts.loc, "Value of plugin version alternatives must be a sequence"))?;
            for alt in alts {
                if alt.as_map().is_none() {
                    return Err(pctx.err(&alt.loc, "Plugin version alternative must be a mapping"));
                }
                let actx = Ctx { kind: ctx.kind, name: &name, loc: &alt.loc };
                let an = actx.req_str(alt, "name")?.value;
                let av = actx.req_str(alt, "version")?.value;
                ok |= plugin_satisfied(cfg, &an, &av);
            }
        }
        if !ok {
            return Err(
                pctx.err(&req.loc, format!("Plugin '{name}' version {} is required but not available", version.value))
            );
        }
    }
    Ok(())
}

/// The legacy `append: true` flag, with Falco's deprecation warning.
fn legacy_append(item: &Node, ctx: &Ctx, col: &mut Collector) -> R<bool> {
    let append = ctx.opt_bool(item, "append")?.unwrap_or(false);
    if append {
        ctx.warn(col, &item.loc, WarningCode::DeprecatedItem, WARNING_APPEND);
    }
    Ok(append)
}

fn read_list(item: &Node, ctx: &Ctx, col: &mut Collector) -> R<()> {
    if !full_match(&BARESTR, ctx.name) {
        let msg = format!("List has an invalid name. List names should match a regular expression: {RGX_BARESTR}");
        ctx.warn(col, &item.loc, WarningCode::InvalidListName, msg);
    }
    let items = ctx.req_str_seq(item, "items")?;
    let mut append = legacy_append(item, ctx, col)?;
    let ov = read_overrides(item, ctx, col, &["items"], &["items"])?;
    if append && !ov.is_empty() {
        return Err(ctx.err(&item.loc, ERROR_OVERRIDE_APPEND));
    }
    // `override: {items: replace}` is a plain (re)definition in Falco.
    append |= !ov.append.is_empty();
    if append {
        col.append_list(ctx.name, items, &item.loc);
    } else {
        col.define_list(ctx.name, items, &item.loc);
    }
    warn_unknown_keys(item, &["list", "items", "append", "override"], ctx, col)
}

fn read_macro(item: &Node, ctx: &Ctx, col: &mut Collector) -> R<()> {
    if !full_match(&IDENTIFIER, ctx.name) {
        let msg = format!("Macro has an invalid name. Macro names should match a regular expression: {RGX_IDENTIFIER}");
        ctx.warn(col, &item.loc, WarningCode::InvalidMacroName, msg);
    }
    let condition = ctx.req_str(item, "condition")?;
    let mut append = legacy_append(item, ctx, col)?;
    let ov = read_overrides(item, ctx, col, &["condition"], &["condition"])?;
    if append && !ov.is_empty() {
        return Err(ctx.err(&item.loc, ERROR_OVERRIDE_APPEND));
    }
    append |= !ov.append.is_empty();
    if append {
        col.append_macro(ctx.name, &condition, &item.loc);
    } else {
        col.define_macro(ctx.name, condition, &item.loc);
    }
    warn_unknown_keys(item, &["macro", "condition", "append", "override"], ctx, col)
}

fn read_priority(item: &Node, ctx: &Ctx) -> R<Priority> {
    let s = ctx.req_str(item, "priority")?;
    Priority::parse(&s.value).ok_or_else(|| ctx.err(&s.loc, format!("Invalid priority '{}'", s.value)))
}

/// Fills the patch for one `override` operation (`check_update_expected`):
/// each key listed for it must be defined in the item.
fn read_patch(
    item: &Node,
    ctx: &Ctx,
    col: &mut Collector,
    keys: &[String],
    op: &str,
    expected: &mut Vec<&'static str>,
) -> R<RulePatch> {
    let mut p = RulePatch::default();
    for key in RULE_REPLACE_KEYS.iter().chain(RULE_APPEND_KEYS).copied() {
        if !keys.iter().any(|k| k == key) || p_has(&p, key) {
            continue;
        }
        let Some(pos) = expected.iter().position(|k| *k == key) else {
            return Err(
                ctx.err(&item.loc, format!("An {op} override for '{key}' was specified but '{key}' is not defined"))
            );
        };
        expected.remove(pos);
        match key {
            "condition" => p.condition = Some(ctx.req_str(item, key)?),
            "output" => p.output = Some(ctx.req_str(item, key)?),
            "desc" => p.desc = Some(ctx.req_str(item, key)?.value),
            "tags" => p.tags = ctx.str_seq(item, key)?,
            "exceptions" => p.exceptions = Some(read_exceptions(item, ctx, col, op == "append")?.unwrap_or_default()),
            "priority" => p.priority = Some(read_priority(item, ctx)?),
            "enabled" => p.enabled = Some(ctx.req_bool(item, key)?),
            "capture" => p.capture = Some(ctx.req_bool(item, key)?),
            "warn_evttypes" => p.warn_evttypes = Some(ctx.req_bool(item, key)?),
            "skip-if-unknown-filter" => p.skip_if_unknown_filter = Some(ctx.req_bool(item, key)?),
            "capture_duration" => {
                p.capture_duration = Some(ctx.opt_u64(item, key)?.unwrap_or_default());
            }
            _ => {}
        }
    }
    Ok(p)
}

fn p_has(p: &RulePatch, key: &str) -> bool {
    match key {
        "condition" => p.condition.is_some(),
        "output" => p.output.is_some(),
        "desc" => p.desc.is_some(),
        "tags" => p.tags.is_some(),
        "exceptions" => p.exceptions.is_some(),
        _ => false,
    }
}

fn read_rule(item: &Node, ctx: &Ctx, col: &mut Collector, cfg: &EngineConfig) -> R<()> {
    let source = ctx.opt_empty_str(item, "source")?.unwrap_or_default();
    let has_append_flag = legacy_append(item, ctx, col)?;
    let ov = read_overrides(item, ctx, col, RULE_APPEND_KEYS, RULE_REPLACE_KEYS)?;
    if has_append_flag && !ov.is_empty() {
        return Err(ctx.err(&item.loc, ERROR_OVERRIDE_APPEND));
    }
    if !ov.is_empty() {
        // Keys that can be overridden and are present must each be listed.
        let mut expected: Vec<&'static str> = RULE_REPLACE_KEYS
            .iter()
            .chain(RULE_APPEND_KEYS)
            .copied()
            .filter(|k| item.get(k).is_some())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // Falco checks the source only when the condition changes.
        let src_for = |keys: &[String]| keys.iter().any(|k| k == "condition").then_some(source.as_str());
        if !ov.append.is_empty() {
            let p = read_patch(item, ctx, col, &ov.append, "append", &mut expected)?;
            col.append_rule(ctx.name, src_for(&ov.append), p, &item.loc);
        }
        if !ov.replace.is_empty() {
            let p = read_patch(item, ctx, col, &ov.replace, "replace", &mut expected)?;
            col.replace_rule(ctx.name, src_for(&ov.replace), p, &item.loc);
        }
        if let Some(key) = expected.first() {
            let loc = item.get_key(key).map_or(&item.loc, |k| &k.loc);
            return Err(
                ctx.err(loc, format!("Unexpected key '{key}': no corresponding entry under 'override' is defined."))
            );
        }
    } else if has_append_flag {
        let p = RulePatch {
            condition: ctx.opt_str(item, "condition")?,
            exceptions: read_exceptions(item, ctx, col, true)?,
            ..RulePatch::default()
        };
        col.append_rule(ctx.name, Some(&source), p, &item.loc);
    } else if ["condition", "output", "desc", "priority"].iter().all(|k| item.get(k).is_none()) {
        let enabled = ctx.req_bool(item, "enabled")?;
        ctx.warn(col, &item.loc, WarningCode::DeprecatedItem, WARNING_ENABLED);
        col.enable_rule(ctx.name, enabled, &item.loc);
    } else {
        define_rule(item, ctx, col, cfg)?;
        return warn_unknown_keys(item, RULE_KEYS, ctx, col);
    }
    // `actions:` on an append/override/enable item replaces the rule's
    // actions: how a local file arms a rule of Falco's files.
    if let Some(actions) = read_actions(item, ctx)? {
        col.set_actions(ctx.name, actions, &item.loc);
    }
    warn_unknown_keys(item, RULE_KEYS, ctx, col)
}

fn define_rule(item: &Node, ctx: &Ctx, col: &mut Collector, cfg: &EngineConfig) -> R<()> {
    let condition = ctx.req_str(item, "condition")?;
    let mut output = ctx.req_str(item, "output")?;
    output.value = output.value.trim().to_string();
    let desc = ctx.req_str(item, "desc")?.value;
    let priority = read_priority(item, ctx)?;
    let source = ctx.opt_str(item, "source")?.map_or_else(|| "syscall".to_string(), |s| s.value);
    let rule = RuleDef {
        name: ctx.name.to_string(),
        desc,
        condition,
        output,
        priority,
        enabled: ctx.opt_bool(item, "enabled")?.unwrap_or(true),
        capture: ctx.opt_bool(item, "capture")?.unwrap_or(false),
        capture_duration: ctx.opt_u64(item, "capture_duration")?.unwrap_or(0),
        warn_evttypes: ctx.opt_bool(item, "warn_evttypes")?.unwrap_or(true),
        skip_if_unknown_filter: ctx.opt_bool(item, "skip-if-unknown-filter")?.unwrap_or(false),
        tags: ctx.str_seq(item, "tags")?.unwrap_or_default().into_iter().collect(),
        exceptions: read_exceptions(item, ctx, col, false)?.unwrap_or_default(),
        actions: read_actions(item, ctx)?.unwrap_or_default(),
        unknown_source: !cfg.sources.contains(&source),
        source,
        loc: item.loc.clone(),
    };
    col.define_rule(rule);
    Ok(())
}

/// `actions: [kill_process, ...]`: a sequence of known action names; an
/// unknown one is an error at its own position. Duplicates collapse.
fn read_actions(item: &Node, ctx: &Ctx) -> R<Option<Vec<Action>>> {
    let Some(v) = item.get("actions") else { return Ok(None) };
    let seq = v
        .as_seq()
        .ok_or_else(|| ctx.err(&v.loc, format!("Value for key 'actions' is not a sequence, got {}", v.type_name())))?;
    let mut out: Vec<Action> = Vec::new();
    for n in seq {
        let NodeData::Scalar { value, .. } = &n.data else {
            return Err(ctx.err(&n.loc, format!("A value of key 'actions' is not a scalar, got {}", n.type_name())));
        };
        let a = Action::parse(value.trim())
            .ok_or_else(|| ctx.err(&n.loc, format!("Unknown action '{value}' (known actions: {})", Action::names())))?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(Some(out))
}
