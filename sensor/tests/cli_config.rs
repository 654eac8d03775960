//! `sensor replay --config` / `--output-format` / `--utc`: falco.yaml's
//! output keys and `append_output`, through the real binary.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sensor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sensor"))
}

const RULES: &str = "
- rule: Hosts read
  desc: test
  condition: evt.type=openat and fd.name=/etc/hosts
  output: hosts read by %proc.name
  priority: WARNING
  tags: [filesystem]
- rule: Low
  desc: test
  condition: evt.type=openat
  output: open %fd.name
  priority: DEBUG
";

/// 2023-05-25T13:44:05.478445995Z.
const EVENT: &str = r#"{"ts":1685022245478445995,"type":"openat","category":"file","pid":100,"tid":100,"uid":0,"gid":0,"cgroup_id":1,"comm":"cat","ret":3,"args":{"dirfd":-100,"name":"/etc/hosts","flags":0,"mode":0,"fd":3},"proc":{"exec_id":"100:1","ppid":1,"name":"cat","exe":"/usr/bin/cat","args":["cat","/etc/hosts"]}}"#;

struct Setup {
    _dir: tempfile::TempDir,
    rules: PathBuf,
    events: PathBuf,
    config: PathBuf,
}

fn setup(config: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Setup {
        rules: write("rules.yaml", RULES),
        events: write("events.jsonl", &format!("{EVENT}\n")),
        config: write("sensor.yaml", config),
        _dir: dir,
    }
}

fn replay(s: &Setup, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = sensor();
    c.args(["replay", "--no-default-rules", "--rule-matching", "all", "--rules"])
        .arg(&s.rules)
        .arg("--config")
        .arg(&s.config)
        .args(extra)
        .arg(&s.events);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn lines(o: &Output) -> Vec<String> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn text_output_in_utc_or_local_time() {
    let s = setup("json_output: false\npriority: info\nappend_output:\n  - extra_output: \"pid=%proc.pid\"\n");
    let out = lines(&replay(&s, &["--utc"], &[]));
    // The DEBUG rule is below `priority: info`.
    assert_eq!(out, ["13:44:05.478445995: Warning hosts read by cat pid=100"]);
    // Local time follows TZ (a POSIX zone: CEST is UTC+2 in May).
    let out = lines(&replay(&s, &[], &[("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")]));
    assert_eq!(out, ["15:44:05.478445995: Warning hosts read by cat pid=100"]);
    // The command line wins over json_output.
    let out = lines(&replay(&s, &["--output-format", "json", "--utc"], &[]));
    let v: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(v["output"], "13:44:05.478445995: Warning hosts read by cat pid=100");
    assert_eq!(v["output_fields"]["proc.pid"], 100);
}

#[test]
fn json_switches_and_extra_fields() {
    let s = setup(
        "json_include_tags_property: false\njson_include_message_property: true\ntime_format_utc: true\n\
         time_format_iso_8601: true\nappend_output:\n  - match: {tags: [filesystem]}\n    \
         extra_fields: [{who: \"%proc.name as %user.uid\"}, proc.pid]\n  - suggested_output: true\n",
    );
    let out = lines(&replay(&s, &[], &[]));
    assert_eq!(out.len(), 2);
    let v: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
    assert_eq!(v["rule"], "Hosts read");
    assert!(v.get("tags").is_none(), "{v}");
    assert_eq!(
        v["message"],
        "hosts read by cat container_id=host container_name=<NA> container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>"
    );
    assert!(v["output"].as_str().unwrap().starts_with("2023-05-25T13:44:05.478445995+0000: Warning hosts read"), "{v}");
    assert_eq!(v["output_fields"]["who"], "cat as 0");
    assert_eq!(v["output_fields"]["proc.pid"], 100);
    let low: serde_json::Value = serde_json::from_str(&out[1]).unwrap();
    assert!(low["output_fields"].get("who").is_none(), "the tag match leaves Low alone: {low}");
}

#[test]
fn configuration_errors_name_file_line_and_key() {
    let s = setup("json_output: true\nappend_output:\n  - match:\n      rule: x\n      tagz: [a]\n");
    let o = replay(&s, &[], &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:5:7: append_output[0].match.tagz: unknown field `tagz`", s.config.display())),
        "{err}"
    );
    let s = setup("append_output:\n  - extra_output: \"%proc.nmae\"\n");
    let err = String::from_utf8_lossy(&replay(&s, &[], &[]).stderr).into_owned();
    assert!(err.contains("append_output[0].extra_output") && err.contains("did you mean 'proc.name'"), "{err}");
    let o = sensor().args(["replay", "--config"]).arg(Path::new("/nonexistent/sensor.yaml")).arg("-").output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/sensor.yaml"));
}
