//! Per-process file-descriptor table, built from the event stream, so that
//! syscalls that carry only an fd number (connect, sendto, dup, fchmod) can
//! answer `fd.*` fields. Bounded per process and in processes; every drop is
//! counted. `close` is not traced: a stale entry lives until its number is
//! reused, which the next open/socket/accept/dup on that number does.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::event::{Arg, Event, SockAddr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    File,
    Ipv4,
    Ipv6,
    Unix,
    /// A socket of another family (netlink, packet, ...).
    Socket,
}

impl FdKind {
    /// Falco's `fd.typechar`.
    pub fn typechar(self) -> &'static str {
        match self {
            FdKind::File => "f",
            FdKind::Ipv4 => "4",
            FdKind::Ipv6 => "6",
            FdKind::Unix => "u",
            FdKind::Socket => "s",
        }
    }

    /// Falco's `fd.type`.
    pub fn type_name(self) -> &'static str {
        match self {
            FdKind::File => "file",
            FdKind::Ipv4 => "ipv4",
            FdKind::Ipv6 => "ipv6",
            FdKind::Unix => "unix",
            FdKind::Socket => "socket",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdInfo {
    pub num: i64,
    pub kind: FdKind,
    /// Absolute path for files; the unix path for unix sockets.
    pub path: Option<Arc<str>>,
    /// The path exactly as the syscall gave it.
    pub nameraw: Option<Arc<str>>,
    /// `SOCK_STREAM` → tcp, `SOCK_DGRAM` → udp (inet sockets only).
    pub l4proto: Option<&'static str>,
    pub local: Option<Endpoint>,
    pub remote: Option<Endpoint>,
    /// Accepted connections: we are the server side.
    pub is_server: bool,
    pub connected: bool,
    /// This event changed the peer (`sendto` to a new destination).
    pub name_changed: bool,
}

impl FdInfo {
    fn file(num: i64, path: Arc<str>, raw: Arc<str>) -> Self {
        Self {
            num,
            kind: FdKind::File,
            path: Some(path),
            nameraw: Some(raw),
            l4proto: None,
            local: None,
            remote: None,
            is_server: false,
            connected: false,
            name_changed: false,
        }
    }

    fn socket(num: i64, kind: FdKind, l4proto: Option<&'static str>) -> Self {
        Self {
            num,
            kind,
            path: None,
            nameraw: None,
            l4proto,
            local: None,
            remote: None,
            is_server: false,
            connected: false,
            name_changed: false,
        }
    }

    /// Client and server ends: `(client, server)`.
    pub fn client_server(&self) -> (Option<&Endpoint>, Option<&Endpoint>) {
        if self.is_server {
            (self.remote.as_ref(), self.local.as_ref())
        } else {
            (self.local.as_ref(), self.remote.as_ref())
        }
    }

    /// Falco's `fd.name`: the path, or `cip:cport->sip:sport` for inet sockets.
    pub fn name(&self) -> Option<String> {
        match self.kind {
            FdKind::Ipv4 | FdKind::Ipv6 => {
                let (c, s) = self.client_server();
                let s = s?;
                let fmt = |e: Option<&Endpoint>, v6: bool| match (e, v6) {
                    (Some(e), _) => format!("{}:{}", e.ip, e.port),
                    (None, false) => "0.0.0.0:0".to_owned(),
                    (None, true) => ":::0".to_owned(),
                };
                Some(format!("{}->{}", fmt(c, self.kind == FdKind::Ipv6), fmt(Some(s), false)))
            }
            _ => self.path.as_deref().map(str::to_owned),
        }
    }
}

fn endpoint(a: &SockAddr) -> Option<Endpoint> {
    match a {
        SockAddr::Inet { ip, port } | SockAddr::Inet6 { ip, port } => Some(Endpoint { ip: *ip, port: *port }),
        _ => None,
    }
}

fn kind_of(a: &SockAddr) -> FdKind {
    match a {
        SockAddr::Inet { .. } => FdKind::Ipv4,
        SockAddr::Inet6 { .. } => FdKind::Ipv6,
        SockAddr::Unix { .. } => FdKind::Unix,
        SockAddr::Other { .. } => FdKind::Socket,
    }
}

/// Joins a path to the directory it is relative to.
pub fn absolute(path: &str, base: Option<&str>) -> String {
    if path.starts_with('/') || path.is_empty() {
        return path.to_owned();
    }
    match base {
        Some(b) => {
            let rel = path.strip_prefix("./").unwrap_or(path);
            format!("{}/{}", b.trim_end_matches('/'), rel)
        }
        None => path.to_owned(),
    }
}

const AT_FDCWD: i64 = -100;
const SOCK_TYPE_MASK: u64 = 0xf;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FdStats {
    pub processes: usize,
    /// Entries or whole process tables dropped at the bounds.
    pub evicted: u64,
}

pub struct FdTable {
    procs: HashMap<u32, HashMap<i64, FdInfo>>,
    per_process: usize,
    max_processes: usize,
    evicted: u64,
}

impl FdTable {
    pub fn new(per_process: usize, max_processes: usize) -> Self {
        Self { procs: HashMap::new(), per_process, max_processes, evicted: 0 }
    }

    pub fn stats(&self) -> FdStats {
        FdStats { processes: self.procs.len(), evicted: self.evicted }
    }

    pub fn get(&self, pid: u32, fd: i64) -> Option<&FdInfo> {
        self.procs.get(&pid)?.get(&fd)
    }

    fn insert(&mut self, pid: u32, info: FdInfo) {
        if !self.procs.contains_key(&pid) && self.procs.len() >= self.max_processes {
            // Drop an arbitrary process's table: its fds degrade to unknown.
            if let Some(victim) = self.procs.keys().next().copied() {
                self.procs.remove(&victim);
                self.evicted += 1;
            }
        }
        let t = self.procs.entry(pid).or_default();
        if !t.contains_key(&info.num)
            && t.len() >= self.per_process
            && let Some(victim) = t.keys().next().copied()
        {
            t.remove(&victim);
            self.evicted += 1;
        }
        t.insert(info.num, info);
    }

    /// Updates the table from `ev` and returns the fd the event is about,
    /// if any. `cwd` resolves relative paths given with `AT_FDCWD`.
    #[allow(clippy::too_many_lines)] // one arm per syscall family; the table reads best in one place
    pub fn observe(&mut self, ev: &Event, cwd: Option<&str>) -> Option<FdInfo> {
        let a = &ev.args;
        let ret = ev.ret.unwrap_or(-1);
        let pid = ev.pid;
        match ev.kind.as_ref() {
            "open" | "openat" | "openat2" | "creat" => {
                let raw = a.str("name")?;
                let dirfd = a.int("dirfd").unwrap_or(AT_FDCWD);
                let base = if dirfd == AT_FDCWD {
                    cwd.map(str::to_owned)
                } else {
                    self.get(pid, dirfd).and_then(|d| d.path.as_deref().map(str::to_owned))
                };
                let path: Arc<str> = absolute(raw, base.as_deref()).into();
                let info = FdInfo::file(if ret >= 0 { ret } else { -1 }, path, raw.into());
                if ret >= 0 {
                    self.insert(pid, info.clone());
                }
                Some(info)
            }
            "memfd_create" => {
                let name: Arc<str> = format!("memfd:{}", a.str("name").unwrap_or_default()).into();
                let info = FdInfo::file(ret, name.clone(), name);
                if ret >= 0 {
                    self.insert(pid, info.clone());
                }
                Some(info)
            }
            "socket" => {
                let (kind, proto) = socket_kind(a.int("domain")?, a.int("type").unwrap_or(0) as u64);
                let info = FdInfo::socket(ret, kind, proto);
                if ret >= 0 {
                    self.insert(pid, info.clone());
                }
                Some(info)
            }
            "connect" | "bind" | "sendto" | "sendmsg" | "recvfrom" | "recvmsg" | "listen" => {
                let fd = a.int("fd")?;
                let addr = match a.get("addr") {
                    Some(Arg::Addr(s)) => Some(s),
                    _ => None,
                };
                let mut info = self
                    .get(pid, fd)
                    .cloned()
                    .unwrap_or_else(|| FdInfo::socket(fd, addr.map_or(FdKind::Socket, kind_of), None));
                info.name_changed = false;
                if let Some(addr) = addr {
                    if let SockAddr::Unix { path } = addr {
                        info.kind = FdKind::Unix;
                        info.path = Some(path.as_str().into());
                    }
                    let ep = endpoint(addr);
                    match ev.kind.as_ref() {
                        "bind" => info.local = ep,
                        _ => {
                            if ep.is_some() && info.remote != ep {
                                info.name_changed = info.remote.is_some() || ev.kind != "connect";
                                info.remote = ep;
                            }
                        }
                    }
                }
                if let Some(Arg::Addr(l)) = a.get("local")
                    && let Some(ep) = endpoint(l)
                {
                    info.local = Some(ep);
                }
                if ev.kind == "connect" {
                    // EINPROGRESS: a non-blocking connect under way.
                    info.connected = ret == 0 || ret == -115;
                }
                self.insert(pid, info.clone());
                Some(info)
            }
            "accept" | "accept4" => {
                let lfd = a.int("fd")?;
                let listener = self.get(pid, lfd).cloned();
                let peer = match a.get("addr") {
                    Some(Arg::Addr(s)) => Some(s),
                    _ => None,
                };
                let kind = listener.as_ref().map(|l| l.kind).or_else(|| peer.map(kind_of)).unwrap_or(FdKind::Socket);
                let mut info = FdInfo::socket(ret, kind, listener.as_ref().and_then(|l| l.l4proto));
                info.is_server = true;
                info.connected = ret >= 0;
                info.local = match a.get("local") {
                    Some(Arg::Addr(l)) => endpoint(l),
                    _ => None,
                }
                .or_else(|| listener.as_ref().and_then(|l| l.local.clone()));
                info.remote = peer.and_then(endpoint);
                info.path = listener.and_then(|l| l.path);
                if ret >= 0 {
                    self.insert(pid, info.clone());
                }
                Some(info)
            }
            "dup" | "dup2" | "dup3" => {
                let old = a.int("fd").or_else(|| a.int("oldfd"))?;
                let mut info = self.get(pid, old).cloned()?;
                if ret >= 0 {
                    info.num = ret;
                    self.insert(pid, info.clone());
                }
                Some(info)
            }
            "fchmod" | "setns" | "finit_module" => a.int("fd").and_then(|fd| self.get(pid, fd).cloned()),
            "clone" => {
                // The child starts with a copy of its parent's descriptors.
                if let (Some(child), Some(t)) = (a.int("child_pid"), self.procs.get(&pid)) {
                    let copy = t.clone();
                    if let Ok(child) = u32::try_from(child) {
                        if !self.procs.contains_key(&child) && self.procs.len() >= self.max_processes {
                            self.evicted += 1;
                        } else {
                            self.procs.insert(child, copy);
                        }
                    }
                }
                None
            }
            "procexit" => {
                self.procs.remove(&pid);
                None
            }
            _ => None,
        }
    }
}

fn socket_kind(domain: i64, ty: u64) -> (FdKind, Option<&'static str>) {
    let proto = match ty & SOCK_TYPE_MASK {
        1 => Some("tcp"),
        2 => Some("udp"),
        3 => Some("raw"),
        _ => None,
    };
    match domain {
        2 => (FdKind::Ipv4, proto),
        10 => (FdKind::Ipv6, proto),
        1 => (FdKind::Unix, None),
        _ => (FdKind::Socket, None),
    }
}

#[cfg(test)]
mod tests;
