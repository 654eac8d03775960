//! `sensor rules test` as a rule author and CI use it: the real binary,
//! real fixture files, exit codes.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn sensor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sensor"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

const RULE: &str = "
- rule: Hosts read
  desc: test rule
  condition: evt.type=openat and fd.name=/etc/hosts
  output: hosts read by %proc.name
  priority: WARNING
- rule: Never fixtured
  desc: test rule without a fixture
  condition: evt.type=bpf
  output: bpf
  priority: WARNING
";

fn open_event(path: &str) -> String {
    format!(
        r#"{{"num":9,"ts":1795620935929578784,"type":"openat","category":"file","pid":100,"tid":100,"uid":0,"gid":0,"cgroup_id":1,"comm":"cat","ret":3,"args":{{"dirfd":-100,"name":"{path}","flags":0,"mode":0,"fd":3}}}}"#
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn builtin_fixtures_pass_and_cover_every_builtin_rule() {
    // CI's check: every enabled built-in rule has an `expect: alert` fixture.
    let out = sensor().args(["rules", "test", "--require-coverage"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("PASS "), "{text}");
    assert!(!text.contains("FAIL "), "{text}");
    // The same fixtures from the directory on disk give the same report.
    let out = sensor().args(["rules", "test", "--json"]).arg(repo().join("rules/fixtures")).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["passed"].as_u64().unwrap() >= 6, "{v}");
    assert_eq!(v["failed"], 0);
}

#[test]
fn failures_exit_1_with_the_event_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules.yaml", RULE);
    let fixtures = format!(
        "- fixture: reads hosts\n  rule: Hosts read\n  events:\n    - {}\n\
         - fixture: silent on resolv.conf\n  rule: Hosts read\n  events:\n    - {}\n\
         - fixture: guard broken\n  rule: Hosts read\n  expect: none\n  events:\n    - {}\n",
        open_event("/etc/hosts"),
        open_event("/etc/resolv.conf"),
        open_event("/etc/hosts"),
    );
    let f = write(dir.path(), "f.yaml", &fixtures);
    let out = sensor().args(["rules", "test", "--no-default-rules", "--rules"]).arg(&rules).arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("PASS reads hosts ({}:1)", f.display())), "{text}");
    assert!(text.contains("FAIL silent on resolv.conf"), "{text}");
    assert!(text.contains("did not fire on any of its 1 events"), "{text}");
    assert!(text.contains("FAIL guard broken"), "{text}");
    assert!(text.contains("fired on events[0] (evt.num 9), expected none"), "{text}");
    assert!(text.contains("FAILED: 3 fixtures, 1 passed, 2 failed, 0 skipped"), "{text}");
    // Coverage is reported, and fails only with --require-coverage.
    assert!(text.contains("coverage: 1 enabled rules have no `expect: alert` fixture: Never fixtured"), "{text}");

    let out = sensor()
        .args(["rules", "test", "--json", "--no-default-rules", "--rules"])
        .arg(&rules)
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fixtures"][1]["result"], "fail");
    assert_eq!(v["fixtures"][2]["fired"][0]["rules"], serde_json::json!(["Hosts read"]));
}

#[test]
fn require_coverage_fails_on_a_rule_without_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules.yaml", RULE);
    let f = write(
        dir.path(),
        "f.yaml",
        &format!("- fixture: reads hosts\n  rule: Hosts read\n  events:\n    - {}\n", open_event("/etc/hosts")),
    );
    let run = |extra: &[&str]| {
        sensor()
            .args(["rules", "test", "--no-default-rules", "--rules"])
            .arg(&rules)
            .args(extra)
            .arg(&f)
            .output()
            .unwrap()
    };
    assert_eq!(run(&[]).status.code(), Some(0));
    let out = run(&["--require-coverage"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("coverage FAILED: 1 enabled rules have no `expect: alert` fixture: Never fixtured"),
        "{text}"
    );
}

#[test]
fn bad_fixture_files_exit_2_with_their_location() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(dir.path(), "bad.yaml", "- fixture: x\n  rule: Hosts read\n  expect: alert\n  evnts: []\n");
    let out = sensor().args(["rules", "test"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:4:3: [0].evnts: unknown field `evnts`", bad.display())), "{err}");

    let out = sensor().args(["rules", "test"]).arg(dir.path().join("missing.yaml")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));

    // Without default rules there are no built-in fixtures to fall back on.
    let out = sensor().args(["rules", "test", "--no-default-rules"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no fixture files given"));
}

#[test]
fn disabled_rules_are_skipped_unless_enabled_with_the_selection_flags() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules.yaml", &format!("{RULE}  enabled: false\n"));
    let f = write(
        dir.path(),
        "f.yaml",
        &format!(
            "- fixture: bpf call\n  rule: Never fixtured\n  events:\n    - {}\n",
            open_event("/x").replace("openat", "bpf")
        ),
    );
    let run = |extra: &[&str]| {
        sensor()
            .args(["rules", "test", "--no-default-rules", "--rules"])
            .arg(&rules)
            .args(extra)
            .arg(&f)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("SKIP bpf call") && text.contains("rule \"Never fixtured\" is disabled"), "{text}");
    let out = run(&["--enable-rule", "Never*"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("PASS bpf call"), "{text}");
}
