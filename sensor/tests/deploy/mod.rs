//! The Kubernetes manifests as `kubectl kustomize` renders them, read by the
//! tests that run the sensor the way the DaemonSet does: its arguments, its
//! capability list, its mounts, its ConfigMap come from here, never copied.
#![allow(dead_code, clippy::unwrap_used, clippy::missing_panics_doc, clippy::doc_markdown)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub const KUBECTL: &str = "kubectl";

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Under CI a missing tool fails the test; elsewhere it is skipped, saying why.
pub fn skip_or_fail(why: &str) {
    assert!(!in_ci(), "CI=true and the test cannot run: {why}");
    eprintln!("SKIPPED (set CI=true to make this fatal): {why}");
}

/// Whether `cmd --version`-like probing finds the tool.
pub fn have(cmd: &str, probe: &[&str]) -> bool {
    Command::new(cmd).args(probe).output().is_ok_and(|o| o.status.success())
}

/// `kubectl kustomize DIR` (relative to the repository), as YAML text.
pub fn render_text(dir: &str) -> Result<String, String> {
    let out =
        Command::new(KUBECTL).arg("kustomize").arg(root().join(dir)).output().map_err(|e| format!("{KUBECTL}: {e}"))?;
    if !out.status.success() {
        return Err(format!("kubectl kustomize {dir}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

/// The rendered objects of `dir`, or `None` (skipped, or a failure under CI)
/// without kubectl.
pub fn render(dir: &str) -> Option<Vec<Value>> {
    if !have(KUBECTL, &["version", "--client"]) {
        skip_or_fail("kubectl not found");
        return None;
    }
    let text = render_text(dir).unwrap();
    Some(parse_documents(&text))
}

/// A multi-document YAML stream as JSON values.
pub fn parse_documents(text: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if line == "---" {
            if !cur.trim().is_empty() {
                docs.push(serde_saphyr::from_str::<Value>(&cur).unwrap());
            }
            cur.clear();
        } else {
            cur.push_str(line);
            cur.push('\n');
        }
    }
    if !cur.trim().is_empty() {
        docs.push(serde_saphyr::from_str::<Value>(&cur).unwrap());
    }
    docs
}

pub fn find<'a>(objs: &'a [Value], kind: &str) -> &'a Value {
    objs.iter().find(|o| o["kind"] == kind).unwrap_or_else(|| panic!("no {kind} rendered"))
}

/// The DaemonSet's only container.
pub fn container(objs: &[Value]) -> &Value {
    &find(objs, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]
}

/// `securityContext.capabilities.add`, as the manifest spells them (`BPF`).
pub fn capabilities(objs: &[Value]) -> Vec<String> {
    let caps = &container(objs)["securityContext"]["capabilities"];
    assert_eq!(caps["drop"], serde_json::json!(["ALL"]), "the DaemonSet drops every other capability");
    caps["add"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect()
}

/// The container's arguments.
pub fn args(objs: &[Value]) -> Vec<String> {
    container(objs)["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect()
}

/// `(container path, host path, read-only, hostPath type)` of every hostPath
/// mount, and the ConfigMap mount's path.
pub struct Mounts {
    pub host: Vec<(String, String, bool, String)>,
    pub config_dir: String,
}

pub fn mounts(objs: &[Value]) -> Mounts {
    let spec = &find(objs, "DaemonSet")["spec"]["template"]["spec"];
    let volumes = spec["volumes"].as_array().unwrap();
    let mut host = Vec::new();
    let mut config_dir = None;
    for m in container(objs)["volumeMounts"].as_array().unwrap() {
        let v = volumes.iter().find(|v| v["name"] == m["name"]).unwrap();
        let path = m["mountPath"].as_str().unwrap().to_owned();
        let ro = m["readOnly"].as_bool().unwrap_or(false);
        if let Some(hp) = v.get("hostPath") {
            let ty = hp["type"].as_str().unwrap_or("").to_owned();
            host.push((path, hp["path"].as_str().unwrap().to_owned(), ro, ty));
        } else if v.get("configMap").is_some() {
            config_dir = Some(path);
        } else {
            panic!("unexpected volume {v}");
        }
    }
    Mounts { host, config_dir: config_dir.unwrap() }
}

/// The files of the ConfigMap the DaemonSet mounts, written to `dir`.
pub fn write_config_map(objs: &[Value], dir: &Path) {
    let spec = &find(objs, "DaemonSet")["spec"]["template"]["spec"];
    let name = spec["volumes"].as_array().unwrap().iter().find_map(|v| v["configMap"]["name"].as_str()).unwrap();
    let cm = objs.iter().find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == name).unwrap();
    for (file, text) in cm["data"].as_object().unwrap() {
        std::fs::write(dir.join(file), text.as_str().unwrap()).unwrap();
    }
}

/// Labelled metrics the manifests use that a sensor serves only once a
/// label set exists (a scrape of a node without pods lacks them), with
/// why. Each must still be registered by the sensor's metrics module
/// under that name, which [`assert_metrics_served`] checks in its source.
pub const ON_FIRST_USE: [(&str, &str); 1] =
    [("sensor_alerts_by_pod_total", "after the first alert from a pod's container")];

/// Every `sensor_*` metric name in a PromQL expression.
pub fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(pos) = expr[i..].find("sensor_") {
        let start = i + pos;
        let boundary = start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        if boundary {
            out.push(expr[start..end].to_owned());
        }
        i = end;
    }
    out
}

/// The PromQL expressions of the PrometheusRule and of the dashboard.
pub fn promql_expressions(objs: &[Value]) -> Vec<String> {
    let mut exprs = Vec::new();
    for g in find(objs, "PrometheusRule")["spec"]["groups"].as_array().unwrap() {
        for r in g["rules"].as_array().unwrap() {
            exprs.push(r["expr"].as_str().unwrap().to_owned());
        }
    }
    exprs.extend(dashboard_expressions(objs));
    exprs
}

/// The dashboard JSON of the `sensor-dashboard` ConfigMap.
pub fn dashboard(objs: &[Value]) -> Value {
    let cm = objs.iter().find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "sensor-dashboard").unwrap();
    serde_json::from_str(cm["data"]["sensor.json"].as_str().unwrap()).unwrap()
}

pub fn dashboard_expressions(objs: &[Value]) -> Vec<String> {
    let d = dashboard(objs);
    let mut exprs = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_owned());
        }
    }
    for v in d["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["query"]["query"].as_str() {
            exprs.push(q.to_owned());
        }
    }
    exprs
}

/// Every metric name the PrometheusRule and the dashboard use.
pub fn used_metric_names(objs: &[Value]) -> std::collections::BTreeSet<String> {
    promql_expressions(objs).iter().flat_map(|e| metric_names(e)).collect()
}

/// Checks a `/metrics` text against the names the manifests use: every used
/// name is served (a histogram or counter family by its own name), or is
/// one of [`ON_FIRST_USE`] and registered in `sensor/src/metrics/`.
pub fn assert_metrics_served(objs: &[Value], metrics_text: &str) {
    let metrics_src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/metrics/mod.rs")).unwrap();
    let served: std::collections::BTreeSet<&str> = metrics_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut missing = Vec::new();
    for name in used_metric_names(objs) {
        let later = ON_FIRST_USE.iter().any(|(p, _)| *p == name);
        if later {
            let registered = format!("\"{}\"", name.trim_start_matches("sensor_"));
            assert!(metrics_src.contains(&registered), "{name}: not registered in sensor/src/metrics/mod.rs");
        } else if !served.contains(name.as_str()) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "used by the PrometheusRule or dashboard but not served: {missing:?}\nserved: {served:?}"
    );
}

/// `capsh --decode` of every capability this kernel has, lower-case names
/// without the prefix (`bpf`), for `setpriv` and `ctr`.
pub fn all_capabilities() -> Vec<String> {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").unwrap().trim().parse().unwrap();
    let mask: u64 = if last >= 63 { u64::MAX } else { (1u64 << (last + 1)) - 1 };
    let out = Command::new("/usr/sbin/capsh").arg(format!("--decode={mask:x}")).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let list = text.trim().split_once('=').unwrap().1;
    list.split(',').map(|c| c.trim_start_matches("cap_").to_owned()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_metric_names_in_promql() {
        assert_eq!(
            super::metric_names("sum by (x) (rate(sensor_events_total{a=\"b\"}[5m])) / my_sensor_x + sensor_up"),
            vec!["sensor_events_total", "sensor_up"]
        );
    }
}

pub mod spawned;
