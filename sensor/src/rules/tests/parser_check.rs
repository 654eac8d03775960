//! Parser behaviour that libsinsp's tests pin down by tree shape, message or
//! position, plus the edge cases that follow from its parser code
//! (`userspace/libsinsp/filter/parser.cpp`), and the helpers the vector
//! tables use.

use crate::rules::ast::{Check, Expr, FieldExpr, ListModifier, Op, Rhs, Transformer, Value};
use crate::rules::parser::{parse, parse_with_depth};

/// Every input must parse, also with blanks around it and with every space
/// turned into `\n`, then into `\t` (libsinsp `test_accept`).
pub fn accepts(inputs: &[&str]) {
    let mut failures = Vec::new();
    for i in inputs {
        let spaced = format!(" {i} ");
        let nl = spaced.replace(' ', "\n");
        let tab = nl.replace('\n', "\t");
        for v in [(*i).to_string(), spaced, nl, tab] {
            if let Err(e) = parse(&v) {
                failures.push(format!("{v:?}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "rejected:\n{}", failures.join("\n"));
}

/// Every input must be rejected (libsinsp `test_reject`).
pub fn rejects(inputs: &[&str]) {
    let accepted: Vec<_> = inputs.iter().filter(|i| parse(i).is_ok()).collect();
    assert!(accepted.is_empty(), "accepted: {accepted:?}");
}

fn msg(cond: &str) -> String {
    match parse(cond) {
        Ok(e) => panic!("{cond:?} parsed as {e:?}"),
        Err(e) => e.message,
    }
}

fn check(cond: &str) -> Check {
    match parse(cond) {
        Ok(Expr::Check(c)) => *c,
        other => panic!("{cond:?}: {other:?}"),
    }
}

fn field(name: &str) -> FieldExpr {
    FieldExpr::Field { name: name.into(), arg: None, pos: 0 }
}

/// Drops positions so trees can be compared structurally.
fn strip(e: &mut Expr) {
    fn strip_fe(f: &mut FieldExpr) {
        match f {
            FieldExpr::Field { pos, .. } | FieldExpr::Literal { pos, .. } => *pos = 0,
            FieldExpr::Transform { args, pos, .. } | FieldExpr::List { items: args, pos } => {
                *pos = 0;
                args.iter_mut().for_each(strip_fe);
            }
        }
    }
    match e {
        Expr::And(cs) | Expr::Or(cs) => cs.iter_mut().for_each(strip),
        Expr::Not(c) => strip(c),
        Expr::Macro { pos, .. } => *pos = 0,
        Expr::Check(c) => {
            c.pos = 0;
            strip_fe(&mut c.lhs);
            if let Rhs::Field(f) = &mut c.rhs {
                strip_fe(f);
            }
        }
    }
}

fn tree(cond: &str) -> Expr {
    let mut e = parse(cond).unwrap_or_else(|e| panic!("{cond:?}: {e}"));
    strip(&mut e);
    e
}

fn mk(lhs: FieldExpr, op: Op, modifier: Option<ListModifier>, rhs: Rhs) -> Expr {
    Expr::Check(Box::new(Check { lhs, op, modifier, rhs, pos: 0, origin: None }))
}

fn list(items: &[&str]) -> Rhs {
    Rhs::List(items.iter().map(|s| Value::from(*s)).collect())
}

fn macro_(name: &str) -> Expr {
    Expr::Macro { name: name.into(), pos: 0 }
}

// libs filter_parser.ut.cpp, TEST(parser, expr_all_node_types), TEST(parser, expr_multi_negation)
#[test]
fn tree_shapes() {
    let a = mk(field("evt.name"), Op::Exists, None, Rhs::None);
    let b = mk(field("evt.type"), Op::In, None, list(&["a", "b"]));
    let c = mk(field("proc.name"), Op::Eq, None, Rhs::Value("cat".into()));
    assert_eq!(
        tree("evt.name exists and evt.type in (a, b) or proc.name=cat"),
        Expr::Or(vec![Expr::And(vec![a, b]), c])
    );
    assert_eq!(
        tree("not not not not not(not not(not not_macro))"),
        Expr::Not(Box::new(Expr::Not(Box::new(macro_("not_macro")))))
    );
}

// libs filter_parser.ut.cpp, TEST(parser, parse_str_op_modifier_ast)
#[test]
fn modifier_trees() {
    let name = || field("proc.name");
    assert_eq!(
        tree("proc.name == oneof (cat, nginx)"),
        mk(name(), Op::Eq, Some(ListModifier::OneOf), list(&["cat", "nginx"]))
    );
    assert_eq!(
        tree("proc.name != anyof (cat, nginx)"),
        mk(name(), Op::Ne, Some(ListModifier::AnyOf), list(&["cat", "nginx"]))
    );
    assert_eq!(tree("proc.name == oneof ()"), mk(name(), Op::Eq, Some(ListModifier::OneOf), list(&[])));
    assert_eq!(tree("proc.name == oneof my_list"), mk(name(), Op::Eq, Some(ListModifier::OneOf), list(&["my_list"])));
    assert_eq!(
        tree("proc.name startswith anyof (/etc/, /tmp/)"),
        mk(name(), Op::StartsWith, Some(ListModifier::AnyOf), list(&["/etc/", "/tmp/"]))
    );
    // A bare modifier keyword followed by and/or is a plain value.
    assert_eq!(
        tree("proc.name == anyof and fd.name exists"),
        Expr::And(vec![
            mk(name(), Op::Eq, None, Rhs::Value("anyof".into())),
            mk(field("fd.name"), Op::Exists, None, Rhs::None)
        ])
    );
    // `android` is not the keyword `and` (an alphanumeric follows), so it is a list name.
    assert_eq!(tree("proc.name == oneof android"), mk(name(), Op::Eq, Some(ListModifier::OneOf), list(&["android"])));
}

// libs filter_parser.ut.cpp, TEST(parser, parse_transformer_with_arg),
// TEST(parser, parse_shared_field_arg_syntax), TEST(parser, filtercheck_arg_optional)
#[test]
fn field_and_transformer_arguments() {
    let getopt = |arg: Option<&str>| FieldExpr::Transform {
        tr: Transformer::Getopt,
        args: vec![field("proc.args"), FieldExpr::Literal { value: "nt:".into(), pos: 0 }],
        arg: arg.map(String::from),
        pos: 0,
    };
    let want = mk(getopt(Some("t")), Op::Eq, None, Rhs::Value("value".into()));
    assert_eq!(tree(r#"getopt(proc.args, "nt:")[t] = value"#), want);
    assert_eq!(tree(r#"getopt(proc.args, "nt:")["t"] = value"#), want);
    assert_eq!(
        tree(r#"getopt(proc.args, "nt:")[""] = value"#),
        mk(getopt(Some("")), Op::Eq, None, Rhs::Value("value".into()))
    );
    assert_eq!(
        check(r#"test.str[""] = value"#).lhs,
        FieldExpr::Field { name: "test.str".into(), arg: Some(String::new()), pos: 0 }
    );
    assert_eq!(
        check(r#"evt.arg["key with space"] = v"#).lhs,
        FieldExpr::Field { name: "evt.arg".into(), arg: Some("key with space".into()), pos: 0 }
    );
    assert_eq!(check("test.str = value").lhs, field("test.str"));
}

// libs filter_parser.ut.cpp, TEST(parser, parse_shared_field_arg_exceptions)
#[test]
fn field_argument_messages() {
    assert_eq!(msg("evt.arg[] = value"), "expected a valid field argument: a quoted string or a bare string");
    assert_eq!(msg(r#"evt.arg["x" = value"#), "expected a ']' token");
    assert_eq!(
        msg(r#"getopt(proc.args, "nt:")[] = value"#),
        "expected a valid field argument: a quoted string or a bare string"
    );
    assert_eq!(msg(r#"getopt(proc.args, "nt:")["t" = value"#), "expected a ']' token");
}

// libs filter_parser.ut.cpp, TEST(parser, recursion_depth_limit); parser.cpp `depth_guard`
// (one level per production; Falco's rule_loader_compiler.cpp sets the limit to 1000).
#[test]
fn depth_limit_counts_like_libsinsp() {
    assert_eq!(msg(&"(".repeat(100_000)), "exceeded max depth limit of 1000");
    let nested = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
    assert!(parse_with_depth("((((((((((a))))))))))", 100).is_ok());
    // Each parenthesis costs five levels (check, embedded, or, and, not) and
    // the innermost check four: 19 levels fit under 100, 20 do not.
    assert!(parse_with_depth(&nested(19), 100).is_ok());
    let e = parse_with_depth(&nested(20), 100).unwrap_err();
    assert_eq!(e.message, "exceeded max depth limit of 100");
    assert!(parse(&nested(199)).is_ok());
    assert!(parse(&nested(200)).is_err());
    // `not` runs and and/or chains are loops, not recursion.
    assert!(parse(&format!("{}a", "not ".repeat(100_001))).is_ok());
    assert!(parse(&vec!["a"; 100_000].join(" and ")).is_ok());
}

// libs parser.cpp `parse_or`/`parse_and`: after `or(`/`and(` only the
// parenthesised operand is taken, so precedence depends on that blank.
#[test]
fn keyword_followed_by_parenthesis() {
    assert!(parse("a or(b) and c").is_err());
    assert_eq!(tree("a and(b) or c"), Expr::Or(vec![Expr::And(vec![macro_("a"), macro_("b")]), macro_("c")]));
    assert_eq!(tree("a or (b) and c"), Expr::Or(vec![macro_("a"), Expr::And(vec![macro_("b"), macro_("c")])]));
    assert_eq!(tree("not(a)and(b)"), Expr::And(vec![Expr::Not(Box::new(macro_("a"))), macro_("b")]));
    assert_eq!(msg("a and_b"), "expected blank or '(' after 'and'");
    assert_eq!(msg("a orb"), "expected blank or '(' after 'or'");
}

// libs parser.cpp: `exists` and the list operators are prefix matches with
// no blank needed after them; word operators need one.
#[test]
fn operator_boundaries() {
    assert_eq!(tree("x.y existsand m"), Expr::And(vec![mk(field("x.y"), Op::Exists, None, Rhs::None), macro_("m")]));
    assert_eq!(tree("x.y in(a)"), mk(field("x.y"), Op::In, None, list(&["a"])));
    // `index` reads as the operator `in` and the list name `dex`.
    assert_eq!(tree("x.y index"), mk(field("x.y"), Op::In, None, list(&["dex"])));
    assert_eq!(tree("x.y in shells"), mk(field("x.y"), Op::In, None, list(&["shells"])));
    assert!(parse("x.y containsfoo").is_err());
    assert_eq!(tree("x.y contains\tfoo"), mk(field("x.y"), Op::Contains, None, Rhs::Value("foo".into())));
    assert_eq!(tree("x.y =foo"), mk(field("x.y"), Op::Eq, None, Rhs::Value("foo".into())));
}

// libs parser.cpp `lex_blank` (space \t \b \r \n) versus `[[:space:]]`
// (space \t \n \v \f \r), which bounds bare strings and `not`.
#[test]
fn blanks_and_keyword_case() {
    assert_eq!(tree("a\x08and\x08b"), Expr::And(vec![macro_("a"), macro_("b")]));
    assert_eq!(tree("a\r\nand\r\nb"), Expr::And(vec![macro_("a"), macro_("b")]));
    // \f ends a bare string but is not skipped as a blank.
    assert!(parse("x.y = c\x0cand d").is_err());
    assert!(parse("a\x0cand b").is_err());
    // \b is part of a bare string.
    assert_eq!(tree("x.y=c\x08d"), mk(field("x.y"), Op::Eq, None, Rhs::Value("c\x08d".into())));
    // `not` needs a POSIX space (or `(`) after it.
    assert_eq!(tree("not\x0ba"), Expr::Not(Box::new(macro_("a"))));
    assert_eq!(tree("nota"), macro_("nota"));
    // Keywords are lowercase only.
    for bad in ["a AND b", "a Or b", "NOT a", "x.y EXISTS", "x.y IN (a)", "x.y Contains a"] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

// libs escaping.cpp `unescape_str` and parser.cpp `lex_quoted_str`; filter_parser.ut.cpp
// TEST(parser, parse_str) for the quoted-string cases.
#[test]
fn quoted_strings() {
    let value = |c: &str| match check(c).rhs {
        Rhs::Value(v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(value(r#"x.y = "a\x41b""#).text, "aAb");
    assert_eq!(value(r#"x.y = "bad escape \ ""#).text, "bad escape \\");
    assert_eq!(value(r#"x.y = "a\\"b""#).text, "a\\\"b");
    assert_eq!(value(r"x.y = 'it\'s'").text, "it's");
    assert_eq!(value(r#"x.y = "tab\there""#).text, "tab\there");
    assert_eq!(value(r#"x.y = "\/""#).text, "/");
    let v = value(r#"x.y = "\xff""#);
    assert_eq!(v.bytes(), [0xff]);
    assert_eq!(msg(r#"x.y = "\q""#), "unsupported string escape sequence: \\q");
    assert_eq!(msg(r#"x.y = '\"'"#), "invalid \\\" escape in '-quoted string");
    assert_eq!(msg(r#"x.y = "\'""#), "invalid \\' escape in \"-quoted string");
    assert_eq!(msg(r#"x.y = "\x4""#), "truncated hex char escape sequence");
    assert!(msg(r#"x.y = "abc"#).contains("unterminated quoted string"));
    // List items: a first item that fails to unescape leaves the list empty,
    // as libsinsp's try_parse_list_expr does; later items are errors.
    assert_eq!(check(r#"x.y in ("a\q")"#).rhs, list(&[]));
    assert!(parse(r#"x.y in ("a\q", b)"#).is_err());
    assert!(parse(r#"x.y in (b, "a\q")"#).is_err());
    assert_eq!(check(r#"x.y in ("a b", 'c', d)"#).rhs, list(&["a b", "c", "d"]));
}

// libs filter_parser.ut.cpp, TEST(parser, parse_numbers) and the NumValue/HexNumber tokens.
#[test]
fn numbers_and_field_names() {
    assert_eq!(check("x.y > 0x1F").rhs, Rhs::Value("0x1F".into()));
    assert_eq!(check("x.y > 1.5e+3").rhs, Rhs::Value("1.5e+3".into()));
    assert!(parse("x.y > 1e10").is_err());
    assert_eq!(check("a.b.c_d = x").lhs, field("a.b.c_d"));
    assert!(parse("a.1b = x").is_err());
    assert!(parse("a.b[1][2] = x").is_err());
    assert!(parse("a. b = x").is_err());
}

// libs parser.cpp `parse`: trailing input and the position of errors.
#[test]
fn error_positions() {
    assert_eq!(msg("some.field = b64and(some_macro)"), "unexpected token after 'b64and', expecting 'or', 'and'");
    let e = parse("proc.name = x and\n\n (y").unwrap_err();
    assert_eq!(e.message, "expected a ')' token");
    assert_eq!((e.offset, e.line, e.column), (22, 3, 4));
    assert!(e.to_string().contains("line 3, column 4"), "{e}");
    assert_eq!(msg(""), "filter input string is empty");
    assert_eq!(msg("   "), "expected a '(' token, a field check, or an identifier");
    assert!(msg("x.y ~ z").starts_with("expected a valid check operator: one of 'exists', '<='"));
}
