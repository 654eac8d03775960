//! docs/config.md lists exactly the keys the configuration parser accepts:
//! each section is probed with an unknown key, and the parser's own list of
//! expected keys (serde's `unknown field ..., expected one of ...`) must
//! match the page's rows for that section, in both directions.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

/// Every section of the file, as the page writes its keys.
const SECTIONS: [&str; 22] = [
    "",
    "response",
    "append_output[]",
    "append_output[].match",
    "outputs",
    "outputs.spool",
    "outputs.storm",
    "outputs.targets[]",
    "outputs.targets[].rate_limit",
    "outputs.targets[].stdout",
    "outputs.targets[].file",
    "outputs.targets[].http",
    "outputs.targets[].http.auth",
    "outputs.targets[].http.auth.token",
    "outputs.targets[].http.signature",
    "outputs.targets[].http.signature.key",
    "outputs.targets[].http.tls",
    "outputs.targets[].http.retry",
    "outputs.targets[].http.splunk",
    "outputs.targets[].http.elasticsearch",
    "outputs.targets[].http.loki",
    "outputs.targets[].http.alertmanager",
];

/// A document with an unknown key inside `section`.
fn probe(section: &str) -> String {
    let mut inner = "{zz_unknown: 1}".to_owned();
    if section.is_empty() {
        return "zz_unknown: 1\n".to_owned();
    }
    for seg in section.rsplit('.') {
        inner = match seg.strip_suffix("[]") {
            Some(name) => format!("{{{name}: [{inner}]}}"),
            None => format!("{{{seg}: {inner}}}"),
        };
    }
    format!("{inner}\n")
}

/// The keys the parser expects in `section`.
fn accepted(section: &str) -> BTreeSet<String> {
    let e = sensor::config::Config::parse("probe.yaml", &probe(section)).unwrap_err().to_string();
    let list = e.split_once("expected ").unwrap_or_else(|| panic!("{section}: {e}")).1;
    let list = list.strip_prefix("one of ").unwrap_or(list);
    list.split(", ").map(|k| k.trim().trim_matches('`').to_owned()).collect()
}

/// The page's keys, by section.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/config.md")).unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("| `") else { continue };
        let key = rest.split_once('`').unwrap().0;
        let (section, name) = key.rsplit_once('.').unwrap_or(("", key));
        out.entry(section.to_owned()).or_default().insert(name.to_owned());
    }
    out
}

#[test]
fn every_key_is_documented_and_every_documented_key_exists() {
    let doc = documented();
    for section in SECTIONS {
        let want = accepted(section);
        let have = doc.get(section).cloned().unwrap_or_default();
        assert_eq!(have, want, "docs/config.md rows under `{section}` (left) against the parser's keys (right)");
    }
    for section in doc.keys() {
        assert!(SECTIONS.contains(&section.as_str()), "docs/config.md documents `{section}.*`, which is not probed");
    }
}

#[test]
fn config_check_reports_file_line_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, "outputs:\n  targets:\n    - name: out\n      stdout: {format: text}\n").unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "json_output: true\noutputs:\n  targets:\n    - stdout: {fromat: json}\n").unwrap();
    let sensor = env!("CARGO_BIN_EXE_sensor");
    let out = std::process::Command::new(sensor).args(["config", "check"]).arg(&good).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("OK: {} (outputs: out)", good.display()));
    let out = std::process::Command::new(sensor).args(["config", "check"]).arg(&good).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{}:4:16: outputs.targets[0].stdout.fromat: unknown field `fromat`", bad.display())),
        "{text}"
    );
    // Invalid after parsing: an output without a kind.
    std::fs::write(&bad, "outputs:\n  targets:\n    - name: x\n").unwrap();
    let out = std::process::Command::new(sensor).args(["config", "check"]).arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("exactly one of `stdout`, `file`, `http`"));
}
