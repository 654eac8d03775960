//! Loader semantics: append/override, redefinition, sources, priorities,
//! exceptions, enabled toggles, warnings.

use crate::rules::{EngineConfig, LoadReport, MapEvent, Priority, RuleMatching, RuleSet, RuleText};

fn load_cfg(y: &str, cfg: &EngineConfig) -> (Option<RuleSet>, LoadReport) {
    RuleSet::load_texts(&[RuleText { name: "x.yaml", content: y }], cfg)
}

fn load(y: &str) -> (Option<RuleSet>, LoadReport) {
    load_cfg(y, &EngineConfig::default())
}

fn errors(r: &LoadReport) -> Vec<String> {
    r.errors.iter().map(crate::rules::LoadError::full_message).collect()
}

fn fired(set: &RuleSet, ev: &MapEvent) -> Vec<String> {
    let mut out = Vec::new();
    set.evaluate(ev, &mut out);
    out.iter().map(|r| r.name.clone()).collect()
}

const BASE: &str = "
- rule: r1
  desc: first
  condition: evt.type = open and proc.name = cat
  output: cat opened %fd.name
  priority: WARNING
  tags: [b, a]
";

#[test]
fn priority_spellings() {
    for (s, p) in [
        ("info", Priority::Informational),
        ("INFORMATIONAL", Priority::Informational),
        ("Informational", Priority::Informational),
        ("warning", Priority::Warning),
        ("Notice", Priority::Notice),
        ("EMERGENCY", Priority::Emergency),
        ("debug", Priority::Debug),
        ("Critical", Priority::Critical),
    ] {
        let y = BASE.replace("WARNING", s);
        let (set, r) = load(&y);
        assert!(r.errors.is_empty(), "{s}: {:?}", errors(&r));
        assert_eq!(set.map(|s| s.rules()[0].priority), Some(p), "{s}");
    }
    assert_eq!(Priority::Informational.as_str(), "Informational");
    let (set, r) = load(&BASE.replace("WARNING", "urgent"));
    assert!(set.is_none());
    let e = errors(&r).join("\n");
    assert!(e.contains("Invalid priority 'urgent'") && e.contains("x.yaml:6:13") && e.contains("rule 'r1'"), "{e}");
}

#[test]
fn override_append_joins_with_single_space_without_parens() {
    // `or` appended without parentheses binds by normal precedence:
    // (evt.type = open and proc.name = cat) or proc.name = nginx
    let y = format!(
        "{BASE}
- rule: r1
  condition: or proc.name = nginx
  output: (appended)
  desc: more
  tags: [c]
  override:
    condition: append
    output: append
    desc: append
    tags: append
"
    );
    let (set, r) = load(&y);
    let set = set.unwrap_or_else(|| panic!("{:?}", errors(&r)));
    let rule = &set.rules()[0];
    assert_eq!(rule.desc, "first more");
    assert_eq!(rule.tags, ["a", "b", "c"]);
    let nginx = MapEvent::new("execve").s("proc.name", "nginx");
    assert_eq!(fired(&set, &nginx), ["r1"]);
    let out = rule.output.render(&MapEvent::new("open").s("fd.name", "/x"));
    assert_eq!(out, "cat opened /x (appended)");
}

#[test]
fn override_replace_and_missing_override_entry() {
    let y = format!(
        "{BASE}\n- rule: r1\n  priority: debug\n  enabled: false\n  override:\n    priority: replace\n    enabled: replace\n"
    );
    let (set, r) = load(&y);
    let set = set.unwrap_or_else(|| panic!("{:?}", errors(&r)));
    assert_eq!(set.rules()[0].priority, Priority::Debug);
    assert!(!set.rules()[0].enabled);

    let y = format!(
        "{BASE}\n- rule: r1\n  priority: debug\n  condition: proc.name=x\n  override:\n    condition: append\n"
    );
    let (_, r) = load(&y);
    assert!(errors(&r).join("").contains("Unexpected key 'priority': no corresponding entry under 'override'"));

    let y = format!("{BASE}\n- rule: r1\n  priority: debug\n  override:\n    priority: append\n");
    let (_, r) = load(&y);
    // test_rule_loader.cpp: rule_incorrect_override_type
    assert!(
        errors(&r).join("").contains("Key 'priority' cannot be appended to, use 'replace' instead"),
        "{:?}",
        errors(&r)
    );

    let y = "- rule: nope\n  condition: proc.name=x\n  override:\n    condition: append\n";
    let (_, r) = load(y);
    assert!(errors(&r).join("").contains("no rule by that name already exists"));
}

#[test]
fn legacy_append_for_rules_macros_lists() {
    let y = "
- list: l
  items: [a]
- list: l
  items: [b]
  append: true
- macro: m
  condition: proc.name in (l)
- macro: m
  condition: or proc.name = c
  append: true
- rule: r
  desc: d
  condition: evt.type = open and m
  output: o
  priority: info
- rule: r
  condition: and fd.num = 1
  append: true
";
    let (set, r) = load(y);
    let set = set.unwrap_or_else(|| panic!("{:?}", errors(&r)));
    let ev = |n: &str| MapEvent::new("open").s("proc.name", n).i("fd.num", 1);
    assert_eq!(fired(&set, &ev("a")), ["r"]);
    assert_eq!(fired(&set, &ev("b")), ["r"]);
    // Appended macro text joins without parens: `... and proc.name in (a, b) or proc.name = c and fd.num = 1`
    assert_eq!(fired(&set, &ev("c")), ["r"]);
    assert!(fired(&set, &MapEvent::new("open").s("proc.name", "d").i("fd.num", 1)).is_empty());
    assert!(r.warnings.iter().any(|w| w.message.contains("deprecated")));
}

#[test]
fn redefinition_replaces_in_place() {
    let y = "
- rule: a
  desc: d
  condition: evt.type = open
  output: a
  priority: info
- rule: b
  desc: d
  condition: evt.type = open
  output: b
  priority: info
- rule: a
  desc: d
  condition: evt.type = open and proc.name = x
  output: a2
  priority: info
";
    let (set, r) = load(y);
    let set = set.unwrap_or_else(|| panic!("{:?}", errors(&r)));
    let names: Vec<&str> = set.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    // rule_matching: first → first in load order wins.
    assert_eq!(fired(&set, &MapEvent::new("open").s("proc.name", "x")), ["a"]);
    assert_eq!(fired(&set, &MapEvent::new("open").s("proc.name", "y")), ["b"]);
    let cfg = EngineConfig { rule_matching: RuleMatching::All, ..EngineConfig::default() };
    let (set, _) = load_cfg(y, &cfg);
    let set = set.unwrap_or_else(|| panic!("load"));
    assert_eq!(fired(&set, &MapEvent::new("open").s("proc.name", "x")), ["a", "b"]);
}

#[test]
fn unknown_source_is_skipped_with_warning() {
    let y = "
- rule: audit
  desc: d
  condition: ka.verb = create
  output: o
  priority: info
  source: k8s_audit
";
    let (set, r) = load(y);
    assert!(r.errors.is_empty(), "{:?}", errors(&r));
    assert_eq!(set.map(|s| s.rules().len()), Some(0));
    assert_eq!(r.skipped.len(), 1);
    assert!(r.skipped[0].reason.contains("k8s_audit"));
    assert!(r.warnings.iter().any(|w| w.message == "Unknown source k8s_audit, skipping"), "{:?}", r.warnings);
}

#[test]
fn skip_if_unknown_filter() {
    let y = "
- rule: future
  desc: d
  condition: evt.type = open and proc.future_field = 1
  output: o
  priority: info
  skip-if-unknown-filter: true
";
    let (set, r) = load(y);
    assert!(r.errors.is_empty(), "{:?}", errors(&r));
    assert_eq!(set.map(|s| s.rules().len()), Some(0));
    assert_eq!(r.skipped.len(), 1);
    let (_, r) = load(&y.replace("true", "false"));
    let e = errors(&r).join("");
    assert!(e.contains("unknown field 'proc.future_field'"), "{e}");
}

#[test]
fn enabled_only_toggle() {
    let y = format!("{BASE}\n- rule: r1\n  enabled: false\n");
    let (set, r) = load(&y);
    let mut set = set.unwrap_or_else(|| panic!("{:?}", errors(&r)));
    assert!(fired(&set, &MapEvent::new("open").s("proc.name", "cat")).is_empty());
    assert!(set.set_enabled("r1", true));
    assert_eq!(fired(&set, &MapEvent::new("open").s("proc.name", "cat")), ["r1"]);
}

#[test]
fn exceptions_compile_into_condition_and_append_values() {
    let y = "
- list: allowed
  items: [/tmp/ok]
- rule: w
  desc: d
  condition: evt.type = open and fd.name startswith /tmp
  output: o
  priority: info
  exceptions:
    - name: by_proc_and_file
      fields: [proc.name, fd.name]
      comps: [=, in]
      values:
        - [cat, allowed]
        - [\"my app\", [/tmp/a, /tmp/b]]
    - name: by_dir
      fields: fd.directory
      values: [/tmp/safe]
- rule: w
  exceptions:
    - name: by_proc_and_file
      values:
        - [vim, [/tmp/v]]
  override:
    exceptions: append
";
    let (set, r) = load(y);
    let set = set.unwrap_or_else(|| panic!("{:?}", errors(&r)));
    let ev = |p: &str, f: &str, d: &str| MapEvent::new("open").s("proc.name", p).s("fd.name", f).s("fd.directory", d);
    assert_eq!(fired(&set, &ev("cat", "/tmp/x", "/tmp")), ["w"]);
    assert!(fired(&set, &ev("cat", "/tmp/ok", "/tmp")).is_empty());
    assert!(fired(&set, &ev("my app", "/tmp/b", "/tmp")).is_empty());
    assert_eq!(fired(&set, &ev("my app", "/tmp/c", "/tmp")), ["w"]);
    assert!(fired(&set, &ev("vim", "/tmp/v", "/tmp")).is_empty());
    assert!(fired(&set, &ev("x", "/tmp/safe/f", "/tmp/safe")).is_empty());

    let bad = y.replace("comps: [=, in]", "comps: [=]");
    let (_, r) = load(&bad);
    assert!(errors(&r).join("").contains("equal length"));
    let bad = y.replace("comps: [=, in]", "comps: [=, like]");
    let (_, r) = load(&bad);
    assert!(errors(&r).join("").contains("'like' is not a supported comparison operator"), "{:?}", errors(&r));
    let bad = y.replace("fields: [proc.name, fd.name]", "fields: [proc.name, fd.nmae]");
    let (_, r) = load(&bad);
    assert!(errors(&r).join("").contains("did you mean 'fd.name'"));
}

#[test]
fn macro_visibility_and_unused_warnings() {
    let y = "
- macro: uses_later
  condition: later_one
- macro: later_one
  condition: proc.name = x
- macro: unused
  condition: proc.name = y
- list: unused_list
  items: [a]
- rule: r
  desc: d
  condition: evt.type = open and later_one
  output: o
  priority: info
";
    let (_, r) = load(y);
    // A macro can only use macros defined before it.
    let e = errors(&r).join("\n");
    assert!(e.contains("Undefined macro 'later_one'") && e.contains("macro 'uses_later'"), "{e}");
    let y = y.replace("- macro: uses_later\n  condition: later_one\n", "");
    let (set, r) = load(&y);
    assert!(set.is_some(), "{:?}", errors(&r));
    let w: Vec<String> = r.warnings.iter().map(ToString::to_string).collect();
    assert!(w.iter().any(|w| w.contains("macro 'unused'") && w.contains("not referred")), "{w:?}");
    assert!(w.iter().any(|w| w.contains("list 'unused_list'")), "{w:?}");
    assert!(!w.iter().any(|w| w.contains("macro 'later_one'")), "{w:?}");
}

#[test]
fn engine_and_plugin_versions() {
    let (_, r) = load("- required_engine_version: 0.57.0\n");
    assert!(r.errors.is_empty());
    let (_, r) = load("- required_engine_version: 99.0.0\n");
    assert!(errors(&r).join("").contains("engine version"));
    let (_, r) = load("- required_engine_version: 13\n");
    assert!(r.errors.is_empty());
    let (_, r) = load("- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n");
    assert!(r.errors.is_empty(), "{:?}", errors(&r));
    let (_, r) = load("- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n");
    assert!(errors(&r).join("").contains("k8saudit"));
    let (_, r) = load(
        "- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n    alternatives:\n      - name: container\n        version: 0.1.0\n",
    );
    assert!(r.errors.is_empty());
}

#[test]
fn unknown_keys_and_objects_warn() {
    let y = format!("{BASE}  colour: blue\n- something: else\n");
    let (set, r) = load(&y);
    assert!(set.is_some());
    let w: Vec<String> = r.warnings.iter().map(ToString::to_string).collect();
    assert!(w.iter().any(|w| w.contains("Unknown key 'colour'") && w.contains("x.yaml:8:3")), "{w:?}");
    assert!(w.iter().any(|w| w.contains("Unknown top level item")), "{w:?}");
}

#[test]
fn redefinition_with_other_source_is_error() {
    let y = format!(
        "{BASE}\n- rule: r1\n  desc: d\n  condition: x.y = 1\n  output: o\n  priority: info\n  source: k8s_audit\n"
    );
    let (_, r) = load(&y);
    assert!(errors(&r).join("").contains("different source"));
}

#[test]
fn repeated_keys_first_wins_with_warning() {
    // yaml-cpp keeps both entries and `item["desc"]` finds the first, so
    // Falco accepts the file; we do too, and say so.
    let y = "- rule: r\n  desc: first\n  desc: second\n  condition: evt.type = open\n  output: o\n  priority: info\n";
    let (set, r) = load(y);
    let set = set.unwrap_or_else(|| panic!("{:?}", errors(&r)));
    assert_eq!(set.rules()[0].desc, "first");
    let w: Vec<String> = r.warnings.iter().map(ToString::to_string).collect();
    assert!(w.iter().any(|w| w.contains("x.yaml:3:3") && w.contains("Key 'desc' is repeated")), "{w:?}");
}

#[test]
fn flow_list_closed_at_key_indentation_parses() {
    // The shape of falco-sandbox_rules.yaml's miner lists, which yaml-cpp
    // and libyaml accept.
    let y = "- list: l\n  items: [\n    a,\n    b\n  ]\n- rule: r\n  desc: d\n  condition: evt.type = open and proc.name in (l)\n  output: o\n  priority: info\n";
    let (set, r) = load(y);
    let set = set.unwrap_or_else(|| panic!("{:?}", errors(&r)));
    assert_eq!(fired(&set, &MapEvent::new("open").s("proc.name", "b")), ["r"]);
}
