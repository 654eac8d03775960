//! Container runtime metadata: given a container id found in a process's cgroup path, ask the
//! runtime that owns it (CRI: containerd / CRI-O, or the Docker Engine API) for its metadata.
//!
//! Entry point for the agent: [`Runtimes`] (probes sockets, caches results, counts lookups).
//! The per-runtime clients [`CriClient`] and [`DockerClient`] can be used directly too.

mod cache;
mod cri;
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all, unreachable_pub, dead_code)]
pub mod cri_v1;
mod docker;
mod error;

/// Private Docker and containerd daemons for tests (unit and kernel
/// end-to-end); not used by the agent itself.
#[doc(hidden)]
#[cfg(test)]
#[path = "../../../tests/support/runtime.rs"]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use cache::CacheConfig;
pub use cri::CriClient;
pub use docker::DockerClient;
pub use error::RuntimeError;

use cache::{Cached, MetaCache};

/// Default per-call timeout for runtime RPCs / HTTP requests.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Runtime names as reported in [`ContainerMeta::runtime`].
pub const CONTAINERD: &str = "containerd";
/// CRI-O runtime name.
pub const CRIO: &str = "cri-o";
/// Docker runtime name.
pub const DOCKER: &str = "docker";
/// A CRI runtime that is neither containerd nor CRI-O.
pub const OTHER_CRI: &str = "cri";

/// Metadata for one container, as reported by its runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerMeta {
    /// Full container id (64 hex).
    pub id: String,
    /// `"containerd"`, `"cri-o"`, `"docker"` (or `"cri"` for another CRI runtime).
    pub runtime: &'static str,
    /// Container name (CRI `metadata.name`, Docker `Name` without the leading `/`).
    pub name: Option<String>,
    /// Image reference as the user wrote it, e.g. `docker.io/library/nginx:1.25`.
    pub image: Option<String>,
    /// Image id (`sha256:...` config digest) when known.
    pub image_id: Option<String>,
    /// Repository digest `sha256:...` (from the image ref, `RepoDigests` or CRI `imageRef`).
    pub image_digest: Option<String>,
    /// Container labels.
    pub labels: BTreeMap<String, String>,
    /// Whether the container runs privileged.
    pub privileged: Option<bool>,
    /// Mounts of the container.
    pub mounts: Vec<Mount>,
    /// Kubernetes pod, from `io.kubernetes.pod.*` labels (or the CRI sandbox).
    pub pod: Option<PodRef>,
    /// Creation time, ns since the Unix epoch.
    pub created_at_ns: Option<u64>,
    /// Start time, ns since the Unix epoch.
    pub started_at_ns: Option<u64>,
    /// Host pid of the container's init process (0 / stopped => `None`).
    pub pid: Option<u32>,
}

/// One mount of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mount {
    /// Host path (or volume source).
    pub source: String,
    /// Path inside the container.
    pub destination: String,
    /// Docker mount mode string (e.g. `"z"`, `"ro"`); `None` for CRI.
    pub mode: Option<String>,
    /// Mounted read-only.
    pub read_only: bool,
    /// Propagation: `"rprivate"`, `"rslave"`, `"rshared"`, ... when known.
    pub propagation: Option<String>,
}

/// Kubernetes pod reference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodRef {
    /// Pod name.
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// Pod uid.
    pub uid: String,
}

/// Kubernetes labels that kubelet puts on pod sandboxes and containers.
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
/// Pod namespace label.
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// Pod uid label.
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
/// Container name label.
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";

impl PodRef {
    /// Builds a pod reference from `io.kubernetes.pod.{name,namespace,uid}` labels.
    /// Needs at least name and namespace.
    #[must_use]
    pub fn from_labels<S: std::hash::BuildHasher>(
        labels: &std::collections::HashMap<String, String, S>,
    ) -> Option<Self> {
        Self::from_getter(|k| labels.get(k).map(String::as_str))
    }

    fn from_btree(labels: &BTreeMap<String, String>) -> Option<Self> {
        Self::from_getter(|k| labels.get(k).map(String::as_str))
    }

    fn from_getter<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<Self> {
        let name = get(LABEL_POD_NAME).filter(|s| !s.is_empty())?;
        let namespace = get(LABEL_POD_NAMESPACE).filter(|s| !s.is_empty())?;
        Some(Self {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            uid: get(LABEL_POD_UID).unwrap_or_default().to_owned(),
        })
    }
}

/// Checks that `id` looks like a container id (1..=64 lowercase hex chars). Anything else is
/// rejected before it reaches a URL or an RPC.
///
/// # Errors
/// [`RuntimeError::InvalidId`] when it does not.
pub fn validate_id(id: &str) -> Result<(), RuntimeError> {
    if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(RuntimeError::InvalidId(id.chars().take(80).collect()))
    }
}

/// Extracts `sha256:<hex>` from a reference like `repo@sha256:<hex>` or a bare `sha256:<hex>`.
fn digest_of(reference: &str) -> Option<String> {
    let d = match reference.rsplit_once('@') {
        Some((_, d)) => d,
        None => reference,
    };
    d.starts_with("sha256:").then(|| d.to_owned())
}

/// Which API a socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// Kubernetes CRI (containerd, CRI-O, ...).
    Cri,
    /// Docker Engine API.
    Docker,
}

/// Configuration for [`Runtimes::probe`].
#[derive(Debug, Clone)]
pub struct RuntimesConfig {
    /// Sockets to probe, in priority order.
    pub sockets: Vec<(PathBuf, SocketKind)>,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Cache settings.
    pub cache: CacheConfig,
}

impl Default for RuntimesConfig {
    fn default() -> Self {
        Self { sockets: Self::well_known_sockets(), timeout: DEFAULT_TIMEOUT, cache: CacheConfig::default() }
    }
}

impl RuntimesConfig {
    /// The sockets named by `DOCKER_HOST` (as the docker CLI reads it) and
    /// `CONTAINER_RUNTIME_ENDPOINT` (as crictl reads it) first, then the
    /// well-known ones. Returns the sockets and a note for each variable
    /// that names something other than a unix socket.
    #[must_use]
    pub fn sockets_from_env(
        docker_host: Option<&str>,
        cri_endpoint: Option<&str>,
    ) -> (Vec<(PathBuf, SocketKind)>, Vec<String>) {
        let mut out = Vec::new();
        let mut notes = Vec::new();
        for (var, value, kind) in [
            ("CONTAINER_RUNTIME_ENDPOINT", cri_endpoint, SocketKind::Cri),
            ("DOCKER_HOST", docker_host, SocketKind::Docker),
        ] {
            let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else { continue };
            match v.strip_prefix("unix://").or_else(|| v.starts_with('/').then_some(v)) {
                Some(path) => out.push((PathBuf::from(path), kind)),
                None => notes.push(format!("{var}={v}: only unix sockets are supported; ignored")),
            }
        }
        for w in Self::well_known_sockets() {
            if !out.iter().any(|(p, _)| *p == w.0) {
                out.push(w);
            }
        }
        (out, notes)
    }

    /// The well-known runtime sockets, in probing order.
    #[must_use]
    pub fn well_known_sockets() -> Vec<(PathBuf, SocketKind)> {
        vec![
            ("/run/containerd/containerd.sock".into(), SocketKind::Cri),
            ("/run/crio/crio.sock".into(), SocketKind::Cri),
            ("/var/run/docker.sock".into(), SocketKind::Docker),
            ("/run/k3s/containerd/containerd.sock".into(), SocketKind::Cri),
        ]
    }
}

/// A connected runtime client.
#[derive(Debug, Clone)]
pub enum RuntimeClient {
    /// CRI client.
    Cri(CriClient),
    /// Docker client.
    Docker(DockerClient),
}

impl RuntimeClient {
    /// Runtime name (`"containerd"`, `"cri-o"`, `"docker"`, ...).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cri(c) => c.runtime(),
            Self::Docker(_) => DOCKER,
        }
    }

    /// Fetches the metadata of one container.
    ///
    /// # Errors
    /// See [`RuntimeError`]; [`RuntimeError::NotFound`] when this runtime does not know `id`.
    pub async fn container(&self, id: &str) -> Result<ContainerMeta, RuntimeError> {
        match self {
            Self::Cri(c) => c.container(id).await,
            Self::Docker(c) => c.container(id).await,
        }
    }
}

/// Lookup counters.
#[derive(Debug, Default)]
pub struct RuntimeStats {
    /// Calls to [`Runtimes::lookup`].
    pub lookups: AtomicU64,
    /// Lookups answered from the cache (positive or negative).
    pub cache_hits: AtomicU64,
    /// Lookups that ended in "not found in any runtime".
    pub misses: AtomicU64,
    /// Lookups that ended in another error (timeout, RPC failure, ...).
    pub errors: AtomicU64,
    /// Requests actually sent to runtimes.
    pub rpcs: AtomicU64,
}

/// Plain copy of [`RuntimeStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeStatsSnapshot {
    /// See [`RuntimeStats::lookups`].
    pub lookups: u64,
    /// See [`RuntimeStats::cache_hits`].
    pub cache_hits: u64,
    /// See [`RuntimeStats::misses`].
    pub misses: u64,
    /// See [`RuntimeStats::errors`].
    pub errors: u64,
    /// See [`RuntimeStats::rpcs`].
    pub rpcs: u64,
}

/// All runtimes found on the node, with a TTL cache in front.
#[derive(Debug)]
pub struct Runtimes {
    clients: Vec<RuntimeClient>,
    cache: MetaCache,
    stats: RuntimeStats,
}

impl Runtimes {
    /// Probes every configured socket that exists and keeps the ones that answer.
    /// Failures are returned alongside (socket path and error) for logging; an empty client
    /// list is not an error (lookups then fail with [`RuntimeError::NoRuntime`]).
    pub async fn probe(config: RuntimesConfig) -> (Self, Vec<(PathBuf, RuntimeError)>) {
        let mut clients = Vec::new();
        let mut failures = Vec::new();
        for (path, kind) in &config.sockets {
            if !path.exists() {
                continue;
            }
            let res = match kind {
                SocketKind::Cri => CriClient::connect_with_timeout(path, config.timeout).await.map(RuntimeClient::Cri),
                SocketKind::Docker => {
                    let c = DockerClient::with_timeout(path, config.timeout);
                    c.ping().await.map(|()| RuntimeClient::Docker(c))
                }
            };
            match res {
                Ok(c) => clients.push(c),
                Err(e) => failures.push((path.clone(), e)),
            }
        }
        (Self::from_clients(clients, config.cache), failures)
    }

    /// Builds from already connected clients (tries them in this order without a hint).
    #[must_use]
    pub fn from_clients(clients: Vec<RuntimeClient>, cache: CacheConfig) -> Self {
        Self { clients, cache: MetaCache::new(cache), stats: RuntimeStats::default() }
    }

    /// Connected clients.
    #[must_use]
    pub fn clients(&self) -> &[RuntimeClient] {
        &self.clients
    }

    /// Drops the cached result for `id` (e.g. when the agent sees the container exit).
    pub fn invalidate(&self, id: &str) {
        self.cache.invalidate(id);
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> RuntimeStatsSnapshot {
        let s = &self.stats;
        RuntimeStatsSnapshot {
            lookups: s.lookups.load(Ordering::Relaxed),
            cache_hits: s.cache_hits.load(Ordering::Relaxed),
            misses: s.misses.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            rpcs: s.rpcs.load(Ordering::Relaxed),
        }
    }

    /// Looks a container up, trying the runtime named by `hint` (from the cgroup path:
    /// `"docker"`, `"containerd"`, `"cri-o"`/`"crio"`) first, then the others. Results, found or
    /// not, are cached; concurrent lookups of one id share one round of requests.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidId`], [`RuntimeError::NoRuntime`], [`RuntimeError::NotFound`]
    /// (no runtime knows it), or [`RuntimeError::Cached`] / the underlying error when a runtime
    /// failed.
    pub async fn lookup(&self, id: &str, hint: Option<&str>) -> Result<Arc<ContainerMeta>, RuntimeError> {
        self.stats.lookups.fetch_add(1, Ordering::Relaxed);
        let res = self.lookup_inner(id, hint).await;
        match &res {
            Ok(_) => {}
            Err(RuntimeError::NotFound { .. }) => {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        res
    }

    async fn lookup_inner(&self, id: &str, hint: Option<&str>) -> Result<Arc<ContainerMeta>, RuntimeError> {
        validate_id(id)?;
        if self.clients.is_empty() {
            return Err(RuntimeError::NoRuntime);
        }
        let (cached, fresh) = self.cache.get_or_fetch(id, || self.fetch(id, hint)).await;
        if !fresh {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
        }
        match cached {
            Cached::Found(meta) => Ok(meta),
            Cached::NotFound => Err(RuntimeError::NotFound { runtime: "any", id: id.to_owned() }),
            Cached::Failed(reason) => Err(RuntimeError::Cached { id: id.to_owned(), reason }),
        }
    }

    /// Tries every client, hinted one first. Not-found from all => `NotFound`; if any runtime
    /// failed (and none found it), the first failure wins.
    async fn fetch(&self, id: &str, hint: Option<&str>) -> Cached {
        let hint = hint.map(normalize_hint);
        let order = self
            .clients
            .iter()
            .filter(|c| Some(c.name()) == hint)
            .chain(self.clients.iter().filter(|c| Some(c.name()) != hint));
        let mut first_err: Option<String> = None;
        for client in order {
            self.stats.rpcs.fetch_add(1, Ordering::Relaxed);
            match client.container(id).await {
                Ok(meta) => return Cached::Found(Arc::new(meta)),
                Err(RuntimeError::NotFound { .. }) => {}
                Err(e) => {
                    first_err.get_or_insert_with(|| e.to_string());
                }
            }
        }
        first_err.map_or(Cached::NotFound, Cached::Failed)
    }
}

fn normalize_hint(h: &str) -> &'static str {
    match h {
        "docker" | "moby" => DOCKER,
        "crio" | "cri-o" => CRIO,
        "containerd" | "cri-containerd" | "k3s" => CONTAINERD,
        _ => OTHER_CRI,
    }
}
