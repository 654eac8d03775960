//! Per-process file-descriptor table, built from the event stream, so that
//! syscalls that carry only an fd number (connect, sendto, dup, fchmod) can
//! answer `fd.*` fields. Bounded per process and in processes; every drop is
//! counted. `close` removes an entry; a descriptor opened before the sensor
//! started is read from `/proc/PID/fd` the first time an event names it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::event::{Arg, Event, Op, SockAddr};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    File,
    /// Opened with `O_DIRECTORY` (Falco's `SCAP_FD_DIRECTORY`).
    Directory,
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
            FdKind::Directory => "d",
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
            FdKind::Directory => "directory",
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
    /// The name the process resolved for the remote address (`addr_name`
    /// of the event that set it; see enrich/dns).
    pub remote_name: Option<Arc<str>>,
    /// The name the process resolved for its own address (`local_name`).
    pub local_name: Option<Arc<str>>,
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
            remote_name: None,
            local_name: None,
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
            remote_name: None,
            local_name: None,
            is_server: false,
            connected: false,
            name_changed: false,
        }
    }

    /// An IPv6 socket whose ends are IPv4 (mapped) addresses is an IPv4
    /// one for Falco (`fd.type`, `fd.typechar`).
    fn ipv4_if_mapped(&mut self) {
        let v4 = |e: &Option<Endpoint>| e.as_ref().is_none_or(|e| e.ip.is_ipv4());
        if self.kind == FdKind::Ipv6
            && (self.local.is_some() || self.remote.is_some())
            && v4(&self.local)
            && v4(&self.remote)
        {
            self.kind = FdKind::Ipv4;
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
        SockAddr::Inet { ip, port } | SockAddr::Inet6 { ip, port } => {
            Some(Endpoint { ip: canonical(*ip), port: *port })
        }
        _ => None,
    }
}

/// As libsinsp: an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`), and the
/// all-zero address, are IPv4 (a dual-stack socket talking IPv4).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

fn kind_of(a: &SockAddr) -> FdKind {
    match a {
        SockAddr::Inet { .. } => FdKind::Ipv4,
        SockAddr::Inet6 { ip, .. } if canonical(*ip).is_ipv4() => FdKind::Ipv4,
        SockAddr::Inet6 { .. } => FdKind::Ipv6,
        SockAddr::Unix { .. } => FdKind::Unix,
        SockAddr::Other { .. } => FdKind::Socket,
    }
}

const AT_FDCWD: i64 = libc::AT_FDCWD as i64;
const O_DIRECTORY: i64 = libc::O_DIRECTORY as i64;
/// The kernel's `SOCK_TYPE_MASK`: the type without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`.
const SOCK_TYPE_MASK: u64 = 0xf;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FdStats {
    pub processes: usize,
    /// Entries or whole process tables dropped at the bounds.
    pub evicted: u64,
    /// Descriptors learned from `/proc/PID/fd` (opened before the sensor started).
    pub from_proc: u64,
}

pub struct FdTable {
    procs: HashMap<u32, HashMap<i64, FdInfo>>,
    per_process: usize,
    max_processes: usize,
    evicted: u64,
    from_proc: u64,
    /// Where process descriptors are read when the stream never showed
    /// them: `/proc` live, nowhere for recorded events (their pids are not
    /// this host's), a test directory in tests.
    proc_root: Option<std::path::PathBuf>,
}

impl FdTable {
    /// A table built from the stream alone (recorded events).
    pub fn new(per_process: usize, max_processes: usize) -> Self {
        Self { procs: HashMap::new(), per_process, max_processes, evicted: 0, from_proc: 0, proc_root: None }
    }

    /// A table for live events: descriptors the stream never showed are
    /// read from `proc_root` (`/proc`).
    pub fn with_proc_root(per_process: usize, max_processes: usize, proc_root: std::path::PathBuf) -> Self {
        Self { proc_root: Some(proc_root), ..Self::new(per_process, max_processes) }
    }

    pub fn stats(&self) -> FdStats {
        FdStats { processes: self.procs.len(), evicted: self.evicted, from_proc: self.from_proc }
    }

    pub fn get(&self, pid: u32, fd: i64) -> Option<&FdInfo> {
        self.procs.get(&pid)?.get(&fd)
    }

    /// The entry for `fd`, or, for one the stream never showed (opened
    /// before the sensor started), what `/proc/PID/fd/N` says now.
    fn lookup(&mut self, pid: u32, fd: i64) -> Option<FdInfo> {
        if let Some(i) = self.get(pid, fd) {
            return Some(i.clone());
        }
        if fd < 0 {
            return None;
        }
        let link = std::fs::read_link(self.proc_root.as_ref()?.join(format!("{pid}/fd/{fd}"))).ok()?;
        let link = link.to_string_lossy();
        let info = if link.starts_with('/') {
            let p: Arc<str> = link.as_ref().into();
            FdInfo::file(fd, p.clone(), p)
        } else if link.starts_with("socket:") {
            FdInfo::socket(fd, FdKind::Socket, None)
        } else {
            // pipe:[N], anon_inode:[eventfd]...: nothing a rule asks about.
            return None;
        };
        self.from_proc += 1;
        self.insert(pid, info.clone());
        Some(info)
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
        match ev.kind.op() {
            Op::Open => {
                let raw = a.str("name")?;
                let dirfd = a.int("dirfd").unwrap_or(AT_FDCWD);
                let base = if dirfd == AT_FDCWD {
                    cwd.map(str::to_owned)
                } else {
                    self.lookup(pid, dirfd).and_then(|d| d.path.as_deref().map(str::to_owned))
                };
                // `fd.name` is the normalized absolute path (libsinsp's
                // concatenate_paths), `fd.nameraw` the path as given.
                let path: Arc<str> =
                    crate::process::path::normalize(&crate::process::path::absolute(raw, base.as_deref())).into();
                let mut info = FdInfo::file(if ret >= 0 { ret } else { -1 }, path, raw.into());
                if a.int("flags").is_some_and(|f| f & O_DIRECTORY != 0) {
                    info.kind = FdKind::Directory;
                }
                if ret >= 0 {
                    self.insert(pid, info.clone());
                }
                Some(info)
            }
            Op::MemfdCreate => {
                let name: Arc<str> = format!("memfd:{}", a.str("name").unwrap_or_default()).into();
                let info = FdInfo::file(ret, name.clone(), name);
                if ret >= 0 {
                    self.insert(pid, info.clone());
                }
                Some(info)
            }
            Op::Socket => {
                let (kind, proto) = socket_kind(a.int("domain")?, a.int("type").unwrap_or(0) as u64);
                let info = FdInfo::socket(ret, kind, proto);
                if ret >= 0 {
                    self.insert(pid, info.clone());
                }
                Some(info)
            }
            Op::Connect | Op::Bind | Op::Transfer | Op::Listen => {
                let fd = a.int("fd")?;
                let addr = match a.get("addr") {
                    Some(Arg::Addr(s)) => Some(s),
                    _ => None,
                };
                let mut info = self
                    .lookup(pid, fd)
                    .unwrap_or_else(|| FdInfo::socket(fd, addr.map_or(FdKind::Socket, kind_of), None));
                if info.kind == FdKind::Socket
                    && let Some(a) = addr
                {
                    // Learned from /proc as a bare socket: the address tells its family.
                    info.kind = kind_of(a);
                }
                info.name_changed = false;
                if let Some(addr) = addr {
                    if let SockAddr::Unix { path } = addr {
                        info.kind = FdKind::Unix;
                        info.path = Some(path.as_str().into());
                    }
                    let ep = endpoint(addr);
                    match ev.kind.op() {
                        Op::Bind => {
                            // As libsinsp: an inet socket bound to a port
                            // is a server socket (its local end is the
                            // server end), whether or not it listens yet.
                            if ep.as_ref().is_some_and(|e| e.port > 0) {
                                info.is_server = true;
                            }
                            info.local = ep;
                        }
                        _ => {
                            if ep.is_some() && info.remote != ep {
                                info.name_changed = info.remote.is_some() || ev.kind.op() != Op::Connect;
                                info.remote = ep;
                                info.remote_name = a.str("addr_name").map(Into::into);
                            }
                        }
                    }
                }
                if let Some(Arg::Addr(l)) = a.get("local")
                    && let Some(ep) = endpoint(l)
                {
                    info.local = Some(ep);
                    info.local_name = a.str("local_name").map(Into::into);
                }
                if ev.kind.op() == Op::Connect {
                    // EINPROGRESS: a non-blocking connect under way.
                    info.connected = ret == 0 || ret == -115;
                }
                info.ipv4_if_mapped();
                self.insert(pid, info.clone());
                Some(info)
            }
            Op::Accept => {
                let lfd = a.int("fd")?;
                let listener = self.lookup(pid, lfd);
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
                info.local_name = a.str("local_name").map(Into::into);
                info.remote = peer.and_then(endpoint);
                info.remote_name = a.str("addr_name").map(Into::into);
                info.path = listener.and_then(|l| l.path);
                info.ipv4_if_mapped();
                if ret >= 0 {
                    self.insert(pid, info.clone());
                }
                Some(info)
            }
            Op::Dup => {
                let old = a.int("fd").or_else(|| a.int("oldfd"))?;
                let mut info = self.lookup(pid, old)?;
                if ret >= 0 {
                    info.num = ret;
                    self.insert(pid, info.clone());
                }
                Some(info)
            }
            Op::Fchmod | Op::Setns | Op::FinitModule | Op::Fchdir => a.int("fd").and_then(|fd| self.lookup(pid, fd)),
            Op::Close => {
                // Falco's close event describes the descriptor it closed.
                let fd = a.int("fd")?;
                let info = self.get(pid, fd).cloned();
                if ret >= 0
                    && let Some(t) = self.procs.get_mut(&pid)
                {
                    t.remove(&fd);
                }
                info
            }
            Op::Clone => {
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
            Op::ProcExit => {
                self.procs.remove(&pid);
                None
            }
            _ => None,
        }
    }
}

fn socket_kind(domain: i64, ty: u64) -> (FdKind, Option<&'static str>) {
    const STREAM: u64 = libc::SOCK_STREAM as u64;
    const DGRAM: u64 = libc::SOCK_DGRAM as u64;
    const RAW: u64 = libc::SOCK_RAW as u64;
    const INET: i64 = libc::AF_INET as i64;
    const INET6: i64 = libc::AF_INET6 as i64;
    const UNIX: i64 = libc::AF_UNIX as i64;
    let proto = match ty & SOCK_TYPE_MASK {
        STREAM => Some("tcp"),
        DGRAM => Some("udp"),
        RAW => Some("raw"),
        _ => None,
    };
    match domain {
        INET => (FdKind::Ipv4, proto),
        INET6 => (FdKind::Ipv6, proto),
        UNIX => (FdKind::Unix, None),
        _ => (FdKind::Socket, None),
    }
}

#[cfg(test)]
mod tests;
