//! Response: the `deny_connect` programs (`connect4`/`connect6`,
//! `cgroup_sock_addr`) on the cgroup v2 root, and their maps of denied
//! destinations, rewritten from the rules at start and at every reload.
//! Like the DNS programs they need `CAP_NET_ADMIN` and a cgroup v2
//! hierarchy; without them `deny_connect` is reported, not done.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use aya::Ebpf;
use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{MapData, MapError};
use aya::programs::{CgroupAttachMode, CgroupSockAddr, ProgramError};
use sensor_common::MAX_DENY_NETS;

/// One denied destination: a network and a port (`None`: any).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Denied {
    pub addr: IpAddr,
    pub prefix: u8,
    pub port: Option<u16>,
}

#[derive(Debug, thiserror::Error)]
pub enum DenyHookError {
    #[error("opening the cgroup {path}")]
    Open {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("program {name} missing from the eBPF object")]
    MissingProgram { name: &'static str },
    #[error("map {name} missing from the eBPF object")]
    MissingMap { name: &'static str },
    #[error("program {name}: {action} failed (cgroup sock_addr programs need CAP_NET_ADMIN)")]
    Program {
        name: &'static str,
        action: &'static str,
        #[source]
        source: Box<ProgramError>,
    },
    #[error("map {name}: {action} failed")]
    Map {
        name: &'static str,
        action: &'static str,
        #[source]
        source: MapError,
    },
    #[error("{count} denied destinations exceed the kernel maps' {MAX_DENY_NETS} entries")]
    TooMany { count: usize },
}

fn map_err(name: &'static str, action: &'static str) -> impl FnOnce(MapError) -> DenyHookError {
    move |source| DenyHookError::Map { name, action, source }
}

/// Loads both programs and attaches them to the cgroup v2 `root` as links.
pub fn attach(ebpf: &mut Ebpf, root: &Path) -> Result<(), DenyHookError> {
    let dir = std::fs::File::open(root).map_err(|source| DenyHookError::Open { path: root.to_owned(), source })?;
    for name in ["deny_connect4", "deny_connect6"] {
        let err =
            |action: &'static str| move |source| DenyHookError::Program { name, action, source: Box::new(source) };
        let p: &mut CgroupSockAddr =
            ebpf.program_mut(name).ok_or(DenyHookError::MissingProgram { name })?.try_into().map_err(err("cast"))?;
        p.load().map_err(err("load"))?;
        p.attach(&dir, CgroupAttachMode::Single).map_err(err("attach"))?;
    }
    Ok(())
}

/// An entry as written: which map and its key bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Entry {
    V4(u32, [u8; 4]),
    V4Port(u32, [u8; 6]),
    V6(u32, [u8; 16]),
    V6Port(u32, [u8; 18]),
}

fn entry(d: &Denied) -> Entry {
    match (d.addr, d.port) {
        (IpAddr::V4(a), None) => Entry::V4(u32::from(d.prefix.min(32)), a.octets()),
        (IpAddr::V4(a), Some(p)) => {
            let (o, pb) = (a.octets(), p.to_be_bytes());
            Entry::V4Port(16 + u32::from(d.prefix.min(32)), [pb[0], pb[1], o[0], o[1], o[2], o[3]])
        }
        (IpAddr::V6(a), None) => Entry::V6(u32::from(d.prefix.min(128)), a.octets()),
        (IpAddr::V6(a), Some(p)) => {
            let mut k = [0u8; 18];
            k[..2].copy_from_slice(&p.to_be_bytes());
            k[2..].copy_from_slice(&a.octets());
            Entry::V6Port(16 + u32::from(d.prefix.min(128)), k)
        }
    }
}

pub struct DenyMaps {
    v4: LpmTrie<MapData, [u8; 4], u32>,
    v4p: LpmTrie<MapData, [u8; 6], u32>,
    v6: LpmTrie<MapData, [u8; 16], u32>,
    v6p: LpmTrie<MapData, [u8; 18], u32>,
    current: BTreeSet<Entry>,
}

impl DenyMaps {
    pub fn take(ebpf: &mut Ebpf) -> Result<DenyMaps, DenyHookError> {
        fn open<K: aya::Pod>(ebpf: &mut Ebpf, name: &'static str) -> Result<LpmTrie<MapData, K, u32>, DenyHookError> {
            let m = ebpf.take_map(name).ok_or(DenyHookError::MissingMap { name })?;
            LpmTrie::try_from(m).map_err(map_err(name, "open"))
        }
        Ok(DenyMaps {
            v4: open(ebpf, "DENY4")?,
            v4p: open(ebpf, "DENY4_PORT")?,
            v6: open(ebpf, "DENY6")?,
            v6p: open(ebpf, "DENY6_PORT")?,
            current: BTreeSet::new(),
        })
    }

    /// Makes the kernel deny exactly `entries` (destination → rule id).
    pub fn sync(&mut self, entries: &[(Denied, u32)]) -> Result<(), DenyHookError> {
        let want: BTreeSet<(Entry, u32)> = entries.iter().map(|(d, id)| (entry(d), *id)).collect();
        if want.len() > MAX_DENY_NETS as usize {
            return Err(DenyHookError::TooMany { count: want.len() });
        }
        let keys: BTreeSet<Entry> = want.iter().map(|(e, _)| e.clone()).collect();
        for e in self.current.difference(&keys) {
            let r = match e {
                Entry::V4(p, k) => self.v4.remove(&Key::new(*p, *k)),
                Entry::V4Port(p, k) => self.v4p.remove(&Key::new(*p, *k)),
                Entry::V6(p, k) => self.v6.remove(&Key::new(*p, *k)),
                Entry::V6Port(p, k) => self.v6p.remove(&Key::new(*p, *k)),
            };
            match r {
                Ok(()) | Err(MapError::KeyNotFound) => {}
                Err(e) => return Err(map_err("DENY*", "remove")(e)),
            }
        }
        for (e, id) in &want {
            match e {
                Entry::V4(p, k) => self.v4.insert(&Key::new(*p, *k), id, 0),
                Entry::V4Port(p, k) => self.v4p.insert(&Key::new(*p, *k), id, 0),
                Entry::V6(p, k) => self.v6.insert(&Key::new(*p, *k), id, 0),
                Entry::V6Port(p, k) => self.v6p.insert(&Key::new(*p, *k), id, 0),
            }
            .map_err(map_err("DENY*", "insert"))?;
        }
        self.current = keys;
        Ok(())
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.current.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}
