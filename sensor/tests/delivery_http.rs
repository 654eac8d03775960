//! Network outputs against a real HTTP(S) receiver (hyper server started by
//! the test): wire formats, headers, HMAC signature, TLS and mTLS, retries,
//! `Retry-After`, permanent rejections.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod receiver;

use std::sync::Arc;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use receiver::{DownPort, Pki, Receiver, Reply, alert, always_ok, metric, metric_settles, ns_of};
use sensor::metrics::Metrics;
use sensor::output::config::{AuthConfig, AuthKind, SecretSource, SignatureConfig, TlsConfig};
use sensor::output::{DeliveryMetrics, HttpConfig, HttpFormat, OutputConfig, Outputs, OutputsConfig};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn outputs_cfg(http: HttpConfig, name: &str) -> OutputsConfig {
    let mut o = OutputConfig::http(http);
    o.name = Some(name.into());
    OutputsConfig { targets: vec![o], ..OutputsConfig::default() }
}

fn fast_retry(h: &mut HttpConfig) {
    h.retry.initial_backoff_ms = 20;
    h.retry.max_backoff_ms = 200;
}

fn start(cfg: &OutputsConfig) -> (Outputs, Metrics) {
    let m = Metrics::new();
    let dm = DeliveryMetrics::register(&m.registry).unwrap();
    (Outputs::start(cfg, &dm, "node-1").unwrap(), m)
}

/// Falco JSON, one alert per POST, as falcosidekick's `POST /` takes it
/// (falcosidekick handlers.go: `priority`, `rule`, `time`, `output_fields`
/// required); bearer token from a file; HMAC-SHA256 of the body checked
/// here with its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falco_json_with_bearer_and_signature() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let key = dir.path().join("hmac");
    std::fs::write(&key, "hmac-key").unwrap();
    let rx = Receiver::http(0, always_ok()).await;
    let mut h = HttpConfig::new(&rx.url("http", "/"), HttpFormat::FalcoJson);
    h.auth =
        Some(AuthConfig { kind: AuthKind::Bearer, header: None, token: SecretSource { file: Some(token), env: None } });
    h.signature = Some(SignatureConfig {
        header: "X-Sensor-Signature".into(),
        prefix: "sha256=".into(),
        key: SecretSource { file: Some(key), env: None },
    });
    h.headers.insert("X-Cluster".into(), "prod-eu".into());
    let (outs, m) = start(&outputs_cfg(h, "sidekick"));
    let sent: Vec<_> = (0..5).map(|n| alert("Terminal shell in container", "Notice", n)).collect();
    for a in &sent {
        outs.send(a.clone());
    }
    let reqs = rx.wait_for(WAIT, |r| r.len() >= 5).await;
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/");
        assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
        assert_eq!(r.header("authorization").as_deref(), Some("Bearer s3cret-token"));
        assert_eq!(r.header("x-cluster").as_deref(), Some("prod-eu"));
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"hmac-key").unwrap();
        mac.update(&r.body);
        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(r.header("x-sensor-signature"), Some(want), "signature over the exact body");
        let v = r.json();
        // What falcosidekick requires of the payload.
        assert_eq!(v["rule"], "Terminal shell in container");
        assert_eq!(v["priority"], "Notice");
        assert_eq!(v["time"], "2023-11-14T22:13:20.000000000Z");
        assert!(v["output_fields"].as_object().is_some_and(|f| !f.is_empty()));
        assert_eq!(v["hostname"], "node-1");
        assert_eq!(v["source"], "syscall");
        let uuid = v["uuid"].as_str().unwrap();
        assert!(sent.iter().any(|a| a.uuid.to_string() == uuid));
    }
    let mut ns = ns_of(&reqs);
    ns.sort_unstable();
    assert_eq!(ns, vec![0, 1, 2, 3, 4]);
    assert!(outs.wait_idle(WAIT).await);
    assert_eq!(metric(&m, "sensor_alerts_sent_total{output=\"sidekick\"}"), 5);
    assert_eq!(metric(&m, "sensor_alerts_spooled_total{output=\"sidekick\"}"), 5);
    metric_settles(&m, "sensor_alert_spool_depth{output=\"sidekick\"}", 0).await;
    let report = outs.shutdown(Duration::from_secs(5)).await;
    assert!(report.complete);
}

/// Minimum priority per output: a Warning output gets Critical and
/// Warning, not Notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_priority_filters() {
    let rx = Receiver::http(0, always_ok()).await;
    let mut cfg = outputs_cfg(HttpConfig::new(&rx.url("http", "/"), HttpFormat::Ndjson), "warn");
    cfg.targets[0].min_priority = sensor::rules::Priority::Warning;
    let (outs, _m) = start(&cfg);
    outs.send(alert("r", "Notice", 1));
    outs.send(alert("r", "Critical", 2));
    outs.send(alert("r", "Warning", 3));
    outs.send(alert("r", "Debug", 4));
    assert!(outs.wait_idle(WAIT).await);
    let mut ns = ns_of(&rx.requests());
    ns.sort_unstable();
    assert_eq!(ns, vec![2, 3]);
}

/// NDJSON batches: one alert a line, `application/x-ndjson`, each body
/// newline-terminated, at most `batch_max_alerts` per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_batches() {
    let rx = Receiver::http(0, always_ok()).await;
    let mut h = HttpConfig::new(&rx.url("http", "/ingest"), HttpFormat::Ndjson);
    h.batch_max_alerts = 20;
    let (outs, _m) = start(&outputs_cfg(h, "nd"));
    for n in 0..50 {
        outs.send(alert("r", "Error", n));
    }
    assert!(outs.wait_idle(WAIT).await);
    let reqs = rx.requests();
    for r in &reqs {
        assert_eq!(r.path, "/ingest");
        assert_eq!(r.header("content-type").as_deref(), Some("application/x-ndjson"));
        assert!(r.body.ends_with(b"\n"));
        assert!(r.lines().len() <= 20);
    }
    let mut ns = ns_of(&reqs);
    ns.sort_unstable();
    assert_eq!(ns, (0..50).collect::<Vec<_>>());
}

/// Splunk HEC: `POST /services/collector/event`, `Authorization: Splunk
/// <token>`, events `{"time","host","source","sourcetype","event"}`
/// stacked in one body ("Format events for HTTP Event Collector", Splunk
/// docs: time in epoch seconds, `event` the payload; several event objects
/// may be sent in one request, one after the other).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splunk_hec_events() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("hec");
    std::fs::write(&token, "00000000-1111-2222-3333-444444444444").unwrap();
    let rx = Receiver::http(0, Arc::new(|_, _| Reply::ok().body(r#"{"text":"Success","code":0}"#))).await;
    let mut h = HttpConfig::new(&rx.url("http", ""), HttpFormat::SplunkHec);
    h.auth =
        Some(AuthConfig { kind: AuthKind::Splunk, header: None, token: SecretSource { file: Some(token), env: None } });
    h.splunk = Some(sensor::output::config::SplunkConfig {
        source: None,
        sourcetype: Some("falco:alert".into()),
        index: Some("security".into()),
    });
    let (outs, _m) = start(&outputs_cfg(h, "splunk"));
    for n in 0..3 {
        outs.send(alert("Write below etc", "Error", n));
    }
    assert!(outs.wait_idle(WAIT).await);
    let reqs = rx.requests();
    let mut events = Vec::new();
    for r in &reqs {
        assert_eq!(r.path, "/services/collector/event");
        assert_eq!(r.header("authorization").as_deref(), Some("Splunk 00000000-1111-2222-3333-444444444444"));
        for v in serde_json::Deserializer::from_slice(&r.body).into_iter::<Value>() {
            events.push(v.unwrap());
        }
    }
    assert_eq!(events.len(), 3);
    for e in &events {
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["event", "host", "index", "source", "sourcetype", "time"]);
        assert!((e["time"].as_f64().unwrap() - 1_700_000_000.0).abs() < 1.0, "epoch seconds: {}", e["time"]);
        assert_eq!(e["host"], "node-1");
        assert_eq!(e["sourcetype"], "falco:alert");
        assert_eq!(e["index"], "security");
        assert_eq!(e["event"]["rule"], "Write below etc");
        assert!(e["event"]["uuid"].is_string());
    }
}

/// Elasticsearch `_bulk` ("Bulk API", Elastic docs): NDJSON of action and
/// source lines, the last line newline-terminated, `application/x-ndjson`;
/// the answer's `items` carry each action's status. A 429 item is sent
/// again, a 400 item is not, a 409 (the `_id` exists) counts as delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_bulk() {
    // The receiver is down until all three alerts are in the spool, so the
    // first request carries all three (one round).
    let down = DownPort::new();
    let mut h = HttpConfig::new(&down.url(""), HttpFormat::ElasticsearchBulk);
    fast_retry(&mut h);
    h.elasticsearch = Some(sensor::output::config::ElasticsearchConfig { index: "falco".into() });
    let cfg = outputs_cfg(h, "es");
    let (outs, m) = start(&cfg);
    outs.send(alert("r", "Error", 0));
    outs.send(alert("r", "Error", 1));
    outs.send(alert("r", "Error", 2));
    let end = std::time::Instant::now() + WAIT;
    while outs.spool_depth("es") != Some(3) {
        assert!(std::time::Instant::now() < end, "the three alerts were not spooled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rx = Receiver::http(
        down.release(),
        Arc::new(|i, r: &receiver::Received| {
            let n = r.lines().len() / 2;
            let items: Vec<Value> = (0..n)
                .map(|k| {
                    let status = match (i, k) {
                        (0, 1) => 429,
                        (0, 2) => 400,
                        (0, _) => 201,
                        _ => 409,
                    };
                    serde_json::json!({"create": {"_index": "falco", "status": status}})
                })
                .collect();
            Reply::ok().body(&serde_json::json!({"took": 1, "errors": true, "items": items}).to_string())
        }),
    )
    .await;
    let reqs = rx.wait_for(WAIT, |r| r.len() >= 2).await;
    let first = &reqs[0];
    assert_eq!(first.path, "/_bulk");
    assert_eq!(first.header("content-type").as_deref(), Some("application/x-ndjson"));
    assert!(first.body.ends_with(b"\n"));
    let lines = first.lines();
    assert_eq!(lines.len() % 2, 0);
    for pair in lines.chunks(2) {
        let action = &pair[0]["create"];
        assert_eq!(action["_index"], "falco");
        assert_eq!(action["_id"], pair[1]["uuid"], "the document id is the alert's UUID");
        assert!(pair[1]["@timestamp"].as_str().unwrap().starts_with("2023-11-14T22:13:20"));
    }
    assert!(outs.wait_idle(WAIT).await);
    let reqs = rx.requests();
    let first_ns: Vec<u64> = reqs[0].lines().iter().filter_map(|v| v["output_fields"]["n"].as_u64()).collect();
    let again: Vec<u64> =
        reqs[1..].iter().flat_map(receiver::Received::lines).filter_map(|v| v["output_fields"]["n"].as_u64()).collect();
    assert_eq!(first_ns.len(), 3);
    assert_eq!(again, vec![first_ns[1]], "only the 429 item is retried");
    assert_eq!(metric(&m, "sensor_alerts_failed_total{output=\"es\"}"), 1);
    assert_eq!(metric(&m, "sensor_alerts_sent_total{output=\"es\"}"), 2);
}

/// Loki push API ("POST /loki/api/v1/push", Grafana Loki HTTP API docs):
/// `{"streams":[{"stream":{labels},"values":[["<unix ns>","<line>"]]}]}`,
/// timestamps as strings of nanoseconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_push() {
    let rx = Receiver::http(0, Arc::new(|_, _| Reply::status(204))).await;
    let mut h = HttpConfig::new(&rx.url("http", ""), HttpFormat::Loki);
    h.loki = Some(sensor::output::config::LokiConfig { labels: [("job".to_owned(), "sensor".to_owned())].into() });
    let (outs, _m) = start(&outputs_cfg(h, "loki"));
    outs.send(alert("A", "Error", 1));
    outs.send(alert("B", "Warning", 2));
    outs.send(alert("A", "Error", 3));
    assert!(outs.wait_idle(WAIT).await);
    let reqs = rx.requests();
    let mut lines = 0;
    for r in &reqs {
        assert_eq!(r.path, "/loki/api/v1/push");
        assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
        for s in r.json()["streams"].as_array().unwrap() {
            let labels = &s["stream"];
            assert_eq!(labels["job"], "sensor");
            assert_eq!(labels["hostname"], "node-1");
            for v in s["values"].as_array().unwrap() {
                let ts: u64 = v[0].as_str().unwrap().parse().unwrap();
                let line: Value = serde_json::from_str(v[1].as_str().unwrap()).unwrap();
                assert_eq!(labels["rule"], line["rule"]);
                assert_eq!(labels["priority"], line["priority"]);
                assert_eq!(ts, line["output_fields"]["evt.time"].as_u64().unwrap());
                lines += 1;
            }
        }
    }
    assert_eq!(lines, 3);
}

/// HTTPS with the CA given in `tls.ca_file` (certificates made by rcgen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_custom_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let rx = Receiver::https(0, pki.server_tls(), always_ok()).await;
    let mut h = HttpConfig::new(&rx.url("https", "/"), HttpFormat::FalcoJson);
    h.tls = Some(TlsConfig { ca_file: Some(pki.ca_pem.clone()), ..TlsConfig::default() });
    let (outs, _m) = start(&outputs_cfg(h, "tls"));
    outs.send(alert("r", "Error", 7));
    let reqs = rx.wait_for(WAIT, |r| !r.is_empty()).await;
    assert_eq!(ns_of(&reqs), vec![7]);
}

/// mTLS: a receiver that requires a client certificate gets nothing from an
/// output without one (the handshake fails and is retried) and the alert
/// from an output with one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let rx = Receiver::https(0, pki.server_mtls(), always_ok()).await;
    let mut without = HttpConfig::new(&rx.url("https", "/"), HttpFormat::FalcoJson);
    without.tls = Some(TlsConfig { ca_file: Some(pki.ca_pem.clone()), ..TlsConfig::default() });
    fast_retry(&mut without);
    let mut with = without.clone();
    with.tls = Some(TlsConfig {
        ca_file: Some(pki.ca_pem.clone()),
        client_cert_file: Some(pki.client_cert.clone()),
        client_key_file: Some(pki.client_key.clone()),
    });
    let (outs_without, m) = start(&outputs_cfg(without, "no-cert"));
    outs_without.send(alert("r", "Error", 1));
    let deadline = std::time::Instant::now() + WAIT;
    while metric(&m, "sensor_alerts_retried_total{output=\"no-cert\"}") < 3 {
        assert!(std::time::Instant::now() < deadline, "the handshake without a certificate should fail and retry");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rx.count(), 0);
    assert_eq!(outs_without.spool_depth("no-cert"), Some(1), "kept for later");
    let (outs_with, _m2) = start(&outputs_cfg(with, "cert"));
    outs_with.send(alert("r", "Error", 2));
    let reqs = rx.wait_for(WAIT, |r| !r.is_empty()).await;
    assert_eq!(ns_of(&reqs), vec![2]);
}

/// A 500 and a request timeout are retried; the same alert (same UUID)
/// arrives until one is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_server_errors_and_timeouts() {
    let rx = Receiver::http(
        0,
        Arc::new(|i, _| match i {
            0 => Reply::status(500),
            1 => Reply::ok().delay(Duration::from_secs(3)),
            2 => Reply::status(503),
            _ => Reply::ok(),
        }),
    )
    .await;
    let mut h = HttpConfig::new(&rx.url("http", "/"), HttpFormat::FalcoJson);
    h.request_timeout_ms = 300;
    fast_retry(&mut h);
    let (outs, m) = start(&outputs_cfg(h, "flaky"));
    let a = alert("r", "Error", 9);
    outs.send(a.clone());
    assert!(outs.wait_idle(WAIT).await);
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 4);
    for r in &reqs {
        assert_eq!(r.json()["uuid"], a.uuid.to_string());
    }
    assert!(reqs[2].at.duration_since(reqs[1].at) >= Duration::from_millis(300), "the timeout elapsed first");
    assert_eq!(metric(&m, "sensor_alerts_retried_total{output=\"flaky\"}"), 3);
    assert_eq!(metric(&m, "sensor_alerts_sent_total{output=\"flaky\"}"), 1);
}

/// 429 with `Retry-After` in seconds and as an HTTP date: the next attempt
/// waits at least that long (RFC 9110 10.2.3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_respected() {
    let rx = Receiver::http(
        0,
        Arc::new(|i, _| match i {
            0 => Reply::status(429).header("Retry-After", "1"),
            1 => {
                let at = std::time::SystemTime::now() + Duration::from_secs(3);
                Reply::status(503).header("Retry-After", &httpdate::fmt_http_date(at))
            }
            _ => Reply::ok(),
        }),
    )
    .await;
    let mut h = HttpConfig::new(&rx.url("http", "/"), HttpFormat::FalcoJson);
    fast_retry(&mut h);
    let (outs, _m) = start(&outputs_cfg(h, "slow-down"));
    outs.send(alert("r", "Error", 1));
    let reqs = rx.wait_for(WAIT, |r| r.len() >= 3).await;
    let gap1 = reqs[1].at.duration_since(reqs[0].at);
    let gap2 = reqs[2].at.duration_since(reqs[1].at);
    assert!(gap1 >= Duration::from_secs(1), "Retry-After: 1 but retried after {gap1:?}");
    // The date has whole seconds: now + 3 s is at least 2 s away.
    assert!(gap2 >= Duration::from_secs(2), "Retry-After date 3 s ahead but retried after {gap2:?}");
}

/// A 400 is not retried: each alert is sent once, counted as failed, and
/// the spool is emptied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_not_retried() {
    let rx = Receiver::http(0, Arc::new(|_, _| Reply::status(400).body("bad payload"))).await;
    let mut h = HttpConfig::new(&rx.url("http", "/"), HttpFormat::FalcoJson);
    fast_retry(&mut h);
    let (outs, m) = start(&outputs_cfg(h, "strict"));
    for n in 0..5 {
        outs.send(alert("r", "Error", n));
    }
    assert!(outs.wait_idle(WAIT).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.count(), 5);
    assert_eq!(metric(&m, "sensor_alerts_failed_total{output=\"strict\"}"), 5);
    assert_eq!(metric(&m, "sensor_alerts_retried_total{output=\"strict\"}"), 0);
    assert_eq!(outs.spool_depth("strict"), Some(0));
}
