//! `sensor rules check` and `sensor replay` as a rule author uses them:
//! the real binary, real files.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::upstream_rules;

fn sensor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sensor"))
}

fn malformed(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/rules/testdata/malformed").join(name)
}

#[test]
fn check_loads_all_upstream_rules_unmodified() {
    let Some(up) = upstream_rules() else { return };
    let out = sensor().args(["rules", "check", "--json"]).arg(&up).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rules_loaded"], 25, "{v}");
    assert_eq!(v["rules_skipped"], serde_json::json!([]));
    assert_eq!(v["errors"], serde_json::json!([]));
}

#[test]
fn check_all_three_upstream_files_with_every_rule_enabled() {
    let Some(up) = upstream_rules() else { return };
    let dir = up.parent().unwrap();
    let out = sensor()
        .args(["rules", "check", "--json", "--enable-rule", "*"])
        .arg(dir.join("falco_rules.yaml"))
        .arg(dir.join("falco-incubating_rules.yaml"))
        .arg(dir.join("falco-sandbox_rules.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rules_loaded"], 93, "{v}");
    assert_eq!(v["rules_enabled"], 93, "{v}");
    assert_eq!(v["rules_skipped"], serde_json::json!([]));
    assert_eq!(v["errors"], serde_json::json!([]));
    // Selections apply in command-line order.
    let out = sensor()
        .args(["rules", "check", "--json", "--enable-rule", "*", "--disable-tag", "maturity_sandbox"])
        .arg(dir.join("falco_rules.yaml"))
        .arg(dir.join("falco-sandbox_rules.yaml"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["rules_loaded"].as_u64(), v["rules_enabled"].as_u64()), (Some(62), Some(25)), "{v}");
    let out = sensor()
        .args(["rules", "check", "--json", "--disable-tag", "maturity_sandbox", "--enable-rule", "*"])
        .arg(dir.join("falco_rules.yaml"))
        .arg(dir.join("falco-sandbox_rules.yaml"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rules_enabled"], 62, "{v}");
}

#[test]
fn check_reports_errors_with_location_and_suggestion() {
    let f = malformed("unknown_field.yaml");
    let out = sensor().args(["rules", "check"]).arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("{}:3:14", f.display())), "{text}");
    assert!(text.contains("rule 'typo_field'"), "{text}");
    assert!(text.contains("did you mean 'proc.name'"), "{text}");

    let out = sensor().args(["rules", "check", "--json"]).arg(malformed("unbalanced_parens.yaml")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &v["errors"][0];
    assert!(e["line"].as_u64().unwrap() > 0 && e["column"].as_u64().unwrap() > 0, "{v}");
    assert!(!e["message"].as_str().unwrap().is_empty());
}

#[test]
fn check_never_panics_on_the_malformed_corpus() {
    for entry in std::fs::read_dir(malformed("")).unwrap() {
        let p = entry.unwrap().path();
        let out = sensor().args(["rules", "check", "--json"]).arg(&p).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}: {}", p.display(), String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!v["errors"].as_array().unwrap().is_empty(), "{}", p.display());
    }
    let out = sensor().args(["rules", "check"]).arg("/nonexistent/rules.yaml").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("/nonexistent/rules.yaml"));
}

#[test]
fn builtin_rules_are_valid() {
    let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let out = sensor().args(["rules", "check", "--json"]).arg(&rules).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["warnings"], serde_json::json!([]), "{v}");
}

#[test]
fn replay_of_recorded_events_fires_rules() {
    let Some(up) = upstream_rules() else { return };
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/recorded.jsonl");
    let out = sensor().args(["replay", "--no-default-rules", "--rules"]).arg(&up).arg(&data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let rules: Vec<&str> = alerts.iter().map(|a| a["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"Read sensitive file untrusted"), "{rules:?}");
    assert!(rules.contains(&"Create Symlink Over Sensitive Files"), "{rules:?}");
    // The benign events in the recording stay quiet.
    assert_eq!(alerts.len(), 2, "{rules:?}");
    let a = alerts.iter().find(|a| a["rule"] == "Read sensitive file untrusted").unwrap();
    assert_eq!(a["output_fields"]["fd.name"], "/etc/shadow");
    assert_eq!(a["priority"], "Warning");
    assert_eq!(a["source"], "syscall");
    assert!(a["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn replay_reports_unreadable_lines() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.jsonl");
    std::fs::write(&f, "{\"not\":\"an event\"}\nnot json at all\n").unwrap();
    let out = sensor().args(["replay"]).arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.jsonl:1:") && err.contains("bad.jsonl:2:"), "{err}");
}
