//! Container and pod metadata as rules and alerts see it, and the store
//! that fetches it off the hot path: the first event of an unknown
//! container sends one lookup to a background task; events of that
//! container are held (bounded in time and count) until the answer comes,
//! so even a container that execs and exits at once gets its image and pod.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::ContainerRef;

/// Kubernetes metadata of a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodMeta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `Deployment/web`, `DaemonSet/agent`, ...
    pub workload: Option<(String, String)>,
    pub service_account: Option<String>,
}

/// What rules see of a container: the runtime's answer and the pod it
/// runs in (runtime labels merged with the Kubernetes API's view).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerMeta {
    pub container: crate::enrich::runtime::ContainerMeta,
    pub pod: Option<PodMeta>,
}

impl ContainerMeta {
    /// `(repository, tag)` of the image reference (Falco's
    /// `container.image.repository` / `.tag`); a digest-only reference has
    /// no tag.
    pub fn image_parts(&self) -> Option<(&str, Option<&str>)> {
        let image = self.container.image.as_deref()?;
        let no_digest = image.split('@').next().unwrap_or(image);
        // A ':' after the last '/' is a tag; before it, a registry port.
        let slash = no_digest.rfind('/').map_or(0, |i| i + 1);
        Some(match no_digest[slash..].rfind(':') {
            Some(c) => (&no_digest[..slash + c], Some(&no_digest[slash + c + 1..])),
            None => (no_digest, None),
        })
    }
}

/// After this long without an answer a lookup counts as lost.
const PENDING_LIMIT: Duration = Duration::from_secs(10);

/// One lookup answer from the fetcher task.
pub type Answer = (String, Result<ContainerMeta, String>);

enum Entry {
    Known(Arc<ContainerMeta>),
    /// Asked at this instant; no answer yet.
    Pending(Instant),
    /// The runtime did not know it (or failed): retried after a while.
    Failed(Instant),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    pub known: usize,
    pub lookups: u64,
    pub failures: u64,
    /// Events released without metadata because the hold expired or the
    /// queue was full.
    pub released_unresolved: u64,
}

/// Metadata by container id, filled asynchronously.
pub struct MetaStore {
    entries: HashMap<String, Entry>,
    requests: Option<mpsc::UnboundedSender<ContainerRef>>,
    answers: Option<mpsc::UnboundedReceiver<Answer>>,
    retry_after: Duration,
    capacity: usize,
    stats: StoreStats,
}

impl MetaStore {
    /// A store that asks `requests` and reads `answers`; `None` for both in
    /// host mode (no runtime reachable): ids only.
    pub fn new(
        requests: Option<mpsc::UnboundedSender<ContainerRef>>,
        answers: Option<mpsc::UnboundedReceiver<Answer>>,
    ) -> Self {
        Self {
            entries: HashMap::new(),
            requests,
            answers,
            retry_after: Duration::from_secs(30),
            capacity: 16_384,
            stats: StoreStats::default(),
        }
    }

    pub fn stats(&self) -> StoreStats {
        StoreStats { known: self.entries.values().filter(|e| matches!(e, Entry::Known(_))).count(), ..self.stats }
    }

    /// Takes every answer that arrived.
    pub fn poll(&mut self) {
        let Some(rx) = &mut self.answers else { return };
        while let Ok((id, r)) = rx.try_recv() {
            match r {
                Ok(m) => {
                    self.entries.insert(id, Entry::Known(Arc::new(m)));
                }
                Err(e) => {
                    self.stats.failures += 1;
                    log::debug!("container {id}: no metadata: {e}");
                    self.entries.insert(id, Entry::Failed(Instant::now()));
                }
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<ContainerMeta>> {
        match self.entries.get(id)? {
            Entry::Known(m) => Some(m),
            _ => None,
        }
    }

    /// Whether events of `c` should wait for metadata: asks for it on
    /// first sight.
    pub fn wants_wait(&mut self, c: &ContainerRef) -> bool {
        let Some(tx) = &self.requests else { return false };
        match self.entries.get(&c.id) {
            Some(Entry::Known(_)) => false,
            // An answer that never came (fetcher stuck): stop holding.
            Some(Entry::Pending(at)) => at.elapsed() < PENDING_LIMIT,
            Some(Entry::Failed(at)) if at.elapsed() < self.retry_after => false,
            _ => {
                if self.entries.len() >= self.capacity {
                    // Forget failures first, then everything: a refetch is cheap.
                    self.entries.retain(|_, e| matches!(e, Entry::Known(_)));
                    if self.entries.len() >= self.capacity {
                        self.entries.clear();
                    }
                }
                self.stats.lookups += 1;
                if tx.send(c.clone()).is_err() {
                    return false;
                }
                self.entries.insert(c.id.clone(), Entry::Pending(Instant::now()));
                true
            }
        }
    }

    pub fn is_pending(&self, id: &str) -> bool {
        matches!(self.entries.get(id), Some(Entry::Pending(at)) if at.elapsed() < PENDING_LIMIT)
    }
}

/// Events waiting for their container's metadata, in arrival order.
pub struct HoldQueue<T> {
    queue: VecDeque<(Instant, String, T)>,
    pub max_delay: Duration,
    pub max_len: usize,
}

impl<T> HoldQueue<T> {
    pub fn new(max_delay: Duration, max_len: usize) -> Self {
        Self { queue: VecDeque::new(), max_delay, max_len }
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Holds `item`; when full, returns the oldest to release now.
    pub fn push(&mut self, id: String, item: T) -> Option<T> {
        let evicted = if self.queue.len() >= self.max_len { self.queue.pop_front().map(|(_, _, t)| t) } else { None };
        self.queue.push_back((Instant::now(), id, item));
        evicted
    }

    /// Releases, in order, the leading items whose container is no longer
    /// pending or whose hold expired. Order is kept: a ready item behind a
    /// waiting one waits too (one container's events stay in sequence).
    pub fn release(&mut self, store: &MetaStore, now: Instant) -> Vec<(T, bool)> {
        let mut out = Vec::new();
        while let Some((at, id, _)) = self.queue.front() {
            let expired = now.duration_since(*at) >= self.max_delay;
            if store.is_pending(id) && !expired {
                break;
            }
            let resolved = !store.is_pending(id);
            if let Some((_, _, t)) = self.queue.pop_front() {
                out.push((t, resolved));
            }
        }
        out
    }

    /// Everything, at shutdown.
    pub fn drain(&mut self) -> Vec<T> {
        self.queue.drain(..).map(|(_, _, t)| t).collect()
    }
}

#[cfg(test)]
mod tests;
