//! What a profile records of one event: the item, generalised so that a
//! workload's normal randomness (temporary names, pids, dates) is one item.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::detect::fields::EventFields;
use crate::event::Op;
use crate::rules::{FieldId, FieldSource, FieldValue};

/// The kinds of items, one list each in a profile (`baseline.kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Exec,
    Write,
    Read,
    Connect,
    Listen,
    Syscall,
}

impl ItemKind {
    pub const ALL: [ItemKind; 6] =
        [ItemKind::Exec, ItemKind::Write, ItemKind::Read, ItemKind::Connect, ItemKind::Listen, ItemKind::Syscall];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Exec => "exec",
            ItemKind::Write => "write",
            ItemKind::Read => "read",
            ItemKind::Connect => "connect",
            ItemKind::Listen => "listen",
            ItemKind::Syscall => "syscall",
        }
    }
}

/// One generalised observation; its text form is what a profile stores.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Item {
    pub kind: ItemKind,
    /// `/usr/bin/curl <- /bin/sh`, `/tmp/tmp.*`, `tcp api.example.com:443`,
    /// `tcp 8080`, `ptrace`.
    pub text: String,
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.text)
    }
}

/// Files whose read is worth a profile entry: credentials, keys, the
/// service account token, the node's Kubernetes configuration.
pub const SENSITIVE_READS: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/pam.d/",
    "/etc/security/",
    "/etc/ssh/",
    "/root/.ssh/",
    "/root/.aws/",
    "/root/.kube/",
    "/etc/kubernetes/",
    "/var/run/secrets/",
    "/run/secrets/",
    "/var/lib/kubelet/pki/",
];

fn sensitive_read(path: &str) -> bool {
    SENSITIVE_READS.iter().any(|p| path.starts_with(p))
        || path.strip_prefix("/home/").and_then(|r| r.split_once('/')).is_some_and(|(_, rest)| {
            rest.starts_with(".ssh/") || rest.starts_with(".aws/") || rest.starts_with(".kube/")
        })
}

/// Syscalls rare enough in a workload that each is an item of its own.
pub const SENSITIVE_SYSCALLS: &[&str] = &[
    "ptrace",
    "mount",
    "umount2",
    "unshare",
    "setns",
    "bpf",
    "init_module",
    "finit_module",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "memfd_create",
    "userfaultfd",
    "chroot",
];

/// One of [`SENSITIVE_SYSCALLS`]: a `match` (a length switch, then one
/// comparison) for the hot path's every other syscall.
pub(super) fn sensitive_syscall(name: &str) -> bool {
    let hit = matches!(
        name,
        "ptrace"
            | "mount"
            | "umount2"
            | "unshare"
            | "setns"
            | "bpf"
            | "init_module"
            | "finit_module"
            | "setuid"
            | "setgid"
            | "setreuid"
            | "setregid"
            | "setresuid"
            | "setresgid"
            | "memfd_create"
            | "userfaultfd"
            | "chroot"
    );
    debug_assert_eq!(hit, SENSITIVE_SYSCALLS.contains(&name));
    hit
}

/// Whether a path component looks generated: a number (pids, dates), a
/// run of digits or digits in a longer word (counters, hashes, mktemp's
/// `XXXXXX`). `python3`, `lib64` and `x86` stay. Names of letters only
/// are left to the profile's directory collapse (`dir/*`).
fn generated(token: &str) -> bool {
    let digits = token.bytes().filter(u8::is_ascii_digit).count();
    !token.is_empty() && (digits == token.len() || digits >= 3 || (digits >= 2 && token.len() >= 6))
}

/// One path component with generated parts collapsed to `*`: `tmp.aB3dE9`
/// → `tmp.*`, `1234` → `*`, `app-2026-12-03.log` → `app-*-*-*.log`.
fn generalise_component(c: &str) -> String {
    let mut out = String::with_capacity(c.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if !token.is_empty() {
            if generated(token) {
                if !out.ends_with('*') {
                    out.push('*');
                }
            } else {
                out.push_str(token);
            }
            token.clear();
        }
    };
    for ch in c.chars() {
        if matches!(ch, '.' | '-' | '_' | ':' | '@' | '+' | '=') {
            flush(&mut token, &mut out);
            out.push(ch);
        } else {
            token.push(ch);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// A path with its generated components collapsed.
pub fn generalise_path(path: &str) -> String {
    // Only digits make a part generated: most paths have none.
    if !path.bytes().any(|b| b.is_ascii_digit()) {
        return path.to_owned();
    }
    let mut out = String::with_capacity(path.len());
    for (i, c) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if c.bytes().any(|b| b.is_ascii_digit()) {
            out.push_str(&generalise_component(c));
        } else {
            out.push_str(c);
        }
    }
    out
}

/// The directory form of a generalised path (`/var/cache/app/*`), which a
/// profile learns in place of a directory's many children.
pub fn parent_glob(path: &str) -> Option<String> {
    let (dir, _) = path.rsplit_once('/')?;
    (!dir.is_empty()).then(|| format!("{dir}/*"))
}

fn text<'a>(f: &'a EventFields<'_>, id: FieldId) -> Option<std::borrow::Cow<'a, str>> {
    match f.get(id, None)? {
        FieldValue::Str(s) => Some(s),
        _ => None,
    }
}

fn uint(f: &EventFields<'_>, id: FieldId) -> Option<u64> {
    match f.get(id, None)? {
        FieldValue::U64(v) => Some(v),
        _ => None,
    }
}

fn ip(f: &EventFields<'_>, id: FieldId) -> Option<IpAddr> {
    match f.get(id, None)? {
        FieldValue::Ip(ip) => Some(ip),
        _ => None,
    }
}

/// `exe <- parent`: an executable with the one that started it.
pub fn exec_text(exe: &str, parent: &str) -> String {
    format!("{exe} <- {parent}")
}

/// Whether the event is one a profile could record, before any field is
/// read: a cheap test on the hot path.
pub fn candidate(f: &EventFields<'_>) -> bool {
    let ev = f.ev;
    match ev.kind.op() {
        Op::Execve | Op::Open | Op::Connect | Op::Listen => ev.ret.is_some_and(|r| r >= 0 || r == -115),
        Op::SetIds | Op::Ptrace | Op::Setns | Op::FinitModule | Op::MemfdCreate => true,
        Op::Other => sensitive_syscall(ev.kind.name()),
        _ => false,
    }
}

/// The item of an event, if it is one a profile records.
pub fn of_event(f: &EventFields<'_>) -> Option<Item> {
    let ev = f.ev;
    let item = |kind, text| Some(Item { kind, text });
    match ev.kind.op() {
        Op::Execve if ev.ret == Some(0) => {
            let exe = text(f, FieldId::ProcExepath)?;
            // memfd and deleted executables: one item, not one per inode.
            let exe = if exe.starts_with("memfd:") || exe.starts_with("/memfd:") { "memfd:*".into() } else { exe };
            let parent = text(f, FieldId::ProcPexepath).unwrap_or_default();
            item(ItemKind::Exec, exec_text(&exe, &parent))
        }
        Op::Open if ev.ret.is_some_and(|r| r >= 0) => {
            let name = text(f, FieldId::FdName)?;
            let write = matches!(f.get(FieldId::EvtIsOpenWrite, None), Some(FieldValue::Bool(true)));
            if write {
                item(ItemKind::Write, generalise_path(&name))
            } else if sensitive_read(&name) {
                item(ItemKind::Read, generalise_path(&name))
            } else {
                None
            }
        }
        Op::Connect if ev.ret.is_some_and(|r| r == 0 || r == -115) => {
            let proto = text(f, FieldId::FdL4proto)?;
            let port = uint(f, FieldId::FdRport)?;
            let host = match text(f, FieldId::FdRipName) {
                Some(name) if !name.is_empty() => name.into_owned(),
                _ => ip(f, FieldId::FdRip)?.to_string(),
            };
            item(ItemKind::Connect, format!("{proto} {host}:{port}"))
        }
        Op::Listen if ev.ret == Some(0) => {
            let proto = text(f, FieldId::FdL4proto)?;
            let port = uint(f, FieldId::FdLport)?;
            item(ItemKind::Listen, format!("{proto} {port}"))
        }
        Op::SetIds | Op::Ptrace | Op::Setns | Op::FinitModule | Op::MemfdCreate | Op::Other
            if sensitive_syscall(ev.kind.name()) =>
        {
            item(ItemKind::Syscall, ev.kind.name().to_owned())
        }
        _ => None,
    }
}

/// Broader forms an item may be known by, most specific first, after the
/// profile generalised it: a directory's children (`dir/*`), a host's
/// ports (`tcp host:*`), a network's hosts (`tcp 10.1.2.0/24:443`).
pub fn broader(item: &Item) -> Vec<String> {
    match item.kind {
        ItemKind::Write | ItemKind::Read => parent_glob(&item.text).into_iter().collect(),
        ItemKind::Connect => {
            let Some((proto, dest)) = item.text.split_once(' ') else { return Vec::new() };
            let Some((host, port)) = dest.rsplit_once(':') else { return Vec::new() };
            let mut v = vec![format!("{proto} {host}:*")];
            if let Some(net) = network(host) {
                v.push(format!("{proto} {net}:{port}"));
                v.push(format!("{proto} {net}:*"));
            }
            v
        }
        ItemKind::Listen => item.text.split_once(' ').map(|(p, _)| format!("{p} *")).into_iter().collect(),
        ItemKind::Exec | ItemKind::Syscall => Vec::new(),
    }
}

/// The /24 (IPv4) or /64 (IPv6) an address is in.
pub fn network(host: &str) -> Option<String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => {
            let o = a.octets();
            Some(format!("{}.{}.{}.0/24", o[0], o[1], o[2]))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
        }
    }
}
