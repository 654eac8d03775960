//! What an event carries about its process and its ancestors: one view per
//! process, shared by all its events and serialized once.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::cgroup::ContainerRef;

/// Falco's `proc.cmdline`: the process name, then argv[1..].
pub fn cmdline(name: &str, args: &[String]) -> String {
    let mut s = name.to_owned();
    for a in args.iter().skip(1) {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// What an event carries about its process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessView {
    pub exec_id: String,
    pub ppid: u32,
    pub name: String,
    pub exe: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exepath: Option<String>,
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default)]
    pub euid: u32,
    #[serde(default = "no_loginuid")]
    pub loginuid: i64,
    #[serde(default)]
    pub tty: u32,
    #[serde(default)]
    pub sid: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pgid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpgid: Option<u32>,
    #[serde(default)]
    pub cap_effective: u64,
    #[serde(default)]
    pub cap_permitted: u64,
    #[serde(default)]
    pub cap_inheritable: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exe_writable: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exe_upper_layer: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exe_from_memfd: bool,
    /// The environment: not serialized with every event (it can be
    /// kilobytes, and it holds secrets); the exec event carries it as
    /// `args.env`, as Falco's execve event does.
    #[serde(skip)]
    pub env: Arc<[String]>,
    /// Nanoseconds since boot.
    #[serde(default)]
    pub start_ns: u64,
    /// The container; absent on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerRef>,
    /// The systemd service of a host process (`ssh.service`), when it runs
    /// in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Parent first.
    #[serde(default)]
    pub ancestors: Vec<Ancestor>,
}

fn no_loginuid() -> i64 {
    -1
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// A view shared by every event of a process, serialized once: ancestry
/// JSON can run to kilobytes (long command lines), and re-encoding it per
/// event dominated the agent's CPU time.
#[derive(Debug)]
pub struct SharedView {
    pub view: ProcessView,
    json: Box<serde_json::value::RawValue>,
    /// `proc.cmdline` and `proc.args`, joined once: rules read them many
    /// times per event (14 comparisons on one `execve` with Falco's files).
    cmdline: String,
    args_line: String,
}

impl SharedView {
    pub fn new(view: ProcessView) -> Self {
        // Only maps with non-string keys fail to encode; this has none.
        let json = serde_json::value::to_raw_value(&view)
            .unwrap_or_else(|_| serde_json::value::RawValue::from_string("null".into()).expect("literal JSON"));
        let cmdline = cmdline(&view.name, &view.args);
        let args_line = view.args.iter().skip(1).map(String::as_str).collect::<Vec<_>>().join(" ");
        Self { view, json, cmdline, args_line }
    }

    /// The process name and its arguments (`proc.cmdline`).
    pub fn cmdline(&self) -> &str {
        &self.cmdline
    }

    /// The arguments without `argv[0]`, space-joined (`proc.args`).
    pub fn args_line(&self) -> &str {
        &self.args_line
    }
}

impl std::ops::Deref for SharedView {
    type Target = ProcessView;
    fn deref(&self) -> &ProcessView {
        &self.view
    }
}

impl PartialEq for SharedView {
    fn eq(&self, other: &Self) -> bool {
        self.view == other.view
    }
}

impl Serialize for SharedView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedView {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ProcessView::deserialize(d).map(Self::new)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ancestor {
    pub pid: u32,
    pub name: String,
    pub exe: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exepath: Option<String>,
    pub cmdline: String,
    /// For `proc.aenv`; not serialized (see `ProcessView::env`).
    #[serde(skip)]
    pub env: Arc<[String]>,
}
