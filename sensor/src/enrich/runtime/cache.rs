//! TTL cache with single-flight: concurrent lookups of one id share one fetch.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::ContainerMeta;

/// Cache settings.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// How long found metadata is kept.
    pub positive_ttl: Duration,
    /// How long "not found" / "runtime failed" is kept.
    pub negative_ttl: Duration,
    /// Max entries; when full, expired entries are dropped, then everything.
    pub capacity: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self { positive_ttl: Duration::from_mins(5), negative_ttl: Duration::from_secs(5), capacity: 8192 }
    }
}

/// A cached outcome.
#[derive(Debug, Clone)]
pub(crate) enum Cached {
    Found(Arc<ContainerMeta>),
    NotFound,
    Failed(String),
}

type Slot = Arc<OnceCell<(Instant, Cached)>>;

#[derive(Debug)]
pub(crate) struct MetaCache {
    config: CacheConfig,
    slots: Mutex<HashMap<String, Slot>>,
}

impl MetaCache {
    pub(crate) fn new(config: CacheConfig) -> Self {
        Self { config, slots: Mutex::new(HashMap::new()) }
    }

    fn expired(&self, slot: &Slot, now: Instant) -> bool {
        slot.get().is_some_and(|(at, v)| {
            let ttl = match v {
                Cached::Found(_) => self.config.positive_ttl,
                Cached::NotFound | Cached::Failed(_) => self.config.negative_ttl,
            };
            now.duration_since(*at) >= ttl
        })
    }

    /// Returns the cached value or runs `fetch` (once for all concurrent callers).
    /// The flag is true when this call ran the fetch.
    pub(crate) async fn get_or_fetch<F, Fut>(&self, id: &str, fetch: F) -> (Cached, bool)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Cached>,
    {
        let slot = {
            let now = Instant::now();
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            match slots.get(id) {
                Some(s) if !self.expired(s, now) => Arc::clone(s),
                _ => {
                    if slots.len() >= self.config.capacity {
                        slots.retain(|_, s| s.get().is_none() || !self.expired(s, now));
                        if slots.len() >= self.config.capacity {
                            slots.clear();
                        }
                    }
                    let s = Slot::default();
                    slots.insert(id.to_owned(), Arc::clone(&s));
                    s
                }
            }
        };
        let mut ran = false;
        let (_, v) = slot
            .get_or_init(|| {
                ran = true;
                async { (Instant::now(), fetch().await) }
            })
            .await;
        (v.clone(), ran)
    }

    /// Drops one id (e.g. on container exit).
    pub(crate) fn invalidate(&self, id: &str) {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}
