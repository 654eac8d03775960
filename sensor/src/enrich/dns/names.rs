//! Address → name, per cgroup, learned from the answers a cgroup's
//! processes received: the same address can be `api.example.com` for one
//! container and nothing for another. Entries live for the answer's TTL,
//! at least [`MIN_KEEP_S`]; the map is bounded over all cgroups.

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

/// Shortest time an answer is kept, seconds. Programs keep using an
/// address after a short TTL runs out (Kubernetes services answer with
/// 5–30 s; the JVM caches 30 s), and the connect must still be named.
pub const MIN_KEEP_S: u64 = 60;

struct Entry {
    name: Arc<str>,
    /// Wall-clock nanoseconds after which the entry is stale.
    expires_ns: u64,
}

pub struct Names {
    map: LruCache<(u64, IpAddr), Entry>,
    evicted: u64,
    expired: u64,
}

impl Names {
    pub fn new(capacity: usize) -> Self {
        Self { map: LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN)), evicted: 0, expired: 0 }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Entries pushed out by newer ones, since the start.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Entries found stale at lookup, since the start.
    pub fn expired(&self) -> u64 {
        self.expired
    }

    /// `ip` answered for `name` in `cgroup` at `now_ns`, valid `ttl_s`.
    pub fn learn(&mut self, cgroup: u64, ip: IpAddr, name: &str, ttl_s: u64, now_ns: u64) {
        let keep = ttl_s.max(MIN_KEEP_S).saturating_mul(1_000_000_000);
        let entry = Entry { name: name.into(), expires_ns: now_ns.saturating_add(keep) };
        if let Some((old_key, _)) = self.map.push((cgroup, ip), entry)
            && old_key != (cgroup, ip)
        {
            self.evicted += 1;
        }
    }

    /// The name `cgroup` resolved to `ip`, if still fresh at `now_ns`.
    pub fn lookup(&mut self, cgroup: u64, ip: IpAddr, now_ns: u64) -> Option<Arc<str>> {
        let key = (cgroup, ip);
        let e = self.map.get(&key)?;
        if now_ns > e.expires_ns {
            self.map.pop(&key);
            self.expired += 1;
            return None;
        }
        Some(e.name.clone())
    }
}
