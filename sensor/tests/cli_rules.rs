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

/// `sensor rules actions`: where each rule's action is decided, with the
/// configuration's policy; `sensor replay` reports the would-be actions;
/// an upstream rule armed by an override item of another file.
#[test]
fn actions_dry_run_and_replay_report_what_would_be_done() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("r.yaml");
    std::fs::write(
        &rules,
        "- rule: miner
  desc: d
  condition: evt.type = execve and proc.name in (xmrig, kubelet)
  output: miner %proc.name
  priority: CRITICAL
  actions: [kill_process]
- rule: shell
  desc: d
  condition: evt.type = execve and proc.name = sh and proc.pname = nginx
  output: shell %proc.name
  priority: WARNING
  actions: [kill_process, isolate_pod]
- rule: exfil
  desc: d
  condition: evt.type = connect and fd.snet = 203.0.113.0/24 and fd.sport = 443
  output: exfil %fd.name
  priority: WARNING
  actions: [deny_connect]
",
    )
    .unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, "mode: enforce\nresponse:\n  namespaces: {dev: monitor}\n  max_actions_per_minute: 5\n")
        .unwrap();
    let out =
        sensor().args(["rules", "actions", "--no-default-rules", "--config"]).arg(&cfg).arg(&rules).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let line =
        |what: &str| text.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("{what}:\n{text}")).to_owned();
    assert!(text.starts_with("mode: enforce\n  namespace dev: monitor\n"), "{text}");
    assert!(text.contains("rate limit: 5 per minute"), "{text}");
    // kubelet is on the allow-list: only xmrig reaches the kernel.
    let miner = line("miner -> kill_process");
    assert!(miner.contains("in the kernel at exec of xmrig (allow-listed names left out)"), "{miner}");
    assert!(miner.starts_with(&format!("{}:1:3:", rules.display())), "{miner}");
    assert!(line("shell -> kill_process").contains("in user space (pidfd)"), "{text}");
    assert!(line("shell -> isolate_pod").contains("through the Kubernetes API"), "{text}");
    assert!(line("exfil -> deny_connect").contains("at connect to 203.0.113.0/24:443"), "{text}");
    let out = sensor().args(["rules", "actions", "--json", "--no-default-rules"]).arg(&rules).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mode"], "monitor");
    assert_eq!(v["actions"][0]["site"], "kernel");
    assert_eq!(v["actions"][0]["names"], serde_json::json!(["xmrig"]));
    // Replay never acts: the miner's alert says what would have been done.
    let ev = dir.path().join("ev.jsonl");
    std::fs::write(
        &ev,
        r#"{"ts": 1795622930095564642, "type": "execve", "category": "process", "pid": 4321, "tid": 4321, "uid": 0, "gid": 0, "cgroup_id": 1, "comm": "xmrig", "ret": 0, "args": {"exe": "/tmp/xmrig"}, "proc": {"exec_id": "4321:1", "ppid": 1, "name": "xmrig", "exe": "/tmp/xmrig", "args": ["xmrig"], "euid": 0, "loginuid": -1, "tty": 0, "sid": 1, "cap_effective": 0, "start_ns": 1, "ancestors": []}}
"#,
    )
    .unwrap();
    let out = sensor()
        .args(["replay", "--no-default-rules", "--rules"])
        .arg(&rules)
        .arg("--config")
        .arg(&cfg)
        .arg(&ev)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["rule"], "miner");
    assert_eq!(alerts[0]["output_fields"]["response.mode"], "monitor");
    assert_eq!(alerts[0]["output_fields"]["response.actions"], serde_json::json!(["kill_process"]));
    // An unknown action fails like any load error, with its position.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- rule: x\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: INFO\n  actions: [explode]\n",
    )
    .unwrap();
    let out = sensor().args(["rules", "check"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bad.yaml:6:13") && text.contains("Unknown action 'explode'"), "{text}");
}
