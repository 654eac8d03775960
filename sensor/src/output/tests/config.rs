//! `outputs:` as YAML (serde-saphyr, the configuration file's reader).

use crate::output::config::{AuthKind, ConfigError, HttpFormat, Kind, LineFormat, OutputConfig, OutputsConfig};
use crate::rules::Priority;

fn parse(yaml: &str) -> Result<OutputsConfig, String> {
    serde_saphyr::from_str::<OutputsConfig>(yaml).map_err(|e| e.to_string())
}

#[test]
fn full_section_parses() {
    let c = parse(
        r"
spool_dir: /var/lib/sensor/spool
spool: { max_alerts: 5000, max_bytes: 1048576 }
queue_capacity: 100
storm: { dedup_window_ms: 60000 }
targets:
  - stdout: { format: text }
  - name: archive
    file: { path: /var/log/sensor/alerts.jsonl, max_bytes: 1000, keep: 3 }
  - name: siem
    min_priority: warning
    rate_limit: { per_second: 50, burst: 10 }
    http:
      url: https://hec.example:8088
      format: splunk_hec
      auth: { type: splunk, token: { env: HEC_TOKEN } }
      signature: { key: { file: /etc/sensor/hmac } }
      tls: { ca_file: /etc/sensor/ca.pem, client_cert_file: /c.pem, client_key_file: /c.key }
      splunk: { index: security }
      retry: { initial_backoff_ms: 100 }
",
    )
    .unwrap();
    assert_eq!(c.validate().unwrap(), vec!["stdout", "archive", "siem"]);
    assert_eq!(c.spool.max_alerts, 5000);
    assert_eq!(c.storm.dedup_window_ms, 60_000);
    assert!(matches!(c.targets[0].kind(), Some(Kind::Stdout(s)) if s.format == LineFormat::Text));
    assert!(matches!(c.targets[1].kind(), Some(Kind::File(f)) if f.keep == 3));
    let siem = &c.targets[2];
    assert_eq!(siem.min_priority, Priority::Warning);
    let Some(Kind::Http(h)) = siem.kind() else { panic!("http") };
    assert_eq!(h.format, HttpFormat::SplunkHec);
    assert_eq!(h.auth.as_ref().unwrap().kind, AuthKind::Splunk);
    assert_eq!(h.signature.as_ref().unwrap().header, "X-Sensor-Signature");
    assert_eq!(h.retry.initial_backoff_ms, 100);
    assert_eq!(h.retry.max_backoff_ms, 30_000, "unset keys keep their defaults");
}

#[test]
fn unknown_keys_and_values_are_errors() {
    let e = parse("targets:\n  - stdout: { fromat: json }\n").unwrap_err();
    assert!(e.contains("fromat"), "{e}");
    let e = parse("targets:\n  - http: { url: http://x, format: xml }\n").unwrap_err();
    assert!(e.contains("xml"), "{e}");
    let e = parse("targets:\n  - min_priority: loud\n    stdout: {}\n").unwrap_err();
    assert!(e.contains("unknown priority 'loud'"), "{e}");
    let e = parse("target: []\n").unwrap_err();
    assert!(e.contains("target"), "{e}");
}

#[test]
fn validation_errors_name_the_output() {
    let c = parse("targets:\n  - {}\n").unwrap();
    assert_eq!(c.validate(), Err(ConfigError::Kind { index: 0, found: 0 }));
    let c = parse("targets:\n  - stdout: {}\n    file: { path: /x }\n").unwrap();
    assert_eq!(c.validate(), Err(ConfigError::Kind { index: 0, found: 2 }));
    let c = parse("targets:\n  - name: a\n    stdout: {}\n  - name: a\n    stdout: {}\n").unwrap();
    assert_eq!(c.validate(), Err(ConfigError::DuplicateName("a".into())));
    let c = parse("targets:\n  - name: ../etc\n    stdout: {}\n").unwrap();
    assert!(matches!(c.validate(), Err(ConfigError::BadName(_))));
    let c = parse("targets:\n  - name: s\n    http: { url: 'ftp://x/' }\n").unwrap();
    let e = c.validate().unwrap_err().to_string();
    assert_eq!(e, "output 's': invalid URL 'ftp://x/': scheme 'ftp' is not http or https");
    let c = parse("targets:\n  - http: { url: 'http://x/', format: loki, splunk: {} }\n").unwrap();
    let e = c.validate().unwrap_err().to_string();
    assert_eq!(e, "output 'loki': `splunk` settings need `format: splunk_hec`");
    let c = parse("targets:\n  - http: { url: 'http://x/', auth: { type: header, token: { env: T } } }\n").unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("`header` is required"));
    let c = parse("targets:\n  - http: { url: 'http://x/', auth: { type: bearer, token: { env: T, file: /t } } }\n")
        .unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("exactly one of `file` or `env`"));
    let c = parse("targets:\n  - http: { url: 'http://x/', tls: { client_cert_file: /c } }\n").unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("go together"));
}

#[test]
fn default_names_are_unique() {
    let c = parse("targets:\n  - stdout: {}\n  - stdout: {}\n  - name: stdout-2\n    stdout: {}\n").unwrap();
    assert_eq!(c.validate().unwrap(), vec!["stdout", "stdout-3", "stdout-2"]);
}

#[test]
fn webhook_from_the_command_line() {
    let mut c = OutputsConfig::default();
    c.add_webhook("http://sidekick:2801").unwrap();
    c.add_webhook("https://siem.example/hook").unwrap();
    assert_eq!(c.validate().unwrap(), vec!["http", "http-2"]);
    let Some(Kind::Http(h)) = c.targets[0].kind() else { panic!("http") };
    assert_eq!(h.format, HttpFormat::FalcoJson);
    let e = OutputConfig::webhook("sidekick:2801").unwrap_err().to_string();
    assert!(e.contains("invalid URL 'sidekick:2801'"), "{e}");
    assert!(OutputConfig::webhook("http://").is_err());
}

#[test]
fn http_url_expands_environment_references() {
    // Cargo sets CARGO_PKG_NAME for the test binary: no env mutation needed.
    let c = parse("targets:\n  - http: { url: 'http://${CARGO_PKG_NAME}.example:2801/' }\n").unwrap();
    let Some(Kind::Http(h)) = c.targets[0].kind() else { panic!("http") };
    assert_eq!(h.url, "http://sensor.example:2801/");
    // Unset: empty, as in Falco; validation then rejects the empty URL.
    let c = parse("targets:\n  - http: { url: '${SENSOR_TEST_SURELY_UNSET_VAR}' }\n").unwrap();
    assert!(c.validate().is_err());
}
