//! Configuration reload on the real kernel: while an open storm runs, the
//! `--config` file is replaced so that the alerts go to another webhook and
//! are shaped differently (tags dropped), then by a broken file (kept out,
//! said with `file:line`, alerted through the running outputs). Every storm
//! open is delivered exactly once, to the old receiver before the swap and
//! to the new one after.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod common;
mod receiver;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{OpenStorm, Sensor, install, unique};
use receiver::{Receiver, always_ok};

fn config(url: &str, tags: bool) -> String {
    format!("json_include_tags_property: {tags}\noutputs:\n  targets:\n    - http:\n        url: {url}\n")
}

/// Storm alerts a receiver got, by storm number.
fn storm_alerts(rx: &Receiver, storm: &str) -> BTreeMap<u64, serde_json::Value> {
    rx.requests()
        .iter()
        .map(receiver::Received::json)
        .filter_map(|a| {
            let n = a["output_fields"]["fd.name"].as_str()?.strip_prefix(storm)?.parse().ok()?;
            Some((n, a))
        })
        .collect()
}

/// Waits (up to 30 s) until the storm alerts `rx` got satisfy `pred`.
async fn until(rx: &Receiver, storm: &str, pred: impl Fn(&BTreeMap<u64, serde_json::Value>) -> bool) {
    let end = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = storm_alerts(rx, storm);
        if pred(&got) {
            return;
        }
        assert!(std::time::Instant::now() < end, "receiver: {} storm alerts, not what the test waits for", got.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_and_alert_format_reload_under_an_open_storm_without_losing_an_alert() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (Receiver::http(0, always_ok()).await, Receiver::http(0, always_ok()).await);
    let storm = format!("/nonexistent/{}-", unique("cfgstorm"));
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Storm open\n  desc: t\n  condition: evt.type=openat and fd.name startswith {storm}\n  output: \
             \"storm %fd.name\"\n  priority: WARNING\n  tags: [reload_test]\n"
        ),
    )
    .unwrap();
    let cfg = dir.path().join("config.yaml");
    install(&cfg, &config(&old.url("http", "/old"), true));
    let s = tokio::task::block_in_place(|| {
        Sensor::start(&[
            "run",
            "--no-default-rules",
            "--rules",
            rules.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--watch-interval",
            "1",
            "--no-listen",
        ])
    });

    // ~500 opens/s, one POST each.
    let storm_run = OpenStorm::start(&storm, 10);
    until(&old, &storm, |a| a.len() >= 200).await;

    // The new configuration: another receiver, no tags.
    install(&cfg, &config(&new.url("http", "/new"), false));
    until(&new, &storm, |a| a.len() >= 200).await;
    tokio::task::block_in_place(|| s.wait_stderr("rules reloaded"));

    // A broken configuration stays out, said with file:line, and its
    // alert goes through the running outputs (the new receiver).
    install(&cfg, "json_include_tags_property: false\noutputz: []\n");
    let failed = new
        .wait_for(Duration::from_secs(20), |reqs| {
            reqs.iter().any(|r| r.json()["rule"] == "Sensor internal: rules reload failed")
        })
        .await;
    let failed = failed
        .iter()
        .map(receiver::Received::json)
        .find(|a| a["rule"] == "Sensor internal: rules reload failed")
        .unwrap();
    let errors = failed["output_fields"]["sensor.reload.errors"].as_str().unwrap();
    assert!(errors.contains("config.yaml:2:"), "{errors}");
    tokio::task::block_in_place(|| s.wait_stderr("configuration reload failed"));
    let before = storm_alerts(&new, &storm).len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(storm_alerts(&new, &storm).len() > before, "the running outputs still deliver after a failed reload");

    let total = storm_run.finish();
    until(&new, &storm, |a| a.contains_key(&(total - 1))).await;
    tokio::task::block_in_place(|| s.stop());

    // Exactly once across the two receivers; the old shape before the
    // swap, the new one after.
    let (a, b) = (storm_alerts(&old, &storm), storm_alerts(&new, &storm));
    let both: Vec<u64> = a.keys().filter(|n| b.contains_key(n)).copied().collect();
    assert!(both.is_empty(), "delivered to both receivers: {both:?}");
    let missing: Vec<u64> = (0..total).filter(|n| !a.contains_key(n) && !b.contains_key(n)).collect();
    assert!(
        missing.is_empty(),
        "{} of {total} storm alerts never delivered: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    assert!(
        a.values().all(|x| x["tags"] == serde_json::json!(["reload_test"])),
        "the old receiver's alerts carry tags"
    );
    assert!(b.values().all(|x| x.get("tags").is_none()), "the new receiver's alerts carry none");
    let (last_old, first_new) = (a.keys().max().unwrap(), b.keys().min().unwrap());
    assert!(total > 1000, "the storm ran: {total}");
    eprintln!(
        "{total} storm alerts: {} to the old receiver (last #{last_old}), {} to the new one (first #{first_new})",
        a.len(),
        b.len()
    );
    let lost = s.stderr.lock().unwrap().iter().any(|l| l.contains("kernel lost") || l.contains("alerts dropped"));
    assert!(!lost, "no loss during the reloads");
}
