//! Shared by the end-to-end tests of the project's own default rules
//! (`kernel_default_*.rs`): one `sensor run` per test binary with the
//! built-in rules only (no `--rules`, default `rule_matching: first`, so the
//! rule asserted is the one the product reports), and the per-behaviour
//! assertion: the rule, a priority of at least Warning, the process fields.
//!
//! Behaviours are tagged as in `falco/`: the tag is in the command line of
//! the process that acts, and an alert is a behaviour's when its
//! `proc.cmdline` holds the tag.
#![allow(dead_code)]

use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use crate::common::{self, Sensor};
use crate::falco;

/// Priorities at least as severe as Warning, as alerts spell them.
const WARNING_OR_WORSE: [&str; 5] = ["Warning", "Error", "Critical", "Alert", "Emergency"];

/// `sensor run` with the default rules and `extra`; `None` (after saying
/// why, a failure under CI) when kernel tests cannot run here.
pub fn start(extra: &[&str]) -> Option<Sensor> {
    if !common::kernel_tests_can_run() {
        return None;
    }
    let mut args = vec!["run", "--syscall-hooks", "btf"];
    args.extend_from_slice(extra);
    let s = Sensor::start(&args);
    let log = s.stderr.lock().unwrap().join("\n");
    assert!(log.contains("rules loaded") && log.contains(", 0 skipped"), "{log}");
    Some(s)
}

/// Waits (up to 20 s) for an alert of `rule` that `mine` selects; asserts
/// its priority is Warning or worse and that it names the process
/// (`proc.cmdline` with the tag, `user.name`). Returns it.
pub fn expect(s: &Sensor, mine: &dyn Fn(&Value) -> bool, rule: &str) -> Value {
    let Some(a) = s.try_wait_for(Duration::from_secs(20), &|a| a["rule"] == rule && mine(a)) else {
        let seen = s.all(|a| a.get("rule").is_some() && mine(a));
        panic!("no alert of rule {rule:?}; this behaviour's alerts: {seen:#?}");
    };
    let p = a["priority"].as_str().unwrap_or_default();
    assert!(WARNING_OR_WORSE.contains(&p), "priority {p:?} below Warning: {a:#}");
    assert!(falco::field(&a, "user.name").as_str().is_some_and(|u| !u.is_empty()), "user.name in {a:#}");
    a
}

/// Asserts `a` came from the host's own processes.
pub fn assert_host(a: &Value) {
    falco::assert_field(a, "container.id", "host");
}

/// Runs a program the test just copied (`ETXTBSY` retried).
pub fn run_fresh_copy(cmd: &mut std::process::Command) -> std::process::Output {
    common::retry_busy(cmd, std::process::Command::output)
}

/// A directory of copies of the static helper under the names rules key
/// on, readable by all; containers mount it read-only at /opt/t (a bind
/// mount is no part of the image's upper layer: running these is no drift).
pub fn tools() -> Option<&'static Path> {
    static T: OnceLock<Option<tempfile::TempDir>> = OnceLock::new();
    T.get_or_init(|| {
        falco::helper()?;
        let d = falco::tagged_dir(&falco::tag("tools"));
        for name in ["python3", "socat", "nmap", "xmrig", "curl", "kworker", "fhelper"] {
            falco::helper_as(d.path(), name);
        }
        Some(d)
    })
    .as_ref()
    .map(tempfile::TempDir::path)
}
