//! A process table entry, as built from exec records or read from /proc.

use std::sync::Arc;

use crate::event::cgroup::ContainerRef;
use crate::event::process_view::cmdline;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// Nanoseconds since boot, at clock-tick precision for seeded entries.
    pub start_ns: u64,
    pub name: String,
    pub exe: String,
    pub args: Vec<String>,
    pub cwd: Option<String>,
    pub uid: u32,
    pub euid: u32,
    pub details: Details,
    /// The container the process runs in; `None` on the host.
    pub container: Option<ContainerRef>,
}

/// Attributes read from /proc when a process execs (or is seeded): rules
/// need them and the kernel records do not carry them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Details {
    /// `/proc/PID/exe`: the resolved executable (`/memfd:x (deleted)` for memfd).
    pub exepath: Option<String>,
    /// `tty_nr` from /proc/PID/stat; 0 without a controlling terminal.
    pub tty: u32,
    /// Session id.
    pub sid: u32,
    /// Process group id.
    pub pgid: u32,
    /// Pid and process group id in the process's own pid namespace
    /// (`proc.vpid`, `proc.vpgid`): 1 for a container's init. Read from
    /// /proc at exec; unknown for a process gone by then and for a forked
    /// child before it execs.
    pub vpid: Option<u32>,
    pub vpgid: Option<u32>,
    /// Audit login uid; -1 when unset.
    pub loginuid: i64,
    /// Capability masks of the task's credentials.
    pub cap_effective: u64,
    pub cap_permitted: u64,
    pub cap_inheritable: u64,
    /// The executable is writable by the process's user (Falco's
    /// `proc.is_exe_writable`).
    pub exe_writable: bool,
    /// The executable comes from an overlay filesystem's upper (writable)
    /// layer: written into the container after it started.
    pub exe_upper_layer: bool,
    /// The executable is a memfd (fileless execution).
    pub exe_from_memfd: bool,
    /// Environment, `NAME=value` strings, bounded at exec.
    pub env: Arc<[String]>,
    /// The systemd service of a host process (`ssh.service`).
    pub unit: Option<String>,
}

impl Default for Details {
    fn default() -> Self {
        Self {
            exepath: None,
            tty: 0,
            sid: 0,
            pgid: 0,
            vpid: None,
            vpgid: None,
            loginuid: -1,
            cap_effective: 0,
            cap_permitted: 0,
            cap_inheritable: 0,
            exe_writable: false,
            exe_upper_layer: false,
            exe_from_memfd: false,
            env: Arc::from([]),
            unit: None,
        }
    }
}

impl Process {
    pub fn exec_id(&self) -> String {
        format!("{}:{}", self.pid, self.start_ns)
    }
    pub fn cmdline(&self) -> String {
        cmdline(&self.name, &self.args)
    }
}
