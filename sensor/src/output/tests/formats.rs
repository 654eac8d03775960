//! Alert rendering, Retry-After, backoff, HMAC, secrets.

use std::time::{Duration, SystemTime};

use super::alert;
use crate::output::config::{RetryConfig, SecretSource};
use crate::output::format::label_name;
use crate::output::http::{Secret, hmac_sha256_hex, resolve_secret};
use crate::output::retry::{Backoff, parse_retry_after, retryable};
use crate::output::{DeliveredAlert, HttpConfig, HttpFormat};

#[test]
fn falco_json_and_text_line() {
    let a = alert("R", "Error", 1, "c", "/e");
    let v: serde_json::Value = serde_json::from_str(&a.falco_json()).unwrap();
    assert_eq!(v["uuid"], a.uuid.to_string());
    assert_eq!(v["rule"], "R");
    assert_eq!(a.output_line(), "22:13:20.000000000: Error alert 1");
    assert_eq!(a.message(), "alert 1");
    // Without `output` (json_include_output: false) the line is built.
    let mut m = a.alert.clone();
    m.remove("output");
    let b = DeliveredAlert::from_json(serde_json::Value::Object(m), a.time_ns).unwrap();
    assert_eq!(b.output_line(), format!("{}: Error R", crate::rules::time::format_rfc3339(a.time_ns)));
}

#[test]
fn from_json_errors() {
    assert!(DeliveredAlert::from_json(serde_json::json!([1]), 0).is_err());
    let e = DeliveredAlert::from_json(serde_json::json!({"rule": "r", "priority": "loud"}), 0).unwrap_err();
    assert_eq!(e.to_string(), "alert JSON has an unknown priority 'loud'");
    let e = DeliveredAlert::from_json(serde_json::json!({"priority": "info"}), 0).unwrap_err();
    assert_eq!(e.to_string(), "alert JSON has no string field 'rule'");
}

#[test]
fn record_round_trip() {
    let a = alert("R", "Warning", 3, "c", "/e");
    let b = DeliveredAlert::decode_record(&a.encode_record()).unwrap();
    assert_eq!(*a, b);
    assert!(DeliveredAlert::decode_record(b"{").is_err());
}

#[test]
fn retry_after_seconds_and_dates() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
    assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
    assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(30)));
    let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
    assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(parse_retry_after("-5", now), None);
}

#[test]
fn statuses_worth_a_retry() {
    for s in [408, 429, 500, 502, 503, 504] {
        assert!(retryable(s), "{s}");
    }
    for s in [301, 400, 401, 403, 404, 409, 413, 422] {
        assert!(!retryable(s), "{s}");
    }
}

#[test]
fn backoff_doubles_with_jitter_and_honours_retry_after() {
    let mut b = Backoff::new(&RetryConfig { initial_backoff_ms: 100, max_backoff_ms: 800, max_retry_after_secs: 5 });
    for step in [100u64, 200, 400, 800, 800, 800] {
        let d = b.next(None);
        let step = Duration::from_millis(step);
        assert!(d >= step / 2 && d <= step, "{d:?} outside [{:?}, {step:?}]", step / 2);
    }
    let d = b.next(Some(Duration::from_secs(2)));
    assert!(d >= Duration::from_secs(2) && d <= Duration::from_millis(2200), "{d:?}");
    let d = b.next(Some(Duration::from_secs(3600)));
    assert!(d >= Duration::from_secs(5) && d <= Duration::from_millis(5500), "capped: {d:?}");
    b.reset();
    assert!(b.next(None) <= Duration::from_millis(100));
}

/// RFC 4231, test case 2.
#[test]
fn hmac_sha256_known_answer() {
    assert_eq!(
        hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn secrets_are_read_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t");
    std::fs::write(&p, "tok-123\n").unwrap();
    let s = resolve_secret("o", "auth.token", &SecretSource { file: Some(p.clone()), env: None }).unwrap();
    assert_eq!(s.expose(), "tok-123");
    assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    let path = std::env::var("PATH").unwrap();
    let s = resolve_secret("o", "auth.token", &SecretSource { file: None, env: Some("PATH".into()) }).unwrap();
    assert_eq!(s.expose(), path);
    let e = resolve_secret("o", "auth.token", &SecretSource { file: None, env: Some("SENSOR_NO_SUCH_VAR_X".into()) })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "output 'o': auth.token: environment variable SENSOR_NO_SUCH_VAR_X is not set or not UTF-8"
    );
    std::fs::write(&p, "\n").unwrap();
    let e = resolve_secret("o", "auth.token", &SecretSource { file: Some(p), env: None }).unwrap_err();
    assert_eq!(e.to_string(), "output 'o': auth.token is empty");
    let _: fn(&Secret) -> &str = Secret::expose;
}

/// The transport's Debug output has neither the token nor the HMAC key.
#[tokio::test]
async fn transport_debug_redacts() {
    let dir = tempfile::tempdir().unwrap();
    let tok = dir.path().join("t");
    std::fs::write(&tok, "very-secret-token").unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, "very-secret-key").unwrap();
    let mut h = HttpConfig::new("http://127.0.0.1:9/", HttpFormat::FalcoJson);
    h.auth = Some(crate::output::config::AuthConfig {
        kind: crate::output::config::AuthKind::Header,
        header: Some("X-Api-Key".into()),
        token: SecretSource { file: Some(tok), env: None },
    });
    h.signature = Some(crate::output::config::SignatureConfig {
        header: "X-Sig".into(),
        prefix: String::new(),
        key: SecretSource { file: Some(key), env: None },
    });
    let t = crate::output::http::Transport::new("o", &h).unwrap();
    let dbg = format!("{t:?}");
    assert!(!dbg.contains("very-secret"), "{dbg}");
    assert!(dbg.contains("x-api-key"), "{dbg}");
}

#[test]
fn endpoint_paths_per_format() {
    for (url, format, want) in [
        ("http://h:1", HttpFormat::SplunkHec, "/services/collector/event"),
        ("http://h:1/", HttpFormat::Loki, "/loki/api/v1/push"),
        ("http://h:1", HttpFormat::Alertmanager, "/api/v2/alerts"),
        ("http://h:1", HttpFormat::ElasticsearchBulk, "/_bulk"),
        ("http://h:1/falco/_bulk", HttpFormat::ElasticsearchBulk, "/falco/_bulk"),
        ("http://h:1", HttpFormat::FalcoJson, "/"),
    ] {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _g = rt.enter();
        let t = crate::output::http::Transport::new("o", &HttpConfig::new(url, format)).unwrap();
        assert_eq!(t.uri().path(), want, "{url} {format:?}");
    }
}

#[test]
fn label_names() {
    assert_eq!(label_name("k8s.ns.name"), "k8s_ns_name");
    assert_eq!(label_name("container.label[io.x]"), "container_label_io_x_");
    assert_eq!(label_name("1a"), "_1a");
}
