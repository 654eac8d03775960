//! The agent's typed events: what `sensor events` prints, one JSON object per
//! line, and what `sensor replay` will read back.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use crate::kernel::syscall_table::{Category, Kind, Op};
use process_view::SharedView;

pub mod cgroup;
pub mod decode;
pub mod dns;
pub mod process_view;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Falco's `evt.num`: the event's sequence number in this agent's
    /// stream, from 1 (0 when unknown: a line recorded without it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num: u64,
    /// Wall-clock time, nanoseconds since the Unix epoch.
    pub ts: u64,
    /// Falco's `evt.type`: the syscall name, or `execve`, `clone`, `procexit`.
    #[serde(rename = "type")]
    pub kind: Kind,
    pub category: Category,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    pub cgroup_id: u64,
    pub comm: String,
    /// Syscall result; absent for scheduler events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ret: Option<i64>,
    /// `ENOENT`-style name of a negative result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<Cow<'static, str>>,
    /// A string or argv hit its bound.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// A user-memory read failed in the kernel (unmapped pointer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_fault: bool,
    /// A 32-bit (ia32) syscall, decoded with the i386 numbers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub compat: bool,
    /// Named parameters, after Falco's names (`evt.arg.<name>`).
    pub args: Args,
    /// The process and its ancestors, from the agent's process table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proc: Option<Arc<SharedView>>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub type ArgName = Cow<'static, str>;

/// Ordered named parameters, serialized as a JSON object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args(pub Vec<(ArgName, Arg)>);

impl Args {
    pub fn push(&mut self, name: impl Into<ArgName>, v: Arg) {
        self.0.push((name.into(), v));
    }
    pub fn get(&self, name: &str) -> Option<&Arg> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Arg::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Arg::Int(i) => Some(*i),
            Arg::UInt(u) => i64::try_from(*u).ok(),
            _ => None,
        }
    }
}

impl Serialize for Args {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Args;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of argument names to values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Args, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Arg>()? {
                    out.push((Cow::Owned(k), v));
                }
                Ok(Args(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    UInt(u64),
    Int(i64),
    Str(String),
    List(Vec<String>),
    Addr(SockAddr),
    /// Data a syscall moved (the first `MAX_DATA` bytes), as byte values.
    Bytes(Vec<u8>),
}

/// A decoded socket address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "lowercase")]
pub enum SockAddr {
    Inet {
        ip: IpAddr,
        port: u16,
    },
    Inet6 {
        ip: IpAddr,
        port: u16,
    },
    Unix {
        path: String,
    },
    /// Another family, kept as its number.
    Other {
        num: u16,
    },
}
