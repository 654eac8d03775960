//! Loader verdicts, messages and warnings derived from Falco's own unit
//! tests (falco `unit_tests/engine/test_rule_loader.cpp` and
//! `test_enable_rule.cpp`); each case names the Falco test it follows.
//! Falco's expected compiled conditions are checked here by evaluating
//! events against the loaded rule.

use crate::rules::collector::{
    ERROR_NO_PREVIOUS_LIST, ERROR_NO_PREVIOUS_MACRO, ERROR_NO_PREVIOUS_RULE_APPEND, ERROR_NO_PREVIOUS_RULE_REPLACE,
};
use crate::rules::reader::{ERROR_OVERRIDE_APPEND, WARNING_APPEND, WARNING_ENABLED};
use crate::rules::{
    EngineConfig, LoadReport, MapEvent, Priority, RuleMatching, RuleSelection, RuleSet, RuleText, WarningCode,
};

struct Loaded {
    set: Option<RuleSet>,
    report: LoadReport,
}

impl Loaded {
    fn errors(&self) -> String {
        self.report.errors.iter().map(crate::rules::LoadError::full_message).collect::<Vec<_>>().join("\n")
    }

    fn warnings(&self) -> String {
        self.report.warnings.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    }

    fn has_warning(&self, text: &str) -> bool {
        self.report.warnings.iter().any(|w| w.message.contains(text))
    }

    fn ok(&self) -> &RuleSet {
        match &self.set {
            Some(s) => s,
            None => panic!("expected the load to succeed:\n{}", self.errors()),
        }
    }

    fn fails_with(&self, text: &str) {
        assert!(self.set.is_none(), "expected the load to fail with '{text}'");
        assert!(self.errors().contains(text), "'{text}' not in:\n{}", self.errors());
    }

    fn fires(&self, ev: &MapEvent) -> Vec<String> {
        let mut out = Vec::new();
        self.ok().evaluate(ev, &mut out);
        out.iter().map(|r| r.name.clone()).collect()
    }

    fn enabled(&self) -> usize {
        self.ok().rules().iter().filter(|r| r.enabled).count()
    }
}

fn cfg() -> EngineConfig {
    EngineConfig { rule_matching: RuleMatching::All, ..EngineConfig::default() }
}

fn load(y: &str) -> Loaded {
    load_files(&[("rules.yaml", y)])
}

fn load_files(files: &[(&str, &str)]) -> Loaded {
    let texts: Vec<RuleText> = files.iter().map(|(name, content)| RuleText { name, content }).collect();
    let (set, report) = RuleSet::load_texts(&texts, &cfg());
    Loaded { set, report }
}

fn ev(ty: &str, proc_name: &str) -> MapEvent {
    MapEvent::new(ty).s("proc.name", proc_name)
}

const TEST_RULE: &str = "
- rule: test_rule
  desc: simple rule
  condition: evt.type in (open,openat)
  output: command=%proc.cmdline
  priority: INFO
";

#[test]
fn list_append() {
    // list_append (and list_override_append_after_list_definition): items
    // appended after the rule that uses the list still reach it.
    let l = load(
        "
- list: shell_binaries
  items: [ash, bash, csh, ksh, sh, tcsh, zsh, dash]
- rule: legit_rule
  desc: legit rule description
  condition: evt.type=open and proc.name in (shell_binaries)
  output: user=%user.name command=%proc.cmdline file=%fd.name
  priority: INFO
- list: shell_binaries
  items: [pwsh]
  override:
    items: append
",
    );
    assert_eq!(l.fires(&ev("open", "pwsh")), ["legit_rule"]);
    assert_eq!(l.fires(&ev("open", "dash")), ["legit_rule"]);
    assert!(!l.has_warning(WARNING_APPEND));
}

#[test]
fn condition_append() {
    // condition_append: `or proc.name = ssh` joins the macro's condition.
    let l = load(
        "
- macro: interactive
  condition: >
    ((proc.aname=sshd and proc.name != sshd) or
    proc.name=systemd-logind or proc.name=login)
- rule: legit_rule
  desc: legit rule description
  condition: evt.type=open and interactive
  output: user=%user.name command=%proc.cmdline file=%fd.name
  priority: INFO
- macro: interactive
  condition: or proc.name = ssh
  override:
    condition: append
",
    );
    assert_eq!(l.fires(&ev("open", "ssh")), ["legit_rule"]);
    assert_eq!(l.fires(&ev("open", "login")), ["legit_rule"]);
    assert!(l.fires(&ev("execve", "ssh")).is_empty());
}

#[test]
fn rule_override_append_and_replace() {
    // rule_override_append: desc/condition/output appended with a blank.
    let l = load(
        "
- rule: legit_rule
  desc: legit rule description
  condition: evt.type=open
  output: user=%user.name command=%proc.cmdline file=%fd.name
  priority: INFO
- rule: legit_rule
  desc: with append
  condition: and proc.name = cat
  output: proc=%proc.name
  override:
    desc: append
    condition: append
    output: append
",
    );
    let r = &l.ok().rules()[0];
    assert_eq!(r.desc, "legit rule description with append");
    assert_eq!(r.output.render(&ev("open", "cat")), "user=<NA> command=<NA> file=<NA> proc=cat");
    assert_eq!(l.fires(&ev("open", "cat")), ["legit_rule"]);
    assert!(l.fires(&ev("open", "vi")).is_empty());
    assert!(!l.has_warning(WARNING_APPEND));

    // rule_override_replace
    let l = load(
        "
- rule: legit_rule
  desc: legit rule description
  condition: evt.type=open
  output: user=%user.name
  priority: INFO
- rule: legit_rule
  desc: a replaced legit description
  condition: evt.type = close
  override:
    desc: replace
    condition: replace
",
    );
    assert_eq!(l.ok().rules()[0].desc, "a replaced legit description");
    assert_eq!(l.fires(&ev("close", "x")), ["legit_rule"]);
    assert!(l.fires(&ev("open", "x")).is_empty());

    // rule_override_append_replace
    let l = load(
        "
- rule: legit_rule
  desc: legit rule description
  condition: evt.type = close
  output: user=%user.name
  priority: INFO
- rule: legit_rule
  desc: a replaced legit description
  condition: and proc.name = cat
  priority: WARNING
  override:
    desc: replace
    condition: append
    priority: replace
",
    );
    assert_eq!(l.ok().rules()[0].priority, Priority::Warning);
    assert_eq!(l.fires(&ev("close", "cat")), ["legit_rule"]);
    assert!(l.fires(&ev("close", "vi")).is_empty());
}

#[test]
fn rule_append_is_deprecated_but_works() {
    // rule_append
    let l = load(
        "
- rule: legit_rule
  desc: legit rule description
  condition: evt.type=open
  output: o
  priority: INFO
- rule: legit_rule
  condition: and proc.name = cat
  append: true
",
    );
    assert!(l.has_warning(WARNING_APPEND));
    assert_eq!(l.fires(&ev("open", "cat")), ["legit_rule"]);
    assert!(l.fires(&ev("open", "vi")).is_empty());
}

#[test]
fn override_errors() {
    let base = "
- rule: failing_rule
  desc: legit rule description
  condition: evt.type = close
  output: o
  priority: INFO
";
    // rule_incorrect_override_type
    load(&format!(
        "{base}- rule: failing_rule\n  desc: x\n  condition: and proc.name = cat\n  priority: WARNING\n  override:\n    desc: replace\n    condition: append\n    priority: append\n"
    ))
    .fails_with("Key 'priority' cannot be appended to, use 'replace' instead");
    // rule_incorrect_append_override
    let l = load(&format!(
        "{base}- rule: failing_rule\n  desc: x\n  condition: and proc.name = cat\n  append: true\n  override:\n    desc: replace\n    condition: append\n"
    ));
    l.fails_with(ERROR_OVERRIDE_APPEND);
    assert!(l.has_warning(WARNING_APPEND));
    // rule_override_without_field
    load(&format!("{base}- rule: failing_rule\n  desc: x\n  override:\n    desc: replace\n    condition: append\n"))
        .fails_with("An append override for 'condition' was specified but 'condition' is not defined");
    // rule_override_extra_field
    load(&format!(
        "{base}- rule: failing_rule\n  desc: x\n  condition: and proc.name = cat\n  priority: WARNING\n  override:\n    desc: replace\n    condition: append\n"
    ))
    .fails_with("Unexpected key 'priority'");
    // missing_enabled_key_with_override
    load(&format!(
        "{base}- rule: failing_rule\n  desc: x\n  condition: and proc.name = cat\n  override:\n    desc: replace\n    condition: append\n    enabled: replace\n"
    ))
    .fails_with("'enabled' was specified but 'enabled' is not defined");
}

#[test]
fn rule_override_with_enabled() {
    // rule_override_with_enabled: no warnings, the rule ends up enabled.
    let l = load(
        "
- rule: test_rule
  desc: test rule description
  condition: evt.type = close
  output: user=%user.name command=%proc.cmdline file=%fd.name
  priority: INFO
  enabled: false
- rule: test_rule
  desc: correct override
  condition: and proc.name = cat
  enabled: true
  override:
    desc: replace
    condition: append
    enabled: replace
",
    );
    assert!(l.report.warnings.is_empty(), "{}", l.warnings());
    assert_eq!(l.enabled(), 1);
}

#[test]
fn macro_append_and_override_order() {
    let rule = "- rule: test_rule\n  desc: simple rule\n  condition: open_simple\n  output: command=%proc.cmdline\n  priority: INFO\n";
    let first = "- macro: open_simple\n  condition: or evt.type = openat2\n";
    let def = "- macro: open_simple\n  condition: evt.type in (open,openat)\n";
    // macro_override_append_before_macro_definition
    load(&format!("{first}  override:\n    condition: append\n{def}{rule}")).fails_with(ERROR_NO_PREVIOUS_MACRO);
    // macro_append_before_macro_definition
    load(&format!("{first}  append: true\n{def}{rule}")).fails_with(ERROR_NO_PREVIOUS_MACRO);
    // macro_override_replace_before_macro_definition: a replace defines it,
    // then the second definition replaces that.
    let l = load(&format!("{first}  override:\n    condition: replace\n{def}{rule}"));
    assert_eq!(l.fires(&ev("openat", "x")), ["test_rule"]);
    assert!(l.fires(&ev("openat2", "x")).is_empty());
    // macro_override_append_after_macro_definition / macro_append_after_macro_definition
    for tail in ["  override:\n    condition: append\n", "  append: true\n"] {
        let l = load(&format!("{def}{first}{tail}{rule}"));
        assert_eq!(l.fires(&ev("openat2", "x")), ["test_rule"]);
        assert_eq!(l.fires(&ev("open", "x")), ["test_rule"]);
    }
}

#[test]
fn rule_append_and_override_order() {
    let upd = "- rule: test_rule\n  condition: and proc.name = cat\n";
    // rule_override_append_before_rule_definition
    load(&format!("{upd}  override:\n    condition: append\n{TEST_RULE}")).fails_with(ERROR_NO_PREVIOUS_RULE_APPEND);
    // rule_override_replace_before_rule_definition
    load(&format!("{upd}  override:\n    condition: replace\n{TEST_RULE}")).fails_with(ERROR_NO_PREVIOUS_RULE_REPLACE);
    // rule_append_before_rule_definition
    load(&format!("{upd}  append: true\n{TEST_RULE}")).fails_with(ERROR_NO_PREVIOUS_RULE_APPEND);
    // rule_override_append_after_rule_definition / rule_append_after_rule_definition
    for tail in ["  override:\n    condition: append\n", "  append: true\n"] {
        let l = load(&format!("{TEST_RULE}{upd}{tail}"));
        assert_eq!(l.fires(&ev("openat", "cat")), ["test_rule"]);
        assert!(l.fires(&ev("openat", "vi")).is_empty());
    }
}

#[test]
fn list_append_and_override_order() {
    let first = "- list: dev_creation_binaries\n  items: [\"csi-provisioner\", \"csi-attacher\"]\n";
    let def = "- list: dev_creation_binaries\n  items: [blkid]\n";
    let rule = "- rule: test_rule\n  desc: simple rule\n  condition: evt.type = execve and proc.name in (dev_creation_binaries)\n  output: command=%proc.cmdline\n  priority: INFO\n";
    // list_override_append_wrong_key: the misspelt key is ignored (with a
    // warning), so the list is defined twice and the second wins.
    let l = load(&format!("{first}  override_written_wrong:\n    items: append\n{def}{rule}"));
    assert_eq!(l.fires(&ev("execve", "blkid")), ["test_rule"]);
    assert!(l.fires(&ev("execve", "csi-attacher")).is_empty());
    assert!(l.has_warning("Unknown key 'override_written_wrong'"));
    // list_override_append_before_list_definition / list_append_before_list_definition
    load(&format!("{first}  override:\n    items: append\n{def}{rule}")).fails_with(ERROR_NO_PREVIOUS_LIST);
    load(&format!("{first}  append: true\n{def}{rule}")).fails_with(ERROR_NO_PREVIOUS_LIST);
    // list_override_replace_before_list_definition
    let l = load(&format!("{first}  override:\n    items: replace\n{def}{rule}"));
    assert_eq!(l.fires(&ev("execve", "blkid")), ["test_rule"]);
    assert!(l.fires(&ev("execve", "csi-attacher")).is_empty());
    // list_override_append_after_list_definition / list_append_after_list_definition
    for tail in ["  override:\n    items: append\n", "  append: true\n"] {
        let l = load(&format!("{def}{first}{tail}{rule}"));
        assert_eq!(l.fires(&ev("execve", "blkid")), ["test_rule"]);
        assert_eq!(l.fires(&ev("execve", "csi-provisioner")), ["test_rule"]);
    }
}

#[test]
fn exceptions_required_fields_and_values() {
    // rule_override_exceptions_required_fields: appending may omit fields,
    // replacing may not.
    let l = load(
        "
- rule: test_rule
  desc: test rule description
  condition: evt.type = close
  output: o
  priority: INFO
  exceptions:
    - name: test_exception
      fields: proc.name
      comps: in
      values: [\"cat\"]
- rule: test_rule
  exceptions:
    - name: test_exception
      values: [echo]
  override:
    exceptions: append
- rule: test_rule
  exceptions:
    - name: test_exception
      values: [id]
  override:
    exceptions: replace
",
    );
    l.fails_with("Item has no mapping for key 'fields'");
    assert!(l.report.warnings.is_empty(), "{}", l.warnings());

    // exceptions_append_no_values / exceptions_override_no_values
    let base = "
- rule: test_rule
  desc: test rule
  condition: proc.cmdline contains curl
  output: command=%proc.cmdline
  priority: INFO
  warn_evttypes: false
  exceptions:
    - name: test_exception
      fields: [proc.cmdline]
      comps: [contains]
      values:
        - [curl 127.0.0.1]
- rule: test_rule
  exceptions:
    - name: test_exception
      value: curl 1.1.1.1
";
    for tail in ["  append: true\n", "  override:\n    exceptions: append\n"] {
        let l = load(&format!("{base}{tail}"));
        l.ok();
        assert!(l.has_warning("Overriding/appending exception with no values"), "{}", l.warnings());
    }
}

#[test]
fn exceptions_condition_and_duplicate_names() {
    // exceptions_condition
    let l = load(
        "
- rule: test_rule
  desc: test rule
  condition: proc.cmdline contains curl or proc.cmdline contains wget
  output: command=%proc.cmdline
  priority: INFO
  warn_evttypes: false
  exceptions:
    - name: test_exception
      fields: [proc.cmdline]
      comps: [contains]
      values:
        - [curl 127.0.0.1]
",
    );
    let cmd = |c: &str| MapEvent::new("execve").s("proc.cmdline", c);
    assert_eq!(l.fires(&cmd("curl 10.0.0.1")), ["test_rule"]);
    assert!(l.fires(&cmd("curl 127.0.0.1/x")).is_empty());
    assert_eq!(l.fires(&cmd("wget x")), ["test_rule"]);

    // exceptions_names_not_unique: a warning, and both exceptions apply.
    let l = load(
        "
- rule: test_rule
  desc: test rule
  condition: evt.type = execve and proc.cmdline contains curl
  output: command=%proc.cmdline
  priority: INFO
  exceptions:
    - name: test_exception
      fields: [proc.cmdline]
      comps: [contains]
      values:
        - [curl 127.0.0.1]
    - name: test_exception
      fields: [proc.cmdline]
      comps: [endswith]
      values:
        - [10.0.0.9]
",
    );
    assert!(l.report.warnings.iter().any(|w| w.code == WarningCode::ExceptionNameNotUnique
        && w.message == "Multiple definitions of exception 'test_exception' in the same rule"));
    assert!(l.fires(&cmd("curl 127.0.0.1")).is_empty());
    assert!(l.fires(&cmd("curl 10.0.0.9")).is_empty());
    assert_eq!(l.fires(&cmd("curl 10.0.0.1")), ["test_rule"]);
}

#[test]
fn exceptions_values_and_fields_with_transformers() {
    let base = "
- rule: test_rule
  desc: test rule
  condition: evt.type = open
  output: command=%proc.cmdline
  priority: INFO
  exceptions:
    - name: test_exception
";
    // exceptions_values_rhs_field_ambiguous(_quoted)
    for v in ["[proc.pname]", "[\"proc.pname\"]"] {
        let l = load(&format!("{base}      fields: [proc.name]\n      comps: [=]\n      values:\n        - {v}\n"));
        l.ok();
        assert!(l.has_warning("'proc.pname' may be a valid field misused as a const string value"), "{}", l.warnings());
    }
    // exceptions_values_transformer_space
    let l = load(&format!(
        "{base}      fields: [proc.name]\n      comps: [=]\n      values:\n        - [toupper( proc.pname)]\n"
    ));
    assert!(l.has_warning("'toupper( proc.pname)' may be a valid field transformer misused as a const string value"));
    // exceptions_fields_transformer(_quoted, _space_quoted): no warnings.
    for f in ["[tolower(proc.name)]", "[\"tolower(proc.name)\"]", "[\"tolower( proc.name)\"]"] {
        let l = load(&format!("{base}      fields: {f}\n      comps: [=]\n      values:\n        - [test]\n"));
        assert!(l.report.warnings.is_empty(), "{f}: {}", l.warnings());
        assert!(l.fires(&ev("open", "TEST")).is_empty(), "{f}");
        assert_eq!(l.fires(&ev("open", "other")), ["test_rule"], "{f}");
    }
    // exceptions_modifier_op_startswith_oneof, end to end.
    let l = load(&format!(
        "{base}      fields: [proc.name]\n      comps: [startswith oneof]\n      values:\n        - [[sshd, sudo]]\n"
    ));
    assert!(l.fires(&ev("open", "sudoedit")).is_empty());
    assert_eq!(l.fires(&ev("open", "bash")), ["test_rule"]);
    // exceptions_modifier_op_invalid_base_operator
    load(&format!(
        "{base}      fields: [proc.name]\n      comps: [frobulate oneof]\n      values:\n        - [[bash]]\n"
    ))
    .fails_with("'frobulate oneof' is not a supported comparison operator");
}

#[test]
fn enabled_forms() {
    // rule_not_enabled
    let l = load(&format!("{TEST_RULE}  enabled: false\n"));
    assert!(l.report.warnings.is_empty(), "{}", l.warnings());
    assert_eq!(l.enabled(), 0);
    // rule_enabled_warning
    let l = load(&format!("{TEST_RULE}  enabled: false\n- rule: test_rule\n  enabled: true\n"));
    assert!(l.has_warning(WARNING_ENABLED));
    assert_eq!(l.enabled(), 1);
    // rule_enabled_is_ignored_by_append
    let l = load(&format!(
        "{TEST_RULE}  enabled: false\n- rule: test_rule\n  condition: and proc.name = cat\n  append: true\n  enabled: true\n"
    ));
    assert_eq!(l.enabled(), 0);
    // rewrite_rule: a full redefinition replaces everything.
    let l = load(&format!(
        "{TEST_RULE}  enabled: false\n- rule: test_rule\n  desc: redefined\n  condition: proc.name = cat\n  output: o\n  priority: WARNING\n  enabled: true\n"
    ));
    assert_eq!(l.enabled(), 1);
    assert_eq!(l.fires(&ev("close", "cat")), ["test_rule"]);
}

#[test]
fn evttype_warnings() {
    let rule = |cond: &str, extra: &str| {
        format!("- rule: test_rule\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n{extra}")
    };
    let too_many = "Rule matches too many evt.type values";
    // no_evttype_warning_for_narrow_condition
    assert!(!load(&rule("evt.type = close", "")).has_warning(too_many));
    // evttype_warning_for_broad_condition
    let l = load(&rule("proc.name = cat", ""));
    assert!(l.report.warnings.iter().any(|w| w.code == WarningCode::NoEvttype && w.message.contains(too_many)));
    // evttype_warning_disabled_by_warn_evttypes
    assert!(!load(&rule("proc.name = cat", "  warn_evttypes: false\n")).has_warning(too_many));
    // no_evttype_warning_for_evt_type_contradiction
    assert!(!load(&rule("evt.type = open and evt.type = close", "")).has_warning(too_many));
    // no_evttype_warning_for_unsatisfiable_condition / ..._for_never_true_macro
    let l = load(&rule("evt.num = 0", ""));
    assert!(!l.has_warning(too_many), "{}", l.warnings());
    assert_eq!(l.enabled(), 1);
    let l = load(
        "
- macro: never_true
  condition: (evt.num=0)
- macro: user_known_activity
  condition: (never_true)
- rule: anchored_rule_with_placeholder
  desc: d
  condition: evt.type = open and not user_known_activity
  output: o
  priority: INFO
- rule: placeholder_only_rule
  desc: d
  condition: never_true
  output: o
  priority: INFO
",
    );
    assert!(!l.has_warning(too_many), "{}", l.warnings());
    assert_eq!(l.enabled(), 2);
}

#[test]
fn engine_versions() {
    // required_engine_version_semver / required_engine_version_not_semver
    for v in ["0.26.0", "26"] {
        let l = load(&format!("- required_engine_version: {v}\n{TEST_RULE}  enabled: false\n"));
        l.ok();
        assert!(l.report.warnings.is_empty(), "{v}: {}", l.warnings());
    }
    // required_engine_version_invalid
    load(&format!("- required_engine_version: seven\n{TEST_RULE}")).fails_with("Unable to parse engine version");
    load("- required_engine_version: 1.0.0\n").fails_with("Rules require engine version 1.0.0");
}

#[test]
fn names_keys_and_deprecations() {
    // list_value_with_escaping: only the unused-list warning.
    let l = load("- list: my_list\n  items: [non_escaped_val, \"escaped val\"]\n");
    l.ok();
    assert_eq!(l.report.warnings.len(), 1, "{}", l.warnings());
    assert_eq!(l.report.warnings[0].code, WarningCode::UnusedList);
    // macro_name_invalid
    let l = load("- macro: test-macro\n  condition: evt.type = close\n");
    assert!(l.has_warning("Macro has an invalid name. Macro names should match a regular expression"));
    // list_name_invalid
    let l = load(&format!("- list: test list\n  items: [open, openat, openat2]\n{TEST_RULE}"));
    assert!(l.has_warning("List has an invalid name. List names should match a regular expression"));
    // rule_unknown_key / list_unknown_key / macro_unknown_key / list_cross_type_key_priority
    let l = load(&format!("{TEST_RULE}  typo_field: some_value\n"));
    assert!(
        l.report
            .warnings
            .iter()
            .any(|w| w.code == WarningCode::UnknownKey && w.message.contains("Unknown key 'typo_field'"))
    );
    let l = load(&format!("- list: my_list\n  items: [cat]\n  priority: INFO\n{TEST_RULE}"));
    assert!(l.has_warning("Unknown key 'priority'"));
    let l = load(
        "- macro: my_macro\n  condition: evt.type = close\n  typo_field: v\n- rule: r\n  desc: d\n  condition: my_macro\n  output: o\n  priority: INFO\n",
    );
    assert!(l.has_warning("Unknown key 'typo_field'"));
    // deprecated_field_in_output / no_deprecated_field_warning_in_output
    let l = load(
        "- rule: r\n  desc: d\n  condition: evt.type = close\n  output: user=%user.name evt.dir=%evt.dir\n  priority: INFO\n",
    );
    assert!(l.has_warning("usage of deprecated field 'evt.dir' has been detected in the rule output"));
    assert!(!load(TEST_RULE).has_warning("evt.dir"));
    // deprecated_evt_dir_via_macro_folded_scalar_condition_snippet
    let l = load(
        "
- macro: spawned_process
  condition: evt.type in (execve, execveat) and evt.dir = <
- rule: test_rule
  desc: test rule
  condition: >
    spawned_process and proc.name = bash
  output: command=%proc.cmdline
  priority: INFO
",
    );
    assert!(l.report.warnings.iter().any(|w| w.code == WarningCode::DeprecatedItem && w.message.contains("evt.dir")));
}

#[test]
fn sources() {
    // redefine_rule_different_source / append_across_sources / selective_replace_across_sources
    let audit = "- rule: LD_PRELOAD trick\n  desc: Some desc\n  condition: ka.verb = GET\n  output: some output\n  priority: INFO\n  source: k8s_audit\n";
    load(&format!("{audit}- rule: LD_PRELOAD trick\n  desc: d\n  condition: and 1 = 2\n  output: o\n  priority: INFO\n  source: syscall\n"))
        .fails_with("Rule has been re-defined with a different source");
    load(&format!("{audit}- rule: LD_PRELOAD trick\n  desc: d\n  condition: and 1 = 2\n  output: o\n  priority: INFO\n  source: syscall\n  append: true\n"))
        .fails_with("Rule has been re-defined with a different source");
    load(&format!(
        "{audit}- rule: LD_PRELOAD trick\n  condition: 1 = 2\n  override:\n    condition: replace\n  source: syscall\n"
    ))
    .fails_with("Rule has been re-defined with a different source");
    // empty_source_addl_rule / empty_string_source_addl_rule
    let sys = "- rule: LD_PRELOAD trick\n  desc: Some desc\n  condition: evt.type=execve\n  output: some output\n  priority: INFO\n  source: syscall\n";
    for src in ["", " \"\""] {
        let l = load(&format!(
            "{sys}- rule: LD_PRELOAD trick\n  desc: Some desc\n  condition: and proc.name=apache\n  output: o\n  priority: INFO\n  source:{src}\n  append: true\n"
        ));
        assert_eq!(l.fires(&ev("execve", "apache")), ["LD_PRELOAD trick"]);
    }
}

#[test]
fn capture_keys() {
    // rule_capture_duration_wrong_type
    load(&format!("{TEST_RULE}  capture_duration: \"not_a_number\"\n")).fails_with("capture_duration");
    // rule_capture_wrong_type: yaml-cpp reads "yes" as true.
    load(&format!("{TEST_RULE}  capture: \"yes\"\n")).ok();
    // rule_override_capture_duration_replace
    load(&format!("{TEST_RULE}  capture: true\n  capture_duration: 5000\n- rule: test_rule\n  capture_duration: 15000\n  override:\n    capture_duration: replace\n")).ok();
}

#[test]
fn enable_disabled_rule_by_tag() {
    // test_enable_rule.cpp: enable_disabled_rule_by_tag, enable_rule_name_wildcard
    let y = "
- rule: test rule
  desc: A test rule
  condition: evt.type=execve
  output: o
  priority: INFO
  tags: [process]
- rule: disabled rule
  desc: A disabled rule
  condition: evt.type=execve
  output: o
  priority: INFO
  enabled: false
  tags: [exec process]
";
    let t = [RuleText { name: "single_rule.yaml", content: y }];
    let (set, _) = RuleSet::load_texts(&t, &cfg());
    assert_eq!(set.map(|s| s.rules().iter().filter(|r| r.enabled).count()), Some(1));
    let (set, r) = RuleSet::load_texts_selected(&t, &cfg(), &[RuleSelection::enable_tag("exec process")]);
    assert_eq!(set.map(|s| s.rules().iter().filter(|r| r.enabled).count()), Some(2));
    assert_eq!(r.rules_enabled, 2);
    let (_, r) = RuleSet::load_texts_selected(
        &t,
        &cfg(),
        &[RuleSelection::enable_rule("*"), RuleSelection::disable_rule("*test*")],
    );
    assert_eq!(r.rules_enabled, 1);
}

// Across files: Falco reads every file into one collector and compiles
// after each file (falco_engine::load_rules).

#[test]
fn redefinition_across_files_keeps_earlier_references_valid() {
    // What Falco's stable + incubating files do with `never_true`: b.yaml
    // redefines it after a.yaml's `user_known_y` uses it; the redefinition
    // keeps its first index, so `user_known_y` still sees it.
    let a = "
- macro: never_true
  condition: (evt.num=0)
- macro: user_known_x
  condition: (never_true)
- macro: user_known_y
  condition: (never_true)
- rule: r
  desc: d
  condition: evt.type = open and not user_known_x and not user_known_y
  output: o
  priority: INFO
";
    let b = "
- macro: never_true
  condition: (evt.num=0)
- macro: late
  condition: proc.name = late
- macro: user_known_x
  condition: (never_true or late)
  override:
    condition: replace
";
    let l = load_files(&[("a.yaml", a), ("b.yaml", b)]);
    assert_eq!(l.fires(&ev("open", "cat")), ["r"]);
    assert!(l.fires(&ev("open", "late")).is_empty());
    assert!(l.report.warnings.is_empty(), "{}", l.warnings());
}

#[test]
fn macro_defined_in_a_later_file_is_an_error() {
    let uses = "- rule: r\n  desc: d\n  condition: evt.type = open and later\n  output: o\n  priority: INFO\n";
    let defines = "- macro: later\n  condition: proc.name = x\n";
    let l = load_files(&[("a.yaml", uses), ("b.yaml", defines)]);
    l.fails_with("a.yaml:3:14: rule 'r': Undefined macro 'later' used in filter: macro 'later' is defined only later, at b.yaml:1:3");
    // The other order is fine, and so is a list only a later file defines
    // (an unknown list name is a plain value, as in Falco).
    load_files(&[("b.yaml", defines), ("a.yaml", uses)]).ok();
    let uses_list = "- rule: r\n  desc: d\n  condition: evt.type = open and proc.name in (later_list)\n  output: o\n  priority: INFO\n";
    let defines_list = "- list: later_list\n  items: [x]\n";
    let l = load_files(&[("c.yaml", uses_list), ("d.yaml", defines_list)]);
    assert_eq!(l.fires(&ev("open", "x")), ["r"]);
}

#[test]
fn reading_stops_at_a_files_first_error() {
    // Like Falco's reader: later items of the same file are not read, so a
    // broken definition does not also report its dependants.
    let y = "- rule: broken\n  desc: d\n  output: o\n  priority: INFO\n- rule: broken\n  condition: and x\n  override:\n    condition: append\n";
    let l = load(y);
    l.fails_with("Item has no mapping for key 'condition'");
    assert_eq!(l.report.errors.len(), 1, "{}", l.errors());
}
