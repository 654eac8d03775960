//! CRI client (containerd, CRI-O) over a unix socket, using the vendored `runtime.v1` bindings.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};

use super::cri_v1::image_service_client::ImageServiceClient;
use super::cri_v1::runtime_service_client::RuntimeServiceClient;
use super::cri_v1::{
    ContainerStatusRequest, ImageSpec, ImageStatusRequest, MountPropagation, PodSandboxStatusRequest, VersionRequest,
};
use super::{
    CONTAINERD, CRIO, ContainerMeta, DEFAULT_TIMEOUT, LABEL_CONTAINER_NAME, Mount, OTHER_CRI, PodRef, RuntimeError,
    digest_of, validate_id,
};

/// Annotations that hold the image name as the user wrote it.
const IMAGE_NAME_ANNOTATIONS: [&str; 2] = [
    "io.kubernetes.cri.image-name",  // containerd
    "io.kubernetes.cri-o.ImageName", // CRI-O
];

/// CRI client on one socket. Cheap to clone (shares the HTTP/2 channel).
#[derive(Debug, Clone)]
pub struct CriClient {
    channel: Channel,
    path: PathBuf,
    runtime: &'static str,
    runtime_version: String,
    timeout: Duration,
}

impl CriClient {
    /// Connects to the CRI socket at `path` and calls `Version` to learn the runtime's name.
    ///
    /// # Errors
    /// [`RuntimeError::Connect`], [`RuntimeError::Timeout`] or [`RuntimeError::Rpc`] (e.g. a
    /// containerd without the CRI plugin answers `Unimplemented`).
    pub async fn connect(path: impl AsRef<Path>) -> Result<Self, RuntimeError> {
        Self::connect_with_timeout(path, DEFAULT_TIMEOUT).await
    }

    /// Same with a per-call timeout (also used for the connect).
    ///
    /// # Errors
    /// See [`CriClient::connect`].
    pub async fn connect_with_timeout(path: impl AsRef<Path>, timeout: Duration) -> Result<Self, RuntimeError> {
        let path = path.as_ref().to_owned();
        let connect_err = |e: Box<dyn std::error::Error + Send + Sync>| RuntimeError::Connect {
            runtime: "cri",
            path: path.clone(),
            source: e,
        };
        let sock = path.clone();
        // The URI is ignored by the connector; tonic needs a syntactically valid one.
        let endpoint = Endpoint::from_static("http://localhost").timeout(timeout);
        let channel = tokio::time::timeout(
            timeout,
            endpoint.connect_with_connector(tower::service_fn(move |_: hyper::Uri| {
                let sock = sock.clone();
                async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(sock).await?)) }
            })),
        )
        .await
        .map_err(|_| RuntimeError::Timeout { runtime: "cri", op: "connect", timeout })?
        .map_err(|e| connect_err(Box::new(e)))?;

        let mut client = Self { channel, path, runtime: OTHER_CRI, runtime_version: String::new(), timeout };
        let version = client
            .call("Version", |mut c| async move { c.version(VersionRequest { version: "v1".into() }).await })
            .await?;
        client.runtime = match version.runtime_name.as_str() {
            "containerd" => CONTAINERD,
            "cri-o" | "crio" => CRIO,
            _ => OTHER_CRI,
        };
        client.runtime_version = version.runtime_version;
        Ok(client)
    }

    /// Runtime name from `Version` (`"containerd"`, `"cri-o"`, or `"cri"`).
    #[must_use]
    pub fn runtime(&self) -> &'static str {
        self.runtime
    }

    /// Runtime version string from `Version`.
    #[must_use]
    pub fn runtime_version(&self) -> &str {
        &self.runtime_version
    }

    /// Socket path.
    #[must_use]
    pub fn socket(&self) -> &Path {
        &self.path
    }

    /// The raw gRPC runtime service client (shares the channel), e.g. for tests or extra RPCs.
    #[must_use]
    pub fn runtime_service(&self) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(self.channel.clone())
    }

    /// The raw gRPC image service client.
    #[must_use]
    pub fn image_service(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel.clone())
    }

    async fn call<T, F, Fut>(&self, op: &'static str, f: F) -> Result<T, RuntimeError>
    where
        F: FnOnce(RuntimeServiceClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.finish(op, f(self.runtime_service())).await
    }

    async fn finish<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, RuntimeError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(RuntimeError::Timeout { runtime: self.runtime, op, timeout: self.timeout }),
            Ok(Err(status)) => Err(RuntimeError::Rpc { runtime: self.runtime, op, source: Box::new(status) }),
            Ok(Ok(resp)) => Ok(resp.into_inner()),
        }
    }

    /// `ContainerStatus(verbose)` (+ `ImageStatus` / `PodSandboxStatus` when they add data).
    ///
    /// # Errors
    /// [`RuntimeError::NotFound`] when the runtime does not know `id`; timeouts and RPC errors.
    pub async fn container(&self, id: &str) -> Result<ContainerMeta, RuntimeError> {
        validate_id(id)?;
        let resp = self
            .call("ContainerStatus", |mut c| async move {
                c.container_status(ContainerStatusRequest { container_id: id.to_owned(), verbose: true }).await
            })
            .await
            .map_err(|e| self.not_found(e, id))?;
        let Some(status) = resp.status else {
            return Err(RuntimeError::NotFound { runtime: self.runtime, id: id.to_owned() });
        };
        let info = resp.info.get("info").and_then(|s| serde_json::from_str::<Value>(s).ok()).unwrap_or(Value::Null);
        let mut meta = meta_from_status(self.runtime, id, status, &info);

        if meta.image_id.is_none() || meta.image_digest.is_none() {
            self.fill_image(&mut meta).await;
        }
        if meta.pod.is_none()
            && let Some(sandbox) = info.get("sandboxID").and_then(Value::as_str)
        {
            meta.pod = self.sandbox_pod(sandbox).await;
        }
        Ok(meta)
    }

    fn not_found(&self, e: RuntimeError, id: &str) -> RuntimeError {
        match &e {
            RuntimeError::Rpc { source, .. }
                if source.code() == tonic::Code::NotFound || source.message().contains("not found") =>
            {
                RuntimeError::NotFound { runtime: self.runtime, id: id.to_owned() }
            }
            _ => e,
        }
    }

    /// Best effort: `ImageStatus` for the image id and repo digest.
    async fn fill_image(&self, meta: &mut ContainerMeta) {
        let Some(image) = meta.image_id.clone().or_else(|| meta.image.clone()) else {
            return;
        };
        let req = ImageStatusRequest { image: Some(ImageSpec { image, ..ImageSpec::default() }), verbose: false };
        let fut = async move { self.image_service().image_status(req).await };
        if let Ok(resp) = self.finish("ImageStatus", fut).await
            && let Some(img) = resp.image
        {
            if meta.image_id.is_none() && !img.id.is_empty() {
                meta.image_id = Some(img.id);
            }
            if meta.image_digest.is_none() {
                meta.image_digest = img.repo_digests.iter().find_map(|d| digest_of(d));
            }
        }
    }

    /// Best effort: pod identity from the sandbox metadata.
    async fn sandbox_pod(&self, sandbox: &str) -> Option<PodRef> {
        let resp = self
            .call("PodSandboxStatus", |mut c| async move {
                c.pod_sandbox_status(PodSandboxStatusRequest { pod_sandbox_id: sandbox.to_owned(), verbose: false })
                    .await
            })
            .await
            .ok()?;
        let status = resp.status?;
        PodRef::from_labels(&status.labels).or_else(|| {
            let m = status.metadata?;
            (!m.name.is_empty()).then_some(PodRef { name: m.name, namespace: m.namespace, uid: m.uid })
        })
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn positive_ns(v: i64) -> Option<u64> {
    u64::try_from(v).ok().filter(|v| *v > 0)
}

fn propagation_name(p: i32) -> Option<String> {
    let s = match MountPropagation::try_from(p).ok()? {
        MountPropagation::PropagationPrivate => "rprivate",
        MountPropagation::PropagationHostToContainer => "rslave",
        MountPropagation::PropagationBidirectional => "rshared",
    };
    Some(s.to_owned())
}

/// Builds the metadata from a `ContainerStatus` and its parsed verbose `info` JSON.
pub(crate) fn meta_from_status(
    runtime: &'static str,
    requested_id: &str,
    status: super::cri_v1::ContainerStatus,
    info: &Value,
) -> ContainerMeta {
    let spec_annotations = info.pointer("/runtimeSpec/annotations");
    let annotation = |k: &str| {
        spec_annotations
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .or_else(|| status.annotations.get(k).map(String::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let spec_image = status.image.clone().unwrap_or_default();
    let is_id = |s: &str| s.starts_with("sha256:") || (s.len() == 64 && validate_id(s).is_ok());

    // Image as the user wrote it: CRI user_specified_image, the runtime's image-name
    // annotation, then the status image / config image when they are names and not ids.
    let config_image = info.pointer("/config/image/image").and_then(Value::as_str).unwrap_or_default();
    let image = non_empty(spec_image.user_specified_image.clone())
        .or_else(|| IMAGE_NAME_ANNOTATIONS.iter().find_map(|k| annotation(k)))
        .or_else(|| {
            [spec_image.image.as_str(), config_image]
                .into_iter()
                .find(|s| !s.is_empty() && !is_id(s))
                .map(str::to_owned)
        });
    let image_id = [spec_image.image.as_str(), status.image_ref.as_str(), config_image]
        .into_iter()
        .find(|s| s.starts_with("sha256:") && !s.contains('@'))
        .map(str::to_owned);
    let image_digest = [status.image_ref.as_str(), spec_image.image.as_str()]
        .into_iter()
        .find(|s| s.contains("@sha256:"))
        .and_then(digest_of)
        .or_else(|| image.as_deref().and_then(|i| i.contains('@').then(|| digest_of(i)).flatten()));

    // CRI-O (and newer containerd) report `privileged`; containerd 1.6 only has the CRI config,
    // whose `privileged` is omitted when false.
    let privileged = info.get("privileged").and_then(Value::as_bool).or_else(|| {
        info.get("config")
            .filter(|c| c.is_object())
            .map(|c| c.pointer("/linux/security_context/privileged").and_then(Value::as_bool).unwrap_or(false))
    });
    let pid = info.get("pid").and_then(Value::as_u64).and_then(|p| u32::try_from(p).ok()).filter(|p| *p > 0);

    let labels: BTreeMap<String, String> = status.labels.clone().into_iter().collect();
    let pod = PodRef::from_btree(&labels).or_else(|| {
        Some(PodRef {
            name: annotation("io.kubernetes.cri.sandbox-name")?,
            namespace: annotation("io.kubernetes.cri.sandbox-namespace")?,
            uid: annotation("io.kubernetes.cri.sandbox-uid").unwrap_or_default(),
        })
    });
    let name = status
        .metadata
        .as_ref()
        .map(|m| m.name.clone())
        .and_then(non_empty)
        .or_else(|| labels.get(LABEL_CONTAINER_NAME).cloned());
    let mounts = status
        .mounts
        .iter()
        .map(|m| Mount {
            source: m.host_path.clone(),
            destination: m.container_path.clone(),
            mode: None,
            read_only: m.readonly,
            propagation: propagation_name(m.propagation),
        })
        .collect();

    ContainerMeta {
        id: non_empty(status.id).unwrap_or_else(|| requested_id.to_owned()),
        runtime,
        name,
        image,
        image_id,
        image_digest,
        labels,
        privileged,
        mounts,
        pod,
        created_at_ns: positive_ns(status.created_at),
        started_at_ns: positive_ns(status.started_at),
        pid,
    }
}
