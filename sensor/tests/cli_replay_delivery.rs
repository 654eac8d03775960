//! `sensor replay` goes through the same alert stages as `sensor run`:
//! `--webhook` posts to a real HTTP receiver, an `outputs:` section of
//! `--config` replaces the stdout line.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod receiver;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use receiver::{Receiver, always_ok};

const RULE: &str = "- rule: Shadow read in replay\n  desc: test\n  condition: evt.type in (open, openat) and fd.name=/etc/shadow\n  output: \"shadow read by %proc.name\"\n  priority: WARNING\n";

fn inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let rules = dir.join("r.yaml");
    std::fs::write(&rules, RULE).unwrap();
    let events = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/recorded.jsonl");
    (rules, events)
}

fn replay(args: &[&str], rules: &Path, events: &Path) -> (Vec<serde_json::Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["replay", "--no-default-rules", "--rules"])
        .arg(rules)
        .args(args)
        .arg(events)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let alerts = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (alerts, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_posts_to_a_webhook_and_keeps_the_stdout_line() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, events) = inputs(dir.path());
    let rx = Receiver::http(0, always_ok()).await;
    let url = rx.url("http", "/alerts");
    let (lines, err) =
        tokio::task::spawn_blocking(move || replay(&["--webhook", &url], &rules, &events)).await.unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}\n{err}");
    assert_eq!(lines[0]["rule"], "Shadow read in replay");
    // The process exits after delivering: the POST is already there.
    let reqs = rx.wait_for(Duration::from_secs(5), |r| !r.is_empty()).await;
    assert_eq!(reqs.len(), 1);
    let body = reqs[0].json();
    assert_eq!(body["rule"], "Shadow read in replay");
    assert_eq!(body["output_fields"]["proc.name"], lines[0]["output_fields"]["proc.name"]);
    assert!(body["output_fields"]["proc.name"].is_string(), "{body}");
    assert!(body["uuid"].as_str().is_some_and(|u| u.len() == 36), "{body}");
    assert_eq!(reqs[0].path, "/alerts");
}

#[test]
fn replay_outputs_from_the_config_replace_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, events) = inputs(dir.path());
    let log = dir.path().join("alerts.jsonl");
    let cfg = dir.path().join("sensor.yaml");
    std::fs::write(&cfg, format!("outputs:\n  targets:\n    - file: {{ path: {} }}\n", log.display())).unwrap();
    let (lines, err) = replay(&["--config", cfg.to_str().unwrap()], &rules, &events);
    assert!(lines.is_empty(), "stdout is replaced: {lines:?}");
    let written: Vec<serde_json::Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(written.len(), 1, "{written:?}\n{err}");
    assert_eq!(written[0]["rule"], "Shadow read in replay");
}
