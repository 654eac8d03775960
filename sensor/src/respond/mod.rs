//! The response stage: after detection, a rule's `actions:` are carried
//! out (mode `enforce`) or reported as what would have been done (mode
//! `monitor`, the default), per namespace, never on the allow-list, at
//! most `max_actions_per_minute`. Every action is an alert of its own.
//!
//! - `kill_process` of a rule whose condition is a process name or an exe
//!   path at exec ([`plan`]) is done by the kernel before the new image
//!   runs: the names and paths are pushed into the exec programs' maps
//!   ([`crate::kernel::response`]) at start and at every reload, and the
//!   exec record says it was killed. One on an opened file's absolute path
//!   is done at the open's entry ([`crate::kernel::open_kill`]).
//! - `deny_connect` of a rule on a destination ([`deny`]) is done by the
//!   cgroup connect programs ([`crate::kernel::deny_hook`]); `kill_container`
//!   through `cgroup.kill` ([`kill_container`]); `isolate_pod` through the
//!   Kubernetes API on a task of its own ([`contain`]); `capture` takes the
//!   evidence first ([`evidence`]).
//! - Any other `kill_process` is done here, through a pidfd ([`kill`]), as
//!   soon as the alert is raised; the time from the event to the signal is
//!   the `sensor_response_kill_latency_seconds` histogram.
//!
//! The stage runs on the ring reader's thread but never waits: a kill is a
//! few syscalls, and nothing here does I/O beyond /proc.

pub mod alert;
pub mod contain;
pub mod deny;
pub mod dry_run;
pub mod evidence;
pub mod exempt;
pub mod kill;
pub mod kill_container;
pub mod plan;
pub mod policy;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::Instant;

use log::{info, warn};
use serde_json::Value;

use crate::event::Event;
use crate::event::decode::{KILL_RET_ARG, KILL_RULE_ARG};
use crate::kernel::deny_hook::DenyMaps;
use crate::kernel::open_kill::OpenKillMaps;
use crate::kernel::response::KillMaps;
use crate::metrics::response::ResponseMetrics;
use crate::rules::{Action, Alert, AlertOptions, RuleSet};
use alert::{Outcome, Trigger, action_alert};
use plan::KernelPlan;
use policy::{Exempt, Mode, Policy, RateLimit, Target};

/// Field of a triggering alert: its id, repeated in its actions' alerts.
pub const ALERT_ID_FIELD: &str = "response.alert_id";
/// Field of a triggering alert: the mode its actions ran in.
pub const MODE_FIELD: &str = "response.mode";
/// Field of a triggering alert: the actions done (enforce) or that would
/// have been done (monitor).
pub const ACTIONS_FIELD: &str = "response.actions";
/// Field of an action's alert: the evidence taken before it (`capture`).
pub const EVIDENCE_FIELD: &str = "response.evidence";
/// Field of a triggering alert whose target is on the allow-list.
pub const EXEMPT_FIELD: &str = "response.exempt";

/// The pod an event's process runs in.
#[derive(Debug, Clone, Copy)]
pub struct PodRef<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
}

/// Wall clock, ns since the epoch.
fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

pub struct Responder {
    policy: Policy,
    /// Enabled rules that have actions.
    actions: HashMap<String, Vec<Action>>,
    plan: KernelPlan,
    kernel: Option<KillMaps>,
    limit: RateLimit,
    metrics: Option<ResponseMetrics>,
    /// `bpf_send_signal` and the maps are usable.
    kernel_ok: bool,
    /// cgroup ids already looked at for the kernel's allow-list.
    classified: std::collections::HashSet<u64>,
    /// The cgroup v2 root (for pod cgroup ids).
    cgroup_root: Option<std::path::PathBuf>,
    /// The connect programs' maps (`None`: not attached).
    deny: Option<DenyMaps>,
    /// The open kill programs' maps (`None`: not attached).
    open_kills: Option<OpenKillMaps>,
    /// Rules whose `kill_process` the kernel decides at an open.
    open_rules: std::collections::HashSet<String>,
    /// The pod containment task (`None`: no Kubernetes credentials).
    contain: Option<contain::Contain>,
    /// Rules whose `deny_connect` the kernel enforces.
    deny_rules: std::collections::HashSet<String>,
    /// Containers' last events, kept while a rule has `capture`.
    history: Option<evidence::History>,
}

impl Responder {
    /// `kernel`: the exec program's response maps (`None`: replay, or the
    /// kernel cannot send signals; kills then all go through pidfds).
    pub fn new(policy: Policy, kernel: Option<KillMaps>, metrics: Option<ResponseMetrics>) -> Self {
        let limit = RateLimit::new(policy.max_actions_per_minute, Instant::now());
        let kernel_ok = kernel.is_some();
        Self {
            policy,
            actions: HashMap::new(),
            plan: KernelPlan::default(),
            kernel,
            limit,
            metrics,
            kernel_ok,
            classified: std::collections::HashSet::new(),
            cgroup_root: None,
            deny: None,
            open_kills: None,
            open_rules: std::collections::HashSet::new(),
            deny_rules: std::collections::HashSet::new(),
            contain: None,
            history: None,
        }
    }

    /// Whether the stage wants every event (a rule has `capture`: the
    /// evidence lists the container's last events).
    #[must_use]
    pub fn wants_history(&self) -> bool {
        self.history.is_some()
    }

    pub fn record(&mut self, ev: &Event) {
        if let Some(h) = &mut self.history {
            h.record(ev);
        }
    }

    /// The pod containment task (`isolate_pod`).
    #[must_use]
    pub fn with_contain(mut self, contain: Option<contain::Contain>) -> Self {
        self.contain = contain;
        self
    }

    /// The alerts of containments that finished since the last call.
    pub fn poll(&mut self, opts: &AlertOptions) -> Vec<Alert> {
        let mut out = Vec::new();
        let Some(c) = &mut self.contain else { return out };
        let mut done = Vec::new();
        while let Ok(d) = c.done.try_recv() {
            done.push(d);
        }
        for d in done {
            let outcome = match d.result {
                Ok(()) => Outcome::Done { by: "kubernetes" },
                Err(error) => Outcome::Failed { by: "kubernetes", error },
            };
            self.count(Action::IsolatePod, Mode::Enforce, outcome.label());
            let j = &d.job;
            let trigger = Trigger { rule: &j.rule, time: &j.time, id: &j.alert_id, fields: j.fields.as_ref() };
            let mut a =
                action_alert(Action::IsolatePod, Mode::Enforce, &outcome, &trigger, (j.pid, &j.name), now_ns(), opts);
            if let Some(f) = a.output_fields.as_mut() {
                f.insert("k8s.ns.name".into(), j.namespace.clone().into());
                f.insert("k8s.pod.name".into(), j.pod.clone().into());
                if let Some(e) = &j.evidence {
                    f.insert(EVIDENCE_FIELD.into(), e.clone());
                }
            }
            out.push(a);
        }
        out
    }

    /// The connect programs' maps, attached on the cgroup v2 root.
    #[must_use]
    pub fn with_deny(mut self, deny: Option<DenyMaps>) -> Self {
        self.deny = deny;
        self
    }

    /// The open kill programs' maps, armed at the next [`Self::set_rules`].
    #[must_use]
    pub fn with_open_kills(mut self, maps: Option<OpenKillMaps>) -> Self {
        self.open_kills = maps;
        self
    }

    /// The cgroup v2 root, where pods' cgroup ids are read.
    #[must_use]
    pub fn with_cgroup_root(mut self, root: Option<std::path::PathBuf>) -> Self {
        self.cgroup_root = root;
        self
    }

    /// An exec of a container whose namespace is known: if no action may
    /// touch that namespace (allow-listed, or `monitor` under a global
    /// `enforce`), its cgroup and its pod's go to the kernel's allow-list.
    pub fn observe_exec(&mut self, ev: &Event, namespace: Option<&str>) {
        let Some(ns) = namespace else { return };
        if !self.kernel_armed() || self.classified.contains(&ev.cgroup_id) {
            return;
        }
        if self.classified.len() >= 65_536 {
            self.classified.clear();
        }
        self.classified.insert(ev.cgroup_id);
        let ns_mode = self.policy.mode_for(Some(ns));
        let exempt = self.policy.allow_namespaces.contains(ns)
            || (self.policy.mode == Mode::Enforce && ns_mode == Mode::Monitor);
        // Under a global monitor, a namespace set to enforce is armed in
        // the kernel cgroup by cgroup (`enforce::LISTED`).
        let enforced = !exempt && self.policy.mode == Mode::Monitor && ns_mode == Mode::Enforce;
        if !exempt && !enforced {
            return;
        }
        let ids = exempt::ids(self.cgroup_root.as_deref(), ev.pid, ev.cgroup_id);
        let Some(k) = &mut self.kernel else { return };
        let r = if exempt { k.exempt(&ids) } else { k.enforce_in(&ids) };
        if let Err(e) = r {
            let what = if exempt { "exempted" } else { "enforced" };
            warn!("response: namespace {ns} not {what} in the kernel: {}", crate::error_chain(&e));
        }
    }

    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    #[must_use]
    pub fn kernel_plan(&self) -> &KernelPlan {
        &self.plan
    }

    /// A new policy (configuration reload); the kernel maps follow at the
    /// next [`Self::set_rules`].
    pub fn set_policy(&mut self, policy: Policy) {
        self.limit = RateLimit::new(policy.max_actions_per_minute, Instant::now());
        self.policy = policy;
        self.classified.clear();
        if let Some(k) = &mut self.kernel
            && let Err(e) = k.clear_exempt()
        {
            warn!("response: {}", crate::error_chain(&e));
        }
    }

    /// The rules from now on: their actions, and the kernel's names. A
    /// global `enforce` arms the kernel everywhere but exempt cgroups; a
    /// global `monitor` with namespaces set to `enforce` arms it only in
    /// those namespaces' cgroups, added as their execs are seen
    /// ([`Self::observe_exec`]).
    pub fn set_rules(&mut self, set: &RuleSet) {
        self.actions = set
            .rules()
            .iter()
            .filter(|r| r.enabled && !r.actions.is_empty())
            .map(|r| (r.name.clone(), r.actions.clone()))
            .collect();
        let capture = self.actions.values().any(|a| a.contains(&Action::Capture));
        match (capture, self.history.is_some()) {
            (true, false) => self.history = Some(evidence::History::default()),
            (false, true) => self.history = None,
            _ => {}
        }
        let allow = |n: &str| self.policy.allow_processes.contains(n);
        self.plan = plan::kernel_plan(set, &allow);
        let kmode = self.kernel_mode();
        let enforce = kmode != sensor_common::enforce::OFF;
        // A kill_process rule the kernel cannot decide, in a mode that
        // enforces somewhere: its exec must reach the rules at once.
        let wake = self.policy.enforces_anywhere()
            && set
                .rules()
                .iter()
                .any(|r| r.enabled && matches!(plan::kill_site(set, r), Some(plan::KillSite::UserSpace(_))));
        let (entries, deny_rules) = deny::deny_plan(set);
        if let Some(d) = &mut self.deny {
            match d.sync(&entries) {
                Ok(()) => {
                    self.deny_rules = deny_rules.into_iter().collect();
                    info!("response: {} destinations denied at connect", d.len());
                }
                Err(e) => {
                    warn!("response: connect denials off: {}", crate::error_chain(&e));
                    self.deny = None;
                    self.deny_rules.clear();
                }
            }
        }
        self.sync_open_kills(enforce);
        let Some(k) = &mut self.kernel else { return };
        match k.sync(&self.plan.names, &self.plan.paths, kmode, wake, self.policy.max_actions_per_minute) {
            Ok(()) => {
                info!(
                    "response: {} process names and paths killed in the kernel at exec ({})",
                    k.len(),
                    match kmode {
                        sensor_common::enforce::ALL => "armed",
                        sensor_common::enforce::LISTED => "armed in the namespaces set to enforce",
                        _ => "monitor mode: not armed",
                    }
                );
                if let Some(m) = &self.metrics {
                    m.kernel_names.set(i64::try_from(k.len()).unwrap_or(i64::MAX));
                    m.kernel_armed.set(i64::from(enforce));
                }
            }
            Err(e) => {
                warn!("response: in-kernel kills off, kills go through pidfds: {}", crate::error_chain(&e));
                self.kernel_ok = false;
                if let Some(m) = &self.metrics {
                    m.kernel_armed.set(0);
                }
            }
        }
    }

    /// Arms the open kill programs with the plan's paths (enforce mode),
    /// or empties them.
    fn sync_open_kills(&mut self, enforce: bool) {
        self.open_rules.clear();
        let empty = std::collections::BTreeMap::new();
        let paths = if enforce { &self.plan.opens } else { &empty };
        let Some(o) = &mut self.open_kills else {
            if enforce && !self.plan.opens.is_empty() {
                warn!(
                    "response: {} paths have kill_process at open, but the open programs are not attached (they \
                     are at a start with such a rule): user space kills after the open",
                    self.plan.opens.len()
                );
            }
            return;
        };
        match o.sync(paths, &self.policy.allow_processes) {
            Ok(()) => {
                for id in paths.values() {
                    if let Some(r) = self.plan.rule(*id) {
                        self.open_rules.insert(r.to_owned());
                    }
                }
                info!("response: {} paths killed in the kernel at open ({})", o.len(), o.attached.join(", "));
            }
            Err(e) => {
                warn!("response: in-kernel kills at open off: {}", crate::error_chain(&e));
                self.open_kills = None;
            }
        }
    }

    fn count(&self, action: Action, mode: Mode, outcome: &str) {
        if let Some(m) = &self.metrics {
            m.actions.with_label_values(&[action.as_str(), mode.as_str(), outcome]).inc();
        }
    }

    /// One event and the alerts it raised: each alert of a rule with
    /// actions gets `response.*` fields; the actions' own alerts are
    /// returned, in order, to be written after them. `pod` and `meta`: the
    /// event's pod and container metadata, when known.
    pub fn respond(
        &mut self,
        ev: &Event,
        pod: Option<PodRef<'_>>,
        meta: Option<&crate::enrich::container::meta::ContainerMeta>,
        alerts: &mut [Alert],
        opts: &AlertOptions,
    ) -> Vec<Alert> {
        let namespace = pod.map(|p| p.namespace);
        let mut out = Vec::new();
        let name = ev.proc.as_deref().map_or(ev.comm.as_str(), |p| p.name.as_str()).to_owned();
        let start_ns = ev.proc.as_deref().map_or(0, |p| p.start_ns);
        // The kernel already killed this exec, or at this open: said
        // whatever the alerts.
        let open_kill = match &mut self.open_kills {
            Some(o) if alerts.iter().any(|a| self.open_rules.contains(&a.rule)) => o.take(ev.pid, ev.tid),
            _ => None,
        };
        let (kernel_rule, kernel_ret) = match open_kill {
            Some(k) => (Some(k.rule), Some(i64::from(k.ret))),
            None => (ev.args.int(KILL_RULE_ARG).and_then(|id| u32::try_from(id).ok()), ev.args.int(KILL_RET_ARG)),
        };
        let kernel_rule = kernel_rule.map(|id| self.plan.rule(id).unwrap_or("(a rule since reloaded)").to_owned());
        let mut kernel_reported = false;
        for a in alerts.iter_mut() {
            let Some(actions) = self.actions.get(&a.rule).cloned() else { continue };
            let mode = self.policy.mode_for(namespace);
            let id = uuid::Uuid::new_v4().to_string();
            let exempt = self.policy.exempt(&Target { pid: ev.pid, name: &name, namespace });
            if let Some(f) = a.output_fields.as_mut() {
                f.insert(ALERT_ID_FIELD.into(), id.clone().into());
                f.insert(MODE_FIELD.into(), mode.as_str().into());
                f.insert(ACTIONS_FIELD.into(), Value::from(actions.iter().map(|x| x.as_str()).collect::<Vec<_>>()));
                if let Some(e) = exempt {
                    f.insert(EXEMPT_FIELD.into(), exempt_label(e).into());
                }
            }
            // Evidence first: after a kill the process's /proc is gone.
            let evidence = (exempt.is_none() && mode == Mode::Enforce && actions.contains(&Action::Capture))
                .then(|| evidence::collect(ev, meta, self.history.as_ref()));
            let trigger = Trigger { rule: &a.rule, time: &a.time, id: &id, fields: a.output_fields.as_ref() };
            let first = out.len();
            for action in actions {
                if let Some(e) = exempt {
                    self.count(action, mode, "allow_listed");
                    log::debug!("response: {action} for {:?} skipped: {} allow-listed", a.rule, exempt_label(e));
                    continue;
                }
                if mode == Mode::Monitor {
                    self.count(action, mode, "would");
                    continue;
                }
                if action == Action::KillProcess && kernel_rule.as_deref() == Some(a.rule.as_str()) {
                    kernel_reported = true;
                    let outcome = kernel_outcome(kernel_ret);
                    self.count(action, mode, outcome.label());
                    out.push(action_alert(action, mode, &outcome, &trigger, (ev.pid, &name), now_ns(), opts));
                    continue;
                }
                if action == Action::Capture {
                    let outcome = Outcome::Done { by: "sensor" };
                    self.count(action, mode, outcome.label());
                    out.push(action_alert(action, mode, &outcome, &trigger, (ev.pid, &name), now_ns(), opts));
                    continue;
                }
                if action == Action::IsolatePod {
                    if let Some(outcome) = self.isolate(pod, ev, &name, &id, a, evidence.as_ref()) {
                        self.count(action, mode, outcome.label());
                        out.push(action_alert(action, mode, &outcome, &trigger, (ev.pid, &name), now_ns(), opts));
                    }
                    continue;
                }
                if action == Action::DenyConnect {
                    let outcome = self.deny_outcome(&a.rule, ev);
                    self.count(action, mode, outcome.label());
                    out.push(action_alert(action, mode, &outcome, &trigger, (ev.pid, &name), now_ns(), opts));
                    continue;
                }
                let outcome =
                    if self.limit.take(Instant::now()) { self.act(action, ev, start_ns) } else { Outcome::RateLimited };
                self.count(action, mode, outcome.label());
                out.push(action_alert(action, mode, &outcome, &trigger, (ev.pid, &name), now_ns(), opts));
            }
            if let Some(e) = &evidence {
                for x in &mut out[first..] {
                    if let Some(f) = x.output_fields.as_mut() {
                        f.insert(EVIDENCE_FIELD.into(), e.clone());
                    }
                }
            }
        }
        if let (Some(rule), false) = (&kernel_rule, kernel_reported) {
            // No alert of that rule on this event (another rule matched
            // first): the kill is still reported.
            let outcome = kernel_outcome(kernel_ret);
            self.count(Action::KillProcess, Mode::Enforce, outcome.label());
            let time = crate::rules::time::format_rfc3339(ev.ts);
            let trigger = Trigger { rule, time: &time, id: "", fields: None };
            out.push(action_alert(
                Action::KillProcess,
                Mode::Enforce,
                &outcome,
                &trigger,
                (ev.pid, &name),
                now_ns(),
                opts,
            ));
        }
        out
    }

    /// Queues the containment of `pod`; an outcome now when it cannot be
    /// queued (`None`: its alert comes with the result, from [`Self::poll`]).
    fn isolate(
        &mut self,
        pod: Option<PodRef<'_>>,
        ev: &Event,
        name: &str,
        id: &str,
        a: &Alert,
        evidence: Option<&Value>,
    ) -> Option<Outcome> {
        let failed = |error: &str| Some(Outcome::Failed { by: "kubernetes", error: error.to_owned() });
        let Some(p) = pod else { return failed("no pod known for this process") };
        if self.contain.is_none() {
            return failed("no Kubernetes credentials");
        }
        if !self.limit.take(Instant::now()) {
            return Some(Outcome::RateLimited);
        }
        let job = contain::Job {
            namespace: p.namespace.to_owned(),
            pod: p.name.to_owned(),
            alert_id: id.to_owned(),
            rule: a.rule.clone(),
            time: a.time.clone(),
            pid: ev.pid,
            name: name.to_owned(),
            fields: a.output_fields.clone(),
            evidence: evidence.cloned(),
        };
        let queued = self.contain.as_ref().is_some_and(|c| c.jobs.try_send(job).is_ok());
        if queued { None } else { failed("containment queue full") }
    }

    /// What the kernel did with the connect that fired a `deny_connect`
    /// rule: refused it (EPERM), or not (the rule needs user space, which
    /// cannot refuse a connect that already returned).
    fn deny_outcome(&self, rule: &str, ev: &Event) -> Outcome {
        if !self.deny_rules.contains(rule) || self.deny.is_none() || !self.kernel_armed_mode() {
            return Outcome::Unsupported;
        }
        if ev.errno.as_deref() == Some("EPERM") {
            Outcome::Done { by: "kernel" }
        } else {
            Outcome::Failed { by: "kernel", error: "the connect was not refused".to_owned() }
        }
    }

    fn kernel_armed_mode(&self) -> bool {
        self.policy.enforces_anywhere()
    }

    /// Where the kernel acts (`sensor_common::enforce`): everywhere under a
    /// global enforce, in the enforced namespaces' cgroups under a global
    /// monitor with such namespaces, else nowhere.
    fn kernel_mode(&self) -> u32 {
        if self.policy.mode == Mode::Enforce {
            sensor_common::enforce::ALL
        } else if self.policy.enforces_anywhere() {
            sensor_common::enforce::LISTED
        } else {
            sensor_common::enforce::OFF
        }
    }

    /// Carries out one action in user space.
    fn act(&self, action: Action, ev: &Event, start_ns: u64) -> Outcome {
        match action {
            Action::KillProcess => {
                let r = kill::kill(ev.pid, start_ns);
                let latency = now_ns().saturating_sub(ev.ts);
                match r {
                    Ok(()) => {
                        if let Some(m) = &self.metrics {
                            #[allow(clippy::cast_precision_loss)] // nanoseconds to seconds
                            m.kill_latency.observe(latency as f64 / 1e9);
                        }
                        Outcome::Done { by: "pidfd" }
                    }
                    Err(e) => Outcome::Failed { by: "pidfd", error: crate::error_chain(&e) },
                }
            }
            Action::KillContainer => {
                let Some(c) = ev.proc.as_deref().and_then(|p| p.container.as_ref()) else {
                    return Outcome::Failed { by: "cgroup", error: "the process is not in a container".into() };
                };
                match kill_container::kill_container(self.cgroup_root.as_deref(), ev.pid, &c.id) {
                    Ok(_) => Outcome::Done { by: "cgroup" },
                    Err(e) => Outcome::Failed { by: "cgroup", error: crate::error_chain(&e) },
                }
            }
            Action::DenyConnect | Action::IsolatePod | Action::Capture => Outcome::Unsupported,
        }
    }

    /// Whether the kernel kills at exec (enforce mode, maps written).
    #[must_use]
    pub fn kernel_armed(&self) -> bool {
        self.kernel_ok && self.kernel.is_some() && self.policy.enforces_anywhere()
    }
}

fn kernel_outcome(ret: Option<i64>) -> Outcome {
    match ret {
        Some(0) | None => Outcome::Done { by: "kernel" },
        Some(r) if r == i64::from(sensor_common::KILL_RATE_LIMITED) => Outcome::RateLimited,
        Some(e) => Outcome::Failed { by: "kernel", error: format!("bpf_send_signal returned {e}") },
    }
}

fn exempt_label(e: Exempt) -> &'static str {
    match e {
        Exempt::Pid => "pid",
        Exempt::Process => "process",
        Exempt::Namespace => "namespace",
    }
}
