//! The `mode` key and the `response` section: how rules' `actions:` are
//! carried out (see `respond`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::respond::policy::{Mode, Policy};

/// `response:`. Every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseConfig {
    /// Per-namespace mode over the global `mode`.
    pub namespaces: Option<BTreeMap<String, Mode>>,
    /// Namespaces no action touches; default `[kube-system]`. Given, it
    /// replaces the default.
    pub allow_namespaces: Option<Vec<String>>,
    /// Process names no action touches, added to the built-in ones (init,
    /// kubelet, the container runtimes, ...).
    pub allow_processes: Option<Vec<String>>,
    /// Most actions carried out per minute (0: unlimited); default 60.
    pub max_actions_per_minute: Option<u32>,
    /// `isolate_pod` also deletes the pod (after labelling it and applying
    /// the deny-all policy); default false.
    pub delete_pods: Option<bool>,
}

/// The policy for a configuration's `mode` and `response`, with
/// `--enforce` over the file's mode.
#[must_use]
pub fn policy(mode: Option<Mode>, r: Option<&ResponseConfig>, enforce_flag: bool) -> Policy {
    let mut p =
        Policy { mode: if enforce_flag { Mode::Enforce } else { mode.unwrap_or_default() }, ..Policy::default() };
    if let Some(r) = r {
        if let Some(n) = &r.namespaces {
            p.namespace_modes.clone_from(n);
        }
        if let Some(a) = &r.allow_namespaces {
            p.allow_namespaces = a.iter().cloned().collect();
        }
        if let Some(a) = &r.allow_processes {
            p.allow_processes.extend(a.iter().cloned());
        }
        if let Some(n) = r.max_actions_per_minute {
            p.max_actions_per_minute = n;
        }
        if let Some(d) = r.delete_pods {
            p.delete_pods = d;
        }
    }
    p
}
