//! Learned behavioural baselines: a detection stage beside the rules.
//!
//! Each event a profile records (an exec, a write, a sensitive read, a
//! connect, a listen, a rare syscall) is generalised into an item and
//! looked up in its workload's profile. A learning profile learns it; an
//! enforcing one marks it as a deviation. The verdict is handed to the
//! rules as fields (`baseline.*`, `proc.is_baseline`, `fd.is_baseline`):
//! the deviation alerts are rules (`rules/70_baseline.yaml`), so they go
//! through the same outputs and storm control, and authors can combine
//! both.

pub mod cluster;
pub mod item;
pub mod key;
pub mod profile;
pub mod review;
pub mod store;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use log::{info, warn};

use crate::detect::fields::EventFields;
use crate::rules::time::format_rfc3339;
use item::{Item, ItemKind};
use key::ProfileKey;
use profile::{Mode, ProfileDoc};
use store::{FromStore, ToStore};

#[derive(Clone, Debug)]
pub struct BaselineConfig {
    /// Where profiles persist; `None`: memory only.
    pub dir: Option<PathBuf>,
    /// Watched time before a profile enforces.
    pub learn_for: Duration,
    /// Events a profile must have seen before it enforces.
    pub min_events: u64,
    /// Profiles held; events of further workloads are counted, not learned.
    pub max_profiles: usize,
    /// Items per list of one profile.
    pub max_items: usize,
    /// Profiles of host processes too (else containers only).
    pub hosts: bool,
    /// How often changed profiles are written and the directory is checked
    /// for edits.
    pub flush_every: Duration,
    /// How often changed profiles are merged into the cluster's.
    pub share_every: Duration,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        Self {
            dir: None,
            learn_for: Duration::from_secs(24 * 3600),
            min_events: 1000,
            max_profiles: 4096,
            max_items: 512,
            hosts: true,
            flush_every: Duration::from_secs(5),
            share_every: Duration::from_secs(30),
        }
    }
}

/// What the baseline says about one event, for the rules.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub key: Arc<str>,
    pub mode: Mode,
    pub unstable: bool,
    pub item: Item,
    /// The profile knew the item before this event.
    pub known: bool,
    /// The process itself (its executable with its parent's) is in the
    /// profile that records its exec.
    pub proc_known: Option<bool>,
}

impl Verdict {
    /// `baseline.status`: the mode, or `unstable`.
    pub fn status(&self) -> &'static str {
        if self.unstable { "unstable" } else { self.mode.as_str() }
    }
}

/// Counters for the metrics.
#[derive(Clone, Debug, Default)]
pub struct BaselineStats {
    pub profiles: usize,
    pub learning: usize,
    pub enforcing: usize,
    pub items_learned: u64,
    pub deviations: u64,
    /// Workloads not profiled because [`BaselineConfig::max_profiles`] were held.
    pub profiles_dropped: u64,
    /// Items not learned because their list was full.
    pub overflow: u64,
    pub store_errors: u64,
    /// Merges written to the cluster's profiles, conflicts retried, failures.
    pub cluster_writes: u64,
    pub cluster_conflicts: u64,
    pub cluster_errors: u64,
    pub cluster_watch_errors: u64,
}

struct Profile {
    doc: ProfileDoc,
    /// Event time since which this agent watches it (unset until its first
    /// event after a load); learned time is folded into the document at
    /// each flush.
    watch_since: Option<u64>,
    dirty: bool,
    /// Changed since it was last merged into the cluster's object.
    unshared: bool,
    /// `status.events` as last written: a count that is all that changed is
    /// written at shutdown only (not a file write per profile every 5 s).
    events_written: u64,
}

impl Profile {
    fn learned_ns(&self, now: u64) -> u64 {
        let watched = self.watch_since.map_or(0, |w| now.saturating_sub(w));
        self.doc.status.learned_seconds.saturating_mul(1_000_000_000).saturating_add(watched)
    }

    fn fold_time(&mut self, now: u64) {
        let Some(w) = self.watch_since else { return };
        let s = now.saturating_sub(w) / 1_000_000_000;
        if s > 0 {
            self.doc.status.learned_seconds += s;
            self.watch_since = Some(w + s * 1_000_000_000);
            self.dirty = true;
        }
    }
}

/// The profile key of a process's events, worked out once per process view
/// (and once more for its exec, which belongs to its parent's profile).
struct KeyInfo {
    key: ProfileKey,
    text: Arc<str>,
    /// Derived with pod metadata: a later event with it recomputes.
    had_pod: bool,
    /// The profile that records this process's exec, and its item there.
    exec_key: ProfileKey,
    exec_item: String,
    /// `proc.is_baseline` as of an exec generation: `generation << 2 | v`,
    /// v = 0 unknown, 1 false, 2 true; `u64::MAX`: not computed.
    proc_known: std::sync::atomic::AtomicU64,
}

impl KeyInfo {
    fn proc_known(&self, generation: u64, compute: impl FnOnce() -> Option<bool>) -> Option<bool> {
        use std::sync::atomic::Ordering::Relaxed;
        let c = self.proc_known.load(Relaxed);
        if c != u64::MAX && c >> 2 == generation {
            return match c & 3 {
                1 => Some(false),
                2 => Some(true),
                _ => None,
            };
        }
        let v = compute();
        let bits = match v {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        self.proc_known.store(generation << 2 | bits, Relaxed);
        v
    }
}

/// Processes whose keys are cached: the entry holds the view, so its
/// address cannot be reused by another process while cached.
const KEY_CACHE: usize = 1024;

type ViewKey = (usize, bool);

pub struct Baselines {
    cfg: BaselineConfig,
    profiles: HashMap<ProfileKey, Profile, foldhash::fast::RandomState>,
    keys: lru::LruCache<ViewKey, (Arc<crate::event::process_view::SharedView>, Arc<KeyInfo>)>,
    /// Agent start, ns since the epoch: a workload older is `started_before_agent`.
    started_ns: u64,
    boot_to_unix_ns: i128,
    last_flush: u64,
    /// Latest event time seen: learned time is counted in event time, so a
    /// replay of recorded events learns as the live stream did.
    last_ts: u64,
    /// Bumped whenever an exec list may have changed (cached
    /// `proc.is_baseline` answers are then recomputed).
    exec_generation: u64,
    to_store: Option<mpsc::Sender<ToStore>>,
    from_store: Option<mpsc::Receiver<FromStore>>,
    cluster: Option<Cluster>,
    pub stats: BaselineStats,
}

/// The link to the cluster sync (see [`cluster`]).
struct Cluster {
    push: tokio::sync::mpsc::UnboundedSender<cluster::Push>,
    remote: mpsc::Receiver<cluster::Remote>,
    stats: Arc<cluster::ClusterStats>,
    /// The cluster's profiles of workloads this node has not seen (yet):
    /// a new replica starts from them.
    known: HashMap<ProfileKey, ProfileDoc, foldhash::fast::RandomState>,
    last_push: u64,
}

impl Baselines {
    /// Loads the profiles of `cfg.dir` and starts its store thread.
    pub fn open(cfg: BaselineConfig, boot_to_unix_ns: i128) -> Result<Self, store::StoreError> {
        let started_ns =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let mut b = Self {
            cfg,
            profiles: HashMap::default(),
            keys: lru::LruCache::new(NonZeroUsize::new(KEY_CACHE).unwrap_or(NonZeroUsize::MIN)),
            started_ns,
            boot_to_unix_ns,
            last_flush: 0,
            last_ts: 0,
            exec_generation: 0,
            to_store: None,
            from_store: None,
            cluster: None,
            stats: BaselineStats::default(),
        };
        if let Some(dir) = b.cfg.dir.clone() {
            let (docs, errors) = store::load_dir(&dir)?;
            for e in errors {
                b.stats.store_errors += 1;
                warn!("baseline: {e}");
            }
            let mut known = Vec::new();
            for (doc, stamp) in docs {
                known.push((doc.metadata.name.clone(), stamp));
                b.insert_loaded(doc);
            }
            info!("baseline: {} profiles loaded from {}", b.profiles.len(), dir.display());
            let (tx, rx) = mpsc::channel();
            let (btx, brx) = mpsc::channel();
            std::thread::Builder::new()
                .name("baseline-store".into())
                .spawn(move || store::run(&dir, known, &rx, &btx))
                .map_err(|source| store::StoreError::Dir { path: b.cfg.dir.clone().unwrap_or_default(), source })?;
            b.to_store = Some(tx);
            b.from_store = Some(brx);
        }
        b.update_stats();
        Ok(b)
    }

    fn insert_loaded(&mut self, doc: ProfileDoc) {
        let key = doc.spec.key.clone();
        let events_written = doc.status.events;
        self.profiles.insert(key, Profile { doc, watch_since: None, dirty: false, unshared: false, events_written });
    }

    pub fn config(&self) -> &BaselineConfig {
        &self.cfg
    }

    /// Kernel events were lost: every learning profile may miss items.
    pub fn note_loss(&mut self, count: u64) {
        for p in self.profiles.values_mut().filter(|p| p.doc.spec.mode == Mode::Learning) {
            p.doc.status.lost_events += count;
            p.dirty = true;
        }
    }

    /// The cached key of the event's process (computed on a miss).
    fn key_info(&mut self, f: &EventFields<'_>) -> Option<Arc<KeyInfo>> {
        let view = f.ev.proc.as_ref()?;
        let is_exec = f.ev.kind.op() == crate::event::Op::Execve;
        let has_pod = f.meta.is_some_and(|m| m.pod.is_some());
        let vk = (Arc::as_ptr(view) as usize, is_exec);
        if let Some((_, k)) = self.keys.get(&vk)
            && k.had_pod == has_pod
        {
            return Some(k.clone());
        }
        let key = key::of_event(f)?;
        let v = &view.view;
        let exe = v.exepath.as_deref().unwrap_or(&v.exe);
        let parent = v.ancestors.first().map_or("", |a| a.exepath.as_deref().unwrap_or(&a.exe));
        let exec_key = match &key {
            ProfileKey::Host { .. } => {
                let gp = v.ancestors.get(1).map_or("", |a| a.exepath.as_deref().unwrap_or(&a.exe));
                ProfileKey::Host { exe: parent.to_owned(), parent: gp.to_owned() }
            }
            k => k.clone(),
        };
        let info = Arc::new(KeyInfo {
            text: key.to_string().into(),
            key,
            had_pod: has_pod,
            exec_key,
            exec_item: item::exec_text(exe, parent),
            proc_known: std::sync::atomic::AtomicU64::new(u64::MAX),
        });
        self.keys.put(vk, (view.clone(), info.clone()));
        Some(info)
    }

    /// A new profile for `key`: what the cluster knows of it, else empty.
    /// `false` when the profile table is full (counted).
    fn create(&mut self, key: &ProfileKey, f: &EventFields<'_>, now: u64) -> bool {
        if self.profiles.len() >= self.cfg.max_profiles {
            self.stats.profiles_dropped += 1;
            return false;
        }
        let started_before = f.ev.proc.as_deref().is_some_and(|v| {
            v.start_ns > 0 && (i128::from(v.start_ns) + self.boot_to_unix_ns) < i128::from(self.started_ns)
        });
        // What the other nodes learned of this workload, if anything.
        let doc = if let Some(doc) = self.cluster.as_mut().and_then(|c| c.known.remove(key)) {
            info!("baseline {key}: starts from the cluster's profile ({})", doc.spec.mode.as_str());
            self.exec_generation += 1;
            doc
        } else {
            let mut doc = ProfileDoc::new(key.clone());
            doc.status.first_seen = Some(format_rfc3339(now));
            doc.status.started_before_agent = started_before;
            doc
        };
        self.profiles.insert(
            key.clone(),
            Profile { doc, watch_since: Some(now), dirty: true, unshared: true, events_written: 0 },
        );
        true
    }

    /// Learns or checks the event's item; `None` for events no profile records.
    pub fn observe(&mut self, f: &EventFields<'_>) -> Option<Verdict> {
        if !item::candidate(f) {
            return None;
        }
        let it = item::of_event(f)?;
        let info = self.key_info(f)?;
        if !self.cfg.hosts && matches!(info.key, ProfileKey::Host { .. } | ProfileKey::Unit { .. }) {
            return None;
        }
        let key = &info.key;
        let now = f.ev.ts;
        self.last_ts = self.last_ts.max(now);
        // Whether the process is in the profile that records its exec; for
        // an exec, the verdict on the item itself says it. Cached per
        // process until any exec list changes.
        let proc_known = if it.kind == ItemKind::Exec {
            None
        } else {
            info.proc_known(self.exec_generation, || {
                self.profiles.get(&info.exec_key).map(|p| p.doc.spec.exec.contains(&info.exec_item))
            })
        };
        let max_items = self.cfg.max_items;
        if !self.profiles.contains_key(key) && !self.create(key, f, now) {
            return None;
        }
        let (learn_for, min_events) = (self.cfg.learn_for.as_nanos() as u64, self.cfg.min_events);
        let p = self.profiles.get_mut(key)?;
        p.watch_since = Some(p.watch_since.map_or(now, |w| w.min(now)));
        p.doc.status.events += 1;
        let known = p.doc.knows(&it);
        match p.doc.spec.mode {
            Mode::Learning => {
                if !known {
                    if it.kind == ItemKind::Exec {
                        self.exec_generation += 1;
                    }
                    if p.doc.learn(&it, max_items) {
                        self.stats.items_learned += 1;
                        p.doc.status.last_new_item = Some(format_rfc3339(now));
                    } else {
                        self.stats.overflow += 1;
                    }
                    p.dirty = true;
                    p.unshared = true;
                }
                if p.learned_ns(now) >= learn_for && p.doc.status.events >= min_events {
                    p.fold_time(now);
                    p.doc.spec.mode = Mode::Enforcing;
                    p.dirty = true;
                    p.unshared = true;
                    info!(
                        "baseline {}: enforcing after {} s and {} events, {} items",
                        key,
                        p.doc.status.learned_seconds,
                        p.doc.status.events,
                        p.doc.spec.items()
                    );
                }
            }
            Mode::Enforcing | Mode::Approved => {
                if !known {
                    let was = p.doc.status.unstable;
                    p.doc.deviate(&it);
                    self.stats.deviations += 1;
                    p.dirty = true;
                    p.unshared = true;
                    if p.doc.status.unstable && !was {
                        warn!(
                            "baseline {key}: unstable, {} distinct deviations since it enforces; re-learn it (sensor baseline reset) or approve what it saw",
                            p.doc.status.recent_deviations.len()
                        );
                    }
                }
            }
        }
        let proc_known = if it.kind == ItemKind::Exec { Some(known) } else { proc_known };
        Some(Verdict {
            key: info.text.clone(),
            mode: p.doc.spec.mode,
            unstable: p.doc.status.unstable,
            item: it,
            known,
            proc_known,
        })
    }

    /// Writes changed profiles and applies edits made on disk; at most once
    /// per [`BaselineConfig::flush_every`] of the wall clock (`wall_ns`)
    /// unless `force`.
    pub fn tick(&mut self, wall_ns: u64, force: bool) {
        if !force && wall_ns.saturating_sub(self.last_flush) < self.cfg.flush_every.as_nanos() as u64 {
            return;
        }
        self.drain_store();
        self.last_flush = wall_ns;
        let now = self.last_ts;
        for p in self.profiles.values_mut() {
            if p.doc.spec.mode == Mode::Learning {
                p.fold_time(now);
            }
            if force && p.doc.status.events != p.events_written {
                p.dirty = true;
            }
        }
        self.share(wall_ns, force);
        if let Some(tx) = &self.to_store {
            for p in self.profiles.values_mut().filter(|p| p.dirty) {
                match store::encode(&p.doc) {
                    Ok(text) => {
                        if tx.send(ToStore::Save(p.doc.metadata.name.clone(), text)).is_ok() {
                            p.dirty = false;
                            p.events_written = p.doc.status.events;
                        }
                    }
                    Err(e) => {
                        self.stats.store_errors += 1;
                        warn!("baseline: {e}");
                    }
                }
            }
            let _ = tx.send(ToStore::Scan);
        }
        self.update_stats();
    }

    /// Shares profiles through the cluster: sends the changed ones for a
    /// merge (every [`BaselineConfig::share_every`]) and folds in what came back.
    pub fn attach_cluster(
        &mut self,
        push: tokio::sync::mpsc::UnboundedSender<cluster::Push>,
        remote: mpsc::Receiver<cluster::Remote>,
        stats: Arc<cluster::ClusterStats>,
    ) {
        self.cluster = Some(Cluster { push, remote, stats, known: HashMap::default(), last_push: 0 });
    }

    fn share(&mut self, wall_ns: u64, force: bool) {
        let Some(c) = &mut self.cluster else { return };
        let received: Vec<cluster::Remote> = c.remote.try_iter().collect();
        for doc in received {
            let key = doc.spec.key.clone();
            match self.profiles.get_mut(&key) {
                // An approved profile is frozen: only another approval (a
                // person's, on the object) replaces it.
                Some(p) if p.doc.spec.mode == Mode::Approved => {
                    if doc.spec.mode == Mode::Approved && doc.spec != p.doc.spec {
                        p.doc.spec = doc.spec.clone();
                        p.dirty = true;
                        self.exec_generation += 1;
                    }
                }
                Some(p) => {
                    let before = (p.doc.spec.items(), p.doc.spec.mode);
                    p.doc.merge(&doc, self.cfg.max_items);
                    if (p.doc.spec.items(), p.doc.spec.mode) != before {
                        log::debug!("baseline {key}: merged the cluster's profile ({} items)", p.doc.spec.items());
                        p.dirty = true;
                        self.exec_generation += 1;
                    }
                }
                None if c.known.len() < self.cfg.max_profiles || c.known.contains_key(&key) => {
                    c.known.insert(key, *doc);
                }
                None => self.stats.profiles_dropped += 1,
            }
        }
        if !force && wall_ns.saturating_sub(c.last_push) < self.cfg.share_every.as_nanos() as u64 {
            return;
        }
        c.last_push = wall_ns;
        for p in self.profiles.values_mut().filter(|p| p.unshared && cluster::shared(&p.doc.spec.key)) {
            if c.push.send(Box::new(p.doc.clone())).is_ok() {
                p.unshared = false;
            }
        }
    }

    fn drain_store(&mut self) {
        let Some(rx) = &self.from_store else { return };
        let msgs: Vec<FromStore> = rx.try_iter().collect();
        for m in msgs {
            match m {
                FromStore::Saved(..) => {}
                FromStore::Changed(doc, _) => {
                    self.exec_generation += 1;
                    info!("baseline {}: changed on disk ({}), taken over", doc.spec.key, doc.spec.mode.as_str());
                    let key = doc.spec.key.clone();
                    let since = self.profiles.get(&key).and_then(|p| p.watch_since);
                    let events_written = doc.status.events;
                    self.profiles.insert(
                        key,
                        Profile { doc: *doc, watch_since: since, dirty: false, unshared: true, events_written },
                    );
                }
                FromStore::Removed(name) => {
                    self.exec_generation += 1;
                    let gone: Vec<ProfileKey> = self
                        .profiles
                        .iter()
                        .filter(|(_, p)| p.doc.metadata.name == name)
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in gone {
                        info!("baseline {k}: removed on disk, learning again");
                        self.profiles.remove(&k);
                    }
                }
                FromStore::Failed(e) => {
                    self.stats.store_errors += 1;
                    warn!("baseline: {e}");
                }
            }
        }
    }

    fn update_stats(&mut self) {
        if let Some(c) = &self.cluster {
            use std::sync::atomic::Ordering::Relaxed;
            self.stats.cluster_writes = c.stats.writes.load(Relaxed);
            self.stats.cluster_conflicts = c.stats.conflicts.load(Relaxed);
            self.stats.cluster_errors = c.stats.errors.load(Relaxed);
            self.stats.cluster_watch_errors = c.stats.watch_errors.load(Relaxed);
        }
        self.stats.profiles = self.profiles.len();
        self.stats.learning = self.profiles.values().filter(|p| p.doc.spec.mode == Mode::Learning).count();
        self.stats.enforcing = self.stats.profiles - self.stats.learning;
    }

    /// Writes everything (at shutdown) and waits for the store thread.
    pub fn close(&mut self, now: u64) {
        self.tick(now, true);
        if let Some(tx) = self.to_store.take() {
            drop(tx);
        }
        // The store thread ends when the channel closes; its last replies
        // say whether the writes succeeded.
        if let Some(rx) = self.from_store.take() {
            while let Ok(m) = rx.recv_timeout(Duration::from_secs(5)) {
                if let FromStore::Failed(e) = m {
                    self.stats.store_errors += 1;
                    warn!("baseline: {e}");
                }
            }
        }
    }

    /// The profile of a key (tests, review).
    pub fn profile(&self, key: &ProfileKey) -> Option<&ProfileDoc> {
        self.profiles.get(key).map(|p| &p.doc)
    }
}
