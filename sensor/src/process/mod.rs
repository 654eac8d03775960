//! The process table: seeded from /proc, kept current from exec, fork and
//! exit records. Processes are keyed by pid and start time (the exec id), so
//! a reused pid never inherits a dead process's identity; exited processes
//! stay resolvable for a grace period because their last events can still
//! be queued behind the exit.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::event::decode::Lifecycle;
use crate::event::process_view::{Ancestor, ProcessView, SharedView};

pub mod entry;
mod env;
pub mod path;
pub mod procfs;

pub use entry::{Details, Process};

/// How far up `ancestors` goes; Falco rules use up to `proc.aname[7]`.
pub const MAX_ANCESTORS: usize = 8;

/// Cached process views (each holds its ancestry and its JSON): enough for
/// every process that is producing events, not one per idle process.
const MAX_VIEWS: usize = 4096;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableStats {
    pub live: usize,
    pub exited: usize,
    /// Entries dropped because the table was full.
    pub evicted: u64,
    /// Events whose pid was unknown and had to be read from /proc.
    pub misses: u64,
    /// A fork reused a pid we still believed alive (its exit was lost).
    pub pid_reused: u64,
}

pub struct ProcessTable {
    live: HashMap<u32, Arc<Process>>,
    /// Ordered by pid, then start: the most recent exited process of a pid
    /// is one range query away.
    exited: BTreeMap<(u32, u64), Arc<Process>>,
    exit_queue: VecDeque<(Instant, (u32, u64))>,
    /// Built views, valid while `generation` is unchanged. A change to one
    /// process (exec, exit, chdir, pid reuse) drops its own view and, when
    /// it has children, the views that list it as an ancestor; only a
    /// change that can touch any chain (a missing ancestor found, entries
    /// evicted) moves the generation and drops them all.
    views: HashMap<u32, (u64, Arc<SharedView>)>,
    generation: u64,
    /// Parent pids of the table's processes: only their changes can reach
    /// another process's view.
    parents: HashSet<u32>,
    envs: env::EnvInterner,
    grace: Duration,
    capacity: usize,
    stats: TableStats,
}

impl ProcessTable {
    pub fn new(capacity: usize, grace: Duration) -> Self {
        Self {
            live: HashMap::new(),
            exited: BTreeMap::new(),
            exit_queue: VecDeque::new(),
            views: HashMap::new(),
            generation: 0,
            parents: HashSet::new(),
            envs: env::EnvInterner::default(),
            grace,
            capacity,
            stats: TableStats::default(),
        }
    }

    /// Reads every process in /proc. Entries that vanish mid-scan are skipped.
    pub fn seed_from_proc(&mut self) -> usize {
        let mut n = 0;
        for p in procfs::all_processes() {
            self.insert(p);
            n += 1;
        }
        n
    }

    pub fn stats(&self) -> TableStats {
        TableStats { live: self.live.len(), exited: self.exited.len(), ..self.stats }
    }

    pub fn get(&self, pid: u32) -> Option<&Arc<Process>> {
        self.live.get(&pid)
    }

    fn insert(&mut self, p: Process) {
        if self.live.len() >= self.capacity && !self.live.contains_key(&p.pid) {
            self.make_room();
        }
        if p.ppid != 0 {
            self.parents.insert(p.ppid);
        }
        self.live.insert(p.pid, Arc::new(p));
    }

    /// Drops entries whose process is gone (their exit was lost), then, if
    /// still above 90% full, the oldest-started ones: room for a burst, so
    /// the sweep does not rerun on every insert. Every drop is counted.
    fn make_room(&mut self) {
        self.generation += 1;
        let gone: Vec<u32> = self.live.keys().copied().filter(|pid| !procfs::exists(*pid)).collect();
        for pid in gone {
            self.live.remove(&pid);
            self.stats.evicted += 1;
        }
        let target = self.capacity - self.capacity / 10;
        let live = &self.live;
        self.parents.retain(|p| live.contains_key(p));
        if self.live.len() >= target {
            let mut by_age: Vec<(u64, u32)> = self.live.values().map(|p| (p.start_ns, p.pid)).collect();
            by_age.sort_unstable();
            let excess = self.live.len() + 1 - target.max(1);
            for (_, pid) in by_age.into_iter().take(excess) {
                self.live.remove(&pid);
                self.stats.evicted += 1;
            }
        }
    }

    /// Applies a lifecycle record. `pid` is the event's thread-group id.
    pub fn apply(&mut self, pid: u32, comm: &str, uid: u32, lc: &Lifecycle) {
        self.expire(Instant::now());
        match lc {
            Lifecycle::Fork { child_pid, child_start_ns } => {
                let parent = self.live.get(&pid).cloned();
                // A view cached under the child's pid belongs to an earlier
                // process of that pid.
                self.invalidate(*child_pid);
                if let Some(old) = self.live.remove(child_pid) {
                    self.stats.pid_reused += 1;
                    self.retire(old);
                }
                let child = match parent {
                    Some(p) => {
                        let mut child =
                            Process { pid: *child_pid, ppid: pid, start_ns: *child_start_ns, ..(*p).clone() };
                        // Its own pid in its namespace is not its parent's.
                        child.details.vpid = None;
                        // The parent's name now: a process may rename itself
                        // (prctl PR_SET_NAME, as runc's `runc:[1:CHILD]`
                        // does) and its children start with that name, as
                        // libsinsp takes the comm of the clone.
                        if !comm.is_empty() {
                            comm.clone_into(&mut child.name);
                        }
                        child
                    }
                    None => Process {
                        pid: *child_pid,
                        ppid: pid,
                        start_ns: *child_start_ns,
                        name: comm.to_owned(),
                        exe: String::new(),
                        args: Vec::new(),
                        cwd: None,
                        uid,
                        euid: uid,
                        details: Details::default(),
                        container: procfs::container(*child_pid),
                    },
                };
                self.insert(child);
            }
            Lifecycle::Exec(x) => {
                self.invalidate(pid);
                // The kernel walked exe path and cwd at exec: right even for a
                // process gone before this record is read. /proc fills what the
                // record lacks (session id; paths when the walk failed).
                let cwd = x.cwd.clone().or_else(|| procfs::cwd(pid));
                let exe = resolve_exe(&x.exe, cwd.as_deref());
                let mut details = procfs::session(pid);
                details.exepath = x.exepath.clone().or_else(|| procfs::exepath_of(pid));
                details.tty = x.tty;
                details.loginuid = x.loginuid;
                details.cap_effective = x.cap_effective;
                details.cap_permitted = x.cap_permitted;
                details.cap_inheritable = x.cap_inheritable;
                details.exe_writable = x.exe_writable;
                details.exe_upper_layer = x.exe_upper_layer;
                details.exe_from_memfd = x.exe_from_memfd;
                details.env = self.envs.intern(&x.env);
                details.unit.clone_from(&x.unit);
                self.insert(Process {
                    pid,
                    ppid: x.ppid,
                    start_ns: x.start_ns,
                    name: comm.to_owned(),
                    exe,
                    args: x.args.clone(),
                    cwd,
                    uid,
                    euid: x.euid,
                    details,
                    // The kernel's record first: the process may be gone
                    // already; /proc for hybrid nodes where the container is
                    // only in v1 hierarchies.
                    container: x.container.clone().or_else(|| procfs::container(pid)),
                });
            }
            Lifecycle::Exit { start_ns } => {
                if let Some(p) = self.live.get(&pid)
                    && (*start_ns == 0 || same_start(p.start_ns, *start_ns))
                {
                    self.invalidate(pid);
                    self.parents.remove(&pid);
                    let p = self.live.remove(&pid).expect("checked above");
                    self.retire(p);
                }
            }
        }
    }

    /// A successful `chdir`/`fchdir`: later relative paths of the process
    /// resolve against `dir` (absolute, or relative to the old cwd).
    pub fn chdir(&mut self, pid: u32, dir: &str) {
        let Some(p) = self.live.get(&pid) else { return };
        let joined = crate::process::path::absolute(dir, p.cwd.as_deref());
        let cwd = path::normalize(&joined);
        if p.cwd.as_deref() == Some(cwd.as_str()) {
            return;
        }
        let mut np = (**p).clone();
        np.cwd = Some(cwd);
        self.live.insert(pid, Arc::new(np));
        // The cwd is in the process's own view only, not in its children's
        // ancestors.
        self.views.remove(&pid);
    }

    /// Drops the cached views that show `pid`: its own and, if it has
    /// children, every view that lists it among the ancestors.
    fn invalidate(&mut self, pid: u32) {
        if self.parents.contains(&pid) {
            self.views.retain(|&p, (_, v)| p != pid && !v.ancestors.iter().any(|a| a.pid == pid));
        } else {
            self.views.remove(&pid);
        }
    }

    fn retire(&mut self, p: Arc<Process>) {
        let key = (p.pid, p.start_ns);
        self.exited.insert(key, p);
        self.exit_queue.push_back((Instant::now() + self.grace, key));
    }

    fn expire(&mut self, now: Instant) {
        while let Some((deadline, key)) = self.exit_queue.front().copied() {
            if deadline > now {
                break;
            }
            self.exit_queue.pop_front();
            self.exited.remove(&key);
        }
    }

    /// The live process `pid`, or the most recent exited one, or a fresh
    /// read of /proc for a process we never saw (counted as a miss).
    pub fn resolve(&mut self, pid: u32) -> Option<Arc<Process>> {
        if let Some(p) = self.live.get(&pid) {
            return Some(p.clone());
        }
        if let Some((_, p)) = self.exited.range((pid, 0)..=(pid, u64::MAX)).next_back() {
            return Some(p.clone());
        }
        self.stats.misses += 1;
        let p = procfs::process(pid)?;
        // It may be the missing link of an ancestry already built.
        self.generation += 1;
        self.insert(p);
        self.live.get(&pid).cloned()
    }

    /// The event's view: the process and its chain of ancestors, built once
    /// per process and generation.
    pub fn view(&mut self, pid: u32) -> Option<Arc<SharedView>> {
        if let Some((g, v)) = self.views.get(&pid)
            && *g == self.generation
        {
            return Some(v.clone());
        }
        let v = Arc::new(SharedView::new(self.build_view(pid)?));
        // Views of the processes events come from now; an idle process's
        // is rebuilt when it acts again.
        if self.views.len() >= MAX_VIEWS {
            self.views.clear();
        }
        self.views.insert(pid, (self.generation, v.clone()));
        Some(v)
    }

    fn build_view(&mut self, pid: u32) -> Option<ProcessView> {
        let p = self.resolve(pid)?;
        let mut ancestors = Vec::new();
        let mut next = p.ppid;
        let mut seen = pid;
        while ancestors.len() < MAX_ANCESTORS && next != 0 && next != seen {
            let Some(a) = self.live.get(&next).cloned() else { break };
            seen = a.pid;
            next = a.ppid;
            ancestors.push(Ancestor {
                pid: a.pid,
                name: a.name.clone(),
                exe: a.exe.clone(),
                exepath: a.details.exepath.clone(),
                cmdline: a.cmdline(),
                env: a.details.env.clone(),
            });
        }
        Some(ProcessView {
            exec_id: p.exec_id(),
            ppid: p.ppid,
            name: p.name.clone(),
            exe: p.exe.clone(),
            exepath: p.details.exepath.clone(),
            args: p.args.clone(),
            cwd: p.cwd.clone(),
            euid: p.euid,
            loginuid: p.details.loginuid,
            tty: p.details.tty,
            sid: p.details.sid,
            pgid: p.details.pgid,
            vpid: p.details.vpid,
            vpgid: p.details.vpgid,
            cap_effective: p.details.cap_effective,
            cap_permitted: p.details.cap_permitted,
            cap_inheritable: p.details.cap_inheritable,
            exe_writable: p.details.exe_writable,
            exe_upper_layer: p.details.exe_upper_layer,
            exe_from_memfd: p.details.exe_from_memfd,
            env: p.details.env.clone(),
            start_ns: p.start_ns,
            container: p.container.clone(),
            unit: p.details.unit.clone(),
            ancestors,
        })
    }
}

/// Seeded start times come at clock-tick precision (10 ms at `USER_HZ=100`).
fn same_start(a: u64, b: u64) -> bool {
    a.abs_diff(b) < procfs::tick_ns()
}

/// execve's filename as given, made absolute against the cwd.
fn resolve_exe(exe: &str, cwd: Option<&str>) -> String {
    match cwd {
        Some(cwd) if !exe.starts_with('/') && !exe.is_empty() => {
            let rel = exe.strip_prefix("./").unwrap_or(exe);
            format!("{}/{}", cwd.trim_end_matches('/'), rel)
        }
        _ => exe.to_owned(),
    }
}

#[cfg(test)]
mod tests;
