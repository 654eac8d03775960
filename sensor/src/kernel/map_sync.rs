//! A kernel hash map the agent rewrites from the rules: it keeps what the
//! map holds, and a sync writes only the differences.

use std::collections::BTreeMap;

use aya::Pod;
use aya::maps::{HashMap, MapData, MapError};

/// A failed write: the map's name, the operation, the kernel's error.
pub type SyncError = (&'static str, &'static str, MapError);

pub struct SyncedMap<K, V> {
    pub name: &'static str,
    map: HashMap<MapData, K, V>,
    current: BTreeMap<K, V>,
}

/// Which writes come first: a set that must never hold a stale entry
/// removes first; one that must never miss a new entry (an allow-list, a
/// prefilter) inserts first.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Order {
    RemoveFirst,
    InsertFirst,
}

impl<K: Pod + Ord, V: Pod + PartialEq> SyncedMap<K, V> {
    pub fn new(name: &'static str, map: HashMap<MapData, K, V>) -> Self {
        Self { name, map, current: BTreeMap::new() }
    }

    /// Makes the map hold exactly `want`.
    pub fn sync(&mut self, want: BTreeMap<K, V>, order: Order) -> Result<(), SyncError> {
        if order == Order::InsertFirst {
            self.insert_new(&want)?;
        }
        for k in self.current.keys().filter(|k| !want.contains_key(*k)) {
            match self.map.remove(k) {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err((self.name, "remove", e)),
            }
        }
        if order == Order::RemoveFirst {
            self.insert_new(&want)?;
        }
        self.current = want;
        Ok(())
    }

    fn insert_new(&mut self, want: &BTreeMap<K, V>) -> Result<(), SyncError> {
        for (k, v) in want {
            if self.current.get(k) != Some(v) {
                self.map.insert(k, v, 0).map_err(|e| (self.name, "insert", e))?;
            }
        }
        Ok(())
    }

    /// Entries the map holds now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.current.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}
