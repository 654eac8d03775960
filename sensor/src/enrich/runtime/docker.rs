//! Docker Engine API client: plain HTTP/1.1 over the unix socket (hyper), two endpoints.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::UnixStream;

use super::{ContainerMeta, DEFAULT_TIMEOUT, DOCKER, Mount, PodRef, RuntimeError, digest_of, validate_id};

/// Largest response body accepted (inspect output of a container with many mounts/labels).
const MAX_BODY: usize = 4 << 20;

/// Docker Engine API client over a unix socket.
#[derive(Debug, Clone)]
pub struct DockerClient {
    path: PathBuf,
    timeout: Duration,
}

impl DockerClient {
    /// Client for the socket at `path` (e.g. `/var/run/docker.sock`); connects per request.
    #[must_use]
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self::with_timeout(path, DEFAULT_TIMEOUT)
    }

    /// Same with a per-request timeout.
    #[must_use]
    pub fn with_timeout(path: impl AsRef<Path>, timeout: Duration) -> Self {
        Self { path: path.as_ref().to_owned(), timeout }
    }

    /// Socket path.
    #[must_use]
    pub fn socket(&self) -> &Path {
        &self.path
    }

    /// `GET /_ping`.
    ///
    /// # Errors
    /// Connection, timeout or HTTP status errors.
    pub async fn ping(&self) -> Result<(), RuntimeError> {
        let (status, body) = self.get("ping", "/_ping").await?;
        if status == 200 { Ok(()) } else { Err(status_error("ping", status, &body)) }
    }

    /// Container inspect (+ image inspect for the repo digest).
    ///
    /// # Errors
    /// [`RuntimeError::NotFound`] on 404; connection, timeout, status and decode errors.
    pub async fn container(&self, id: &str) -> Result<ContainerMeta, RuntimeError> {
        validate_id(id)?;
        let (status, body) = self.get("container inspect", &format!("/containers/{id}/json")).await?;
        match status {
            200 => {}
            404 => {
                return Err(RuntimeError::NotFound { runtime: DOCKER, id: id.to_owned() });
            }
            _ => return Err(status_error("container inspect", status, &body)),
        }
        let inspect: ContainerInspect = serde_json::from_slice(&body).map_err(|e| RuntimeError::Decode {
            runtime: DOCKER,
            op: "container inspect",
            reason: e.to_string(),
        })?;
        let mut meta = inspect.into_meta();
        if meta.image_digest.is_none()
            && let Some(image_id) = meta.image_id.clone()
        {
            // Best effort: the container is already identified; a failing image inspect (image
            // removed, daemon busy) must not fail the lookup.
            if let Ok(digests) = self.repo_digests(&image_id).await {
                meta.image_digest = pick_repo_digest(&digests, meta.image.as_deref());
            }
        }
        Ok(meta)
    }

    async fn repo_digests(&self, image_id: &str) -> Result<Vec<String>, RuntimeError> {
        let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
        validate_id(hex)?;
        let (status, body) = self.get("image inspect", &format!("/images/sha256:{hex}/json")).await?;
        if status != 200 {
            return Err(status_error("image inspect", status, &body));
        }
        let img: ImageInspect = serde_json::from_slice(&body).map_err(|e| RuntimeError::Decode {
            runtime: DOCKER,
            op: "image inspect",
            reason: e.to_string(),
        })?;
        Ok(img.repo_digests.unwrap_or_default())
    }

    async fn get(&self, op: &'static str, path: &str) -> Result<(u16, Bytes), RuntimeError> {
        tokio::time::timeout(self.timeout, self.get_inner(op, path)).await.map_err(|_| RuntimeError::Timeout {
            runtime: DOCKER,
            op,
            timeout: self.timeout,
        })?
    }

    async fn get_inner(&self, op: &'static str, path: &str) -> Result<(u16, Bytes), RuntimeError> {
        let http_err =
            |e: Box<dyn std::error::Error + Send + Sync>| RuntimeError::Http { runtime: DOCKER, op, source: e };
        let stream = UnixStream::connect(&self.path).await.map_err(|e| RuntimeError::Connect {
            runtime: DOCKER,
            path: self.path.clone(),
            source: Box::new(e),
        })?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| http_err(Box::new(e)))?;
        // The connection task ends when the response is read and `sender` is dropped.
        let conn_task = tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, "docker")
            .header(hyper::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| http_err(Box::new(e)))?;
        let resp = sender.send_request(req).await.map_err(|e| http_err(Box::new(e)))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_BODY).collect().await.map_err(http_err)?.to_bytes();
        drop(sender);
        conn_task.abort();
        Ok((status, body))
    }
}

fn status_error(op: &'static str, status: u16, body: &[u8]) -> RuntimeError {
    #[derive(Deserialize)]
    struct Msg {
        message: String,
    }
    let message = serde_json::from_slice::<Msg>(body)
        .map_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(), |m| m.message);
    RuntimeError::Status { runtime: DOCKER, op, status, message }
}

/// Prefers the repo digest of the repository the container was started from.
fn pick_repo_digest(digests: &[String], image: Option<&str>) -> Option<String> {
    let repo = image.map(|i| normalize_repo(repository_of(i)));
    digests
        .iter()
        .find(|d| repo.as_deref().is_some_and(|r| d.rsplit_once('@').is_some_and(|(dr, _)| normalize_repo(dr) == r)))
        .or_else(|| digests.first())
        .and_then(|d| digest_of(d))
}

/// Familiar Docker names to full ones: `nginx` -> `docker.io/library/nginx`,
/// `user/app` -> `docker.io/user/app`; names with a registry host stay as they are.
fn normalize_repo(repo: &str) -> String {
    match repo.split_once('/') {
        None => format!("docker.io/library/{repo}"),
        Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => repo.to_owned(),
        Some(_) => format!("docker.io/{repo}"),
    }
}

/// `docker.io/library/nginx:1.25@sha256:..` -> `docker.io/library/nginx`; keeps registry ports.
fn repository_of(image: &str) -> &str {
    let no_digest = image.split_once('@').map_or(image, |(r, _)| r);
    match no_digest.rfind(':') {
        Some(colon) if !no_digest[colon..].contains('/') => &no_digest[..colon],
        _ => no_digest,
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ContainerInspect {
    id: String,
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    config: Option<InspectConfig>,
    #[serde(default)]
    host_config: Option<InspectHostConfig>,
    #[serde(default)]
    state: Option<InspectState>,
    #[serde(default)]
    mounts: Option<Vec<InspectMount>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectConfig {
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    labels: Option<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectHostConfig {
    #[serde(default)]
    privileged: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectState {
    #[serde(default)]
    pid: Option<i64>,
    #[serde(default)]
    started_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectMount {
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    destination: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default, rename = "RW")]
    rw: Option<bool>,
    #[serde(default)]
    propagation: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImageInspect {
    #[serde(default)]
    repo_digests: Option<Vec<String>>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

impl ContainerInspect {
    pub(crate) fn into_meta(self) -> ContainerMeta {
        let config = self.config.unwrap_or(InspectConfig { image: None, labels: None });
        let labels: BTreeMap<String, String> = config.labels.unwrap_or_default().into_iter().collect();
        let image = non_empty(config.image);
        let image_id = non_empty(self.image);
        let image_digest = image
            .as_deref()
            .and_then(|i| i.rsplit_once('@').and_then(|(_, d)| d.starts_with("sha256:").then(|| d.to_owned())));
        let mounts = self
            .mounts
            .unwrap_or_default()
            .into_iter()
            .map(|m| Mount {
                source: non_empty(m.source).or(m.name).unwrap_or_default(),
                destination: m.destination.unwrap_or_default(),
                mode: non_empty(m.mode),
                read_only: !m.rw.unwrap_or(true),
                propagation: non_empty(m.propagation),
            })
            .collect();
        let state = self.state;
        ContainerMeta {
            id: self.id,
            runtime: DOCKER,
            name: non_empty(self.name.map(|n| n.trim_start_matches('/').to_owned())),
            pod: PodRef::from_btree(&labels),
            image,
            image_id,
            image_digest,
            labels,
            privileged: self.host_config.and_then(|h| h.privileged),
            mounts,
            created_at_ns: self.created.as_deref().and_then(parse_rfc3339_ns),
            started_at_ns: state.as_ref().and_then(|s| s.started_at.as_deref()).and_then(parse_rfc3339_ns),
            pid: state.and_then(|s| s.pid).and_then(|p| u32::try_from(p).ok()).filter(|p| *p > 0),
        }
    }
}

#[cfg(test)]
pub(crate) fn parse_inspect(json: &str) -> Result<ContainerMeta, serde_json::Error> {
    serde_json::from_str::<ContainerInspect>(json).map(ContainerInspect::into_meta)
}

#[cfg(test)]
pub(crate) fn pick_digest_for_test(digests: &[String], image: Option<&str>) -> Option<String> {
    pick_repo_digest(digests, image)
}

/// Docker's RFC 3339 timestamps in ns since the Unix epoch; `None` for
/// malformed input and for times before 1970 (Docker's zero time
/// `0001-01-01T00:00:00Z` means "unset").
pub(crate) fn parse_rfc3339_ns(s: &str) -> Option<u64> {
    let ts: jiff::Timestamp = s.parse().ok()?;
    u64::try_from(ts.as_nanosecond()).ok()
}
