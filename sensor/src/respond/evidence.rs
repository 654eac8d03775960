//! `capture`: evidence taken before any other action of the same alert
//! (after a kill, /proc of the process is gone): the process tree, its
//! open files and sockets, its container's metadata and the container's
//! last events. It is attached to the actions' alerts
//! (`response.evidence`), so every output (and its on-disk spool) keeps it
//! with the alert.

use std::collections::{HashMap, VecDeque};

use serde_json::{Value, json};

use crate::enrich::container::meta::ContainerMeta;
use crate::event::Event;

/// Events kept per container, and containers kept.
pub const LAST_EVENTS: usize = 32;
pub const CONTAINERS: usize = 256;
/// Descriptors listed at most.
pub const MAX_FDS: usize = 256;

/// One event as the evidence lists it.
#[derive(Debug, Clone)]
struct Recent {
    ts: u64,
    kind: &'static str,
    pid: u32,
    comm: String,
    what: Option<String>,
}

/// The last events of each container, kept only while a rule has `capture`.
#[derive(Debug, Default)]
pub struct History {
    by_container: HashMap<String, VecDeque<Recent>>,
}

impl History {
    pub fn record(&mut self, ev: &Event) {
        let Some(c) = ev.proc.as_deref().and_then(|p| p.container.as_ref()) else { return };
        if !self.by_container.contains_key(&c.id) && self.by_container.len() >= CONTAINERS {
            self.by_container.clear();
        }
        let q = self.by_container.entry(c.id.clone()).or_default();
        if q.len() >= LAST_EVENTS {
            q.pop_front();
        }
        let what = ["name", "exe", "path", "pathname", "addr"].iter().find_map(|k| ev.args.str(k)).map(str::to_owned);
        q.push_back(Recent { ts: ev.ts, kind: ev.kind.name(), pid: ev.pid, comm: ev.comm.clone(), what });
    }

    fn last(&self, container: &str) -> Vec<Value> {
        self.by_container.get(container).map_or_else(Vec::new, |q| {
            q.iter()
                .map(|r| json!({"ts": r.ts, "type": r.kind, "pid": r.pid, "comm": r.comm, "what": r.what}))
                .collect()
        })
    }
}

/// `/proc/PID/net/{tcp,tcp6,udp,udp6}` lines by socket inode:
/// `tcp 127.0.0.1:8080 -> 0.0.0.0:0`.
fn sockets_by_inode(pid: u32) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for proto in ["tcp", "tcp6", "udp", "udp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{proto}")) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let (Some(local), Some(remote), Some(inode)) = (f.get(1), f.get(2), f.get(9)) {
                out.insert((*inode).to_owned(), format!("{proto} {} -> {}", addr(local), addr(remote)));
            }
        }
    }
    out
}

/// `0100007F:1F90` → `127.0.0.1:8080` (IPv6 left in hex).
fn addr(hex: &str) -> String {
    let Some((ip, port)) = hex.split_once(':') else { return hex.to_owned() };
    let port = u16::from_str_radix(port, 16).map_or_else(|_| port.to_owned(), |p| p.to_string());
    if ip.len() == 8
        && let Ok(v) = u32::from_str_radix(ip, 16)
    {
        return format!("{}:{port}", std::net::Ipv4Addr::from(v.swap_bytes()));
    }
    format!("[{ip}]:{port}")
}

/// Open files and sockets of `pid`, from /proc (empty once it is gone).
fn fds(pid: u32) -> (Vec<String>, Vec<String>) {
    let (mut files, mut sockets) = (Vec::new(), Vec::new());
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return (files, sockets) };
    let mut socks = None;
    for e in dir.filter_map(Result::ok).take(MAX_FDS) {
        let Ok(target) = std::fs::read_link(e.path()) else { continue };
        let t = target.to_string_lossy().into_owned();
        let fd = e.file_name().to_string_lossy().into_owned();
        if let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
            let map = socks.get_or_insert_with(|| sockets_by_inode(pid));
            sockets.push(format!("{fd}: {}", map.get(inode).cloned().unwrap_or(t)));
        } else {
            files.push(format!("{fd}: {t}"));
        }
    }
    files.sort();
    sockets.sort();
    (files, sockets)
}

/// The evidence of `ev`'s process, now.
#[must_use]
pub fn collect(ev: &Event, meta: Option<&ContainerMeta>, history: Option<&History>) -> Value {
    let mut tree = Vec::new();
    if let Some(p) = ev.proc.as_deref() {
        tree.push(json!({"pid": ev.pid, "name": p.name, "exepath": p.exepath, "args": p.args, "cwd": p.cwd}));
        for a in &p.ancestors {
            tree.push(json!({"pid": a.pid, "name": a.name, "exepath": a.exepath, "cmdline": a.cmdline}));
        }
    }
    let (files, sockets) = fds(ev.pid);
    let container = ev.proc.as_deref().and_then(|p| p.container.as_ref());
    let meta_json = container.map(|c| {
        let m = meta;
        json!({
            "id": c.id,
            "name": m.and_then(|m| m.container.name.clone()),
            "image": m.and_then(|m| m.container.image.clone()),
            "privileged": m.and_then(|m| m.container.privileged),
            "pod": m.and_then(|m| m.pod.as_ref()).map(|p| json!({
                "namespace": p.namespace, "name": p.name, "uid": p.uid, "labels": p.labels,
                "service_account": p.service_account,
            })),
        })
    });
    json!({
        "process_tree": tree,
        "open_files": files,
        "sockets": sockets,
        "container": meta_json,
        "last_events": container.zip(history).map(|(c, h)| h.last(&c.id)).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::addr;

    #[test]
    fn proc_net_addresses_read_as_text() {
        assert_eq!(addr("0100007F:1F90"), "127.0.0.1:8080");
        assert_eq!(addr("00000000000000000000000001000000:0035"), "[00000000000000000000000001000000]:53");
    }
}
