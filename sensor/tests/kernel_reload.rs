//! Hot reload on the real kernel: rules replaced while an open storm runs,
//! a broken rule file that keeps the running rules (metric and alert), the
//! fixed file taking over; no event lost or seen by neither rule set.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;

use std::time::Duration;

use common::{OpenStorm, Sensor, install, unique};

/// A rule file with `storm` (in every version) and one probe rule.
fn rules(storm: &str, probe: &str, probe_path: &str) -> String {
    format!(
        "- rule: Storm open\n  desc: t\n  condition: evt.type=openat and fd.name startswith {storm}\n  output: \"storm \
         %fd.name\"\n  priority: WARNING\n- rule: {probe}\n  desc: t\n  condition: evt.type=openat and fd.name={probe_path}\n  \
         output: \"probe %fd.name\"\n  priority: WARNING\n"
    )
}

/// Opens `path` and says whether `rule` alerted on it (a new alert within 3 s).
fn probe(s: &Sensor, rule: &str, path: &str) -> bool {
    let count = || s.all(|a| a["rule"] == rule && a["output_fields"]["fd.name"] == path).len();
    let before = count();
    let _ = std::fs::File::open(path);
    let end = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < end {
        if count() > before {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn rules_reload_under_an_open_storm_without_losing_an_event() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    let storm = format!("/nonexistent/{}-", unique("storm"));
    let (a_path, b_path) =
        (format!("/nonexistent/{}", unique("probe-a")), format!("/nonexistent/{}", unique("probe-b")));
    install(&file, &rules(&storm, "Probe A", &a_path));
    let s = Sensor::start(&[
        "run",
        "--no-default-rules",
        "--rules",
        file.to_str().unwrap(),
        "--watch-interval",
        "1",
        "--no-listen",
    ]);
    assert!(probe(&s, "Probe A", &a_path), "the first rules run");

    // The storm runs through every reload below (and stops if the test
    // fails half-way).
    // ~1 000 opens/s: the test's own (debug) JSON reader keeps up with
    // the alerts.
    let storm_run = OpenStorm::start(&storm, 20);

    // A broken file: the running rules stay, said on stderr with
    // file:line, and as an alert.
    install(&file, "- rule: Broken\n  desc: t\n  condition: evt.type=openat and\n  output: x\n  priority: WARNING\n");
    let failed = s.wait_for("the reload-failed alert", |a| a["rule"] == "Sensor internal: rules reload failed");
    assert_eq!(failed["priority"], "Error");
    let errors = failed["output_fields"]["sensor.reload.errors"].as_str().unwrap();
    assert!(errors.contains("rules.yaml:"), "{errors}");
    s.wait_stderr("rules reload failed; the running rules and configuration stay");
    assert!(probe(&s, "Probe A", &a_path), "the old rules still run after a failed reload");

    // Fixed: the new rules take over (probe B fires, probe A no more).
    install(&file, &rules(&storm, "Probe B", &b_path));
    s.wait_stderr("rules reloaded");
    assert!(probe(&s, "Probe B", &b_path), "the new rules run");
    assert!(!probe(&s, "Probe A", &a_path), "the old rules are gone");

    // SIGHUP reloads too (same file: one more "rules reloaded").
    let before = s.count_stderr("rules reloaded");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(s.pid as i32), nix::sys::signal::Signal::SIGHUP).unwrap();
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while s.count_stderr("rules reloaded") == before {
        assert!(std::time::Instant::now() < end, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(20));
    }

    let total = storm_run.finish();
    // Every storm open alerted exactly once, across three swaps.
    let last = format!("{storm}{}", total - 1);
    s.wait_for("the last storm alert", |a| a["output_fields"]["fd.name"] == last.as_str());
    let storm_alerts = s.all(|a| a["rule"] == "Storm open").len() as u64;
    assert!(total > 1000, "the storm ran: {total}");
    assert_eq!(storm_alerts, total, "{total} storm opens, {storm_alerts} alerts");
    s.stop();
    let lost = s.stderr.lock().unwrap().iter().any(|l| l.contains("kernel lost"));
    assert!(!lost, "no kernel loss during the reloads");
}
