//! The task that watches this node's pods and keeps a [`PodIndex`] current.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::task::JoinHandle;

use super::K8sError;
use super::env::{client_from_env, node_name_from_env};
use super::index::PodIndex;
use super::meta::{OwnerLookup, PodMeta};

/// Options of [`PodWatcher::spawn`].
#[derive(Clone)]
pub struct WatcherConfig {
    /// This node's name: the watch asks for `spec.nodeName=<node_name>` only.
    pub node_name: String,
    /// How long a deleted pod stays resolvable.
    pub grace: Duration,
    /// Optional Job → `CronJob` lookup; see [`super::meta::resolve_workload`].
    pub owner_lookup: Option<OwnerLookup>,
}

impl std::fmt::Debug for WatcherConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatcherConfig")
            .field("node_name", &self.node_name)
            .field("grace", &self.grace)
            .field("owner_lookup", &self.owner_lookup.is_some())
            .finish()
    }
}

/// Watches `/api/v1/pods?fieldSelector=spec.nodeName=<node>` (list, then
/// watch from the list's resourceVersion; re-list on expiry) through
/// `kube::runtime::watcher`, with kube's default exponential backoff
/// (0.8 s doubling to 30 s, reset after 120 s of health) between failures.
pub struct PodWatcher;

impl PodWatcher {
    /// Start watching in a detached task; returns the index it fills.
    /// Must be called within a Tokio runtime.
    #[must_use]
    pub fn start(client: Client, node_name: String, grace: Duration) -> PodIndex {
        let (index, _task) = Self::spawn(client, WatcherConfig { node_name, grace, owner_lookup: None });
        index
    }

    /// Credentials and node name from the environment ([`client_from_env`],
    /// [`node_name_from_env`]), then [`PodWatcher::start`]. `Ok(None)` is
    /// host mode, which this logs (once: call it once).
    ///
    /// # Errors
    /// Credentials present but unusable, or no node name.
    pub async fn start_from_env(grace: Duration) -> Result<Option<PodIndex>, K8sError> {
        let Some(client) = client_from_env().await? else {
            log::info!(
                "k8s: no cluster credentials (KUBECONFIG unset, no in-cluster service account): \
                 host mode, events carry no pod metadata"
            );
            return Ok(None);
        };
        let node = node_name_from_env()?;
        Ok(Some(Self::start(client, node, grace)))
    }

    /// Start watching; returns the index and the task (abort it to stop).
    /// Must be called within a Tokio runtime.
    #[must_use]
    pub fn spawn(client: Client, config: WatcherConfig) -> (PodIndex, JoinHandle<()>) {
        let index = PodIndex::new(config.grace);
        let task = tokio::spawn(run(client, config, index.clone()));
        (index, task)
    }
}

/// How often expired tombstones are dropped: a quarter of the grace period,
/// between 10 ms and 5 s. Lookups hide expired pods even between sweeps.
fn sweep_interval(grace: Duration) -> Duration {
    (grace / 4).clamp(Duration::from_millis(10), Duration::from_secs(5))
}

/// Field selector for the pods of one node.
#[must_use]
pub fn node_field_selector(node_name: &str) -> String {
    format!("spec.nodeName={node_name}")
}

async fn run(client: Client, config: WatcherConfig, index: PodIndex) {
    let api: Api<Pod> = Api::all(client);
    // `any_semantic` + no paging: list with resourceVersion=0, served from
    // the API server's watch cache instead of etcd (kube drops rv=0 when a
    // limit is set). With one agent per node re-listing at once, quorum
    // lists from etcd are what hurts; one node's pods fit in one page.
    let mut wc = watcher::Config::default().fields(&node_field_selector(&config.node_name)).any_semantic();
    wc.page_size = None;
    let stats = std::sync::Arc::clone(index.stats());
    let mut applier = Applier { index: &index, lookup: config.owner_lookup.as_ref(), listing: None };
    let mut sweep = tokio::time::interval(sweep_interval(config.grace));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    log::info!("k8s: watching pods of node {:?} (deleted pods kept {:?})", config.node_name, config.grace);
    // `watcher` retries forever on its own; the outer loop only guards against
    // the stream ever ending.
    loop {
        let stream = watcher::watcher(api.clone(), wc.clone()).default_backoff();
        let mut stream = std::pin::pin!(stream);
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(Ok(event)) => {
                        stats.events.fetch_add(1, Ordering::Relaxed);
                        applier.apply(event, Instant::now());
                    }
                    Some(Err(err)) => {
                        let n = stats.watch_errors.fetch_add(1, Ordering::Relaxed) + 1;
                        log::warn!("k8s: pod watch error #{n} (retrying with backoff): {err}");
                    }
                    None => break,
                },
                _ = sweep.tick() => {
                    let n = index.purge_expired(Instant::now());
                    if n > 0 {
                        log::debug!("k8s: purged {n} deleted pod(s) after grace period");
                    }
                }
            }
        }
        log::warn!("k8s: pod watch stream ended; restarting");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Applies watcher events to the index.
struct Applier<'a> {
    index: &'a PodIndex,
    lookup: Option<&'a OwnerLookup>,
    /// Uids seen since the last `Init`, while a (re-)list is in progress.
    listing: Option<HashSet<String>>,
}

impl Applier<'_> {
    fn meta(&self, pod: &Pod) -> Option<PodMeta> {
        let meta = PodMeta::from_pod(pod, self.lookup);
        if meta.is_none() {
            log::debug!("k8s: ignoring pod object without uid");
        }
        meta
    }

    fn apply(&mut self, event: Event<Pod>, now: Instant) {
        match event {
            Event::Init => self.listing = Some(HashSet::new()),
            Event::InitApply(pod) => {
                if let Some(meta) = self.meta(&pod) {
                    if let Some(seen) = &mut self.listing {
                        seen.insert(meta.uid.clone());
                    }
                    self.index.upsert(meta);
                }
            }
            Event::InitDone => {
                let seen = self.listing.take().unwrap_or_default();
                let gone = self.index.retain_listed(&seen, now);
                let stats = self.index.stats();
                stats.resyncs.fetch_add(1, Ordering::Relaxed);
                if !stats.synced.swap(true, Ordering::Relaxed) {
                    log::info!("k8s: initial pod list: {} pod(s) on this node", seen.len());
                } else if gone > 0 {
                    log::info!("k8s: re-list: {gone} pod(s) deleted while not watching");
                }
            }
            Event::Apply(pod) => {
                if let Some(meta) = self.meta(&pod) {
                    self.index.upsert(meta);
                }
            }
            Event::Delete(pod) => {
                if let Some(meta) = self.meta(&pod) {
                    let uid = meta.uid.clone();
                    self.index.mark_deleted(&uid, Some(meta), now);
                }
            }
        }
    }
}
