//! Detection: every enriched event goes through the fd table and the rule
//! engine; matches become Falco alerts.

pub mod baseline;
pub mod fields;
pub mod fixtures;
pub mod flags;
pub mod reload;
pub mod rules_doc;

use std::collections::HashMap;
use std::path::PathBuf;

use std::sync::Arc;

use crate::enrich::container::meta::{ContainerMeta, MetaStore};
use crate::enrich::fdtable::FdTable;
use crate::enrich::users::Users;
use crate::event::Event;
use crate::rules::append_output::{AppendOutput, AppendSpec, RuleExtras};
use crate::rules::files::rules_files;
use crate::rules::{Alert, AlertOptions, EngineConfig, LoadReport, RuleSelection, RuleSet, RuleText};
use fields::EventFields;

/// The project's default rules (`rules/*.yaml`, shared lists and macros
/// first, then one file per topic), embedded so the binary is all a node
/// needs. Loaded in this order, which is the files' name order.
pub const DEFAULT_RULES: &[(&str, &str)] = &[
    ("rules/00_base.yaml (built in)", include_str!("../../../rules/00_base.yaml")),
    ("rules/10_execution.yaml (built in)", include_str!("../../../rules/10_execution.yaml")),
    ("rules/20_credential_access.yaml (built in)", include_str!("../../../rules/20_credential_access.yaml")),
    ("rules/30_persistence_evasion.yaml (built in)", include_str!("../../../rules/30_persistence_evasion.yaml")),
    ("rules/40_privilege_escape.yaml (built in)", include_str!("../../../rules/40_privilege_escape.yaml")),
    ("rules/50_network_impact.yaml (built in)", include_str!("../../../rules/50_network_impact.yaml")),
    ("rules/60_dns.yaml (built in)", include_str!("../../../rules/60_dns.yaml")),
    ("rules/70_baseline.yaml (built in)", include_str!("../../../rules/70_baseline.yaml")),
];

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("rules failed to load:\n{report}")]
    Rules { report: String },
}

/// Where rules come from, and which to enable after loading.
#[derive(Clone, Debug, Default)]
pub struct RuleSources {
    pub builtin: bool,
    pub paths: Vec<PathBuf>,
    /// Falco's `rules:` selection, applied in order after loading.
    pub select: Vec<RuleSelection>,
}

/// Loads the built-in rules (if asked) then the given files and
/// directories, in order, so later files can append to or override
/// earlier ones.
pub fn load_rules(src: &RuleSources, cfg: &EngineConfig) -> (Option<RuleSet>, LoadReport) {
    let mut texts: Vec<(String, String)> = Vec::new();
    if src.builtin {
        texts.extend(DEFAULT_RULES.iter().map(|(n, c)| ((*n).to_owned(), (*c).to_owned())));
    }
    let mut report_errors = Vec::new();
    for p in &src.paths {
        match rules_files(p) {
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
            Err(e) => report_errors.push(e),
        }
    }
    let refs: Vec<RuleText> = texts.iter().map(|(n, c)| RuleText { name: n, content: c }).collect();
    let (set, mut report) = RuleSet::load_texts_selected(&refs, cfg, &src.select);
    if !report_errors.is_empty() {
        report.errors.extend(report_errors);
        return (None, report);
    }
    (set, report)
}

/// Fields Falco's container plugin suggests (`suggested_output`, on by
/// default): analysts need the workload even when a rule's own output
/// forgot it.
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

/// Bounds of the fd table: descriptors per process, processes.
const FD_PER_PROCESS: usize = 1024;
const FD_PROCESSES: usize = 65_536;

pub struct Detector {
    rules: RuleSet,
    /// Container metadata, filled off the hot path (host mode: ids only).
    pub meta: MetaStore,
    last_meta: Option<(String, Arc<ContainerMeta>)>,
    container_users: HashMap<String, Arc<Users>>,
    /// `append_output` of each rule it adds anything to, by rule name.
    extras: HashMap<String, RuleExtras>,
    /// The `append_output` entries, for rules loaded later.
    append: AppendOutput,
    fds: FdTable,
    users: Users,
    hostname: String,
    opts: AlertOptions,
    boot_to_unix_ns: i128,
    /// Alerts emitted, by rule name.
    pub fired: HashMap<String, u64>,
    /// Learned profiles per workload (`--baseline-dir`); `None`: off.
    pub baselines: Option<baseline::Baselines>,
}

impl Detector {
    /// Falco's defaults: suggested fields appended to every rule's output,
    /// text times in UTC (see [`Detector::with_options`]).
    pub fn new(rules: RuleSet, users: Users, boot_to_unix_ns: i128) -> Self {
        // A constant: it parses, and a failure would only drop the suffix.
        let append = AppendOutput::compile(&[AppendSpec::suggested()], SUGGESTED_OUTPUT).unwrap_or_default();
        Self::with_options(rules, users, boot_to_unix_ns, AlertOptions::default(), &append)
    }

    /// With alert options (falco.yaml's `json_include_*`, time format and
    /// zone) and `append_output`; an empty `opts.hostname` is filled in.
    pub fn with_options(
        rules: RuleSet,
        users: Users,
        boot_to_unix_ns: i128,
        mut opts: AlertOptions,
        append: &AppendOutput,
    ) -> Self {
        let hostname = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
        if opts.hostname.is_empty() {
            opts.hostname.clone_from(&hostname);
        }
        let extras =
            rules.rules().iter().map(|r| (r.name.clone(), append.for_rule(r))).filter(|(_, x)| !x.is_empty()).collect();
        Self {
            rules,
            meta: MetaStore::new(None, None),
            last_meta: None,
            container_users: HashMap::new(),
            extras,
            append: append.clone(),
            fds: FdTable::new(FD_PER_PROCESS, FD_PROCESSES),
            users,
            hostname,
            opts,
            boot_to_unix_ns,
            fired: HashMap::new(),
            baselines: None,
        }
    }

    /// New alert options and `append_output` (a configuration reload), for
    /// the rules given to the next [`Self::replace_rules`].
    pub fn reconfigure(&mut self, mut opts: AlertOptions, append: &AppendOutput) {
        if opts.hostname.is_empty() {
            opts.hostname.clone_from(&self.hostname);
        }
        self.opts = opts;
        self.append = append.clone();
    }

    /// Runs `rules` from the next event on (a reload); the fd table,
    /// metadata and counters carry over.
    pub fn replace_rules(&mut self, rules: RuleSet) {
        self.extras = rules
            .rules()
            .iter()
            .map(|r| (r.name.clone(), self.append.for_rule(r)))
            .filter(|(_, x)| !x.is_empty())
            .collect();
        self.rules = rules;
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

    /// For live events: descriptors opened before the sensor started are
    /// read from /proc when an event first names them.
    #[must_use]
    pub fn with_live_fds(mut self) -> Self {
        self.fds = FdTable::with_proc_root(FD_PER_PROCESS, FD_PROCESSES, "/proc".into());
        self
    }

    pub fn hostname(&self) -> &str {
        &self.hostname
    }

    pub fn alert_options(&self) -> &AlertOptions {
        &self.opts
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The rule set back, for a fresh detector (`sensor rules test` gives
    /// every fixture its own).
    pub fn into_rules(self) -> RuleSet {
        self.rules
    }

    pub fn fd_stats(&self) -> crate::enrich::fdtable::FdStats {
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
            Some(c) if ev.kind.op() == crate::event::Op::Execve => self
                .container_users(&c.id, ev.pid)
                .or_else(|| meta.as_ref().and_then(|m| m.container.pid).and_then(|p| self.container_users(&c.id, p))),
            Some(c) => self.container_users.get(&c.id).cloned(),
            None => None,
        };
        let mut fields = EventFields {
            ev,
            meta: meta.as_deref(),
            fd: fd.as_ref(),
            users: users.as_deref().unwrap_or(&self.users),
            hostname: &self.hostname,
            boot_to_unix_ns: self.boot_to_unix_ns,
            baseline: None,
        };
        let verdict = self.baselines.as_mut().and_then(|b| b.observe(&fields));
        fields.baseline = verdict.as_ref();
        let mut hits = Vec::new();
        self.rules.evaluate(&fields, &mut hits);
        let mut alerts: Vec<Alert> = hits.iter().map(|r| Alert::new(r, &fields, ev.ts, &self.opts)).collect();
        for a in &mut alerts {
            if let Some(x) = self.extras.get(&a.rule) {
                x.apply(a, &fields, &self.opts.tz);
            }
        }
        for a in &alerts {
            *self.fired.entry(a.rule.clone()).or_default() += 1;
        }
        alerts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `rules/*.yaml` is embedded, in file-name order: a new rule file
    /// cannot be forgotten, and `--rules rules/` loads what the binary has.
    #[test]
    fn every_rule_file_is_embedded_in_name_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
        let on_disk: Vec<String> = rules_files(&dir)
            .unwrap()
            .iter()
            .map(|p| format!("rules/{} (built in)", p.file_name().unwrap().to_string_lossy()))
            .collect();
        let embedded: Vec<String> = DEFAULT_RULES.iter().map(|(n, _)| (*n).to_owned()).collect();
        assert_eq!(embedded, on_disk);
        for (name, text) in DEFAULT_RULES {
            let file = dir.join(name.trim_start_matches("rules/").trim_end_matches(" (built in)"));
            assert_eq!(*text, std::fs::read_to_string(&file).unwrap(), "{name}");
        }
    }

    #[test]
    fn default_rules_load_without_errors_or_warnings() {
        let (set, report) =
            load_rules(&RuleSources { builtin: true, ..RuleSources::default() }, &EngineConfig::default());
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert!(set.unwrap().rules().len() >= 40);
    }
}
