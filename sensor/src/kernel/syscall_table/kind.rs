//! Falco's `evt.type`, typed: the name rules and outputs use, and the
//! [`Op`] the agent's own state (process table, fd table, flag names)
//! branches on, so the hot path never compares syscall names. Each syscall
//! table entry carries its [`Kind`], computed at compile time.

use std::hash::{Hash, Hasher};

/// What the agent does with an event besides running the rules on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Execve,
    Clone,
    ProcExit,
    /// The sensor's own loss report.
    SensorLoss,
    /// A DNS message (packet path).
    Dns,
    /// `open`, `openat`, `openat2`, `creat`.
    Open,
    MemfdCreate,
    Socket,
    Connect,
    Bind,
    Listen,
    /// `sendto`, `sendmsg`, `recvfrom`, `recvmsg`: may carry a peer address.
    Transfer,
    /// `accept`, `accept4`.
    Accept,
    /// `dup`, `dup2`, `dup3`.
    Dup,
    Close,
    Chdir,
    Fchdir,
    /// `chmod`, `fchmodat`, `fchmodat2`.
    Chmod,
    Fchmod,
    Setns,
    FinitModule,
    Ptrace,
    /// `setuid`, `setgid`, `setreuid`, `setregid`, `setresuid`, `setresgid`.
    SetIds,
    /// Rules only.
    Other,
}

const OPS: &[(&str, Op)] = &[
    ("execve", Op::Execve),
    ("clone", Op::Clone),
    ("procexit", Op::ProcExit),
    ("sensor_loss", Op::SensorLoss),
    ("dns", Op::Dns),
    ("open", Op::Open),
    ("openat", Op::Open),
    ("openat2", Op::Open),
    ("creat", Op::Open),
    ("memfd_create", Op::MemfdCreate),
    ("socket", Op::Socket),
    ("connect", Op::Connect),
    ("bind", Op::Bind),
    ("listen", Op::Listen),
    ("sendto", Op::Transfer),
    ("sendmsg", Op::Transfer),
    ("recvfrom", Op::Transfer),
    ("recvmsg", Op::Transfer),
    ("accept", Op::Accept),
    ("accept4", Op::Accept),
    ("dup", Op::Dup),
    ("dup2", Op::Dup),
    ("dup3", Op::Dup),
    ("close", Op::Close),
    ("chdir", Op::Chdir),
    ("fchdir", Op::Fchdir),
    ("chmod", Op::Chmod),
    ("fchmodat", Op::Chmod),
    ("fchmodat2", Op::Chmod),
    ("fchmod", Op::Fchmod),
    ("setns", Op::Setns),
    ("finit_module", Op::FinitModule),
    ("ptrace", Op::Ptrace),
    ("setuid", Op::SetIds),
    ("setgid", Op::SetIds),
    ("setreuid", Op::SetIds),
    ("setregid", Op::SetIds),
    ("setresuid", Op::SetIds),
    ("setresgid", Op::SetIds),
];

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Op {
    /// The op of the event type `name` (at compile time for the table).
    pub const fn of(name: &str) -> Op {
        let mut i = 0;
        while i < OPS.len() {
            if same(OPS[i].0, name) {
                return OPS[i].1;
            }
            i += 1;
        }
        Op::Other
    }
}

/// An event type: its Falco name and its [`Op`].
#[derive(Clone, Copy, Debug)]
pub struct Kind {
    name: &'static str,
    op: Op,
}

impl Kind {
    pub const EXECVE: Kind = Kind::new("execve");
    pub const CLONE: Kind = Kind::new("clone");
    pub const PROCEXIT: Kind = Kind::new("procexit");
    pub const SENSOR_LOSS: Kind = Kind::new("sensor_loss");
    /// A DNS message on the packet path.
    pub const DNS: Kind = Kind::new("dns");

    pub const fn new(name: &'static str) -> Kind {
        Kind { name, op: Op::of(name) }
    }

    /// Falco's `evt.type`.
    pub fn name(self) -> &'static str {
        self.name
    }

    pub fn op(self) -> Op {
        self.op
    }

    /// Every event type the sensor can produce, by name (`sensor replay`
    /// reads recorded events back through this).
    pub fn from_name(name: &str) -> Option<Kind> {
        [Kind::EXECVE, Kind::CLONE, Kind::PROCEXIT, Kind::SENSOR_LOSS, Kind::DNS]
            .into_iter()
            .chain(super::TABLE.iter().map(|s| s.kind))
            .find(|k| k.name == name)
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        self.name == other.name
    }
}

impl Eq for Kind {}

impl Hash for Kind {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.name.hash(h);
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.name == *other
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Kind::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown event type '{name}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_are_computed_from_names() {
        assert_eq!(Kind::new("openat2").op(), Op::Open);
        assert_eq!(Kind::new("unlinkat").op(), Op::Other);
        assert_eq!(Kind::from_name("accept4").map(Kind::op), Some(Op::Accept));
        assert_eq!(Kind::from_name("procexit"), Some(Kind::PROCEXIT));
        assert_eq!(Kind::from_name("no_such_syscall"), None);
    }

    #[test]
    fn every_named_op_is_a_known_event_type() {
        for (name, _) in OPS {
            assert!(Kind::from_name(name).is_some(), "{name} is in OPS but the sensor never produces it");
        }
    }
}
