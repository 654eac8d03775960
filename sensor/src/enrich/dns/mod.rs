//! DNS on the event path: the process behind each answer, and the name
//! behind each address.
//!
//! - An answer arrives in softirq context, where the kernel cannot say
//!   which task it is for; the socket's cookie joins it to the task that
//!   sent the query ([`Dns::observe`] fills pid, tid, uid, gid and comm).
//! - Answers teach a per-cgroup (per-container) cache of address → name
//!   ([`names::Names`]); a later connect, accept, sendto or recvfrom to
//!   one of those addresses carries the name as `addr_name`, which the fd
//!   table keeps for the descriptor (`fd.sip.name`, `fd.rip.name`, ...).
//!
//! Both maps are bounded LRU maps: a busy node forgets the oldest entries,
//! counted in [`DnsStats`].

use std::num::NonZeroUsize;

use lru::LruCache;

use crate::event::{Arg, Event, Op, SockAddr};

pub mod names;
pub mod resolvers;

use names::Names;
use resolvers::Resolvers;

/// Sockets remembered between a query and its answer.
pub const SOCKET_OWNERS: usize = 16_384;
/// Addresses remembered, over all cgroups.
pub const NAMES: usize = 65_536;

/// The task that sent a socket's last query.
#[derive(Clone, Debug)]
struct Owner {
    pid: u32,
    tid: u32,
    uid: u32,
    gid: u32,
    comm: String,
}

/// Counters, read into the metrics by the pipeline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsStats {
    pub queries: u64,
    pub responses: u64,
    /// Messages that did not decode.
    pub malformed: u64,
    /// Answers whose socket sent no query the agent saw (it started
    /// after the query, or the owner was evicted): no process attributed.
    pub unattributed: u64,
    /// Events that got a name for their address.
    pub named: u64,
    /// Addresses learned from answers.
    pub learned: u64,
    /// Names forgotten to make room, and names past their TTL.
    pub evicted: u64,
    pub expired: u64,
}

pub struct Dns {
    owners: LruCache<u64, Owner>,
    names: Names,
    resolvers: Resolvers,
    pub stats: DnsStats,
}

impl Default for Dns {
    fn default() -> Self {
        Self::new(SOCKET_OWNERS, NAMES)
    }
}

impl Dns {
    pub fn new(owners: usize, names: usize) -> Self {
        Self {
            owners: LruCache::new(NonZeroUsize::new(owners).unwrap_or(NonZeroUsize::MIN)),
            names: Names::new(names),
            resolvers: Resolvers::new("/proc".into()),
            stats: DnsStats::default(),
        }
    }

    /// Reads each process's resolv.conf under `root` instead of `/proc`.
    #[must_use]
    pub fn with_proc_root(mut self, root: std::path::PathBuf) -> Self {
        self.resolvers = Resolvers::new(root);
        self
    }

    /// Live address → name entries.
    pub fn names_len(&self) -> usize {
        self.names.len()
    }

    /// Checks stand-ins for an exited querier against this cgroup v2 mount.
    pub fn set_cgroup_root(&mut self, root: Option<std::path::PathBuf>) {
        self.resolvers.set_cgroup_root(root);
    }

    /// Attributes and learns from `dns` events; names the address of
    /// socket events. `ancestors` gives a process's ancestors' pids (the
    /// process table), which stand in for a querier that is gone.
    pub fn observe(&mut self, ev: &mut Event, ancestors: impl FnOnce(u32) -> Vec<u32>) {
        match ev.kind.op() {
            Op::Dns => self.on_message(ev, ancestors),
            Op::Connect | Op::Accept | Op::Transfer => self.name_addr(ev),
            _ => {}
        }
    }

    fn on_message(&mut self, ev: &mut Event, ancestors: impl FnOnce(u32) -> Vec<u32>) {
        let cookie = ev.args.get("cookie").and_then(|a| match a {
            Arg::UInt(c) => Some(*c),
            _ => None,
        });
        let ingress = ev.args.str("direction") == Some("ingress");
        if crate::event::dns::malformed(ev) {
            self.stats.malformed += 1;
        }
        match ev.args.str("qr") {
            Some("response") => self.stats.responses += 1,
            Some(_) => self.stats.queries += 1,
            None => {}
        }
        let Some(cookie) = cookie else { return };
        if !ingress {
            if ev.pid != 0 {
                let o = Owner { pid: ev.pid, tid: ev.tid, uid: ev.uid, gid: ev.gid, comm: ev.comm.clone() };
                self.owners.put(cookie, o);
                if ev.args.str("qr") == Some("query")
                    && let Some(Arg::Addr(SockAddr::Inet { ip, .. } | SockAddr::Inet6 { ip, .. })) =
                        ev.args.get("server")
                {
                    let (ip, pid) = (*ip, ev.pid);
                    if let Some(ok) = self.resolvers.configured(ev.cgroup_id, pid, || ancestors(pid), ip, ev.ts) {
                        ev.args.push("resolver", Arg::Str(if ok { "configured" } else { "other" }.into()));
                    }
                }
            }
            return;
        }
        match self.owners.get(&cookie) {
            Some(o) => {
                ev.pid = o.pid;
                ev.tid = o.tid;
                ev.uid = o.uid;
                ev.gid = o.gid;
                ev.comm.clone_from(&o.comm);
            }
            None => self.stats.unattributed += 1,
        }
        // What the client was told: learned where it arrives.
        if ev.args.str("qr") == Some("response")
            && ev.args.str("rcode") == Some("NOERROR")
            && let (Some(query), Some(Arg::List(answers))) = (ev.args.str("query"), ev.args.get("answers"))
        {
            let ttl = ev.args.int("ttl").unwrap_or(0).max(0) as u64;
            let before = self.names.evicted();
            for a in answers {
                if let Ok(ip) = a.parse() {
                    self.names.learn(ev.cgroup_id, ip, query, ttl, ev.ts);
                    self.stats.learned += 1;
                }
            }
            self.stats.evicted += self.names.evicted() - before;
        }
    }

    /// `addr_name` for the peer (`addr`), `local_name` for our own end
    /// (`local`: a pod that resolved its own service's address).
    fn name_addr(&mut self, ev: &mut Event) {
        for (arg, out) in [("addr", "addr_name"), ("local", "local_name")] {
            let ip = match ev.args.get(arg) {
                Some(Arg::Addr(SockAddr::Inet { ip, .. } | SockAddr::Inet6 { ip, .. })) => *ip,
                _ => continue,
            };
            let before = self.names.expired();
            let name = self.names.lookup(ev.cgroup_id, ip, ev.ts);
            self.stats.expired += self.names.expired() - before;
            if let Some(name) = name {
                self.stats.named += 1;
                ev.args.push(out, Arg::Str(name.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests;
