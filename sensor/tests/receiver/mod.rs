//! A real HTTP(S) receiver for the delivery tests: a hyper server on
//! 127.0.0.1 (TLS and mTLS through rustls with certificates made by
//! rcgen) that records every request and answers as the test says.
#![allow(dead_code)]
// A failed step should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
    /// Wall-clock arrival, to compare with an alert's event time.
    pub wall: std::time::SystemTime,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// NDJSON lines, parsed.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        std::str::from_utf8(&self.body)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// How to answer request number `n` (0-based).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn ok() -> Self {
        Self::status(200)
    }
    pub fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: String::new(), delay: Duration::ZERO }
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn body(mut self, b: &str) -> Self {
        self.body = b.into();
        self
    }
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

pub type Responder = Arc<dyn Fn(usize, &Received) -> Reply + Send + Sync>;

pub struct Receiver {
    pub addr: SocketAddr,
    pub got: Arc<Mutex<Vec<Received>>>,
    notify: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port that was free a moment ago (for a receiver that starts later).
/// A loopback port for a receiver that is "down": bound but not listening,
/// so a connect to it is refused, and (no `SO_REUSEADDR`) no other socket on
/// the machine can take it meanwhile; a parallel test's bind to port 0
/// included. A port that was merely free could be handed to such a test,
/// whose receiver would then answer for the dead one.
pub struct DownPort {
    socket: Option<tokio::net::TcpSocket>,
    pub port: u16,
}

impl DownPort {
    pub fn new() -> DownPort {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let port = socket.local_addr().unwrap().port();
        DownPort { socket: Some(socket), port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Frees the port for the receiver that comes up on it next.
    pub fn release(mut self) -> u16 {
        self.socket.take();
        self.port
    }
}

impl Receiver {
    /// Plain HTTP on `port` (0: any), answering with `respond`.
    pub async fn http(port: u16, respond: Responder) -> Receiver {
        Self::start(port, None, respond).await
    }

    pub async fn https(port: u16, tls: rustls::ServerConfig, respond: Responder) -> Receiver {
        Self::start(port, Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls))), respond).await
    }

    async fn start(port: u16, tls: Option<tokio_rustls::TlsAcceptor>, respond: Responder) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let notify = Arc::new(Notify::new());
        let (g, n) = (got.clone(), notify.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (g, n, respond, tls) = (g.clone(), n.clone(), respond.clone(), tls.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (g, n, respond) = (g.clone(), n.clone(), respond.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body =
                                body.collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
                            let rec = Received {
                                method: parts.method.to_string(),
                                path: parts.uri.path().to_owned(),
                                headers: parts.headers,
                                body,
                                at: Instant::now(),
                                wall: std::time::SystemTime::now(),
                            };
                            let index = {
                                let mut v = g.lock().unwrap();
                                v.push(rec.clone());
                                v.len() - 1
                            };
                            n.notify_waiters();
                            let reply = respond(index, &rec);
                            if !reply.delay.is_zero() {
                                tokio::time::sleep(reply.delay).await;
                            }
                            let mut resp = Response::builder().status(reply.status);
                            for (k, v) in &reply.headers {
                                resp = resp.header(k, v);
                            }
                            Ok::<_, std::convert::Infallible>(resp.body(Full::new(Bytes::from(reply.body))).unwrap())
                        }
                    });
                    let conn = hyper::server::conn::http1::Builder::new();
                    match tls {
                        Some(acceptor) => {
                            if let Ok(s) = acceptor.accept(stream).await {
                                let _ = conn.serve_connection(TokioIo::new(s), svc).await;
                            }
                        }
                        None => {
                            let _ = conn.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                });
            }
        });
        Receiver { addr, got, notify, task }
    }

    pub fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.got.lock().unwrap().len()
    }

    /// Waits until `pred` holds over the requests so far.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let end = Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            {
                let v = self.got.lock().unwrap();
                if pred(&v) {
                    return v.clone();
                }
            }
            let left = end.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "receiver: condition not met within {timeout:?}; got {} requests", self.count());
            let _ = tokio::time::timeout(left.min(Duration::from_millis(50)), notified).await;
        }
    }
}

/// Always 200.
pub fn always_ok() -> Responder {
    Arc::new(|_, _| Reply::ok())
}

/// A CA, a server certificate for 127.0.0.1/localhost and a client
/// certificate, written as PEM files into `dir`.
pub struct Pki {
    pub ca_pem: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub server_chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    pub server_key: rustls_pki_types::PrivateKeyDer<'static>,
    pub ca_der: rustls_pki_types::CertificateDer<'static>,
}

impl Pki {
    pub fn new(dir: &Path) -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "sensor test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut cp = CertificateParams::new(vec!["sensor-client".to_owned()]).unwrap();
        cp.distinguished_name.push(DnType::CommonName, "sensor-client");
        let client = cp.signed_by(&client_key, &ca).unwrap();

        let ca_pem = dir.join("ca.pem");
        std::fs::write(&ca_pem, ca.pem()).unwrap();
        let client_cert = dir.join("client.pem");
        std::fs::write(&client_cert, client.pem()).unwrap();
        let client_key_path = dir.join("client.key");
        std::fs::write(&client_key_path, client_key.serialize_pem()).unwrap();
        Pki {
            ca_pem,
            client_cert,
            client_key: client_key_path,
            server_chain: vec![server.der().clone()],
            server_key: rustls_pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
            ca_der: ca.der().clone(),
        }
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// Server TLS without client authentication.
    pub fn server_tls(&self) -> rustls::ServerConfig {
        rustls::ServerConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), self.server_key.clone_key())
            .unwrap()
    }

    /// Server TLS requiring a client certificate from the CA.
    pub fn server_mtls(&self) -> rustls::ServerConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Self::provider())
            .build()
            .unwrap();
        rustls::ServerConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server_chain.clone(), self.server_key.clone_key())
            .unwrap()
    }
}

/// A Falco-shaped alert of `rule` with `n` in its output fields.
pub fn alert(rule: &str, priority: &str, n: u64) -> std::sync::Arc<sensor::output::DeliveredAlert> {
    let time_ns = 1_700_000_000_000_000_000 + n;
    let v = serde_json::json!({
        "hostname": "node-1",
        "output": format!("22:13:20.000000000: {priority} test alert n={n} (container_id=abc123def456)"),
        "priority": priority,
        "rule": rule,
        "source": "syscall",
        "tags": ["test"],
        "time": "2023-11-14T22:13:20.000000000Z",
        "output_fields": {
            "evt.time": time_ns,
            "n": n,
            "container.id": "abc123def456",
            "k8s.ns.name": "prod",
            "k8s.pod.name": "web-0",
            "proc.exepath": "/usr/bin/cat"
        }
    });
    std::sync::Arc::new(sensor::output::DeliveredAlert::from_json(v, time_ns).unwrap())
}

/// The `n` output field of every alert in `reqs` (Falco JSON bodies or
/// NDJSON lines).
pub fn ns_of(reqs: &[Received]) -> Vec<u64> {
    let mut out = Vec::new();
    for r in reqs {
        for v in r.lines() {
            if let Some(n) = v["output_fields"]["n"].as_u64() {
                out.push(n);
            }
        }
    }
    out
}

/// The value of the first line of `m`'s exposition that starts with
/// `line_start` (a metric name with its labels); 0 when absent.
pub fn metric(m: &sensor::metrics::Metrics, line_start: &str) -> u64 {
    m.render()
        .lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Waits (up to 10 s) until [`metric`] of `line_start` is `want`, and
/// asserts it: gauges are set by the outputs' tasks just after the state
/// they mirror, so a test that saw the state must give them a moment.
pub async fn metric_settles(m: &sensor::metrics::Metrics, line_start: &str, want: u64) {
    let end = Instant::now() + Duration::from_secs(10);
    while metric(m, line_start) != want && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(metric(m, line_start), want, "{line_start}");
}
