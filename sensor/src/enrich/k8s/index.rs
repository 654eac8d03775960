//! Thread-safe index of this node's pods, by uid and by container id, that
//! keeps deleted pods resolvable for a grace period.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::meta::{PodMeta, strip_runtime_prefix};

/// Default time a deleted pod stays resolvable.
pub const DEFAULT_GRACE: Duration = Duration::from_mins(1);

/// Shortest container-id prefix accepted by [`PodIndex::by_container_id`]
/// (what `docker ps` / `crictl ps` print).
pub const MIN_CONTAINER_ID_PREFIX: usize = 12;

/// Counters of the watcher and the index. All `Relaxed`: they are statistics.
#[derive(Debug, Default)]
pub struct WatcherStats {
    /// Errors the watch stream reported (failed list/watch, decode errors…).
    pub watch_errors: AtomicU64,
    /// Pods currently live in the index (not deleted).
    pub pods: AtomicU64,
    /// Deleted pods still kept for their grace period.
    pub tombstones: AtomicU64,
    /// Deleted pods dropped after their grace period.
    pub purged: AtomicU64,
    /// Watch events applied (init and live).
    pub events: AtomicU64,
    /// Completed initial lists (1 after start, +1 per re-list).
    pub resyncs: AtomicU64,
    /// True once the first initial list has been applied.
    pub synced: AtomicBool,
}

impl WatcherStats {
    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
    pub fn watch_errors(&self) -> u64 {
        Self::get(&self.watch_errors)
    }
    pub fn pods(&self) -> u64 {
        Self::get(&self.pods)
    }
    pub fn tombstones(&self) -> u64 {
        Self::get(&self.tombstones)
    }
    pub fn purged(&self) -> u64 {
        Self::get(&self.purged)
    }
    pub fn events(&self) -> u64 {
        Self::get(&self.events)
    }
    pub fn resyncs(&self) -> u64 {
        Self::get(&self.resyncs)
    }
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct Entry {
    meta: Arc<PodMeta>,
    /// When the pod was seen deleted.
    deleted_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Inner {
    by_uid: HashMap<String, Entry>,
    /// Container id (full, lower-case, no runtime prefix) → pod uid. Ordered,
    /// so that a prefix lookup is a range scan.
    by_cid: BTreeMap<String, String>,
}

impl Inner {
    fn indexed_ids(meta: &PodMeta) -> impl Iterator<Item = &String> {
        meta.container_ids.iter().chain(&meta.previous_container_ids)
    }

    fn unlink_ids(&mut self, meta: &PodMeta) {
        for id in Self::indexed_ids(meta) {
            if self.by_cid.get(id) == Some(&meta.uid) {
                self.by_cid.remove(id);
            }
        }
    }

    fn counts(&self) -> (u64, u64) {
        let dead = self.by_uid.values().filter(|e| e.deleted_at.is_some()).count();
        let live = self.by_uid.len() - dead;
        (live as u64, dead as u64)
    }
}

/// Cheap to clone; all clones share one index.
#[derive(Clone, Debug)]
pub struct PodIndex {
    inner: Arc<RwLock<Inner>>,
    stats: Arc<WatcherStats>,
    grace: Duration,
}

impl Default for PodIndex {
    fn default() -> Self {
        Self::new(DEFAULT_GRACE)
    }
}

impl PodIndex {
    #[must_use]
    pub fn new(grace: Duration) -> Self {
        Self { inner: Arc::default(), stats: Arc::default(), grace }
    }

    #[must_use]
    pub fn stats(&self) -> &Arc<WatcherStats> {
        &self.stats
    }

    #[must_use]
    pub fn grace(&self) -> Duration {
        self.grace
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps inconsistent
        // in a way that matters for lookups; keep serving.
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn visible(&self, e: &Entry, now: Instant) -> bool {
        e.deleted_at.is_none_or(|t| now.saturating_duration_since(t) < self.grace)
    }

    /// Pod by uid; a deleted pod is returned until its grace period ends.
    #[must_use]
    pub fn by_uid(&self, uid: &str) -> Option<Arc<PodMeta>> {
        self.by_uid_at(uid, Instant::now())
    }

    #[must_use]
    pub fn by_uid_at(&self, uid: &str, now: Instant) -> Option<Arc<PodMeta>> {
        let inner = self.read();
        let e = inner.by_uid.get(uid)?;
        self.visible(e, now).then(|| Arc::clone(&e.meta))
    }

    /// Pod by container id: the full 64-hex id, or a unique prefix of at
    /// least 12 characters. A `containerd://`-style prefix is accepted.
    #[must_use]
    pub fn by_container_id(&self, id: &str) -> Option<Arc<PodMeta>> {
        self.by_container_id_at(id, Instant::now())
    }

    #[must_use]
    pub fn by_container_id_at(&self, id: &str, now: Instant) -> Option<Arc<PodMeta>> {
        let id = strip_runtime_prefix(id);
        if id.len() < MIN_CONTAINER_ID_PREFIX {
            return None;
        }
        let inner = self.read();
        let uid = if let Some(uid) = inner.by_cid.get(&id) {
            uid
        } else {
            let mut range = inner
                .by_cid
                .range::<String, _>((Bound::Included(&id), Bound::Unbounded))
                .take_while(|(k, _)| k.starts_with(id.as_str()));
            let (_, uid) = range.next()?;
            if range.next().is_some() {
                return None; // ambiguous prefix
            }
            uid
        };
        let e = inner.by_uid.get(uid)?;
        self.visible(e, now).then(|| Arc::clone(&e.meta))
    }

    /// All live (not deleted) pods.
    #[must_use]
    pub fn live_pods(&self) -> Vec<Arc<PodMeta>> {
        let inner = self.read();
        inner.by_uid.values().filter(|e| e.deleted_at.is_none()).map(|e| Arc::clone(&e.meta)).collect()
    }

    /// Number of entries, live and deleted-but-kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.read().by_uid.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.read().by_uid.is_empty()
    }

    /// Insert or replace a pod (added or modified). Revives a pod that was
    /// marked deleted (seen again after a re-list).
    pub fn upsert(&self, meta: PodMeta) {
        let meta = Arc::new(meta);
        let mut inner = self.write();
        if let Some(old) = inner.by_uid.remove(&meta.uid) {
            inner.unlink_ids(&old.meta);
        }
        for id in Inner::indexed_ids(&meta) {
            inner.by_cid.insert(id.clone(), meta.uid.clone());
        }
        inner.by_uid.insert(meta.uid.clone(), Entry { meta, deleted_at: None });
        self.update_gauges(&inner);
    }

    /// Mark a pod deleted: it stays resolvable for the grace period. If the
    /// deletion carries the final state of the pod, it replaces the stored one.
    pub fn mark_deleted(&self, uid: &str, final_state: Option<PodMeta>, now: Instant) {
        let mut inner = self.write();
        if let Some(meta) = final_state {
            if let Some(old) = inner.by_uid.remove(uid) {
                inner.unlink_ids(&old.meta);
            }
            let meta = Arc::new(meta);
            for id in Inner::indexed_ids(&meta) {
                inner.by_cid.insert(id.clone(), meta.uid.clone());
            }
            inner.by_uid.insert(uid.to_owned(), Entry { meta, deleted_at: Some(now) });
        } else if let Some(e) = inner.by_uid.get_mut(uid) {
            e.deleted_at.get_or_insert(now);
        }
        self.update_gauges(&inner);
    }

    /// After a complete (re-)list: every live pod whose uid is not in
    /// `listed` was deleted while we were not watching.
    #[must_use]
    pub fn retain_listed(&self, listed: &HashSet<String>, now: Instant) -> usize {
        let mut inner = self.write();
        let mut n = 0;
        for (uid, e) in &mut inner.by_uid {
            if e.deleted_at.is_none() && !listed.contains(uid) {
                e.deleted_at = Some(now);
                n += 1;
            }
        }
        self.update_gauges(&inner);
        n
    }

    /// Drop deleted pods whose grace period has ended. Returns how many.
    #[must_use]
    pub fn purge_expired(&self, now: Instant) -> usize {
        let mut inner = self.write();
        let expired: Vec<String> =
            inner.by_uid.iter().filter(|(_, e)| !self.visible(e, now)).map(|(uid, _)| uid.clone()).collect();
        for uid in &expired {
            if let Some(e) = inner.by_uid.remove(uid) {
                inner.unlink_ids(&e.meta);
            }
        }
        self.stats.purged.fetch_add(expired.len() as u64, Ordering::Relaxed);
        self.update_gauges(&inner);
        expired.len()
    }

    fn update_gauges(&self, inner: &Inner) {
        let (live, dead) = inner.counts();
        self.stats.pods.store(live, Ordering::Relaxed);
        self.stats.tombstones.store(dead, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(uid: &str, ids: &[&str]) -> PodMeta {
        PodMeta {
            uid: uid.into(),
            name: format!("pod-{uid}"),
            namespace: "ns".into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            service_account: None,
            node_name: None,
            pod_ip: None,
            pod_ips: Vec::new(),
            host_network: false,
            phase: None,
            workload: None,
            container_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
            containers: Vec::new(),
            previous_container_ids: Vec::new(),
            start_time: None,
        }
    }

    const A: &str = "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111";
    const A2: &str = "aaaaaaaaaaaa2222222222222222222222222222222222222222222222222222";
    const B: &str = "bbbbbbbbbbbb1111111111111111111111111111111111111111111111111111";

    #[test]
    fn lookups_full_prefix_and_ambiguous() {
        let idx = PodIndex::new(Duration::from_mins(1));
        idx.upsert(pod("u1", &[A]));
        idx.upsert(pod("u2", &[A2, B]));
        assert_eq!(idx.by_container_id(A).unwrap().uid, "u1");
        assert_eq!(idx.by_container_id(&format!("containerd://{A}")).unwrap().uid, "u1");
        assert_eq!(idx.by_container_id(&B[..12]).unwrap().uid, "u2");
        assert_eq!(idx.by_container_id(&A2[..13]).unwrap().uid, "u2");
        // Shared 12-char prefix: ambiguous, no answer.
        assert!(idx.by_container_id(&A[..12]).is_none());
        // Too short.
        assert!(idx.by_container_id(&B[..11]).is_none());
        assert!(idx.by_container_id("").is_none());
        assert_eq!(idx.by_uid("u2").unwrap().name, "pod-u2");
        assert!(idx.by_uid("nope").is_none());
        assert_eq!(idx.stats().pods(), 2);
    }

    #[test]
    fn update_relinks_container_ids() {
        let idx = PodIndex::new(Duration::from_mins(1));
        idx.upsert(pod("u1", &[A]));
        idx.upsert(pod("u1", &[B]));
        assert!(idx.by_container_id(A).is_none());
        assert_eq!(idx.by_container_id(B).unwrap().uid, "u1");
        assert_eq!(idx.len(), 1);
    }

    #[test]
    fn grace_then_purge() {
        let idx = PodIndex::new(Duration::from_mins(1));
        let t0 = Instant::now();
        idx.upsert(pod("u1", &[A]));
        idx.mark_deleted("u1", None, t0);
        assert_eq!(idx.stats().pods(), 0);
        assert_eq!(idx.stats().tombstones(), 1);
        let t1 = t0 + Duration::from_secs(59);
        assert!(idx.by_uid_at("u1", t1).is_some());
        assert!(idx.by_container_id_at(A, t1).is_some());
        assert_eq!(idx.purge_expired(t1), 0);
        let t2 = t0 + Duration::from_mins(1);
        assert!(idx.by_uid_at("u1", t2).is_none(), "hidden once grace is over");
        assert_eq!(idx.purge_expired(t2), 1);
        assert_eq!(idx.stats().purged(), 1);
        assert!(idx.is_empty());
        assert!(idx.by_container_id_at(A, t0).is_none(), "id unlinked on purge");
    }

    #[test]
    fn relist_marks_missing_and_revives() {
        let idx = PodIndex::new(Duration::from_mins(1));
        let t0 = Instant::now();
        idx.upsert(pod("u1", &[A]));
        idx.upsert(pod("u2", &[B]));
        let listed: HashSet<String> = ["u2".to_owned()].into();
        assert_eq!(idx.retain_listed(&listed, t0), 1);
        assert_eq!(idx.stats().pods(), 1);
        assert!(idx.by_uid_at("u1", t0 + Duration::from_secs(61)).is_none());
        // Seen again: revived.
        idx.upsert(pod("u1", &[A]));
        assert!(idx.by_uid_at("u1", t0 + Duration::from_secs(61)).is_some());
        assert_eq!(idx.purge_expired(t0 + Duration::from_mins(2)), 0);
    }
}
