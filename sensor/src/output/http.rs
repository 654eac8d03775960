//! The HTTP(S) transport of the network outputs: hyper's pooled client over
//! rustls (ring), custom CA and client certificate, connect and request
//! timeouts, authentication and an optional HMAC-SHA256 body signature.
//! Secrets are read once at start and never printed.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Sha256;

use super::config::{AuthKind, HttpConfig, SecretSource, TlsConfig};
use super::error::OutputError;
use super::retry::{parse_retry_after, retryable};

/// Largest response body read (Elasticsearch's bulk answer is parsed).
const MAX_RESPONSE: usize = 4 << 20;

/// A secret value; `Debug` never shows it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Reads a secret from its file (trailing newline removed) or variable.
pub fn resolve_secret(output: &str, what: &'static str, src: &SecretSource) -> Result<Secret, OutputError> {
    let value = match (&src.file, &src.env) {
        (Some(path), _) => std::fs::read_to_string(path)
            .map_err(|source| OutputError::ReadFile { output: output.into(), what, path: path.clone(), source })?
            .trim_end_matches(['\n', '\r'])
            .to_owned(),
        (None, Some(var)) => {
            std::env::var(var).map_err(|_| OutputError::Env { output: output.into(), what, var: var.clone() })?
        }
        (None, None) => String::new(),
    };
    if value.is_empty() {
        return Err(OutputError::EmptySecret { output: output.into(), what });
    }
    Ok(Secret(value))
}

/// `X-Sensor-Signature: sha256=<hex HMAC-SHA256 of the body>`.
#[derive(Clone)]
pub struct Signer {
    header: HeaderName,
    prefix: String,
    key: Secret,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("header", &self.header)
            .field("prefix", &self.prefix)
            .field("key", &self.key)
            .finish()
    }
}

/// Hex HMAC-SHA256 of `body` under `key`.
pub fn hmac_sha256_hex(key: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return String::new() };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

impl Signer {
    pub fn sign(&self, body: &[u8]) -> String {
        format!("{}{}", self.prefix, hmac_sha256_hex(self.key.expose().as_bytes(), body))
    }
}

/// What one request came to.
#[derive(Debug)]
pub enum Outcome {
    /// 2xx, with the response body.
    Delivered(Bytes),
    /// Worth another attempt (transport error, timeout, 408, 429, 5xx).
    Retry { reason: String, status: Option<u16>, after: Option<Duration> },
    /// The receiver refused it for good.
    Rejected { status: u16, body: String },
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub struct Transport {
    output: String,
    client: HttpsClient,
    uri: Uri,
    headers: HeaderMap,
    signer: Option<Signer>,
    request_timeout: Duration,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // HeaderMap's Debug prints sensitive values as "Sensitive".
        f.debug_struct("Transport")
            .field("output", &self.output)
            .field("uri", &self.uri)
            .field("headers", &self.headers)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

fn tls_err(output: &str, reason: impl fmt::Display) -> OutputError {
    OutputError::Tls { output: output.into(), reason: reason.to_string() }
}

fn read_certs(output: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, OutputError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_err(output, format!("{}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(output, format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(tls_err(output, format!("{}: no PEM certificate", path.display())));
    }
    Ok(certs)
}

/// rustls client configuration: the CA file's certificates (or the
/// system's), and the client certificate for mTLS.
pub fn tls_config(output: &str, tls: Option<&TlsConfig>) -> Result<rustls::ClientConfig, OutputError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    if let Some(ca) = tls.and_then(|t| t.ca_file.as_deref()) {
        for c in read_certs(output, ca)? {
            roots.add(c).map_err(|e| tls_err(output, format!("{}: {e}", ca.display())))?;
        }
    } else {
        let native = rustls_native_certs::load_native_certs();
        for c in native.certs {
            // One unusable system certificate must not disable TLS.
            let _ = roots.add(c);
        }
        if roots.is_empty() {
            log::warn!("output '{output}': no system CA certificates found; set tls.ca_file for https");
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(output, e))?
        .with_root_certificates(roots);
    let cfg = match tls.map(|t| (&t.client_cert_file, &t.client_key_file)) {
        Some((Some(cert), Some(key))) => {
            let chain = read_certs(output, cert)?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| tls_err(output, format!("{}: {e}", key.display())))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| tls_err(output, e))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(cfg)
}

fn header_err(output: &str, header: &str, reason: impl fmt::Display) -> OutputError {
    OutputError::Header { output: output.into(), header: header.into(), reason: reason.to_string() }
}

/// `http://host:port` for a format whose endpoint has a fixed path gets it.
fn endpoint(cfg: &HttpConfig) -> Result<Uri, String> {
    let uri: Uri = cfg.url.parse().map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
    let path = uri.path();
    if !path.is_empty() && path != "/" {
        return Ok(uri);
    }
    let mut parts = uri.into_parts();
    let query = parts.path_and_query.as_ref().and_then(|p| p.query()).map(|q| format!("?{q}")).unwrap_or_default();
    parts.path_and_query = Some(
        format!("{}{query}", cfg.format.default_path())
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?,
    );
    Uri::from_parts(parts).map_err(|e| e.to_string())
}

use crate::error_chain as chain;

impl Transport {
    pub fn new(output: &str, cfg: &HttpConfig) -> Result<Self, OutputError> {
        let uri = endpoint(cfg).map_err(|reason| {
            OutputError::Config(super::config::ConfigError::Url { output: output.into(), url: cfg.url.clone(), reason })
        })?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_millis(cfg.connect_timeout_ms)));
        let tls = tls_config(output, cfg.tls.as_ref())?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(https);

        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(concat!("sensor/", env!("CARGO_PKG_VERSION"))));
        for (k, v) in &cfg.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| header_err(output, k, e))?;
            let value = HeaderValue::from_str(v).map_err(|e| header_err(output, k, e))?;
            headers.insert(name, value);
        }
        if let Some(a) = &cfg.auth {
            let token = resolve_secret(output, "auth.token", &a.token)?;
            let (name, text) = match a.kind {
                AuthKind::Bearer => (AUTHORIZATION, format!("Bearer {}", token.expose())),
                AuthKind::Splunk => (AUTHORIZATION, format!("Splunk {}", token.expose())),
                AuthKind::Header => {
                    let h = a.header.as_deref().unwrap_or_default();
                    (
                        HeaderName::from_bytes(h.as_bytes()).map_err(|e| header_err(output, h, e))?,
                        token.expose().to_owned(),
                    )
                }
            };
            // The error would quote the value: say only that it is unusable.
            let mut value = HeaderValue::from_str(&text)
                .map_err(|_| header_err(output, name.as_str(), "the token has characters a header cannot carry"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let signer = match &cfg.signature {
            Some(s) => Some(Signer {
                header: HeaderName::from_bytes(s.header.as_bytes()).map_err(|e| header_err(output, &s.header, e))?,
                prefix: s.prefix.clone(),
                key: resolve_secret(output, "signature.key", &s.key)?,
            }),
            None => None,
        };
        Ok(Self {
            output: output.to_owned(),
            client,
            uri,
            headers,
            signer,
            request_timeout: Duration::from_millis(cfg.request_timeout_ms),
        })
    }

    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// One POST of `body`; never longer than the request timeout.
    pub async fn post(&self, body: Bytes, content_type: &'static str) -> Outcome {
        let mut req = Request::new(Full::new(body.clone()));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.uri.clone();
        let h = req.headers_mut();
        h.clone_from(&self.headers);
        h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(s) = &self.signer
            && let Ok(v) = HeaderValue::from_str(&s.sign(&body))
        {
            h.insert(s.header.clone(), v);
        }
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| chain(&e))?;
            let status = resp.status().as_u16();
            let after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let body = Limited::new(resp.into_body(), MAX_RESPONSE)
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .map_err(|e| format!("reading the response: {e}"))?;
            Ok::<_, String>((status, after, body))
        };
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Err(_) => Outcome::Retry {
                reason: format!("no answer within {} ms", self.request_timeout.as_millis()),
                status: None,
                after: None,
            },
            Ok(Err(reason)) => Outcome::Retry { reason, status: None, after: None },
            Ok(Ok((status, after, body))) => {
                if (200..300).contains(&status) {
                    Outcome::Delivered(body)
                } else if retryable(status) {
                    Outcome::Retry { reason: format!("HTTP {status}"), status: Some(status), after }
                } else {
                    let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
                    Outcome::Rejected { status, body: text }
                }
            }
        }
    }
}
