//! `sensor rules actions`: for a rule set and a policy, which actions
//! could fire, on what, and where they would be decided.

use serde::Serialize;

use super::plan::{KillSite, kill_site};
use super::policy::{Mode, Policy};
use crate::rules::{Action, RuleSet};

/// One action of one rule.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Planned {
    pub rule: String,
    pub enabled: bool,
    pub action: Action,
    /// `kernel` (at exec before the new image runs, or at connect),
    /// `user_space` (pidfd, or evidence), `cgroup` (`cgroup.kill`),
    /// `kubernetes` (the API server), or
    /// `unsupported` (this sensor cannot carry it out yet).
    pub site: &'static str,
    /// The process names the kernel kills, or the destinations it refuses
    /// (site `kernel`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Why not in the kernel (site `user_space` of a `kill_process`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<&'static str>,
    /// Where the rule is defined.
    pub location: String,
}

/// What a policy does with the actions.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    pub mode: Mode,
    pub namespace_modes: Vec<(String, Mode)>,
    pub allow_namespaces: Vec<String>,
    pub allow_processes: Vec<String>,
    pub max_actions_per_minute: u32,
    pub actions: Vec<Planned>,
}

/// `10.0.0.0/8`, `127.0.0.3/32:4444`.
fn describe(d: &super::deny::Denied) -> String {
    match d.port {
        Some(p) => format!("{}/{}:{p}", d.addr, d.prefix),
        None => format!("{}/{}", d.addr, d.prefix),
    }
}

#[must_use]
pub fn dry_run(set: &RuleSet, policy: &Policy) -> DryRun {
    let mut actions = Vec::new();
    for r in set.rules() {
        for &action in &r.actions {
            let (site, names, why) = match action {
                Action::KillProcess => match kill_site(set, r) {
                    Some(KillSite::Kernel(names)) => {
                        let (allowed, kill): (Vec<String>, Vec<String>) =
                            names.into_iter().partition(|n| policy.allow_processes.contains(n));
                        if kill.is_empty() {
                            ("user_space", Vec::new(), Some("every name is on the allow-list"))
                        } else if allowed.is_empty() {
                            ("kernel", kill, None)
                        } else {
                            ("kernel", kill, Some("allow-listed names left out"))
                        }
                    }
                    Some(KillSite::KernelPath(paths)) => ("kernel", paths, None),
                    Some(KillSite::KernelOpen(paths)) => ("kernel_open", paths, None),
                    Some(KillSite::UserSpace(why)) => ("user_space", Vec::new(), Some(why)),
                    None => ("user_space", Vec::new(), None),
                },
                Action::DenyConnect => match super::deny::deny_site(set, r) {
                    Some(super::deny::DenySite::Kernel(d)) => ("kernel", d.iter().map(describe).collect(), None),
                    Some(super::deny::DenySite::NotBefore(why)) => ("unsupported", Vec::new(), Some(why)),
                    None => ("unsupported", Vec::new(), None),
                },
                Action::IsolatePod => ("kubernetes", Vec::new(), None),
                Action::KillContainer => ("cgroup", Vec::new(), None),
                Action::Capture => ("user_space", Vec::new(), None),
            };
            actions.push(Planned {
                rule: r.name.clone(),
                enabled: r.enabled,
                action,
                site,
                names,
                why,
                location: r.loc.to_string(),
            });
        }
    }
    DryRun {
        mode: policy.mode,
        namespace_modes: policy.namespace_modes.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        allow_namespaces: policy.allow_namespaces.iter().cloned().collect(),
        allow_processes: policy.allow_processes.iter().cloned().collect(),
        max_actions_per_minute: policy.max_actions_per_minute,
        actions,
    }
}

impl DryRun {
    /// Human text: the policy, then one line per action.
    #[must_use]
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "mode: {}", self.mode.as_str());
        for (ns, m) in &self.namespace_modes {
            let _ = writeln!(s, "  namespace {ns}: {}", m.as_str());
        }
        let _ = writeln!(
            s,
            "never touched: namespaces {:?}, processes {:?}, pid 1, the sensor",
            self.allow_namespaces, self.allow_processes
        );
        let limit = if self.max_actions_per_minute == 0 {
            "unlimited".to_owned()
        } else {
            format!("{} per minute", self.max_actions_per_minute)
        };
        let _ = writeln!(s, "rate limit: {limit}");
        if self.actions.is_empty() {
            s.push_str("no rule has actions\n");
        }
        for p in &self.actions {
            let mut line = format!("{}: {} -> {}", p.location, p.rule, p.action);
            match p.site {
                "kernel" if p.action == Action::DenyConnect => {
                    let _ = write!(line, ": in the kernel at connect to {}", p.names.join(", "));
                }
                "kernel" => {
                    let _ = write!(line, ": in the kernel at exec of {}", p.names.join(", "));
                }
                "user_space" if p.action == Action::KillProcess => line.push_str(": in user space (pidfd)"),
                "cgroup" => line.push_str(": every process of the container (cgroup.kill)"),
                "user_space" if p.action == Action::Capture => {
                    line.push_str(": evidence attached to the action alerts");
                }
                "kubernetes" => line.push_str(": through the Kubernetes API (label, deny-all NetworkPolicy)"),
                "unsupported" => line.push_str(": not supported by this sensor yet (reported, not done)"),
                _ => {}
            }
            if let Some(w) = p.why {
                let _ = write!(line, " ({w})");
            }
            if !p.enabled {
                line.push_str(" [rule disabled]");
            }
            s.push_str(&line);
            s.push('\n');
        }
        s
    }
}
