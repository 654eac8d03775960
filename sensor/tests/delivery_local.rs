//! Local outputs: the file output in text format with a rate limit, and
//! shutdown flushing what was queued.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod receiver;

use std::time::Duration;

use receiver::alert;
use sensor::output::config::RateLimit;
use sensor::output::{DeliveryMetrics, LineFormat, OutputConfig, Outputs, OutputsConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_text_lines_with_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("alerts.txt");
    let json = dir.path().join("alerts.jsonl");
    let mut limited = OutputConfig::file(text.clone(), LineFormat::Text);
    limited.name = Some("text".into());
    limited.rate_limit = Some(RateLimit { per_second: 0.001, burst: 3 });
    let mut all = OutputConfig::file(json.clone(), LineFormat::Json);
    all.name = Some("json".into());
    let cfg = OutputsConfig { targets: vec![limited, all], ..OutputsConfig::default() };
    let dm = DeliveryMetrics::standalone();
    let outs = Outputs::start(&cfg, &dm, "n").unwrap();
    for n in 0..10 {
        outs.send(alert("r", "Error", n));
    }
    let report = outs.shutdown(Duration::from_secs(10)).await;
    assert!(report.complete);
    let lines: Vec<String> = std::fs::read_to_string(&text).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "the burst, then the bucket is empty");
    assert_eq!(lines[0], "22:13:20.000000000: Error test alert n=0 (container_id=abc123def456)");
    assert_eq!(dm.suppressed.with_label_values(&["rate_limit", "text"]).get(), 7);
    let json_lines = std::fs::read_to_string(&json).unwrap();
    assert_eq!(json_lines.lines().count(), 10, "shutdown wrote everything queued");
    for l in json_lines.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["uuid"].is_string());
    }
    assert_eq!(dm.sent.with_label_values(&["json"]).get(), 10);
}
