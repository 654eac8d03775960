//! Detection: every enriched event goes through the fd table and the rule
//! engine; matches become Falco alerts.

pub mod fields;
pub mod flags;
pub mod sink;
pub mod users;

use std::collections::HashMap;
use std::path::PathBuf;

use std::sync::Arc;

use crate::container::meta::{ContainerMeta, MetaStore};
use crate::event::Event;
use crate::fdtable::FdTable;
use crate::rules::output::OutputFormat;
use crate::rules::{Alert, AlertOptions, EngineConfig, LoadReport, RuleSet, RuleText};
use fields::EventFields;
use users::Users;

/// The project's default rules, embedded so the binary is all a node needs.
pub const DEFAULT_RULES: &str = include_str!("../../../rules/sensor_rules.yaml");
pub const DEFAULT_RULES_NAME: &str = "rules/sensor_rules.yaml (built in)";

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("rules failed to load:\n{report}")]
    Rules { report: String },
}

/// Where rules come from.
#[derive(Clone, Debug, Default)]
pub struct RuleSources {
    pub builtin: bool,
    pub paths: Vec<PathBuf>,
}

/// Loads the built-in rules (if asked) then the given files and
/// directories, in order, so later files can append to or override
/// earlier ones.
pub fn load_rules(src: &RuleSources, cfg: &EngineConfig) -> (Option<RuleSet>, LoadReport) {
    let mut texts: Vec<(String, String)> = Vec::new();
    if src.builtin {
        texts.push((DEFAULT_RULES_NAME.to_owned(), DEFAULT_RULES.to_owned()));
    }
    let mut report_errors = Vec::new();
    for p in &src.paths {
        match collect_files(p) {
            Ok(files) => {
                for f in files {
                    match std::fs::read_to_string(&f) {
                        Ok(t) => texts.push((f.display().to_string(), t)),
                        Err(source) => {
                            report_errors.push(crate::rules::LoadError::Io { path: f.display().to_string(), source });
                        }
                    }
                }
            }
            Err(source) => report_errors.push(crate::rules::LoadError::Io { path: p.display().to_string(), source }),
        }
    }
    let refs: Vec<RuleText> = texts.iter().map(|(n, c)| RuleText { name: n, content: c }).collect();
    let (set, mut report) = RuleSet::load_texts(&refs, cfg);
    if !report_errors.is_empty() {
        report.errors.extend(report_errors);
        return (None, report);
    }
    (set, report)
}

/// A file, or the `*.yaml`/`*.yml` files of a directory in name order.
fn collect_files(p: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    if !p.is_dir() {
        return Ok(vec![p.to_owned()]);
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(p)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    v.sort();
    Ok(v)
}

/// Fields appended to every alert, as Falco's container plugin suggests
/// (`suggested_output`): analysts need the workload even when a rule's own
/// output forgot it.
pub const SUGGESTED_OUTPUT: &str = " container_id=%container.id container_name=%container.name \
container_image_repository=%container.image.repository container_image_tag=%container.image.tag \
k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name";

/// Whether `pid` still sees the host's root directory: that of pid 1 with
/// `hostPID`, else (pid 1 unreadable, as in some sandboxes) the agent's own.
fn root_is_host(pid: u32) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let host = std::fs::metadata("/proc/1/root").or_else(|_| std::fs::metadata("/proc/self/root"));
    match (std::fs::metadata(format!("/proc/{pid}/root")), host) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        // Unreadable: not known to be the container's, so nothing is cached.
        _ => true,
    }
}

pub struct Detector {
    rules: RuleSet,
    /// Container metadata, filled off the hot path (host mode: ids only).
    pub meta: MetaStore,
    last_meta: Option<(String, Arc<ContainerMeta>)>,
    container_users: HashMap<String, Arc<Users>>,
    suggested: Option<OutputFormat>,
    fds: FdTable,
    users: Users,
    hostname: String,
    opts: AlertOptions,
    boot_to_unix_ns: i128,
    /// Alerts emitted, by rule name.
    pub fired: HashMap<String, u64>,
}

impl Detector {
    pub fn new(rules: RuleSet, users: Users, boot_to_unix_ns: i128) -> Self {
        let hostname = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
        let opts = AlertOptions { hostname: hostname.clone(), ..AlertOptions::default() };
        Self {
            rules,
            meta: MetaStore::new(None, None),
            last_meta: None,
            container_users: HashMap::new(),
            // A constant: it parses, and a failure would only drop the suffix.
            suggested: OutputFormat::parse(SUGGESTED_OUTPUT).ok(),
            fds: FdTable::new(1024, 65_536),
            users,
            hostname,
            opts,
            boot_to_unix_ns,
            fired: HashMap::new(),
        }
    }

    /// Metadata of a container; consecutive events of one container (the
    /// common case) skip the map lookup.
    fn container_meta(&mut self, id: &str) -> Option<Arc<ContainerMeta>> {
        if let Some((last_id, m)) = &self.last_meta
            && last_id == id
        {
            return Some(m.clone());
        }
        let m = self.meta.get(id)?.clone();
        self.last_meta = Some((id.to_owned(), m.clone()));
        Some(m)
    }

    /// The container's own users and groups (its image's /etc/passwd, read
    /// once per container through /proc/PID/root): uid 1000 is not the same
    /// name in a container as on the host. `None` when unreadable (the
    /// process is gone); the next event of the container tries again.
    fn container_users(&mut self, id: &str, pid: u32) -> Option<Arc<Users>> {
        if let Some(u) = self.container_users.get(id) {
            return Some(u.clone());
        }
        // A runtime's helper (`runc init`) runs in the container's cgroup
        // before it enters the container's root: its files are the host's.
        if root_is_host(pid) {
            log::debug!("container {id}: pid {pid} still has the host's root");
            return None;
        }
        let root = std::path::PathBuf::from(format!("/proc/{pid}/root/etc"));
        let u = Users::read(&root.join("passwd"), &root.join("group"))?;
        if self.container_users.len() >= 4096 {
            self.container_users.clear();
        }
        let u = Arc::new(u);
        self.container_users.insert(id.to_owned(), u.clone());
        Some(u)
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn fd_stats(&self) -> crate::fdtable::FdStats {
        self.fds.stats()
    }

    /// Runs one event through the fd table and the rules.
    pub fn process(&mut self, ev: &Event) -> Vec<Alert> {
        let cwd = ev.proc.as_deref().and_then(|p| p.cwd.as_deref());
        let fd = self.fds.observe(ev, cwd);
        let container = ev.proc.as_deref().and_then(|p| p.container.as_ref());
        let meta = container.and_then(|c| self.container_meta(&c.id));
        let users = match container {
            // Read at an exec only: before it, a runtime's setup process can
            // still see the host's root. The exec'ing process may be gone
            // already; the container's init (runtime metadata) shares its root.
            Some(c) if ev.kind == "execve" => self
                .container_users(&c.id, ev.pid)
                .or_else(|| meta.as_ref().and_then(|m| m.container.pid).and_then(|p| self.container_users(&c.id, p))),
            Some(c) => self.container_users.get(&c.id).cloned(),
            None => None,
        };
        let fields = EventFields {
            ev,
            meta: meta.as_deref(),
            fd: fd.as_ref(),
            users: users.as_deref().unwrap_or(&self.users),
            hostname: &self.hostname,
            boot_to_unix_ns: self.boot_to_unix_ns,
        };
        let mut hits = Vec::new();
        self.rules.evaluate(&fields, &mut hits);
        let mut alerts: Vec<Alert> = hits.iter().map(|r| Alert::new(r, &fields, ev.ts, &self.opts)).collect();
        if let Some(sug) = &self.suggested {
            for a in &mut alerts {
                let extra = sug.render(&fields);
                if let Some(o) = &mut a.output {
                    o.push_str(&extra);
                }
                if let Some(m) = &mut a.message {
                    m.push_str(&extra);
                }
                if let Some(of) = &mut a.output_fields {
                    let mut more = serde_json::Map::new();
                    sug.fields_json(&fields, &mut more);
                    for (k, v) in more {
                        of.entry(k).or_insert(v);
                    }
                }
            }
        }
        for a in &alerts {
            *self.fired.entry(a.rule.clone()).or_default() += 1;
        }
        alerts
    }
}
