//! The DNS servers each cgroup (container) is configured to use: the
//! `nameserver` lines of its own `/etc/resolv.conf`, read through
//! `/proc/PID/root` once per cgroup and again after [`REREAD_S`]. A query
//! to any other server is a process picking its own resolver (DNS
//! tunnelling, or a way around the cluster's DNS policy).
//!
//! A stub resolver that gets no answer (ICMP unreachable) exits before the
//! agent reads its `/proc` entry; then a living ancestor in the same cgroup
//! (checked: its cgroup v2 directory's inode is the cgroup id) stands in.

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
    /// The cgroup v2 mount, to check that a stand-in is in the same cgroup.
    cgroup_root: Option<PathBuf>,
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
            cgroup_root: None,
            by_cgroup: LruCache::new(NonZeroUsize::new(CGROUPS).unwrap_or(NonZeroUsize::MIN)),
            unreadable: 0,
        }
    }

    pub fn set_cgroup_root(&mut self, root: Option<PathBuf>) {
        self.cgroup_root = root;
    }

    /// Whether `pid` (a process of cgroup `cgroup`) is in that cgroup v2
    /// directory: `0::/path` in its /proc cgroup file, whose inode is the id.
    fn in_cgroup(&self, pid: u32, cgroup: u64) -> bool {
        use std::os::unix::fs::MetadataExt as _;
        let Some(root) = &self.cgroup_root else { return false };
        let Ok(text) = std::fs::read_to_string(self.proc_root.join(pid.to_string()).join("cgroup")) else {
            return false;
        };
        text.lines()
            .find_map(|l| l.strip_prefix("0::"))
            .and_then(|p| std::fs::metadata(root.join(p.trim_start_matches('/'))).ok())
            .is_some_and(|m| m.ino() == cgroup)
    }

    fn read(&self, pid: u32) -> std::io::Result<String> {
        std::fs::read_to_string(self.proc_root.join(pid.to_string()).join("root/etc/resolv.conf"))
    }

    /// Whether `server` is one the cgroup of `pid` is configured with; its
    /// `ancestors` stand in when it is gone. `None` when no resolv.conf can
    /// be read.
    pub fn configured(
        &mut self,
        cgroup: u64,
        pid: u32,
        ancestors: impl FnOnce() -> Vec<u32>,
        server: IpAddr,
        now_ns: u64,
    ) -> Option<bool> {
        let fresh = self
            .by_cgroup
            .get(&cgroup)
            .is_some_and(|k| now_ns.saturating_sub(k.read_ns) < REREAD_S.saturating_mul(1_000_000_000));
        if !fresh {
            let read = |p: u32| self.read(p).map_err(|e| log::debug!("resolv.conf of pid {p}: {e}")).ok();
            let text = read(pid).or_else(|| {
                ancestors().into_iter().find_map(|a| if self.in_cgroup(a, cgroup) { read(a) } else { None })
            });
            if let Some(t) = text {
                self.by_cgroup.put(cgroup, Known { servers: parse(&t), read_ns: now_ns });
            } else {
                self.unreadable += 1;
                // An older reading still says something.
                if !self.by_cgroup.contains(&cgroup) {
                    return None;
                }
            }
        }
        let k = self.by_cgroup.get(&cgroup)?;
        Some(k.servers.contains(&server))
    }
}
