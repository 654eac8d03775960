//! The DNS servers each cgroup (container) is configured to use: the
//! `nameserver` lines of its own `/etc/resolv.conf`, read through
//! `/proc/PID/root` once per cgroup and again after [`REREAD_S`]. A query
//! to any other server is a process picking its own resolver (DNS
//! tunnelling, or a way around the cluster's DNS policy).

use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use lru::LruCache;

/// Seconds before a cgroup's resolv.conf is read again.
pub const REREAD_S: u64 = 300;
/// Cgroups remembered.
const CGROUPS: usize = 4096;

struct Known {
    servers: Vec<IpAddr>,
    read_ns: u64,
}

pub struct Resolvers {
    proc_root: PathBuf,
    by_cgroup: LruCache<u64, Known>,
    /// resolv.conf reads that failed (the process was gone, no file).
    pub unreadable: u64,
}

/// `nameserver` addresses of a resolv.conf text.
pub fn parse(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next()).flatten()
        })
        // A scoped IPv6 server (`fe80::1%eth0`) compares without its zone.
        .filter_map(|a| a.split('%').next().and_then(|a| a.parse().ok()))
        .collect()
}

impl Resolvers {
    pub fn new(proc_root: PathBuf) -> Self {
        Self {
            proc_root,
            by_cgroup: LruCache::new(NonZeroUsize::new(CGROUPS).unwrap_or(NonZeroUsize::MIN)),
            unreadable: 0,
        }
    }

    /// Whether `server` is one `pid`'s cgroup is configured with; `None`
    /// when its resolv.conf cannot be read.
    pub fn configured(&mut self, cgroup: u64, pid: u32, server: IpAddr, now_ns: u64) -> Option<bool> {
        let fresh = self
            .by_cgroup
            .get(&cgroup)
            .is_some_and(|k| now_ns.saturating_sub(k.read_ns) < REREAD_S.saturating_mul(1_000_000_000));
        if !fresh {
            let path = self.proc_root.join(pid.to_string()).join("root/etc/resolv.conf");
            match std::fs::read_to_string(&path) {
                Ok(t) => {
                    self.by_cgroup.put(cgroup, Known { servers: parse(&t), read_ns: now_ns });
                }
                Err(e) => {
                    self.unreadable += 1;
                    log::debug!("{}: {e}", path.display());
                    // An older reading still says something.
                    if !self.by_cgroup.contains(&cgroup) {
                        return None;
                    }
                }
            }
        }
        let k = self.by_cgroup.get(&cgroup)?;
        Some(k.servers.contains(&server))
    }
}
