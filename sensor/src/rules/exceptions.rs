//! Rule exceptions: validation when a rule is collected (Falco's
//! `validate_exception_info` in `rule_loader_collector.cpp`) and compilation
//! into condition text (`build_rule_exception_infos` in
//! `rule_loader_compiler.cpp`): `(cond) and not <exception> ...`.

use super::ast::{Op, Transformer};
use super::fields;
use super::items::{ExcElem, ExcEntry, ExcValue, ExceptionDef, Spanned};

/// Wraps in double quotes when the value has a space and is not quoted.
fn quote_item(s: &str) -> String {
    if s.contains(' ') && !s.starts_with('"') && !s.starts_with('\'') { format!("\"{s}\"") } else { s.to_string() }
}

fn paren_item(s: &str) -> String {
    if s.starts_with('(') { s.to_string() } else { format!("({s})") }
}

/// `startswith oneof`, `= anyof`, ...: a string operator with a list
/// modifier (Falco's `is_str_operator_with_modifier`).
#[must_use]
pub fn is_str_operator_with_modifier(comp: &str) -> bool {
    let mut parts = comp.split_whitespace();
    let (Some(base), Some(modifier), None) = (parts.next(), parts.next(), parts.next()) else { return false };
    let string_op = Op::from_name(base).is_some_and(Op::supports_modifier);
    string_op && matches!(modifier, "oneof" | "anyof" | "allof")
}

/// Operators whose right-hand side is a list.
fn is_operator_for_list(comp: &str) -> bool {
    matches!(comp, "in" | "pmatch" | "intersects") || is_str_operator_with_modifier(comp)
}

fn is_operator_defined(comp: &str) -> bool {
    Op::from_name(comp).is_some()
}

/// Why `text` does not name a field (possibly inside transformers) the
/// syscall source can extract; `None` when it does (Falco's
/// `is_valid_lhs_field`).
#[must_use]
pub fn lhs_field_problem(text: &str) -> Option<String> {
    let mut s = text.trim();
    // Peel transformers: `tolower( proc.name)` -> `proc.name`.
    while let Some(open) = s.find('(') {
        let name = s[..open].trim();
        if !Transformer::ALL.iter().any(|(n, _)| *n == name) || !s.ends_with(')') {
            return Some(format!("unknown transformer '{name}'"));
        }
        s = s[open + 1..s.len() - 1].trim();
    }
    let (base, arg) = match s.find('[') {
        Some(i) if s.ends_with(']') => (&s[..i], Some(&s[i + 1..s.len() - 1])),
        Some(_) => return Some("unterminated field argument".into()),
        None => (s, None),
    };
    fields::resolve(base, arg).err().map(|e| e.to_string())
}

#[must_use]
pub fn is_valid_lhs_field(text: &str) -> bool {
    lhs_field_problem(text).is_none()
}

fn normalize_comp(s: &mut Spanned) {
    let t = s.value.trim_matches([' ', '\t', '\r', '\n']);
    if t.len() != s.value.len() {
        s.value = t.to_string();
    }
}

/// Validates an exception of a rule being defined (or a new exception
/// being appended) and fills in the default `comps`. `check_fields` is
/// false for rules of a source this engine does not know.
///
/// # Errors
/// Falco's message for the first problem found.
pub fn validate(ex: &mut ExceptionDef, check_fields: bool) -> Result<(), String> {
    let Some(fields) = &ex.fields else {
        return Err("Rule exception item must have fields property with a list of fields".into());
    };
    if fields.is_list {
        let comps = ex.comps.get_or_insert_with(|| ExcEntry {
            is_list: true,
            items: fields.items.iter().map(|f| Spanned { value: "=".into(), loc: f.loc.clone() }).collect(),
        });
        if fields.items.len() != comps.items.len() {
            return Err("Fields and comps lists must have equal length".into());
        }
        for c in &mut comps.items {
            normalize_comp(c);
            if !is_operator_defined(&c.value) && !is_str_operator_with_modifier(&c.value) {
                return Err(format!("'{}' is not a supported comparison operator", c.value));
            }
        }
        if check_fields
            && let Some((f, why)) = fields.items.iter().find_map(|f| Some((f, lhs_field_problem(&f.value)?)))
        {
            return Err(format!("'{}' is not a supported filter field ({why})", f.value));
        }
    } else {
        let comps = ex.comps.get_or_insert_with(|| ExcEntry {
            is_list: false,
            items: vec![Spanned { value: "in".into(), loc: ex.loc.clone() }],
        });
        if comps.is_list {
            return Err("Fields and comps must both be strings".into());
        }
        let Some(c) = comps.items.first_mut() else { return Err("Fields and comps must both be strings".into()) };
        normalize_comp(c);
        if !matches!(c.value.as_str(), "in" | "pmatch" | "intersects") && !is_str_operator_with_modifier(&c.value) {
            return Err("When fields is a single value, comps must be one of (in, pmatch, intersects) or a modifier \
                        operator (e.g. startswith oneof)"
                .into());
        }
        if check_fields
            && let Some((f, why)) = fields.items.first().and_then(|f| Some((f, lhs_field_problem(&f.value)?)))
        {
            return Err(format!("'{}' is not a supported filter field ({why})", f.value));
        }
    }
    Ok(())
}

fn single_field_condition(field: &str, comp: &str, values: &[ExcValue]) -> Result<String, String> {
    let mut icond = String::new();
    for v in values {
        let ExcValue::Scalar(v) = v else { return Err("Expected values array to contain a list of strings".into()) };
        if icond.is_empty() {
            icond = format!("({field} {comp} (");
        } else {
            icond.push_str(", ");
        }
        icond.push_str(&quote_item(v));
    }
    if !icond.is_empty() {
        icond.push_str("))");
    }
    Ok(icond)
}

fn multi_field_condition(fields: &[Spanned], comps: &[Spanned], values: &[ExcValue]) -> Result<String, String> {
    let mut icond = String::from("(");
    for row in values {
        let elems: &[ExcElem] = match row {
            ExcValue::Tuple(e) => e,
            ExcValue::Scalar(_) => &[],
        };
        if elems.len() != fields.len() {
            return Err("Fields and values lists must have equal length".into());
        }
        if icond != "(" {
            icond.push_str(" or ");
        }
        icond.push('(');
        for (k, ((field, comp), elem)) in fields.iter().zip(comps).zip(elems).enumerate() {
            if k > 0 {
                icond.push_str(" and ");
            }
            let istr = match elem {
                ExcElem::List(items) => {
                    format!("({})", items.iter().map(|v| quote_item(v)).collect::<Vec<_>>().join(", "))
                }
                ExcElem::Scalar(v) if is_operator_for_list(&comp.value) => paren_item(v),
                ExcElem::Scalar(v) => quote_item(v),
            };
            icond.push(' ');
            icond.push_str(&field.value);
            icond.push(' ');
            icond.push_str(&comp.value);
            icond.push(' ');
            icond.push_str(&istr);
        }
        icond.push(')');
    }
    icond.push(')');
    Ok(if icond == "()" { String::new() } else { icond })
}

/// Builds the full condition text for a rule with exceptions, exactly as
/// Falco does: the condition in parentheses, then ` and not <exception>`
/// for each exception that has values.
///
/// # Errors
/// Values that do not fit the exception's fields.
pub fn apply_exceptions(condition: &str, exceptions: &[ExceptionDef]) -> Result<String, String> {
    if exceptions.is_empty() {
        return Ok(condition.to_string());
    }
    let mut out = format!("({condition})");
    for ex in exceptions {
        let (Some(fields), Some(comps)) = (&ex.fields, &ex.comps) else { continue };
        let values = ex.values.as_deref().unwrap_or_default();
        let icond = if fields.is_list {
            multi_field_condition(&fields.items, &comps.items, values)
        } else {
            match (fields.items.first(), comps.items.first()) {
                (Some(f), Some(c)) => single_field_condition(&f.value, &c.value, values),
                _ => Ok(String::new()),
            }
        }
        .map_err(|e| format!("exception '{}': {e}", ex.name))?;
        if !icond.is_empty() {
            out.push_str(" and not ");
            out.push_str(&icond);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(s: &str) -> Spanned {
        Spanned { value: s.into(), loc: crate::rules::error::Location::default() }
    }

    fn entry(is_list: bool, items: &[&str]) -> ExcEntry {
        ExcEntry { is_list, items: items.iter().map(|s| sp(s)).collect() }
    }

    fn ex(fields: ExcEntry, comps: Option<ExcEntry>, values: Vec<ExcValue>) -> ExceptionDef {
        ExceptionDef {
            name: "e".into(),
            fields: Some(fields),
            comps,
            values: Some(values),
            loc: crate::rules::error::Location::default(),
        }
    }

    fn s(v: &str) -> ExcElem {
        ExcElem::Scalar(v.into())
    }

    #[test]
    fn list_form() {
        let mut e = ex(
            entry(true, &["proc.name", "fd.name"]),
            Some(entry(true, &["=", "in"])),
            vec![
                ExcValue::Tuple(vec![s("cat"), ExcElem::List(vec!["/a".into(), "/b c".into()])]),
                ExcValue::Tuple(vec![s("my app"), s("my_list")]),
            ],
        );
        validate(&mut e, true).unwrap();
        assert_eq!(
            apply_exceptions("evt.type=open", &[e]).unwrap(),
            // Falco's text, double blank after "and" included.
            "(evt.type=open) and not (( proc.name = cat and  fd.name in (/a, \"/b c\")) or ( proc.name = \"my app\" \
             and  fd.name in (my_list)))"
        );
    }

    #[test]
    fn scalar_form_defaults_to_in() {
        let mut e =
            ex(entry(false, &["proc.name"]), None, vec![ExcValue::Scalar("a".into()), ExcValue::Scalar("b c".into())]);
        validate(&mut e, true).unwrap();
        assert_eq!(apply_exceptions("c", &[e]).unwrap(), "(c) and not (proc.name in (a, \"b c\"))");
    }

    #[test]
    fn scalar_form_rejects_tuple_values() {
        // Falco: "Expected values array to contain a list of strings".
        let mut e = ex(entry(false, &["proc.name"]), None, vec![ExcValue::Tuple(vec![s("a")])]);
        validate(&mut e, true).unwrap();
        assert!(apply_exceptions("c", &[e]).unwrap_err().contains("Expected values array"));
    }

    #[test]
    fn list_form_rejects_scalar_rows() {
        let mut e = ex(entry(true, &["proc.name"]), None, vec![ExcValue::Scalar("a".into())]);
        validate(&mut e, true).unwrap();
        assert!(apply_exceptions("c", &[e]).unwrap_err().contains("Fields and values lists must have equal length"));
    }

    #[test]
    fn no_values_still_parenthesises() {
        let mut e = ex(entry(true, &["proc.name"]), None, vec![]);
        validate(&mut e, true).unwrap();
        assert_eq!(apply_exceptions("c", &[e]).unwrap(), "(c)");
    }

    #[test]
    fn modifier_comps() {
        // test_rule_loader.cpp: exceptions_modifier_op_* cases.
        for ok in ["startswith oneof", "contains allof", "= oneof", "glob anyof", "  startswith oneof  "] {
            let mut e = ex(entry(true, &["proc.name"]), Some(entry(true, &[ok])), vec![]);
            assert!(validate(&mut e, true).is_ok(), "{ok}");
        }
        for bad in ["frobulate oneof", "in oneof", ">= oneof", "oneof"] {
            let mut e = ex(entry(true, &["proc.name"]), Some(entry(true, &[bad])), vec![]);
            let err = validate(&mut e, true).unwrap_err();
            assert_eq!(err, format!("'{bad}' is not a supported comparison operator"));
        }
        let mut e = ex(entry(false, &["proc.name"]), Some(entry(false, &["frobulate oneof"])), vec![]);
        assert!(validate(&mut e, true).unwrap_err().contains("comps must be one of"));
        // A scalar value with a modifier op is parenthesised.
        let mut e = ex(
            entry(true, &["proc.name"]),
            Some(entry(true, &["startswith oneof"])),
            vec![ExcValue::Tuple(vec![s("sshd")])],
        );
        validate(&mut e, true).unwrap();
        assert_eq!(apply_exceptions("c", &[e]).unwrap(), "(c) and not (( proc.name startswith oneof (sshd)))");
    }

    #[test]
    fn lhs_fields_with_transformers() {
        assert!(is_valid_lhs_field("tolower(proc.name)"));
        assert!(is_valid_lhs_field("tolower( proc.name)"));
        assert!(is_valid_lhs_field("proc.aname[2]"));
        assert!(!is_valid_lhs_field("proc.nmae"));
        assert!(!is_valid_lhs_field("frob(proc.name)"));
    }
}
