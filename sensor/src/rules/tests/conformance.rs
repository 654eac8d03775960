//! Conformance table: (condition, event, expected match) for every
//! operator and each subtle rule of Falco's semantics.

use crate::rules::{EngineConfig, MapEvent, RuleSet, RuleText};

const PRELUDE: &str = r#"
- list: shells
  items: [bash, sh]
- list: more_shells
  items: [shells, zsh]
- list: empty_list
  items: []
- list: spaced
  items: ["my app", '"(systemd)"']
- list: private_nets
  items: ['"10.0.0.0/8"', "192.168.0.0/16"]
- list: ports
  items: [22, 2222]
- macro: is_shell
  condition: proc.name in (more_shells)
- macro: shell_in_tmp
  condition: is_shell and fd.directory = /tmp
- macro: never_true
  condition: (evt.num=0)
"#;

fn yaml_for(cond: &str) -> String {
    let indented: String = cond.lines().fold(String::new(), |mut s, l| {
        s.push_str("    ");
        s.push_str(l);
        s.push('\n');
        s
    });
    format!(
        "{PRELUDE}\n- rule: t\n  desc: d\n  condition: |-\n{indented}  output: o\n  priority: INFO\n  warn_evttypes: false\n"
    )
}

/// Loads a single-rule file and evaluates it against `ev`.
pub fn matches(cond: &str, ev: &MapEvent) -> bool {
    let y = yaml_for(cond);
    let (set, report) = RuleSet::load_texts(&[RuleText { name: "t.yaml", content: &y }], &EngineConfig::default());
    let Some(set) = set else {
        panic!(
            "condition {cond:?} failed to load: {:?}",
            report.errors.iter().map(super::super::error::LoadError::full_message).collect::<Vec<_>>()
        )
    };
    let mut out = Vec::new();
    set.evaluate(ev, &mut out);
    !out.is_empty()
}

/// Whether a single-rule file with `cond` loads.
pub fn loads(cond: &str) -> bool {
    let y = yaml_for(cond);
    RuleSet::load_texts(&[RuleText { name: "t.yaml", content: &y }], &EngineConfig::default()).0.is_some()
}

/// The load errors of a single-rule file with `cond`; panics if it loads.
pub fn load_error(cond: &str) -> String {
    let y = yaml_for(cond);
    let (set, report) = RuleSet::load_texts(&[RuleText { name: "t.yaml", content: &y }], &EngineConfig::default());
    assert!(set.is_none(), "condition {cond:?} loaded");
    report.errors.iter().map(super::super::error::LoadError::full_message).collect::<Vec<_>>().join("\n")
}

fn ev() -> MapEvent {
    MapEvent::new("open")
        .s("proc.name", "bash")
        .s("proc.pname", "sshd")
        .s("proc.exepath", "/usr/bin/bash")
        .s("proc.cmdline", "bash -c \"echo hi\"")
        .list("proc.aname", &["sshd", "systemd"])
        .s("proc.aname[1]", "sshd")
        .s("proc.aname[2]", "systemd")
        .s("fd.name", "/var/run/file.txt")
        .s("fd.directory", "/var/run")
        .s("fd.filename", "file.txt")
        .s("fd.typechar", "f")
        .i("fd.num", 3)
        .i("evt.rawres", -2)
        .s("evt.res", "ENOENT")
        .u("evt.num", 42)
        .u("proc.duration", 6_000_000_000)
        .b("evt.is_open_read", true)
        .ip("fd.sip", "10.1.2.3")
        .ip("fd.net", "10.1.2.3")
        .ip("fd.snet", "192.168.1.1")
        .u("fd.sport", 2222)
        .s("evt.arg.flags", "O_WRONLY|O_CREAT|O_TRUNC")
        .u("evt.arg.uid", 0)
        .s("evt.arg[0]", "first")
        .with("evt.buffer", crate::rules::FieldValue::Bytes(vec![0xca, 0xfe, 0xba, 0xbe, 0x01].into()))
        .s("proc.env", "HOME=/root")
        .s("user.name", "root")
}

#[test]
#[allow(clippy::too_many_lines)] // a data table
fn conformance_table() {
    let e = ev();
    let cases: &[(&str, bool)] = &[
        // equality, case-sensitive (https://falco.org/docs/concepts/rules/conditions/; libs filter_compare.cpp flt_compare_string, strcmp)
        ("proc.name = bash", true),
        ("proc.name == bash", true),
        ("proc.name=bash", true),
        ("proc.name = Bash", false),
        ("proc.name != bash", false),
        ("proc.name != zsh", true),
        ("proc.name = \"bash\"", true),
        ("proc.name = 'bash'", true),
        ("proc.cmdline = \"bash -c \\\"echo hi\\\"\"", true),
        // numeric comparisons (libs filter_compare.cpp flt_compare_numeric; value_parser.cpp)
        ("fd.num >= 0", true),
        ("fd.num > 3", false),
        ("fd.num < 4", true),
        ("fd.num <= 2", false),
        ("fd.num = +3", true),
        ("evt.rawres < 0", true),
        ("proc.duration <= 5000000000", false),
        ("fd.num in (1, 2, 3)", true),
        // string operators (https://falco.org/docs/concepts/rules/conditions/; libs filter_compare.cpp flt_compare_string/flt_compare_buffer)
        ("proc.cmdline contains echo", true),
        ("proc.cmdline contains ECHO", false),
        ("proc.cmdline icontains ECHO", true),
        ("proc.exepath startswith /usr/", true),
        ("proc.exepath endswith /bash", true),
        ("proc.exepath endswith /bin", false),
        ("evt.buffer bcontains febabe", true),
        ("evt.buffer bcontains 0102", false),
        ("evt.buffer bstartswith cafe", true),
        ("evt.buffer bstartswith fe", false),
        ("evt.res startswith E", true),
        // glob: no FNM_PATHNAME, so * crosses '/' (libs utils.cpp sinsp_utils::glob_match, fnmatch)
        ("fd.name glob /var/*", true),
        ("fd.name glob '/var/*.txt'", true),
        ("fd.name glob /VAR/*", false),
        ("fd.name iglob /VAR/*", true),
        ("fd.name glob /var/?un/*", true),
        ("fd.name glob /etc/*", false),
        // regex: fully anchored (libs sinsp_filtercheck.cpp matches_rhs_regex, ANCHOR_BOTH)
        ("proc.name regex 'ba.h'", true),
        ("proc.name regex 'as'", false),
        ("proc.name regex '[a-z]+'", true),
        // in / intersects / pmatch / exists (https://falco.org/docs/concepts/rules/conditions/; libs filter_op_pmatch.ut.cpp)
        ("proc.name in (zsh, bash)", true),
        ("proc.name in (zsh)", false),
        ("proc.name intersects (bash)", true),
        ("fd.name pmatch (/var/run)", true),
        ("fd.name pmatch (/var/ru)", false),
        ("fd.name pmatch (/var/run/file.txt)", true),
        ("fd.name pmatch (/var/*/file.txt)", true),
        ("fd.name pmatch (/etc, /tmp)", false),
        ("proc.pname exists", true),
        ("container.id exists", false),
        ("not container.id exists", true),
        // list expansion inside in (Falco rule_loader_compiler.cpp resolve_list / compile_list_infos)
        ("proc.name in (more_shells)", true),
        ("proc.name in (shells, other)", true),
        ("proc.name in (empty_list)", false),
        ("not proc.name in (empty_list)", true),
        ("proc.name in (empty_list, bash)", true),
        ("proc.name in (spaced)", false),
        // macros, nested macros (Falco filter_macro_resolver; rules never_true idiom)
        ("is_shell", true),
        ("shell_in_tmp", false),
        ("not shell_in_tmp", true),
        ("never_true", false),
        ("not never_true", true),
        ("proc.name = bash and not never_true", true),
        // missing fields: comparison false, so `not` is true (libs sinsp_filtercheck.cpp compare_nocache)
        ("container.id = host", false),
        ("container.id != host", false),
        ("not container.id = host", true),
        ("not container.id != host", true),
        ("k8s.ns.name in (default)", false),
        ("not k8s.ns.name in (default)", true),
        // boolean logic and precedence (https://falco.org/docs/concepts/rules/conditions/; libs filter_compiler.ut.cpp boolean_evaluation)
        ("proc.name = zsh or proc.name = bash and fd.num = 3", true),
        ("(proc.name = zsh or proc.name = bash) and fd.num = 4", false),
        ("proc.name = zsh or proc.name = bash and fd.num = 4", false),
        ("not not proc.name = bash", true),
        ("not(proc.name = bash)", false),
        ("not (proc.name = zsh) and proc.name = bash", true),
        // typed values (libs value_parser.cpp string_to_rawval; filter_op_net_compare.ut.cpp)
        ("evt.is_open_read = true", true),
        ("evt.is_open_read = false", false),
        ("evt.is_open_read != false", true),
        ("fd.sip = 10.1.2.3", true),
        ("fd.sip = 10.1.2.4", false),
        ("fd.net = 10.0.0.0/8", true),
        ("fd.net != \"127.0.0.0/8\"", true),
        ("fd.net in (private_nets)", true),
        ("fd.snet in (private_nets)", true),
        ("fd.snet in (\"10.0.0.0/8\")", false),
        ("fd.sport in (ports)", true),
        ("fd.sport = 22", false),
        // ancestors: no level = any ancestor (libs sinsp_filtercheck_thread.cpp compare_full_aname)
        ("proc.aname = systemd", true),
        ("proc.aname = init", false),
        ("proc.aname in (init, sshd)", true),
        ("proc.aname[1] = sshd", true),
        ("proc.aname[2] = sshd", false),
        ("proc.aname[3] = sshd", false),
        // transformers and val() (https://falco.org/docs/concepts/rules/conditions/; libs filter_compiler.ut.cpp filter_val_transformer)
        ("tolower(proc.name) = bash", true),
        ("toupper(proc.name) = BASH", true),
        ("basename(proc.exepath) = bash", true),
        ("len(proc.name) = 4", true),
        ("len(proc.name) > 4", false),
        ("proc.name = val(proc.pname)", false),
        ("proc.name != val(proc.pname)", true),
        ("proc.pname = val(proc.name)", false),
        // list modifiers (libs filterchecks/cmp_operator_modifiers.cpp)
        ("proc.name startswith oneof (zs, ba)", true),
        ("proc.name startswith anyof (zs, cs)", false),
        ("proc.exepath contains allof (usr, bash)", true),
        // event parameters (libs sinsp_filtercheck_event.cpp evt.arg / evt.rawarg)
        ("evt.arg.flags contains O_TRUNC", true),
        ("evt.arg.flags contains O_RDONLY", false),
        ("evt.arg.uid = 0", true),
        ("evt.arg.uid < 1000", true),
        ("evt.arg[0] = first", true),
        ("evt.arg.missing = x", false),
        // evt.type dispatch and the deprecated evt.dir (libs ppm_codes.cpp; Falco 0.42 evt.dir deprecation)
        ("evt.type = open", true),
        ("evt.type = openat", false),
        ("evt.type != openat", true),
        ("evt.type in (open, openat)", true),
        ("not evt.type in (open, openat)", false),
        ("evt.type startswith op", true),
        ("evt.dir = <", true),
        ("evt.dir = >", false),
        ("evt.type = open and evt.dir = <", true),
        // folded multi-line condition with odd blanks (libs parser.cpp lex_blank)
        ("proc.name = bash\n and\tfd.num = 3", true),
        ("(proc.name in (\"(systemd)\", bash))", true),
    ];
    let mut failures = Vec::new();
    for (cond, want) in cases {
        if matches(cond, &e) != *want {
            failures.push(format!("{cond:?}: expected {want}"));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn quoted_list_items_keep_inner_quotes() {
    let e = MapEvent::new("open").s("proc.name", "(systemd)");
    assert!(matches("proc.name in (spaced)", &e));
    let e = MapEvent::new("open").s("proc.name", "my app");
    assert!(matches("proc.name in (spaced)", &e));
}

#[test]
fn ancestor_field_matches_any_ancestor() {
    // `proc.aname` without a level is compared with every ancestor
    // (libs sinsp_filtercheck_thread.cpp `compare_full_aname`).
    let e = MapEvent::new("open").list("proc.aname", &["a", "b"]);
    assert!(matches("proc.aname in (a)", &e));
    assert!(matches("proc.aname intersects (b, z)", &e));
    assert!(matches("proc.aname = b", &e));
    assert!(!matches("proc.aname = c", &e));
}

#[test]
fn event_types_not_named_by_any_rule() {
    // A complement set must match types no rule names.
    let e = MapEvent::new("weird_type").s("proc.name", "bash");
    assert!(matches("evt.type != open and proc.name = bash", &e));
    assert!(!matches("evt.type = open and proc.name = bash", &e));
    assert!(matches("proc.name = bash", &e));
}
