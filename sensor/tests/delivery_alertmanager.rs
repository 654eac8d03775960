//! The Alertmanager output against a real Prometheus Alertmanager
//! (Debian's `prometheus-alertmanager`, installed by scripts/setup.sh),
//! started on 127.0.0.1 with a temporary configuration and storage: its
//! v2 API (`GET /api/v2/alerts`) lists our alerts with our labels.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sensor::output::{DeliveredAlert, DeliveryMetrics, HttpConfig, HttpFormat, OutputConfig, Outputs, OutputsConfig};
use serde_json::{Value, json};

const BIN: &str = "/usr/bin/prometheus-alertmanager";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` on 127.0.0.1:port: status and body.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split(' ').nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Some((status, body))
}

/// Stopped by its pid when the test ends.
struct Alertmanager(Child);

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.0.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

fn start_alertmanager(dir: &Path, port: u16) -> Alertmanager {
    let config = dir.join("alertmanager.yml");
    std::fs::write(&config, "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n").unwrap();
    let child = Command::new(BIN)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // No gossip cluster: nothing listens beyond the API port.
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let am = Alertmanager(child);
    let end = Instant::now() + Duration::from_secs(30);
    while get(port, "/-/ready").is_none_or(|(s, _)| s != 200) {
        assert!(Instant::now() < end, "alertmanager did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    am
}

fn now_ns() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()).unwrap()
}

fn alert(rule: &str, pod: &str) -> Arc<DeliveredAlert> {
    let t = now_ns();
    let v = json!({
        "hostname": "node-7",
        "output": format!("12:00:00.000000000: Warning Shell spawned in {pod}"),
        "priority": "Warning",
        "rule": rule,
        "source": "syscall",
        "tags": ["shell"],
        "time": sensor::rules::time::format_rfc3339(t),
        "output_fields": {"evt.time": t, "k8s.ns.name": "payments", "k8s.pod.name": pod,
                           "container.id": "0123456789ab", "proc.name": "bash"}
    });
    Arc::new(DeliveredAlert::from_json(v, t).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_alertmanager_receives_alerts() {
    if !Path::new(BIN).exists() {
        assert!(std::env::var("CI").is_err(), "{BIN} missing: scripts/setup.sh installs prometheus-alertmanager");
        eprintln!("skipped: {BIN} not installed (scripts/setup.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _am = start_alertmanager(dir.path(), port);

    let mut h = HttpConfig::new(&format!("http://127.0.0.1:{port}"), HttpFormat::Alertmanager);
    h.retry.initial_backoff_ms = 50;
    let mut o = OutputConfig::http(h);
    o.name = Some("am".into());
    let cfg = OutputsConfig { targets: vec![o], ..OutputsConfig::default() };
    let dm = DeliveryMetrics::standalone();
    let outs = Outputs::start(&cfg, &dm, "node-7").unwrap();
    outs.send(alert("Terminal shell in container", "api-0"));
    outs.send(alert("Terminal shell in container", "api-1"));
    outs.send(alert("Read sensitive file untrusted", "api-0"));
    assert!(outs.wait_idle(Duration::from_secs(20)).await);
    assert_eq!(dm.sent.with_label_values(&["am"]).get(), 3);

    let (status, body) = tokio::task::spawn_blocking(move || get(port, "/api/v2/alerts").unwrap()).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let listed: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(listed.len(), 3, "{body}");
    for pod in ["api-0", "api-1"] {
        let a = listed
            .iter()
            .find(|a| a["labels"]["alertname"] == "Terminal shell in container" && a["labels"]["k8s_pod_name"] == pod)
            .unwrap_or_else(|| panic!("no alert for {pod} in {body}"));
        let l = &a["labels"];
        assert_eq!(l["priority"], "Warning");
        assert_eq!(l["hostname"], "node-7");
        assert_eq!(l["k8s_ns_name"], "payments");
        assert_eq!(l["container_id"], "0123456789ab");
        assert_eq!(l["source"], "syscall");
        assert_eq!(a["annotations"]["description"], format!("Shell spawned in {pod}"));
        assert!(a["annotations"]["output"].as_str().unwrap().contains("Warning Shell spawned"));
        assert_eq!(a["status"]["state"], "active");
        assert!(a["startsAt"].is_string() && a["endsAt"].is_string());
    }
}
