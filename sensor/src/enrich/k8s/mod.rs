//! Kubernetes pod metadata for events: which pod, workload, service account
//! and labels a container id or pod uid belongs to.
//!
//! * [`client_from_env`] finds cluster credentials (`KUBECONFIG`, else the
//!   in-cluster service account). `Ok(None)` is host mode: the caller says so
//!   once and runs without pod metadata.
//! * [`PodWatcher::start`] lists and watches only this node's pods
//!   (`fieldSelector=spec.nodeName=<node>`) with `kube::runtime::watcher`,
//!   and keeps a [`PodIndex`] current: by uid and by container id (full id or
//!   a unique prefix of 12+ characters). Deleted pods stay resolvable for a
//!   grace period (default 60 s) so that late events still resolve.
//! * [`resolve_workload`] maps a pod's controlling owner to its workload:
//!   Deployment (via the `ReplicaSet` name and `pod-template-hash`),
//!   `StatefulSet`, `DaemonSet`, Job, `CronJob` (heuristic on the Job name unless an
//!   [`OwnerLookup`] knows better).
//!
//! RBAC the agent needs: `get`, `list`, `watch` on `pods` (cluster scope).

mod env;
mod index;
mod meta;
mod watcher;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use env::{
    ConfigSource, SERVICE_ACCOUNT_TOKEN, client_from_env, detect_source, node_name_from, node_name_from_env,
};
pub use index::{DEFAULT_GRACE, MIN_CONTAINER_ID_PREFIX, PodIndex, WatcherStats};
pub use meta::{
    ContainerInfo, JobOwner, OwnerLookup, PodMeta, Workload, cronjob_from_job_name, resolve_workload,
    split_container_id, strip_runtime_prefix,
};
pub use watcher::{PodWatcher, WatcherConfig, node_field_selector};

/// Errors of the Kubernetes module.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    #[error("in-cluster Kubernetes config (KUBERNETES_SERVICE_HOST + service account) unusable")]
    InCluster(#[source] kube::config::InClusterError),
    #[error("kubeconfig {path:?} unusable")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("KUBECONFIG names no file")]
    NoConfig,
    #[error("cannot build a Kubernetes client for {url}")]
    Client {
        url: String,
        #[source]
        source: kube::Error,
    },
    #[error("node name unknown: NODE_NAME is unset and the hostname cannot be read")]
    NodeName,
}
