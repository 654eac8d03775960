//! End to end on the real kernel: `sensor run` with all three of Falco's
//! upstream files (stable, incubating, sandbox) and every rule enabled
//! (`--enable-rule '*'`, falco.yaml's `rules: [{enable: {rule: "*"}}]`)
//! starts, and a sandbox rule that is disabled by default fires.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{Sensor, unique};

#[test]
fn all_upstream_files_every_rule_enabled() {
    let Some(_) = common::sensor() else { return };
    let Some(stable) = common::upstream_rules() else { return };
    let dir = stable.parent().unwrap();
    let files: Vec<String> = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]
        .iter()
        .map(|f| dir.join(f).to_str().unwrap().to_owned())
        .collect();
    let mut args = vec!["run", "--no-default-rules", "--syscall-hooks", "btf", "--rule-matching", "all"];
    for f in &files {
        args.extend(["--rules", f.as_str()]);
    }
    args.extend(["--enable-rule", "*"]);
    let s = Sensor::start(&args);
    let log = s.stderr.lock().unwrap().join("\n");
    assert!(log.contains("93 rules loaded (93 enabled), 0 skipped"), "{log}");

    // "Create Hidden Files or Directories" is `enabled: false` in the
    // sandbox file.
    let tmp = tempfile::tempdir().unwrap();
    let hidden = tmp.path().join(format!(".{}", unique("hidden")));
    std::fs::write(&hidden, b"x").unwrap();
    let h = hidden.to_str().unwrap().to_owned();
    let a = s.wait_for("Create Hidden Files or Directories", |a| {
        a["rule"] == "Create Hidden Files or Directories" && a["output_fields"]["fd.name"] == h.as_str()
    });
    assert_eq!(a["priority"], "Notice");

    // A stable rule still fires alongside.
    let bin = tmp.path().join("shadowpeek");
    std::fs::copy("/bin/cat", &bin).unwrap();
    assert!(common::retry_busy(Command::new(&bin).arg("/etc/shadow"), Command::output).status.success());
    s.wait_for("Read sensitive file untrusted", |a| {
        a["rule"] == "Read sensitive file untrusted" && a["output_fields"]["proc.name"] == "shadowpeek"
    });
    s.stop();
}
