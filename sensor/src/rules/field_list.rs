//! `sensor fields`: the field registry for people (like `falco --list`)
//! and for tools (JSON).

use std::fmt::Write as _;

use serde::Serialize;

use super::fields::{ArgSpec, FIELDS, FieldInfo};

/// The argument a field takes, for tools.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ArgInfo {
    /// `ancestor` (a level), `index`, `key`, or `name_or_index` (`evt.arg`).
    pub kind: &'static str,
    pub required: bool,
    /// How it is written: `[N]`, `[key]`, `.name`.
    pub syntax: &'static str,
}

#[derive(Debug, Serialize)]
pub struct FieldEntry {
    pub name: &'static str,
    /// Falco's type names: string, uint64, int64, bool, ipaddr, ipnet,
    /// port, reltime, abstime, bytebuf, dynamic.
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// `null` when the field takes no argument.
    pub arg: Option<ArgInfo>,
    pub description: &'static str,
}

fn arg_info(a: ArgSpec) -> Option<ArgInfo> {
    let (kind, required, syntax) = match a {
        ArgSpec::None => return None,
        ArgSpec::Ancestor => ("ancestor", false, "[N]"),
        ArgSpec::OptIndex => ("index", false, "[N]"),
        ArgSpec::OptKey => ("key", false, "[key]"),
        ArgSpec::Key => ("key", true, "[key]"),
        ArgSpec::EvtArg => ("name_or_index", true, ".name, [name] or [N]"),
    };
    Some(ArgInfo { kind, required, syntax })
}

fn entry(f: &'static FieldInfo) -> FieldEntry {
    FieldEntry { name: f.name, ty: f.ty.name(), arg: arg_info(f.arg), description: f.description() }
}

/// Every registered field, in registry order.
#[must_use]
pub fn entries() -> Vec<FieldEntry> {
    FIELDS.iter().map(entry).collect()
}

/// One field name per line.
#[must_use]
pub fn names() -> String {
    FIELDS.iter().fold(String::new(), |mut s, f| {
        s.push_str(f.name);
        s.push('\n');
        s
    })
}

#[must_use]
pub fn to_json() -> String {
    serde_json::to_string_pretty(&entries()).unwrap_or_else(|_| String::from("[]"))
}

fn class(f: &FieldInfo) -> &'static str {
    f.name.split('.').next().unwrap_or(f.name)
}

/// Fields grouped by class (`evt`, `proc`, ... in registry order): name
/// with its argument syntax, type, description, and the argument's meaning
/// when it takes one.
#[must_use]
pub fn render_text() -> String {
    let shown = |f: &FieldInfo| match f.arg {
        ArgSpec::None => f.name.to_owned(),
        ArgSpec::EvtArg => format!("{}.NAME", f.name),
        ArgSpec::Ancestor | ArgSpec::OptIndex => format!("{}[N]", f.name),
        ArgSpec::OptKey | ArgSpec::Key => format!("{}[KEY]", f.name),
    };
    let width = FIELDS.iter().map(|f| shown(f).len()).max().unwrap_or(0);
    let mut classes: Vec<&str> = Vec::new();
    for f in FIELDS {
        if !classes.contains(&class(f)) {
            classes.push(class(f));
        }
    }
    let mut s = String::new();
    for c in classes {
        let _ = writeln!(s, "{}Field class: {c}\n", if s.is_empty() { "" } else { "\n" });
        for f in FIELDS.iter().filter(|f| class(f) == c) {
            let _ = writeln!(s, "{:<width$}  {:<8} {}", shown(f), f.ty.name(), f.description());
            if f.arg != ArgSpec::None {
                let _ = writeln!(s, "{:<width$}  {:<8} argument: {}", "", "", f.arg.describe());
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_field_once_with_its_argument() {
        let e = entries();
        assert_eq!(e.len(), FIELDS.len());
        let aname = e.iter().find(|f| f.name == "proc.aname").unwrap();
        assert_eq!(aname.ty, "string");
        assert_eq!(aname.arg, Some(ArgInfo { kind: "ancestor", required: false, syntax: "[N]" }));
        let dest = e.iter().find(|f| f.name == "container.mount.dest").unwrap();
        assert_eq!(dest.arg.as_ref().map(|a| a.required), Some(true));
        assert!(e.iter().find(|f| f.name == "proc.name").unwrap().arg.is_none());

        let text = render_text();
        assert!(text.starts_with("Field class: evt\n"), "{}", &text[..100]);
        assert!(text.contains("\nField class: k8s\n"));
        assert_eq!(text.matches("Field class: evt\n").count(), 1, "one block per class");
        let line = text.lines().find(|l| l.starts_with("proc.aname[N] ")).unwrap();
        assert!(line.contains(" string ") && line.contains("Name of an ancestor"), "{line}");
        assert_eq!(names().lines().count(), FIELDS.len());

        let json: serde_json::Value = serde_json::from_str(&to_json()).unwrap();
        assert_eq!(json.as_array().unwrap().len(), FIELDS.len());
        let evt_arg = json.as_array().unwrap().iter().find(|f| f["name"] == "evt.arg").unwrap();
        assert_eq!(evt_arg["arg"]["kind"], "name_or_index");
        assert_eq!(evt_arg["type"], "dynamic");
    }
}
