//! `actions:` of a rule (ours, beside Falco's keys): what the response
//! stage may do when the rule fires. Falco itself warns about the unknown
//! key and loads the rule without it.

use std::fmt;

/// One response action, as written in a rule's `actions:` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// SIGKILL the process (in the kernel at exec where the rule allows it).
    KillProcess,
    /// SIGKILL every process of the process's container.
    KillContainer,
    /// Refuse the connect (cgroup `connect4`/`connect6`).
    DenyConnect,
    /// Label the pod and apply a deny-all `NetworkPolicy` selecting it.
    IsolatePod,
    /// Collect evidence (process tree, open files, recent events).
    Capture,
}

impl Action {
    pub const ALL: [Action; 5] =
        [Action::KillProcess, Action::KillContainer, Action::DenyConnect, Action::IsolatePod, Action::Capture];

    #[must_use]
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Action::KillProcess => "kill_process",
            Action::KillContainer => "kill_container",
            Action::DenyConnect => "deny_connect",
            Action::IsolatePod => "isolate_pod",
            Action::Capture => "capture",
        }
    }

    /// `kill_process, kill_container, ...`, for error messages.
    #[must_use]
    pub fn names() -> String {
        Action::ALL.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
