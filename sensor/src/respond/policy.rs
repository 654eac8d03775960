//! Who may be acted on, and how: the global mode with per-namespace
//! overrides, the allow-list no action ever touches, and the rate limit.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// `monitor` (the default) reports what would have been done; `enforce`
/// does it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Monitor,
    Enforce,
}

impl Mode {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Monitor => "monitor",
            Mode::Enforce => "enforce",
        }
    }
}

/// Namespaces no action touches unless the configuration says otherwise.
pub const DEFAULT_ALLOW_NAMESPACES: &[&str] = &["kube-system"];

/// Process names no action ever touches: the node's init and system
/// daemons, kubelet and the container runtimes (and their shims). The
/// sensor itself and pid 1 are exempt by pid.
pub const ALLOW_PROCESSES: &[&str] = &[
    "init",
    "systemd",
    "kubelet",
    "containerd",
    "containerd-shim",
    "containerd-shim-runc-v2",
    "dockerd",
    "docker-proxy",
    "runc",
    "crun",
    "crio",
    "conmon",
    "k3s",
    "k3s-server",
    "k3s-agent",
    "sshd",
];

/// Default of `response.max_actions_per_minute`.
pub const DEFAULT_MAX_ACTIONS_PER_MINUTE: u32 = 60;

/// Why a target is exempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exempt {
    /// pid 1 or the sensor.
    Pid,
    /// An allow-listed process name.
    Process,
    /// An allow-listed namespace.
    Namespace,
}

/// What an action is about, as far as the policy cares.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    pub pid: u32,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: Mode,
    /// Per-namespace mode, over `mode`.
    pub namespace_modes: BTreeMap<String, Mode>,
    pub allow_namespaces: BTreeSet<String>,
    pub allow_processes: BTreeSet<String>,
    pub max_actions_per_minute: u32,
    /// `isolate_pod` also deletes the pod.
    pub delete_pods: bool,
    /// The sensor's own pid.
    pub own_pid: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            mode: Mode::Monitor,
            namespace_modes: BTreeMap::new(),
            allow_namespaces: DEFAULT_ALLOW_NAMESPACES.iter().map(|s| (*s).to_owned()).collect(),
            allow_processes: ALLOW_PROCESSES.iter().map(|s| (*s).to_owned()).collect(),
            max_actions_per_minute: DEFAULT_MAX_ACTIONS_PER_MINUTE,
            delete_pods: false,
            own_pid: std::process::id(),
        }
    }
}

impl Policy {
    /// The mode for a target in `namespace` (host processes: the global one).
    #[must_use]
    pub fn mode_for(&self, namespace: Option<&str>) -> Mode {
        namespace.and_then(|n| self.namespace_modes.get(n)).copied().unwrap_or(self.mode)
    }

    /// Whether, and why, no action may touch `t`.
    #[must_use]
    pub fn exempt(&self, t: &Target<'_>) -> Option<Exempt> {
        if t.pid <= 1 || t.pid == self.own_pid {
            return Some(Exempt::Pid);
        }
        if self.allow_processes.contains(t.name) {
            return Some(Exempt::Process);
        }
        if t.namespace.is_some_and(|n| self.allow_namespaces.contains(n)) {
            return Some(Exempt::Namespace);
        }
        None
    }

    /// Whether any namespace or the global mode enforces.
    #[must_use]
    pub fn enforces_anywhere(&self) -> bool {
        self.mode == Mode::Enforce || self.namespace_modes.values().any(|m| *m == Mode::Enforce)
    }
}

/// At most `per_minute` actions in any sliding minute (a token bucket that
/// refills continuously); 0: unlimited.
#[derive(Debug)]
pub struct RateLimit {
    per_minute: u32,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    #[must_use]
    pub fn new(per_minute: u32, now: Instant) -> Self {
        Self { per_minute, tokens: f64::from(per_minute), last: now }
    }

    /// Takes one action's token; false when the limit is reached.
    pub fn take(&mut self, now: Instant) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let cap = f64::from(self.per_minute);
        let dt = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + dt.as_secs_f64() * cap / Duration::from_secs(60).as_secs_f64()).min(cap);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
