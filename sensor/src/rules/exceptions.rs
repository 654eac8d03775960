//! Compiles rule exceptions into condition text (Falco's
//! `build_rule_exception_infos`): `(cond) and not (<exception>) ...`.

use std::fmt::Write as _;

use super::ast::Op;
use super::fields;
use super::items::{ExcElem, ExceptionDef};

/// Wraps in double quotes when the value has a space and is not quoted.
fn quote_item(s: &str) -> String {
    if s.contains(' ') && !s.starts_with('"') && !s.starts_with('\'') { format!("\"{s}\"") } else { s.to_string() }
}

fn paren_item(s: &str) -> String {
    if s.starts_with('(') { s.to_string() } else { format!("({s})") }
}

/// Operators whose right-hand side is a list.
fn is_list_op(comp: &str) -> bool {
    matches!(comp, "in" | "pmatch" | "intersects")
}

fn valid_comp(comp: &str) -> bool {
    Op::from_name(comp).is_some_and(|op| op != Op::Exists)
}

/// Builds the full condition text for a rule with exceptions.
///
/// # Errors
/// A message describing the malformed exception.
pub fn apply_exceptions(condition: &str, exceptions: &[ExceptionDef]) -> Result<String, String> {
    let mut out = String::new();
    let mut any = false;
    for ex in exceptions {
        for f in &ex.fields {
            let (base, arg) = match f.value.find('[') {
                Some(i) => (&f.value[..i], Some(f.value[i + 1..].trim_end_matches(']'))),
                None => (f.value.as_str(), None),
            };
            fields::resolve(base, arg).map_err(|e| format!("exception '{}': {e}", ex.name))?;
        }
        let comps: Vec<String> = match &ex.comps {
            Some(c) => c.iter().map(|s| s.value.clone()).collect(),
            None if ex.fields_is_list => vec!["=".to_string(); ex.fields.len()],
            None => vec!["in".to_string()],
        };
        for c in &comps {
            if !valid_comp(c) {
                return Err(format!("exception '{}': invalid comparison operator '{c}'", ex.name));
            }
        }
        if ex.fields_is_list && comps.len() != ex.fields.len() {
            return Err(format!("exception '{}': fields and comps lists must have equal length", ex.name));
        }
        if !ex.fields_is_list && !is_list_op(&comps[0]) {
            return Err(format!(
                "exception '{}': with a single field, comps must be one of in, pmatch, intersects",
                ex.name
            ));
        }
        if ex.values.is_empty() {
            continue;
        }
        let icond = if ex.fields_is_list {
            let mut s = String::from("(");
            for (i, row) in ex.values.iter().enumerate() {
                if row.len() != ex.fields.len() {
                    return Err(format!("exception '{}': fields and values lists must have equal length", ex.name));
                }
                s.push_str(if i == 0 { "(" } else { " or (" });
                for (k, elem) in row.iter().enumerate() {
                    if k > 0 {
                        s.push_str(" and ");
                    }
                    let v = match elem {
                        ExcElem::List(items) => {
                            format!("({})", items.iter().map(|v| quote_item(v)).collect::<Vec<_>>().join(", "))
                        }
                        ExcElem::Scalar(v) if is_list_op(&comps[k]) => paren_item(v),
                        ExcElem::Scalar(v) => quote_item(v),
                    };
                    let _ = write!(s, "{} {} {}", ex.fields[k].value, comps[k], v);
                }
                s.push(')');
            }
            s.push(')');
            s
        } else {
            let vals: Vec<String> = ex
                .values
                .iter()
                .flat_map(|row| row.iter())
                .map(|e| match e {
                    ExcElem::Scalar(v) => quote_item(v),
                    ExcElem::List(items) => items.iter().map(|v| quote_item(v)).collect::<Vec<_>>().join(", "),
                })
                .collect();
            format!("({} {} ({}))", ex.fields[0].value, comps[0], vals.join(", "))
        };
        if !any {
            out = format!("({condition})");
            any = true;
        }
        out.push_str(" and not ");
        out.push_str(&icond);
    }
    Ok(if any { out } else { condition.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::items::Spanned;

    fn sp(s: &str) -> Spanned {
        Spanned { value: s.into(), loc: crate::rules::error::Location::default() }
    }

    #[test]
    fn list_form() {
        let ex = ExceptionDef {
            name: "e".into(),
            fields_is_list: true,
            fields: vec![sp("proc.name"), sp("fd.name")],
            comps: Some(vec![sp("="), sp("in")]),
            values: vec![
                vec![ExcElem::Scalar("cat".into()), ExcElem::List(vec!["/a".into(), "/b c".into()])],
                vec![ExcElem::Scalar("my app".into()), ExcElem::Scalar("my_list".into())],
            ],
            loc: crate::rules::error::Location::default(),
        };
        assert_eq!(
            apply_exceptions("evt.type=open", &[ex]).unwrap(),
            "(evt.type=open) and not ((proc.name = cat and fd.name in (/a, \"/b c\")) or (proc.name = \"my app\" and fd.name in (my_list)))"
        );
    }

    #[test]
    fn scalar_form() {
        let ex = ExceptionDef {
            name: "e".into(),
            fields_is_list: false,
            fields: vec![sp("proc.name")],
            comps: None,
            values: vec![vec![ExcElem::Scalar("a".into())], vec![ExcElem::Scalar("b".into())]],
            loc: crate::rules::error::Location::default(),
        };
        assert_eq!(apply_exceptions("c", &[ex]).unwrap(), "(c) and not (proc.name in (a, b))");
    }

    #[test]
    fn no_values_adds_nothing() {
        let ex = ExceptionDef {
            name: "e".into(),
            fields_is_list: true,
            fields: vec![sp("proc.name")],
            comps: None,
            values: vec![],
            loc: crate::rules::error::Location::default(),
        };
        assert_eq!(apply_exceptions("c", &[ex]).unwrap(), "c");
    }
}
