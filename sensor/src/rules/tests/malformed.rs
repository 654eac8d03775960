//! Malformed rules files: each must give a clear error carrying
//! `file:line:column` and the item name, and never panic.

use std::fmt::Write as _;

use crate::rules::{EngineConfig, RuleSet, RuleText, check_texts};

/// (file, content, expected location prefix, expected message fragments)
const CORPUS: &[(&str, &str, &str, &[&str])] = &[
    ("bad_yaml.yaml", include_str!("../testdata/malformed/bad_yaml.yaml"), "bad_yaml.yaml:3:", &["invalid YAML"]),
    (
        "unbalanced_parens.yaml",
        include_str!("../testdata/malformed/unbalanced_parens.yaml"),
        "unbalanced_parens.yaml:3:14",
        &["rule 'unbalanced'", "expected a ')' token"],
    ),
    (
        "unknown_macro.yaml",
        include_str!("../testdata/malformed/unknown_macro.yaml"),
        "unknown_macro.yaml:3:14",
        &["rule 'uses_unknown_macro'", "Undefined macro 'not_defined_anywhere'"],
    ),
    (
        "cyclic_macros.yaml",
        include_str!("../testdata/malformed/cyclic_macros.yaml"),
        "cyclic_macros.yaml:7:14",
        &["macro 'ping'", "macro cycle detected: ping -> pong -> ping"],
    ),
    (
        "wrong_value_types.yaml",
        include_str!("../testdata/malformed/wrong_value_types.yaml"),
        "wrong_value_types.yaml:3:14",
        &["rule 'number_expected'", "'abc' is not a valid int64 value for field 'fd.num'"],
    ),
    (
        "wrong_key_types.yaml",
        include_str!("../testdata/malformed/wrong_key_types.yaml"),
        "wrong_key_types.yaml:6:12",
        &["rule 'enabled_not_bool'", "'enabled' must be a boolean"],
    ),
    (
        "bad_tags.yaml",
        include_str!("../testdata/malformed/bad_tags.yaml"),
        "bad_tags.yaml:6:9",
        &["rule 'tags_not_a_list'", "Value for key 'tags' is not a sequence"],
    ),
    (
        "unknown_field.yaml",
        include_str!("../testdata/malformed/unknown_field.yaml"),
        "unknown_field.yaml:3:14",
        &["rule 'typo_field'", "unknown field 'proc.nmae', did you mean 'proc.name'?"],
    ),
    (
        "bad_operator_for_type.yaml",
        include_str!("../testdata/malformed/bad_operator_for_type.yaml"),
        "bad_operator_for_type.yaml:3:14",
        &["operator 'contains' is not supported on field 'fd.num' of type int64"],
    ),
    (
        "bad_regex.yaml",
        include_str!("../testdata/malformed/bad_regex.yaml"),
        "bad_regex.yaml:3:14",
        &["rule 'regex_unclosed'", "invalid regex pattern"],
    ),
    (
        "bad_output.yaml",
        include_str!("../testdata/malformed/bad_output.yaml"),
        "bad_output.yaml:4:11",
        &["rule 'output_unknown_field'", "invalid output format", "did you mean 'proc.name'"],
    ),
    (
        "missing_condition.yaml",
        include_str!("../testdata/malformed/missing_condition.yaml"),
        "missing_condition.yaml:1:3",
        &["rule 'no_condition'", "no mapping for key 'condition'"],
    ),
    (
        "not_a_sequence.yaml",
        include_str!("../testdata/malformed/not_a_sequence.yaml"),
        "not_a_sequence.yaml:1:1",
        &["Rules content is not yaml array of objects"],
    ),
    (
        "unterminated_string.yaml",
        include_str!("../testdata/malformed/unterminated_string.yaml"),
        "unterminated_string.yaml:3:14",
        &["unterminated quoted string"],
    ),
    (
        "bad_cidr.yaml",
        include_str!("../testdata/malformed/bad_cidr.yaml"),
        "bad_cidr.yaml:3:14",
        &["'10.0.0.0/99' is not a valid ipnet value"],
    ),
    (
        "empty_condition.yaml",
        include_str!("../testdata/malformed/empty_condition.yaml"),
        "empty_condition.yaml:3:14",
        &["Value for key 'condition' must be non-empty"],
    ),
    (
        "list_items_mapping.yaml",
        include_str!("../testdata/malformed/list_items_mapping.yaml"),
        "list_items_mapping.yaml:2:10",
        &["list 'weird'", "Value for key 'items' is not a sequence"],
    ),
];

#[test]
fn malformed_corpus_gives_located_errors() {
    let mut problems = Vec::new();
    for (name, content, loc, fragments) in CORPUS {
        let report = check_texts(&[RuleText { name, content }], &EngineConfig::default());
        if report.errors.is_empty() {
            problems.push(format!("{name}: no error"));
            continue;
        }
        let text = report.render_human();
        if !text.contains(loc) {
            problems.push(format!("{name}: location {loc} missing in:\n{text}"));
        }
        for f in *fragments {
            if !text.contains(f) {
                problems.push(format!("{name}: '{f}' missing in:\n{text}"));
            }
        }
        for e in &report.errors {
            if e.line == 0 || e.column == 0 || e.file != *name {
                problems.push(format!("{name}: error without position: {e:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn rule_with(cond: &str) -> String {
    format!("- rule: big\n  desc: d\n  output: o\n  priority: info\n  condition: {cond}\n")
}

fn first_error(y: &str) -> String {
    let (set, r) = RuleSet::load_texts(&[RuleText { name: "gen.yaml", content: y }], &EngineConfig::default());
    assert!(set.is_none(), "expected a load error");
    r.errors.first().map(crate::rules::LoadError::full_message).unwrap_or_default()
}

#[test]
fn deep_parentheses_error_not_overflow() {
    let n = 100_000;
    let cond = format!("{}proc.name = x{}", "(".repeat(n), ")".repeat(n));
    let e = first_error(&rule_with(&format!("'{cond}'")));
    assert!(e.contains("exceeded max depth limit of 1000") && e.contains("gen.yaml:5:14"), "{e}");
}

#[test]
fn deep_not_chain_and_long_and_chain_are_fine() {
    let cond = format!("evt.type = open and {}proc.name = x", "not ".repeat(100_001));
    let y = rule_with(&format!("'{cond}'"));
    let (set, r) = RuleSet::load_texts(&[RuleText { name: "gen.yaml", content: &y }], &EngineConfig::default());
    assert!(set.is_some(), "{:?}", r.errors.first().map(crate::rules::LoadError::full_message));
    let chain: Vec<String> = (0..20_000).map(|i| format!("proc.name = p{i}")).collect();
    let y = rule_with(&format!("'evt.type = open and ({})'", chain.join(" or ")));
    let (set, _) = RuleSet::load_texts(&[RuleText { name: "gen.yaml", content: &y }], &EngineConfig::default());
    assert!(set.is_some());
}

#[test]
fn deep_transformers_error() {
    let n = 50_000;
    let cond = format!("{}proc.name{} = x", "tolower(".repeat(n), ")".repeat(n));
    let e = first_error(&rule_with(&format!("'{cond}'")));
    assert!(e.contains("exceeded max depth limit of 1000"), "{e}");
}

#[test]
fn deep_macro_chain_errors_on_expansion_depth() {
    use std::fmt::Write as _;
    let mut y = String::from("- macro: m0\n  condition: proc.name = x\n");
    for i in 1..1200 {
        let _ = write!(y, "- macro: m{i}\n  condition: not (m{} and proc.name = y)\n", i - 1);
    }
    y.push_str(&rule_with("evt.type = open and m1199"));
    let e = first_error(&y);
    assert!(e.contains("too large after expansion"), "{e}");
}

#[test]
fn exponential_macro_expansion_is_bounded() {
    use std::fmt::Write as _;
    let mut y = String::from("- macro: m0\n  condition: proc.name = x\n");
    for i in 1..40 {
        let _ = write!(y, "- macro: m{i}\n  condition: m{} or m{}\n", i - 1, i - 1);
    }
    y.push_str(&rule_with("evt.type = open and m39"));
    let e = first_error(&y);
    assert!(e.contains("too large after expansion"), "{e}");
}

#[test]
fn deep_yaml_nesting_errors() {
    let n = 100_000;
    let y = format!("- rule: x\n  desc: {}{}\n", "[".repeat(n), "]".repeat(n));
    let e = first_error(&y);
    assert!(e.contains("invalid YAML"), "{e}");
}

#[test]
fn yaml_alias_bomb_is_bounded() {
    let mut y = String::from("- list: l0\n  items: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let _ = writeln!(
            y,
            "- list: l{i}\n  items: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]",
            p = i - 1
        );
    }
    let e = first_error(&y);
    assert!(e.contains("invalid YAML") || e.contains("items"), "{e}");
}

#[test]
fn ten_megabyte_condition_is_rejected_cleanly() {
    let clause = "proc.name = abcdefgh or ";
    let mut cond = String::with_capacity(10 << 20);
    while cond.len() < 10 << 20 {
        cond.push_str(clause);
    }
    cond.push_str("proc.name = z");
    let e = first_error(&rule_with(&cond));
    assert!(e.contains("condition longer than") && e.contains("gen.yaml:5:14"), "{e}");
}

#[test]
fn list_expansion_blowup_is_rejected() {
    // Each list names the next one twice. Lists defined later are not
    // expanded inside a list, but condition-level substitution runs over
    // every list in order, so `l0` would double 29 times.
    let mut y = String::new();
    for i in 0..29 {
        let _ = writeln!(y, "- list: l{i}\n  items: [l{n}, l{n}]", n = i + 1);
    }
    y.push_str("- list: l29\n  items: [aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n");
    y.push_str(&rule_with("evt.type = open and proc.name in (l0)"));
    let e = first_error(&y);
    assert!(e.contains("condition longer than"), "{e}");
}

#[test]
fn nested_lists_expand_one_level_like_falco() {
    // Each list names the previous one twice: Falco expands one level only
    // (a list gets the referenced list's items as written), so this stays
    // small and loads.
    let mut y = String::from("- list: l0\n  items: [a]\n");
    for i in 1..30 {
        let _ = writeln!(y, "- list: l{i}\n  items: [l{p}, l{p}]", p = i - 1);
    }
    y.push_str(&rule_with("evt.type = open and proc.name in (l29)"));
    let (set, r) = RuleSet::load_texts(&[RuleText { name: "gen.yaml", content: &y }], &EngineConfig::default());
    assert!(set.is_some(), "{:?}", r.errors.first().map(crate::rules::LoadError::full_message));
}

#[test]
fn garbage_inputs_never_panic() {
    let inputs = [
        "",
        "---",
        "- ",
        "[]",
        "{}",
        "- rule:",
        "- rule: x",
        "- macro: m\n  condition: (((",
        "- list: l\n  items: [\"]",
        "- rule: r\n  desc: d\n  output: '%'\n  priority: info\n  condition: evt.type=open",
        "- rule: r\n  desc: d\n  output: '%5'\n  priority: info\n  condition: evt.type=open",
        "- rule: r\n  desc: d\n  output: o\n  priority: info\n  condition: proc.name[",
        "- rule: r\n  desc: d\n  output: o\n  priority: info\n  condition: 'proc.name in (a,'",
        "- rule: r\n  desc: d\n  output: o\n  priority: info\n  condition: 'evt.arg[] = 1'",
        "- rule: r\n  desc: d\n  output: o\n  priority: info\n  condition: 'x.y.z = \"\\q\"'",
        "- rule: r\n  desc: d\n  output: o\n  priority: info\n  condition: \"\u{fffd}\u{1F600} = \u{e9}\"",
        "\u{feff}- list: l\n  items: []",
        "- rule: r\n  exceptions: [{name: e, fields: [a.b], values: [[1, 2]]}]\n  append: true",
    ];
    for i in inputs {
        let _ = check_texts(&[RuleText { name: "g.yaml", content: i }], &EngineConfig::default());
    }
}
