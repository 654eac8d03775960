//! Response: the open kill programs (`syscalls:sys_enter_open`,
//! `sys_enter_openat`, `sys_enter_openat2`), attached only when enforce
//! mode starts with a `kill_process` rule the kernel decides at an open
//! (see `respond::plan`), and their maps: the protected paths, the
//! allow-listed process names, and the kills done, which the response
//! stage reads back for its report.

use std::collections::{BTreeMap, BTreeSet};

use aya::Ebpf;
use aya::maps::{Array, HashMap, MapData, MapError};
use aya::programs::{ProgramError, TracePoint};
use sensor_common::{KillName, KillPath, MAX_KILL_NAMES, MAX_KILL_PATHS, OpenKillConf};

use super::map_sync::{Order, SyncedMap};
use super::response::{kill_key, path_key};
use super::tracefs;

#[derive(Debug, thiserror::Error)]
pub enum OpenKillError {
    #[error("tracepoint formats")]
    Format(#[from] tracefs::FormatError),
    #[error("program {name} missing from the eBPF object")]
    MissingProgram { name: &'static str },
    #[error("map {name} missing from the eBPF object")]
    MissingMap { name: &'static str },
    #[error("program {name}: {action} failed")]
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
    #[error("{count} entries exceed the kernel map's size")]
    TooMany { count: usize },
    #[error("no open tracepoint could be attached")]
    NoneAttached,
}

fn map_err(name: &'static str, action: &'static str) -> impl FnOnce(MapError) -> OpenKillError {
    move |source| OpenKillError::Map { name, action, source }
}

/// (program, tracepoint) pairs.
const PROGRAMS: [(&str, &str); 3] =
    [("kill_open", "sys_enter_open"), ("kill_openat", "sys_enter_openat"), ("kill_openat2", "sys_enter_openat2")];

/// One kill the kernel did at an open: the rule's id and
/// `bpf_send_signal`'s result (or `KILL_RATE_LIMITED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenKill {
    pub rule: u32,
    pub ret: i32,
}

pub struct OpenKillMaps {
    opens: SyncedMap<KillPath, u32>,
    allow: SyncedMap<KillName, u32>,
    kills: HashMap<MapData, u64, u64>,
    /// The tracepoints attached, for the log.
    pub attached: Vec<&'static str>,
}

/// Loads and attaches the programs whose tracepoint this kernel has (an
/// old kernel lacks `openat2`), writes where each finds its path argument,
/// and takes the maps.
pub fn attach(ebpf: &mut Ebpf) -> Result<OpenKillMaps, OpenKillError> {
    let root = tracefs::root()?;
    let mut conf =
        OpenKillConf { open_filename: u32::MAX, openat_filename: u32::MAX, openat2_filename: u32::MAX, reserved: 0 };
    let mut attached = Vec::new();
    for (i, (name, tp)) in PROGRAMS.into_iter().enumerate() {
        let Ok(off) = tracefs::field_offset(&root, "syscalls", tp, "filename") else { continue };
        match i {
            0 => conf.open_filename = off,
            1 => conf.openat_filename = off,
            _ => conf.openat2_filename = off,
        }
        let err =
            |action: &'static str| move |source| OpenKillError::Program { name, action, source: Box::new(source) };
        let p: &mut TracePoint =
            ebpf.program_mut(name).ok_or(OpenKillError::MissingProgram { name })?.try_into().map_err(err("cast"))?;
        p.load().map_err(err("load"))?;
        p.attach("syscalls", tp).map_err(err("attach"))?;
        attached.push(tp);
    }
    if attached.is_empty() {
        return Err(OpenKillError::NoneAttached);
    }
    let take = |ebpf: &mut Ebpf, name: &'static str| ebpf.take_map(name).ok_or(OpenKillError::MissingMap { name });
    let mut c: Array<MapData, OpenKillConf> =
        Array::try_from(take(ebpf, "OPEN_KILL_CONF")?).map_err(map_err("OPEN_KILL_CONF", "open"))?;
    c.set(0, conf, 0).map_err(map_err("OPEN_KILL_CONF", "write"))?;
    Ok(OpenKillMaps {
        opens: SyncedMap::new(
            "KILL_OPENS",
            HashMap::try_from(take(ebpf, "KILL_OPENS")?).map_err(map_err("KILL_OPENS", "open"))?,
        ),
        allow: SyncedMap::new(
            "OPEN_ALLOW",
            HashMap::try_from(take(ebpf, "OPEN_ALLOW")?).map_err(map_err("OPEN_ALLOW", "open"))?,
        ),
        kills: HashMap::try_from(take(ebpf, "OPEN_KILLS")?).map_err(map_err("OPEN_KILLS", "open"))?,
        attached,
    })
}

impl OpenKillMaps {
    /// The kernel kills exactly at opens of `paths` (→ rule id), never a
    /// process whose name (as the kernel keeps it, cut to 15 bytes) is in
    /// `allow`. The allow-list first: a path is never armed before it.
    pub fn sync(&mut self, paths: &BTreeMap<String, u32>, allow: &BTreeSet<String>) -> Result<(), OpenKillError> {
        let want_allow: BTreeMap<KillName, u32> = allow.iter().filter_map(|n| Some((comm_key(n)?, 1))).collect();
        if want_allow.len() > MAX_KILL_NAMES as usize {
            return Err(OpenKillError::TooMany { count: want_allow.len() });
        }
        let want: BTreeMap<KillPath, u32> = paths.iter().filter_map(|(p, id)| Some((path_key(p)?, *id))).collect();
        if want.len() > MAX_KILL_PATHS as usize {
            return Err(OpenKillError::TooMany { count: want.len() });
        }
        let err = |(name, action, source)| OpenKillError::Map { name, action, source };
        self.allow.sync(want_allow, Order::InsertFirst).map_err(err)?;
        self.opens.sync(want, Order::RemoveFirst).map_err(err)?;
        Ok(())
    }

    /// The kill the kernel did at an open by thread `tid` of process
    /// `pid`, taken out of the map (`None`: it did none).
    pub fn take(&mut self, pid: u32, tid: u32) -> Option<OpenKill> {
        let key = (u64::from(pid) << 32) | u64::from(tid);
        let v = self.kills.get(&key, 0).ok()?;
        let _ = self.kills.remove(&key);
        #[allow(clippy::cast_possible_wrap)] // the kernel stored an i32's bits
        Some(OpenKill { rule: (v >> 32) as u32, ret: v as u32 as i32 })
    }

    /// Paths armed now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.opens.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.opens.is_empty()
    }
}

/// A process name as `task->comm` keeps it: cut to 15 bytes, NUL-padded.
fn comm_key(name: &str) -> Option<KillName> {
    let mut cut = name;
    while cut.len() >= sensor_common::COMM_LEN {
        let mut end = sensor_common::COMM_LEN - 1;
        while !cut.is_char_boundary(end) {
            end -= 1;
        }
        cut = &cut[..end];
    }
    kill_key(cut)
}
