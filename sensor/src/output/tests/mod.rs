//! Unit tests of the delivery library (the network tests are in
//! sensor/tests/delivery_*.rs).
#![allow(clippy::unwrap_used)]

mod config;
mod file;
mod formats;
mod spool;
mod storm;

use std::sync::Arc;

use super::DeliveredAlert;

/// A Falco-shaped alert with `n`, rule `rule`, container `cid` and
/// executable `exe`.
pub fn alert(rule: &str, priority: &str, n: u64, cid: &str, exe: &str) -> Arc<DeliveredAlert> {
    let t = 1_700_000_000_000_000_000 + n * 1_000_000;
    let v = serde_json::json!({
        "hostname": "h",
        "output": format!("22:13:20.000000000: {priority} alert {n}"),
        "priority": priority,
        "rule": rule,
        "source": "syscall",
        "time": crate::rules::time::format_rfc3339(t),
        "output_fields": {"n": n, "container.id": cid, "proc.exepath": exe}
    });
    Arc::new(DeliveredAlert::from_json(v, t).unwrap())
}
