//! Load warnings Falco derives from a rule's expanded condition and output:
//! deprecated fields (`filter_warning_resolver.cpp`,
//! `check_deprecated_fields_in_output`) and the value checks of libsinsp's
//! filter compiler (`check_value_and_add_warnings`: a regex that simpler
//! operators could do, a field or transformer written as a string value).

use std::collections::HashSet;
use std::sync::LazyLock;

use super::ast::{Expr, FieldExpr, Op, Rhs};
use super::exceptions::is_valid_lhs_field;
use super::fields;

/// Falco's deprecated fields, with the description it warns with when one
/// is used in a condition.
pub const DEPRECATED_FIELDS: &[(&str, &str)] = &[
    (
        "evt.dir",
        "due to the drop of enter events, 'evt.dir = <' always evaluates to true, and 'evt.dir = >' always evaluates \
         to false. The rule expression can be simplified by removing the condition on 'evt.dir'",
    ),
    ("evt.latency", LATENCY),
    ("evt.latency.s", LATENCY),
    ("evt.latency.ns", LATENCY),
    ("evt.latency.human", LATENCY),
    ("evt.wait_latency", LATENCY),
];
const LATENCY: &str = "field is not available due to the drop of enter events.";

/// Field classes (`proc`, `fd`, ...): a value is only checked against the
/// field table when it starts with one (keeps the check cheap).
static CLASSES: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| fields::FIELDS.iter().filter_map(|f| f.name.split('.').next()).collect());

/// Transformers of the filter grammar (libsinsp `s_field_transformers`).
const TRANSFORMERS: &[&str] = &["tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt"];

/// Messages for deprecated fields found in an output format (Falco looks
/// for the field names as substrings of the format).
#[must_use]
pub fn deprecated_in_output(output: &str) -> Vec<String> {
    DEPRECATED_FIELDS
        .iter()
        .filter(|(f, _)| output.contains(f))
        .map(|(f, _)| format!("usage of deprecated field '{f}' has been detected in the rule output"))
        .collect()
}

fn field_names<'e>(f: &'e FieldExpr, out: &mut Vec<&'e str>) {
    match f {
        FieldExpr::Field { name, .. } => out.push(name),
        FieldExpr::Transform { args, .. } | FieldExpr::List { items: args, .. } => {
            for a in args {
                field_names(a, out);
            }
        }
        FieldExpr::Literal { .. } => {}
    }
}

/// The regex heuristic of `check_warnings_regex_value`: true when the
/// pattern has no regex syntax besides anchors and leading/trailing `.*`.
fn regex_is_trivial(v: &str) -> bool {
    const SPECIAL: &[u8] = b".+*?^$()[]{}|\\";
    const OCCURRENCE: &[u8] = b"+*?";
    let b = v.as_bytes();
    let len = b.len();
    let mut i = 0;
    while i < len {
        if (i == 0 && b[i] == b'^') || (i == len - 1 && b[i] == b'$') {
            i += 1;
            continue;
        }
        if ((i == 0 && len > 1) || (len >= 2 && i == len - 2))
            && b[i] == b'.'
            && b.get(i + 1).is_some_and(|c| OCCURRENCE.contains(c))
        {
            i += 2;
            continue;
        }
        if SPECIAL.contains(&b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

fn value_warnings(op: Op, v: &str, out: &mut Vec<String>) {
    let nospaces: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    if op == Op::Regex && regex_is_trivial(v) {
        out.push(format!(
            "regex check with '{v}' may be optimized with simpler operators such as '=', 'contains', 'startswith', \
             'endswith'"
        ));
    }
    let class = nospaces.split_once('.').map(|(c, _)| c);
    if class.is_some_and(|c| CLASSES.contains(c)) && !nospaces.contains('(') && is_valid_lhs_field(&nospaces) {
        out.push(format!("'{v}' may be a valid field misused as a const string value"));
    }
    for t in TRANSFORMERS {
        if nospaces.len() >= t.len() + 2
            && nospaces.starts_with(t)
            && nospaces.as_bytes()[t.len()] == b'('
            && nospaces.ends_with(')')
        {
            out.push(format!("'{v}' may be a valid field transformer misused as a const string value"));
        }
    }
}

/// Warnings for an expanded condition: `(deprecated field descriptions,
/// compile-condition messages)`, each deduplicated in order.
#[must_use]
pub fn condition_warnings(e: &Expr) -> (Vec<String>, Vec<String>) {
    let mut fields: Vec<&str> = Vec::new();
    let mut compile = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::And(cs) | Expr::Or(cs) => stack.extend(cs.iter().rev()),
            Expr::Not(c) => stack.push(c),
            Expr::Macro { .. } => {}
            Expr::Check(c) => {
                field_names(&c.lhs, &mut fields);
                match &c.rhs {
                    Rhs::Value(v) => value_warnings(c.op, &v.text, &mut compile),
                    Rhs::List(vs) => vs.iter().for_each(|v| value_warnings(c.op, &v.text, &mut compile)),
                    Rhs::Field(f) => field_names(f, &mut fields),
                    Rhs::None => {}
                }
            }
        }
    }
    let deprecated = DEPRECATED_FIELDS
        .iter()
        .filter(|(f, _)| fields.contains(f))
        .map(|(f, desc)| format!("usage of deprecated field '{f}': {desc}"))
        .collect();
    let mut seen = HashSet::new();
    compile.retain(|m| seen.insert(m.clone()));
    (deprecated, compile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parser;

    fn lint(c: &str) -> (Vec<String>, Vec<String>) {
        condition_warnings(&parser::parse(c).unwrap())
    }

    #[test]
    fn deprecated_fields() {
        // test_rule_loader.cpp: deprecated_evt_dir_folded_scalar_condition_snippet
        let (d, _) = lint("evt.type = close and evt.dir = <");
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("'evt.dir'") && d[0].contains("always evaluates to true"), "{d:?}");
        assert!(lint("evt.type = close").0.is_empty());
        // test_rule_loader.cpp: deprecated_field_in_output / no_deprecated_field_warning_in_output
        assert_eq!(
            deprecated_in_output("user=%user.name evt.dir=%evt.dir"),
            ["usage of deprecated field 'evt.dir' has been detected in the rule output"]
        );
        assert!(deprecated_in_output("user=%user.name").is_empty());
    }

    #[test]
    fn value_misuse() {
        // test_rule_loader.cpp: exceptions_values_rhs_field_ambiguous(_quoted, _space_quoted)
        let (_, c) = lint("evt.type = open and not proc.name = proc.pname");
        assert_eq!(c, ["'proc.pname' may be a valid field misused as a const string value"]);
        let (_, c) = lint("evt.type = open and not proc.name = \"proc.pname \"");
        assert_eq!(c, ["'proc.pname ' may be a valid field misused as a const string value"]);
        // exceptions_values_transformer_space(_quoted)
        let (_, c) = lint("evt.type = open and not proc.name = \"toupper( proc.pname)\"");
        assert_eq!(c, ["'toupper( proc.pname)' may be a valid field transformer misused as a const string value"]);
        // exceptions_values_rhs_transformer: a real transformer is no string.
        assert!(lint("evt.type = open and not proc.name = toupper(proc.pname)").1.is_empty());
        assert!(lint("evt.type = open and proc.name in (bash, /usr/bin/x, 10.0.0.1)").1.is_empty());
    }

    #[test]
    fn regex_heuristic() {
        assert!(regex_is_trivial("abc"));
        assert!(regex_is_trivial("^abc$"));
        assert!(regex_is_trivial(".*abc"));
        assert!(regex_is_trivial("abc.*"));
        assert!(!regex_is_trivial("a[0-9]+"));
        assert!(!regex_is_trivial("a.c"));
        assert_eq!(lint("proc.name regex abc").1.len(), 1);
    }
}
