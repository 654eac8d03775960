//! The response maps of the exec program: the mode (`RESPONSE`) and the
//! process names a `kill_process` rule kills at exec (`KILL_NAMES`). Taken
//! out of the loaded object so the response stage owns them and rewrites
//! them when the rules reload.

use std::collections::BTreeMap;

use aya::Ebpf;
use aya::maps::{Array, HashMap, MapData, MapError};

use super::map_sync::{Order, SyncError, SyncedMap};
use sensor_common::{
    KILL_BASENAME_LEN, KILL_PATH_LEN, KillBasename, KillName, KillPath, MAX_EXEMPT_CGROUPS, MAX_KILL_NAMES,
    MAX_KILL_PATHS, ResponseConf, enforce,
};

#[derive(Debug, thiserror::Error)]
pub enum ResponseMapError {
    #[error("map {name} missing from the eBPF object")]
    Missing { name: &'static str },
    #[error("map {name}: {action} failed")]
    Map {
        name: &'static str,
        action: &'static str,
        #[source]
        source: MapError,
    },
    #[error("{count} entries exceed the kernel map's size")]
    TooMany { count: usize },
}

fn sync_err((name, action, source): SyncError) -> ResponseMapError {
    ResponseMapError::Map { name, action, source }
}

fn map_err(name: &'static str, action: &'static str) -> impl FnOnce(MapError) -> ResponseMapError {
    move |source| ResponseMapError::Map { name, action, source }
}

/// `name` as the kernel's key: NUL-padded to `COMM_LEN`. `None` when it
/// does not fit (the caller keeps such names in user space).
#[must_use]
pub fn kill_key(name: &str) -> Option<KillName> {
    let b = name.as_bytes();
    let mut key = KillName::default();
    if b.is_empty() || b.len() >= key.len() {
        return None;
    }
    key[..b.len()].copy_from_slice(b);
    Some(key)
}

/// `path` as the kernel's key: NUL-padded to `KILL_PATH_LEN`; `None` when
/// it does not fit.
#[must_use]
pub fn path_key(path: &str) -> Option<KillPath> {
    let b = path.as_bytes();
    let mut key = [0u8; KILL_PATH_LEN];
    if b.is_empty() || b.len() >= KILL_PATH_LEN {
        return None;
    }
    key[..b.len()].copy_from_slice(b);
    Some(key)
}

/// The last component of `path`, cut to `KILL_BASENAME_LEN - 1` bytes,
/// as the path program reads an exec's file name.
#[must_use]
pub fn basename_key(path: &str) -> KillBasename {
    let base = path.rsplit('/').next().unwrap_or(path).as_bytes();
    let mut key = [0u8; KILL_BASENAME_LEN];
    let n = base.len().min(KILL_BASENAME_LEN - 1);
    key[..n].copy_from_slice(&base[..n]);
    key
}

pub struct KillMaps {
    names: SyncedMap<KillName, u32>,
    paths: SyncedMap<KillPath, u32>,
    /// Last components of `paths` → how many paths end so.
    basenames: SyncedMap<KillBasename, u32>,
    conf: Array<MapData, ResponseConf>,
    /// Never act in these cgroups (and below).
    exempt: CgroupSet,
    /// Under `enforce::LISTED`, act only in these (and below).
    enforced: CgroupSet,
}

/// `EXEMPT_CGROUPS` or `ENFORCE_CGROUPS`, and what it holds.
struct CgroupSet {
    name: &'static str,
    map: HashMap<MapData, u64, u32>,
    ids: std::collections::BTreeSet<u64>,
}

impl CgroupSet {
    /// Past the map's size the oldest stay and the rest are refused (an error).
    fn add(&mut self, ids: &[u64]) -> Result<(), ResponseMapError> {
        for id in ids {
            if self.ids.contains(id) {
                continue;
            }
            if self.ids.len() >= MAX_EXEMPT_CGROUPS as usize {
                return Err(ResponseMapError::TooMany { count: self.ids.len() + 1 });
            }
            self.map.insert(id, 1, 0).map_err(map_err(self.name, "insert"))?;
            self.ids.insert(*id);
        }
        Ok(())
    }

    fn clear(&mut self) -> Result<(), ResponseMapError> {
        for id in std::mem::take(&mut self.ids) {
            match self.map.remove(&id) {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err(map_err(self.name, "remove")(e)),
            }
        }
        Ok(())
    }
}

impl KillMaps {
    /// Takes the maps out of the loaded object.
    pub fn take(ebpf: &mut Ebpf) -> Result<KillMaps, ResponseMapError> {
        let mut take = |name: &'static str| ebpf.take_map(name).ok_or(ResponseMapError::Missing { name });
        let (names, conf, exempt) = (take("KILL_NAMES")?, take("RESPONSE")?, take("EXEMPT_CGROUPS")?);
        let enforced = take("ENFORCE_CGROUPS")?;
        let (paths, basenames) = (take("KILL_PATHS")?, take("KILL_BASENAMES")?);
        Ok(KillMaps {
            names: SyncedMap::new("KILL_NAMES", HashMap::try_from(names).map_err(map_err("KILL_NAMES", "open"))?),
            paths: SyncedMap::new("KILL_PATHS", HashMap::try_from(paths).map_err(map_err("KILL_PATHS", "open"))?),
            basenames: SyncedMap::new(
                "KILL_BASENAMES",
                HashMap::try_from(basenames).map_err(map_err("KILL_BASENAMES", "open"))?,
            ),
            conf: Array::try_from(conf).map_err(map_err("RESPONSE", "open"))?,
            exempt: CgroupSet {
                name: "EXEMPT_CGROUPS",
                map: HashMap::try_from(exempt).map_err(map_err("EXEMPT_CGROUPS", "open"))?,
                ids: std::collections::BTreeSet::new(),
            },
            enforced: CgroupSet {
                name: "ENFORCE_CGROUPS",
                map: HashMap::try_from(enforced).map_err(map_err("ENFORCE_CGROUPS", "open"))?,
                ids: std::collections::BTreeSet::new(),
            },
        })
    }

    /// Makes the kernel kill exactly `names` and `paths` (→ rule id) at
    /// exec, where `mode` (`sensor_common::enforce`) says. Names and paths
    /// first, then the mode: a reload never arms a half-written set. `wake_exec`: exec
    /// records wake the reader at once (user-space kills at exec are armed).
    pub fn sync(
        &mut self,
        names: &BTreeMap<String, u32>,
        paths: &BTreeMap<String, u32>,
        mode: u32,
        wake_exec: bool,
        kills_per_minute: u32,
    ) -> Result<(), ResponseMapError> {
        let want: BTreeMap<KillName, u32> = names.iter().filter_map(|(n, id)| Some((kill_key(n)?, *id))).collect();
        if want.len() > MAX_KILL_NAMES as usize {
            return Err(ResponseMapError::TooMany { count: want.len() });
        }
        let wake_exec = u32::from(wake_exec);
        if mode == enforce::OFF {
            let c = ResponseConf { enforce: enforce::OFF, wake_exec, paths: 0, kills_per_minute };
            self.conf.set(0, c, 0).map_err(map_err("RESPONSE", "write"))?;
        }
        self.names.sync(want, Order::RemoveFirst).map_err(sync_err)?;
        self.sync_paths(paths)?;
        if mode != enforce::OFF {
            let paths = u32::try_from(self.paths.len()).unwrap_or(u32::MAX);
            let c = ResponseConf { enforce: mode, wake_exec, paths, kills_per_minute };
            self.conf.set(0, c, 0).map_err(map_err("RESPONSE", "write"))?;
        }
        Ok(())
    }

    fn sync_paths(&mut self, paths: &BTreeMap<String, u32>) -> Result<(), ResponseMapError> {
        let want: BTreeMap<KillPath, u32> = paths.iter().filter_map(|(p, id)| Some((path_key(p)?, *id))).collect();
        if want.len() > MAX_KILL_PATHS as usize {
            return Err(ResponseMapError::TooMany { count: want.len() });
        }
        self.paths.sync(want, Order::RemoveFirst).map_err(sync_err)?;
        // Basenames after the paths, new ones first: a name the program
        // finds always has its paths in place, and a removed path's name may
        // linger a moment (a walk for nothing, never a missed kill).
        let mut bases: BTreeMap<KillBasename, u32> = BTreeMap::new();
        for p in paths.keys().filter(|p| path_key(p).is_some()) {
            *bases.entry(basename_key(p)).or_default() += 1;
        }
        self.basenames.sync(bases, Order::InsertFirst).map_err(sync_err)?;
        Ok(())
    }

    /// Never act in these cgroups (v2 ids) or below them. Past the map's
    /// size the oldest stay and the rest are refused (an error).
    pub fn exempt(&mut self, ids: &[u64]) -> Result<(), ResponseMapError> {
        self.exempt.add(ids)
    }

    /// Under `enforce::LISTED`, act in these cgroups and below them.
    pub fn enforce_in(&mut self, ids: &[u64]) -> Result<(), ResponseMapError> {
        self.enforced.add(ids)
    }

    /// Forgets every exemption and enforced cgroup (the policy changed).
    pub fn clear_exempt(&mut self) -> Result<(), ResponseMapError> {
        self.exempt.clear()?;
        self.enforced.clear()
    }

    /// Entries in the kernel maps (names and paths).
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len() + self.paths.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.paths.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::basename_key;

    #[test]
    fn basename_keys_are_the_last_component_cut_and_padded() {
        let k = basename_key("/usr/local/bin/xmrig");
        assert_eq!(&k[..6], b"xmrig\0");
        assert!(k[5..].iter().all(|b| *b == 0));
        let long = format!("/opt/{}", "a".repeat(40));
        let k = basename_key(&long);
        assert_eq!(k[..31], [b'a'; 31]);
        assert_eq!(k[31], 0);
        assert_eq!(basename_key("bare")[..5], *b"bare\0");
    }
}
