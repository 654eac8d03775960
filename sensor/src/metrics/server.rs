//! One listener: `GET /metrics` in Prometheus text format, `/healthz`
//! (liveness: the ring reader is turning) and `/readyz` (programs attached,
//! rules loaded), served with hyper. Scrape failures never affect the
//! pipeline: the server runs in its own task.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use log::{debug, warn};
use tokio::net::TcpListener;

use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen for metrics on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

fn respond(req: &Request<hyper::body::Incoming>, m: &Metrics) -> Response<Full<Bytes>> {
    let verdict = |ok: bool, yes: &str, no: &str| {
        if ok {
            (StatusCode::OK, "text/plain", format!("{yes}\n"))
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, "text/plain", format!("{no}\n"))
        }
    };
    let (status, ctype, body) = match req.uri().path() {
        "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4", m.render()),
        "/healthz" => verdict(m.health.is_alive(), "ok", "ring reader stalled"),
        "/readyz" => verdict(m.health.is_ready(), "ready", "starting: programs or rules not loaded yet"),
        _ => (StatusCode::NOT_FOUND, "text/plain", "not found: try /metrics, /healthz or /readyz\n".to_owned()),
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

/// Binds `addr` and serves until the process ends; returns the bound
/// address (port 0 picks a free one).
pub async fn serve(addr: SocketAddr, metrics: Metrics) -> Result<SocketAddr, ServeError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    warn!("metrics: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let m = metrics.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let r = respond(&req, &m);
                    async move { Ok::<_, Infallible>(r) }
                });
                if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await {
                    debug!("metrics: connection from {peer}: {e}");
                }
            });
        }
    });
    Ok(bound)
}
