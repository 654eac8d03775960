//! Which workload's profile an event belongs to.
//!
//! - A pod's container: (namespace, owning workload kind and name,
//!   container name), the same for every replica, restart and node.
//! - A container outside Kubernetes: its image repository.
//! - A host process of a systemd service: the service (`ssh.service`).
//! - Another host process: its executable with its parent's. An exec
//!   belongs to the profile of the process that ran it (what that program
//!   spawns).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::detect::fields::EventFields;
use crate::event::Op;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "lowercase")]
pub enum ProfileKey {
    Pod {
        namespace: String,
        #[serde(rename = "workloadKind")]
        kind: String,
        #[serde(rename = "workloadName")]
        name: String,
        container: String,
    },
    Image {
        repository: String,
    },
    Unit {
        unit: String,
    },
    Host {
        exe: String,
        parent: String,
    },
}

impl fmt::Display for ProfileKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileKey::Pod { namespace, kind, name, container } => {
                write!(f, "pod:{namespace}/{kind}/{name}/{container}")
            }
            ProfileKey::Image { repository } => write!(f, "image:{repository}"),
            ProfileKey::Unit { unit } => write!(f, "unit:{unit}"),
            ProfileKey::Host { exe, parent } => write!(f, "host:{exe} <- {parent}"),
        }
    }
}

impl ProfileKey {
    /// A Kubernetes object name (RFC 1123 subdomain, at most 253
    /// characters) and file stem: the readable key, then a hash of it so
    /// two keys never share a name.
    pub fn object_name(&self) -> String {
        let text = self.to_string();
        let mut readable: String = text
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        readable.truncate(80);
        let readable = readable.trim_end_matches('-');
        let hash = sha2::Sha256::digest(text.as_bytes());
        format!("{readable}-{}", &hex::encode(hash)[..12])
    }

    /// The namespace of the profile's Kubernetes object: the pod's for a
    /// pod, else none (the agent's own namespace applies).
    pub fn namespace(&self) -> Option<&str> {
        match self {
            ProfileKey::Pod { namespace, .. } => Some(namespace),
            _ => None,
        }
    }
}

/// The key of the workload an event belongs to; `None` when it cannot be
/// told yet (a container whose metadata has not come).
pub fn of_event(f: &EventFields<'_>) -> Option<ProfileKey> {
    let view = f.ev.proc.as_deref()?;
    if let Some(c) = &view.container {
        let meta = f.meta?;
        if let Some(pod) = &meta.pod {
            let (kind, name) = pod.workload.clone().unwrap_or_else(|| ("Pod".to_owned(), pod.name.clone()));
            let container = meta.container.name.clone().unwrap_or_else(|| c.id.chars().take(12).collect());
            return Some(ProfileKey::Pod { namespace: pod.namespace.clone(), kind, name, container });
        }
        let (repository, _) = meta.image_parts()?;
        return Some(ProfileKey::Image { repository: repository.to_owned() });
    }
    if let Some(unit) = &view.unit {
        return Some(ProfileKey::Unit { unit: unit.clone() });
    }
    let exepath = |exe: &Option<String>, fallback: &str| exe.clone().unwrap_or_else(|| fallback.to_owned());
    let a = &view.ancestors;
    if f.ev.kind.op() == Op::Execve {
        // The program that ran this one: the parent, with its own parent.
        let p = a.first()?;
        let gp = a.get(1).map(|g| exepath(&g.exepath, &g.exe)).unwrap_or_default();
        return Some(ProfileKey::Host { exe: exepath(&p.exepath, &p.exe), parent: gp });
    }
    let parent = a.first().map(|p| exepath(&p.exepath, &p.exe)).unwrap_or_default();
    Some(ProfileKey::Host { exe: exepath(&view.exepath, &view.exe), parent })
}
