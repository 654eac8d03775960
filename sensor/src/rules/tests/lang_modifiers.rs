//! The `oneof`/`anyof`/`allof` comparison modifiers: exactly one, at least
//! one, or every right-hand value must satisfy the operator; an empty list
//! never matches.

use super::conformance::{load_error, matches};
use crate::rules::MapEvent;

fn run(ev: &MapEvent, cases: &[(&str, bool)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter(|(c, want)| matches(c, ev) != *want)
        .map(|(c, want)| format!("{c:?}: expected {want}"))
        .collect();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
#[allow(clippy::too_many_lines)] // a data table
fn every_operator_with_every_modifier() {
    let ev = MapEvent::new("execve").s("proc.name", "myexe");
    run(
        &ev,
        &[
            // libs userspace/libsinsp/test/filterchecks/cmp_operator_modifiers.cpp (proc.name = "myexe")
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_eq)
            ("proc.name == oneof (myexe, bash)", true),
            ("proc.name == oneof (myexe)", true),
            ("proc.name == oneof (bash, sh)", false),
            ("proc.name == oneof (myexe, myexe)", false),
            ("proc.name == anyof (myexe, bash)", true),
            ("proc.name == anyof (bash, sh)", false),
            ("proc.name == anyof (myexe, myexe)", true),
            ("proc.name == allof (myexe)", true),
            ("proc.name == allof (myexe, bash)", false),
            ("proc.name == allof (bash, sh)", false),
            ("proc.name == allof (myexe, myexe)", true),
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_ne)
            ("proc.name != oneof (myexe, myexe, bash)", true),
            ("proc.name != oneof (myexe, myexe)", false),
            ("proc.name != oneof (bash, sh)", false),
            ("proc.name != oneof (myexe, bash)", true),
            ("proc.name != anyof (bash, sh)", true),
            ("proc.name != anyof (myexe, bash)", true),
            ("proc.name != allof (bash, sh)", true),
            ("proc.name != allof (myexe, bash)", false),
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_contains)
            ("proc.name contains oneof (myex, bash)", true),
            ("proc.name contains oneof (exe)", true),
            ("proc.name contains oneof (bash, sh)", false),
            ("proc.name contains oneof (my, exe)", false),
            ("proc.name contains anyof (myex, bash)", true),
            ("proc.name contains anyof (bash, sh)", false),
            ("proc.name contains anyof (my, exe)", true),
            ("proc.name contains allof (my, exe)", true),
            ("proc.name contains allof (myex, bash)", false),
            ("proc.name contains allof (bash, sh)", false),
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_icontains)
            ("proc.name icontains oneof (MYEX, BASH)", true),
            ("proc.name icontains oneof (BASH, SH)", false),
            ("proc.name icontains oneof (MY, EXE)", false),
            ("proc.name icontains anyof (MYEX, BASH)", true),
            ("proc.name icontains anyof (BASH, SH)", false),
            ("proc.name icontains anyof (MY, EXE)", true),
            ("proc.name icontains allof (MY, EXE)", true),
            ("proc.name icontains allof (MYEX, BASH)", false),
            ("proc.name icontains allof (BASH, SH)", false),
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_startswith)
            ("proc.name startswith oneof (my, bash)", true),
            ("proc.name startswith oneof (bash, sh)", false),
            ("proc.name startswith oneof (my, mye)", false),
            ("proc.name startswith anyof (my, bash)", true),
            ("proc.name startswith anyof (bash, sh)", false),
            ("proc.name startswith anyof (my, mye)", true),
            ("proc.name startswith allof (my, mye)", true),
            ("proc.name startswith allof (my, bash)", false),
            ("proc.name startswith allof (bash, sh)", false),
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_endswith)
            ("proc.name endswith oneof (exe, sh)", true),
            ("proc.name endswith oneof (sh, bash)", false),
            ("proc.name endswith oneof (exe, yexe)", false),
            ("proc.name endswith anyof (exe, sh)", true),
            ("proc.name endswith anyof (sh, bash)", false),
            ("proc.name endswith anyof (exe, yexe)", true),
            ("proc.name endswith allof (exe, yexe)", true),
            ("proc.name endswith allof (exe, sh)", false),
            ("proc.name endswith allof (sh, bash)", false),
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_glob)
            ("proc.name glob oneof (my*, bash)", true),
            ("proc.name glob oneof (bash, sh*)", false),
            ("proc.name glob oneof (my*, *exe)", false),
            ("proc.name glob anyof (my*, bash)", true),
            ("proc.name glob anyof (bash, sh*)", false),
            ("proc.name glob anyof (my*, *exe)", true),
            ("proc.name glob allof (my*, *exe)", true),
            ("proc.name glob allof (bash, sh*)", false),
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_iglob)
            ("proc.name iglob oneof (MY*, BASH)", true),
            ("proc.name iglob oneof (BASH, SH*)", false),
            ("proc.name iglob oneof (MY*, *EXE)", false),
            ("proc.name iglob anyof (MY*, BASH)", true),
            ("proc.name iglob anyof (BASH, SH*)", false),
            ("proc.name iglob anyof (MY*, *EXE)", true),
            ("proc.name iglob allof (MY*, *EXE)", true),
            ("proc.name iglob allof (BASH, SH*)", false),
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_regex)
            ("proc.name regex oneof (my.*, b.*)", true),
            ("proc.name regex oneof (b.*, sh.*)", false),
            ("proc.name regex oneof (my.*, .*exe)", false),
            ("proc.name regex anyof (my.*, b.*)", true),
            ("proc.name regex anyof (b.*, sh.*)", false),
            ("proc.name regex anyof (my.*, .*exe)", true),
            ("proc.name regex allof (my.*, .*exe)", true),
            ("proc.name regex allof (my.*, b.*)", false),
            ("proc.name regex allof (b.*, sh.*)", false),
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_transformer_lhs)
            ("toupper(proc.name) == oneof (MYEXE, BASH)", true),
            ("toupper(proc.name) == oneof (BASH, SH)", false),
            ("toupper(proc.name) != oneof (MYEXE, BASH)", true),
            ("toupper(proc.name) != oneof (BASH, SH)", false),
            ("toupper(proc.name) != allof (BASH, SH)", true),
            ("toupper(proc.name) != allof (MYEXE, BASH)", false),
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_compound)
            ("proc.name == oneof (myexe) and proc.name != allof (bash, sh)", true),
            ("proc.name == oneof (myexe) and proc.name != allof (myexe, bash)", false),
            ("proc.name == anyof (myexe, bash) or proc.name != oneof (myexe)", true),
            // TEST_F(sinsp_with_test_input, FILTERCHECK_MOD_empty_rhs)
            ("proc.name == oneof ()", false),
            ("proc.name == anyof ()", false),
            ("proc.name == allof ()", false),
            ("proc.name != oneof ()", false),
            ("proc.name != anyof ()", false),
            ("proc.name != allof ()", false),
        ],
    );
}

#[test]
fn modifiers_on_evt_type_and_transformers() {
    let ev = MapEvent::new("getcwd").s("evt.source", "syscall").s("proc.name", "init");
    run(
        &ev,
        &[
            // libs userspace/libsinsp/test/filter_compiler.ut.cpp,
            // TEST_F(sinsp_with_test_input, filter_str_op_modifier_evaluation)
            ("evt.type == oneof (getcwd, openat)", true),
            ("evt.type == oneof (getcwd)", true),
            ("evt.type == oneof (openat, execve)", false),
            ("evt.type == oneof ()", false),
            ("evt.type == anyof (getcwd, openat)", true),
            ("evt.type == anyof (getcwd)", true),
            ("evt.type == anyof (openat, execve)", false),
            ("evt.type == anyof ()", false),
            ("evt.type == allof (getcwd)", true),
            ("evt.type == allof (getcwd, openat)", false),
            ("evt.type == allof (openat)", false),
            ("evt.type == allof ()", false),
            ("toupper(evt.source) == oneof (SYSCALL, NA)", true),
            ("toupper(evt.source) == oneof (UNKNOWN, NA)", false),
            ("evt.type == oneof (getcwd, openat) and evt.source == anyof (syscall)", true),
            ("evt.type == oneof (openat, execve) and evt.source == anyof (syscall)", false),
            // filter_str_op_modifier_compilation
            ("toupper(proc.name) == oneof (INIT, BASH)", true),
            ("not evt.type == oneof (openat) or evt.type == anyof (getcwd)", true),
        ],
    );
}

#[test]
fn modifiers_on_typed_and_multi_valued_fields() {
    let ev = MapEvent::new("open")
        .i("fd.num", 3)
        .ip("fd.sip", "10.1.2.3")
        .ip("fd.snet", "192.168.1.1")
        .list("proc.aname", &["sshd", "systemd"])
        .with("evt.buffer", crate::rules::FieldValue::Bytes(vec![0xca, 0xfe, 0xba, 0xbe].into()));
    run(
        &ev,
        &[
            // Numeric, address and network fields take `=`/`!=` with modifiers
            // (libs filter_compare.cpp `flt_is_comparable`, filter_compiler.ut.cpp
            // TEST(sinsp_filter_compiler, operators_field_types_compatibility)).
            ("fd.num == oneof (3, 4)", true),
            ("fd.num == oneof (3, 3)", false),
            ("fd.num != allof (1, 2)", true),
            ("fd.sip == anyof (10.1.2.3, 10.1.2.4)", true),
            ("fd.sip != allof (10.1.2.3)", false),
            ("fd.snet == anyof (\"10.0.0.0/8\", \"192.168.0.0/16\")", true),
            ("fd.snet == oneof (\"192.168.0.0/16\", \"192.168.1.0/24\")", false),
            ("evt.buffer bcontains oneof (cafe, beef)", true),
            ("evt.buffer bstartswith allof (ca, cafe)", true),
            // An ancestor field without a level is compared through libsinsp's
            // any-ancestor path (sinsp_filtercheck_thread.cpp `compare_full_aname`
            // calls `compare_rhs`, which ignores the modifier and uses the first
            // value only).
            ("proc.aname == oneof (systemd, sshd)", true),
            ("proc.aname == allof (init, sshd)", false),
            ("proc.aname startswith anyof (zz, sys)", false),
            ("proc.aname startswith anyof (sys, zz)", true),
            ("proc.aname == oneof ()", false),
        ],
    );
    // Operators a type does not support are refused with a modifier too
    // (filter_compiler.ut.cpp operators_field_types_compatibility).
    for bad in [
        "fd.sip contains anyof (10.1.2.3)",
        "fd.sip regex allof ('.*')",
        "fd.snet startswith allof (\"10.0.0.0/8\")",
        "fd.num contains anyof (3)",
        "fd.types == oneof (file)",
        "proc.name bcontains anyof (6161)",
    ] {
        let e = load_error(bad);
        assert!(e.contains("not supported"), "{bad}: {e}");
    }
}

// Falco userspace/engine/rule_loader_collector.cpp `validate_exception_info` (comps may be
// a modifier operator, e.g. `startswith oneof`) and rule_loader_compiler.cpp
// `build_rule_exception_infos` (such comps take a parenthesised list).
#[test]
fn modifiers_in_exception_comps() {
    use crate::rules::{EngineConfig, RuleSet, RuleText};
    let y = r"
- rule: r
  desc: d
  condition: evt.type = open
  output: o
  priority: INFO
  exceptions:
    - name: tmp_tools
      fields: [proc.name, fd.name]
      comps: [startswith oneof, startswith anyof]
      values:
        - [[py, pyt], [/tmp/, /var/tmp/]]
    - name: shells
      fields: proc.name
      comps: endswith allof
      values: [sh, h]
";
    let (set, report) = RuleSet::load_texts(&[RuleText { name: "x.yaml", content: y }], &EngineConfig::default());
    let set = set.unwrap_or_else(|| panic!("{:?}", report.errors));
    let fires = |name: &str, file: &str| {
        let ev = MapEvent::new("open").s("proc.name", name).s("fd.name", file);
        let mut out = Vec::new();
        set.evaluate(&ev, &mut out);
        !out.is_empty()
    };
    assert!(!fires("pyx", "/tmp/a"), "exactly one prefix matches: excepted");
    assert!(fires("python", "/tmp/a"), "both prefixes match: oneof is false");
    assert!(!fires("pyx", "/var/tmp/a"));
    assert!(fires("pyx", "/etc/a"));
    assert!(!fires("bash", "/etc/a"), "ends with sh and with h");
    assert!(fires("bah", "/etc/a"));
    let bad = y.replace("endswith allof", "in oneof");
    let (set, report) = RuleSet::load_texts(&[RuleText { name: "x.yaml", content: &bad }], &EngineConfig::default());
    assert!(set.is_none());
    assert!(report.errors.iter().any(|e| e.full_message().contains("modifier operator")), "{:?}", report.errors);
}
