//! Profiles shared through the Kubernetes API: each node merges what it
//! learned into the workload's `SensorProfile` object (read, merge, write
//! back with the `resourceVersion` read; a conflict is read and merged
//! again), and watches every `SensorProfile`, so a node that starts a new
//! replica uses what the others learned at once. No sync protocol of our
//! own: the API server's optimistic concurrency is the lock.
//!
//! Pod and image profiles are shared; host and service profiles stay on
//! their node (their processes are the node's own). Without cluster credentials
//! nothing here runs and profiles stay local.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt as _;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Error as KubeError};
use tokio::sync::mpsc;

use super::key::ProfileKey;
use super::profile::{API_VERSION, KIND, ProfileDoc};

/// Attempts at one merge before it waits for the next change.
const ATTEMPTS: usize = 5;

/// The `SensorProfile` resource (deploy/base/crd-sensorprofile.yaml).
pub fn resource() -> ApiResource {
    let (group, version) = API_VERSION.split_once('/').unwrap_or(("", API_VERSION));
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, KIND), "sensorprofiles")
}

/// Whether a profile of this key is shared between nodes.
pub fn shared(key: &ProfileKey) -> bool {
    !matches!(key, ProfileKey::Host { .. } | ProfileKey::Unit { .. })
}

/// Counters of the sync, read by the metrics.
#[derive(Debug, Default)]
pub struct ClusterStats {
    /// Merges written to the API.
    pub writes: AtomicU64,
    /// `resourceVersion` conflicts (another node wrote first), each retried.
    pub conflicts: AtomicU64,
    /// Requests that failed otherwise (the change is retried with the next one).
    pub errors: AtomicU64,
    /// Profiles received from the watch.
    pub received: AtomicU64,
    /// Watch failures (a 410 Expired among them: the watcher lists again).
    pub watch_errors: AtomicU64,
}

/// What a node sends: its version of a profile, to merge into the object.
pub type Push = Box<ProfileDoc>;
/// What a node receives: the cluster's version (after a merge or from the
/// watch), to merge into its own.
pub type Remote = Box<ProfileDoc>;

fn to_object(doc: &ProfileDoc, resource_version: Option<String>) -> Result<DynamicObject, serde_json::Error> {
    let mut obj: DynamicObject = serde_json::from_value(serde_json::to_value(doc)?)?;
    obj.metadata.resource_version = resource_version;
    Ok(obj)
}

fn from_object(obj: &DynamicObject) -> Result<ProfileDoc, serde_json::Error> {
    serde_json::from_value(serde_json::to_value(obj)?)
}

fn conflict(e: &KubeError) -> bool {
    matches!(e, KubeError::Api(s) if s.code == 409)
}

/// Merges `local` into its object: created if absent, else read, merged
/// and replaced with the version read; a conflict reads again. Returns the
/// object as written.
pub async fn merge_into(
    client: &Client,
    namespace: &str,
    local: &ProfileDoc,
    max_items: usize,
    stats: &ClusterStats,
) -> Result<ProfileDoc, KubeError> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource());
    let name = local.metadata.name.clone();
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let current = api.get_opt(&name).await?;
        let (merged, rv) = match &current {
            Some(obj) => {
                let mut theirs = from_object(obj).map_err(KubeError::SerdeError)?;
                theirs.merge(local, max_items);
                theirs.metadata.clone_from(&local.metadata);
                (theirs, obj.metadata.resource_version.clone())
            }
            None => (local.clone(), None),
        };
        let mut obj = to_object(&merged, rv).map_err(KubeError::SerdeError)?;
        obj.metadata.namespace = Some(namespace.to_owned());
        let written = match current {
            Some(_) => api.replace(&name, &PostParams::default(), &obj).await,
            None => api.create(&PostParams::default(), &obj).await,
        };
        match written {
            Ok(o) => {
                stats.writes.fetch_add(1, Ordering::Relaxed);
                return from_object(&o).map_err(KubeError::SerdeError);
            }
            Err(e) if conflict(&e) => {
                stats.conflicts.fetch_add(1, Ordering::Relaxed);
                log::debug!("baseline {}: conflict writing {namespace}/{name}, merging again", local.spec.key);
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| KubeError::Service("no attempt made".into())))
}

/// The sync's two tasks: pushes from this node, and the watch of every
/// profile. `namespace` holds image profiles (pods' go to their own).
pub fn spawn(
    client: Client,
    namespace: String,
    max_items: usize,
    mut pushes: mpsc::UnboundedReceiver<Push>,
    remote: std::sync::mpsc::Sender<Remote>,
) -> Arc<ClusterStats> {
    let stats = Arc::new(ClusterStats::default());
    let (c, st, tx) = (client.clone(), stats.clone(), remote.clone());
    tokio::spawn(async move {
        while let Some(doc) = pushes.recv().await {
            let ns = doc.spec.key.namespace().map_or_else(|| namespace.clone(), str::to_owned);
            match merge_into(&c, &ns, &doc, max_items, &st).await {
                Ok(merged) => {
                    if tx.send(Box::new(merged)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    st.errors.fetch_add(1, Ordering::Relaxed);
                    log::warn!("baseline {}: not merged into the cluster's profile: {e}", doc.spec.key);
                }
            }
        }
    });
    let st = stats.clone();
    tokio::spawn(async move {
        let api: Api<DynamicObject> = Api::all_with(client, &resource());
        let stream = watcher::watcher(api, watcher::Config::default().any_semantic()).default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(Event::Apply(obj) | Event::InitApply(obj)) => match from_object(&obj) {
                    Ok(doc) => {
                        st.received.fetch_add(1, Ordering::Relaxed);
                        if remote.send(Box::new(doc)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        st.errors.fetch_add(1, Ordering::Relaxed);
                        log::warn!("baseline: SensorProfile {:?} unreadable: {e}", obj.metadata.name);
                    }
                },
                Ok(_) => {}
                Err(e) => {
                    st.watch_errors.fetch_add(1, Ordering::Relaxed);
                    log::warn!("baseline: SensorProfile watch error (retrying with backoff): {e}");
                }
            }
        }
    });
    stats
}
