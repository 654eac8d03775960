//! Falco fields extracted from our events: the bridge between the event
//! pipeline and the rule engine. Strings are borrowed from the event and the
//! shared process view wherever they exist there; derived strings
//! (`proc.cmdline`) are built only when a rule asks for them.

use std::borrow::Cow;

use super::flags;
use super::users::Users;
use crate::container::meta::ContainerMeta;
use crate::event::{Arg, Event, SockAddr};
use crate::fdtable::{FdInfo, FdKind};
use crate::process::SharedView;
use crate::rules::{FieldArg, FieldId, FieldSource, FieldValue};

pub struct EventFields<'a> {
    pub ev: &'a Event,
    /// Runtime and pod metadata of the event's container, when known.
    pub meta: Option<&'a ContainerMeta>,
    pub fd: Option<&'a FdInfo>,
    pub users: &'a Users,
    pub hostname: &'a str,
    /// Wall clock minus boot clock, to age processes (`proc.duration`).
    pub boot_to_unix_ns: i128,
}

fn s(v: &str) -> FieldValue<'_> {
    FieldValue::Str(Cow::Borrowed(v))
}

fn owned<'a>(v: String) -> FieldValue<'a> {
    FieldValue::Str(Cow::Owned(v))
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// `proc.args`: the arguments after argv[0], space-joined.
fn args_line(args: &[String]) -> String {
    args.iter().skip(1).map(String::as_str).collect::<Vec<_>>().join(" ")
}

fn labels_text(m: &std::collections::BTreeMap<String, String>) -> String {
    m.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(", ")
}

impl EventFields<'_> {
    fn view(&self) -> Option<&SharedView> {
        self.ev.proc.as_deref()
    }

    fn pod(&self) -> Option<&crate::container::meta::PodMeta> {
        self.meta?.pod.as_ref()
    }

    fn key(arg: Option<&FieldArg>) -> Option<&str> {
        match arg {
            Some(FieldArg::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// `container.*` beyond the id, and `k8s.*`, from runtime and API metadata.
    fn meta_field(&self, field: FieldId, arg: Option<&FieldArg>) -> Option<FieldValue<'_>> {
        let meta = self.meta?;
        let m = &meta.container;
        match field {
            FieldId::ContainerName => m.name.as_deref().map(s),
            FieldId::ContainerImage => m.image.as_deref().map(s),
            FieldId::ContainerImageRepository => meta.image_parts().map(|(r, _)| s(r)),
            FieldId::ContainerImageTag => meta.image_parts().and_then(|(_, t)| t).map(s),
            FieldId::ContainerImageDigest => m.image_digest.as_deref().map(s),
            FieldId::ContainerImageId => m.image_id.as_deref().map(s),
            FieldId::ContainerPrivileged => m.privileged.map(FieldValue::Bool),
            FieldId::ContainerStartTs => m.started_at_ns.map(FieldValue::U64),
            FieldId::ContainerLabel => m.labels.get(Self::key(arg)?).map(|v| s(v)),
            FieldId::ContainerLabels => Some(owned(labels_text(&m.labels))),
            FieldId::ContainerMounts => Some(owned(
                m.mounts
                    .iter()
                    .map(|x| {
                        let mode = x.mode.as_deref().unwrap_or_default();
                        let prop = x.propagation.as_deref().unwrap_or_default();
                        format!("{}:{}:{}:{}:{}", x.source, x.destination, mode, !x.read_only, prop)
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            FieldId::ContainerMountDest | FieldId::ContainerMountSource | FieldId::ContainerMount => {
                let key = Self::key(arg)?;
                let mount = m.mounts.iter().find(|x| x.destination == key || x.source == key)?;
                Some(match field {
                    FieldId::ContainerMountDest => s(&mount.destination),
                    _ => s(&mount.source),
                })
            }
            FieldId::K8sPodName => self.pod().map(|p| s(&p.name)),
            FieldId::K8sNsName => self.pod().map(|p| s(&p.namespace)),
            FieldId::K8sPodLabel => self.pod()?.labels.get(Self::key(arg)?).map(|v| s(v)),
            FieldId::K8sPodLabels => self.pod().map(|p| owned(labels_text(&p.labels))),
            FieldId::K8sPodAnnotation => self.pod()?.annotations.get(Self::key(arg)?).map(|v| s(v)),
            FieldId::K8sPodServiceAccount => self.pod()?.service_account.as_deref().map(s),
            FieldId::K8sWorkloadKind => self.pod()?.workload.as_ref().map(|(k, _)| s(k)),
            FieldId::K8sWorkloadName => self.pod()?.workload.as_ref().map(|(_, n)| s(n)),
            FieldId::K8sDeploymentName => {
                self.pod()?.workload.as_ref().filter(|(k, _)| k == "Deployment").map(|(_, n)| s(n))
            }
            _ => None,
        }
    }

    fn level(arg: Option<&FieldArg>) -> Option<usize> {
        match arg {
            Some(FieldArg::Index(i)) => Some(*i as usize),
            _ => None,
        }
    }

    /// Ancestor field at `level` (0 = the process, 1 = parent), or the list
    /// over all ancestors when no level is given.
    fn ancestor<'s>(
        &'s self,
        arg: Option<&FieldArg>,
        own: impl Fn(&'s SharedView) -> Option<FieldValue<'s>>,
        anc: impl Fn(&'s crate::process::Ancestor) -> Option<FieldValue<'s>>,
    ) -> Option<FieldValue<'s>> {
        let v = self.view()?;
        match Self::level(arg) {
            None => Some(FieldValue::List(v.ancestors.iter().filter_map(&anc).collect())),
            Some(0) => own(v),
            Some(n) => anc(v.ancestors.get(n - 1)?),
        }
    }

    fn evt_arg(&self, arg: Option<&FieldArg>) -> Option<FieldValue<'_>> {
        let ev = self.ev;
        let (name, value) = match arg? {
            FieldArg::Key(k) => (k.as_ref(), ev.args.get(k)?),
            FieldArg::Index(i) => {
                let (n, v) = ev.args.0.get(*i as usize)?;
                (n.as_ref(), v)
            }
        };
        Some(match (name, value) {
            ("flags", Arg::UInt(f)) if matches!(ev.kind.as_ref(), "open" | "openat" | "openat2" | "creat") => {
                owned(flags::open_flags(*f))
            }
            ("request", Arg::UInt(r)) if ev.kind == "ptrace" => match flags::ptrace_request(*r) {
                Some(n) => s(n),
                None => FieldValue::U64(*r),
            },
            ("domain", Arg::UInt(d)) if ev.kind == "socket" => match flags::socket_domain(*d) {
                Some(n) => s(n),
                None => FieldValue::U64(*d),
            },
            (_, Arg::UInt(u)) => FieldValue::U64(*u),
            (_, Arg::Int(i)) => FieldValue::I64(*i),
            (_, Arg::Str(t)) => s(t),
            (_, Arg::List(l)) => owned(l.join(" ")),
            (_, Arg::Addr(a)) => owned(addr_text(a)),
        })
    }

    fn open_flags(&self) -> Option<u64> {
        if !matches!(self.ev.kind.as_ref(), "open" | "openat" | "openat2" | "creat") {
            return None;
        }
        match self.ev.args.get("flags")? {
            Arg::UInt(f) => Some(*f),
            _ => None,
        }
    }

    fn fd_field(&self, id: FieldId) -> Option<FieldValue<'_>> {
        let fd = self.fd?;
        let (client, server) = fd.client_server();
        let inet = matches!(fd.kind, FdKind::Ipv4 | FdKind::Ipv6);
        let ip = |e: Option<&crate::fdtable::Endpoint>| e.map(|e| FieldValue::Ip(e.ip));
        let port = |e: Option<&crate::fdtable::Endpoint>| e.map(|e| FieldValue::U64(e.port.into()));
        match id {
            FieldId::FdNum => Some(FieldValue::I64(fd.num)),
            FieldId::FdType => Some(s(fd.kind.type_name())),
            FieldId::FdTypechar => Some(s(fd.kind.typechar())),
            FieldId::FdName => fd.name().map(owned),
            FieldId::FdNameraw => fd.nameraw.as_deref().map(s).or_else(|| fd.name().map(owned)),
            FieldId::FdDirectory if fd.kind == FdKind::File => {
                let p = fd.path.as_deref()?;
                Some(s(match p.rfind('/') {
                    Some(0) => "/",
                    Some(i) => &p[..i],
                    None => p,
                }))
            }
            FieldId::FdFilename if fd.kind == FdKind::File => fd.path.as_deref().map(|p| s(basename(p))),
            FieldId::FdL4proto if inet => fd.l4proto.map(s),
            FieldId::FdSockfamily => Some(s(match fd.kind {
                FdKind::Ipv4 | FdKind::Ipv6 => "ip",
                FdKind::Unix => "unix",
                _ => return None,
            })),
            FieldId::FdIsServer if inet => Some(FieldValue::Bool(fd.is_server)),
            FieldId::FdConnected => Some(FieldValue::Bool(fd.connected)),
            FieldId::FdNameChanged => Some(FieldValue::Bool(fd.name_changed)),
            // `fd.ip`/`fd.net` match either end; a single address is returned
            // and the server side is the one rules ask about.
            FieldId::FdIp | FieldId::FdNet | FieldId::FdSip | FieldId::FdSnet if inet => ip(server),
            FieldId::FdCip | FieldId::FdCnet if inet => ip(client),
            FieldId::FdLip | FieldId::FdLnet if inet => ip(fd.local.as_ref()),
            FieldId::FdRip | FieldId::FdRnet if inet => ip(fd.remote.as_ref()),
            FieldId::FdPort | FieldId::FdSport if inet => port(server),
            FieldId::FdCport if inet => port(client),
            FieldId::FdLport if inet => port(fd.local.as_ref()),
            FieldId::FdRport if inet => port(fd.remote.as_ref()),
            FieldId::FdProto | FieldId::FdSproto | FieldId::FdCproto | FieldId::FdLproto | FieldId::FdRproto
                if inet =>
            {
                fd.l4proto.map(s)
            }
            _ => None,
        }
    }
}

fn addr_text(a: &SockAddr) -> String {
    match a {
        SockAddr::Inet { ip, port } => format!("{ip}:{port}"),
        SockAddr::Inet6 { ip, port } => format!("[{ip}]:{port}"),
        SockAddr::Unix { path } => path.clone(),
        SockAddr::Other { num } => format!("family {num}"),
    }
}

impl FieldSource for EventFields<'_> {
    fn evt_type(&self) -> &str {
        &self.ev.kind
    }

    #[allow(clippy::too_many_lines)] // one arm per field: splitting hides the mapping
    fn get(&self, field: FieldId, arg: Option<&FieldArg>) -> Option<FieldValue<'_>> {
        let ev = self.ev;
        let v = self.view();
        match field {
            FieldId::EvtTime | FieldId::EvtRawtime => Some(FieldValue::U64(ev.ts)),
            FieldId::EvtRawtimeS => Some(FieldValue::U64(ev.ts / 1_000_000_000)),
            FieldId::EvtRawtimeNs => Some(FieldValue::U64(ev.ts % 1_000_000_000)),
            FieldId::EvtType | FieldId::SyscallType => Some(s(&ev.kind)),
            FieldId::EvtCategory => Some(s(ev.category.as_str())),
            FieldId::EvtHostname => Some(s(self.hostname)),
            FieldId::EvtSource => Some(s("syscall")),
            FieldId::EvtArg | FieldId::EvtRawarg => self.evt_arg(arg),
            FieldId::EvtArgs => Some(owned(
                ev.args
                    .0
                    .iter()
                    .map(|(n, a)| {
                        let val = match a {
                            Arg::UInt(u) => u.to_string(),
                            Arg::Int(i) => i.to_string(),
                            Arg::Str(t) => t.clone(),
                            Arg::List(l) => l.join(" "),
                            Arg::Addr(a) => addr_text(a),
                        };
                        format!("{n}={val}")
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
            )),
            FieldId::EvtRes => match ev.ret? {
                r if r >= 0 => Some(s("SUCCESS")),
                _ => ev.errno.as_deref().map(s),
            },
            FieldId::EvtRawres => ev.ret.map(FieldValue::I64),
            FieldId::EvtFailed => ev.ret.map(|r| FieldValue::Bool(r < 0)),
            FieldId::EvtIsOpenRead => self.open_flags().map(|f| FieldValue::Bool(matches!(f & 3, 0 | 2))),
            FieldId::EvtIsOpenWrite => self.open_flags().map(|f| FieldValue::Bool(f & 3 != 0)),
            FieldId::EvtIsOpenCreate => self.open_flags().map(|f| FieldValue::Bool(f & 0o100 != 0)),
            FieldId::EvtIsOpenExec => self.open_flags().map(|f| {
                let mode = ev.args.int("mode").unwrap_or(0);
                FieldValue::Bool(f & 0o100 != 0 && mode & 0o111 != 0)
            }),
            FieldId::EvtAbspath => {
                let name = match arg {
                    Some(FieldArg::Key(k)) => ev.args.str(k)?,
                    _ => ev.args.str("name").or_else(|| ev.args.str("path"))?,
                };
                Some(owned(crate::fdtable::absolute(name, v.and_then(|v| v.cwd.as_deref()))))
            }

            FieldId::ProcPid => Some(FieldValue::I64(ev.pid.into())),
            FieldId::ThreadTid => Some(FieldValue::I64(ev.tid.into())),
            FieldId::ThreadIsmain => Some(FieldValue::Bool(ev.pid == ev.tid)),
            FieldId::ProcPpid => v.map(|v| FieldValue::I64(v.ppid.into())),
            FieldId::ProcName => Some(s(v.map_or(ev.comm.as_str(), |v| v.name.as_str()))),
            FieldId::ProcExe => v.map(|v| s(v.args.first().map_or(v.exe.as_str(), String::as_str))),
            FieldId::ProcExepath => v.map(|v| s(v.exepath.as_deref().unwrap_or(&v.exe))),
            FieldId::ProcArgs => v.map(|v| owned(args_line(&v.args))),
            FieldId::ProcCmdline => v.map(|v| owned(crate::process::cmdline(&v.name, &v.args))),
            FieldId::ProcCmdnargs => v.map(|v| FieldValue::U64(v.args.len().saturating_sub(1) as u64)),
            FieldId::ProcCwd => v.and_then(|v| v.cwd.as_deref()).map(s),
            FieldId::ProcTty => v.map(|v| FieldValue::U64(v.tty.into())),
            FieldId::ProcSid => v.map(|v| FieldValue::I64(v.sid.into())),
            FieldId::ProcIsSidLeader => v.map(|v| FieldValue::Bool(v.sid == ev.pid)),
            FieldId::ProcIsExeFromMemfd => v.map(|v| {
                let p = v.exepath.as_deref().unwrap_or(&v.exe);
                FieldValue::Bool(p.starts_with("memfd:"))
            }),
            FieldId::ProcDuration => v.and_then(|v| {
                let start_unix = i128::from(v.start_ns) + self.boot_to_unix_ns;
                u64::try_from(i128::from(ev.ts) - start_unix).ok().map(FieldValue::U64)
            }),
            FieldId::ProcPidTs => {
                v.map(|v| FieldValue::U64((i128::from(v.start_ns) + self.boot_to_unix_ns).max(0) as u64))
            }
            FieldId::ProcPname => v.and_then(|v| v.ancestors.first()).map(|a| s(&a.name)),
            FieldId::ProcPexe => v.and_then(|v| v.ancestors.first()).map(|a| s(&a.exe)),
            FieldId::ProcPexepath => {
                v.and_then(|v| v.ancestors.first()).map(|a| s(a.exepath.as_deref().unwrap_or(&a.exe)))
            }
            FieldId::ProcPcmdline => v.and_then(|v| v.ancestors.first()).map(|a| s(&a.cmdline)),
            FieldId::ProcAname => self.ancestor(arg, |v| Some(s(&v.name)), |a| Some(s(&a.name))),
            FieldId::ProcAexe => self.ancestor(arg, |v| Some(s(&v.exe)), |a| Some(s(&a.exe))),
            FieldId::ProcAexepath => self.ancestor(
                arg,
                |v| Some(s(v.exepath.as_deref().unwrap_or(&v.exe))),
                |a| Some(s(a.exepath.as_deref().unwrap_or(&a.exe))),
            ),
            FieldId::ProcAcmdline => {
                self.ancestor(arg, |v| Some(owned(crate::process::cmdline(&v.name, &v.args))), |a| Some(s(&a.cmdline)))
            }
            FieldId::ProcApid => {
                self.ancestor(arg, |_| Some(FieldValue::I64(ev.pid.into())), |a| Some(FieldValue::I64(a.pid.into())))
            }
            FieldId::ThreadCapEffective => v.map(|v| owned(flags::caps(v.cap_effective))),

            FieldId::UserUid => Some(FieldValue::U64(ev.uid.into())),
            FieldId::UserName => self.users.name(ev.uid).map(s),
            FieldId::UserHomedir => self.users.home(ev.uid).map(s),
            FieldId::UserShell => self.users.shell(ev.uid).map(s),
            FieldId::UserLoginuid => v.map(|v| FieldValue::I64(v.loginuid)),
            FieldId::UserLoginname => {
                v.and_then(|v| u32::try_from(v.loginuid).ok()).and_then(|l| self.users.name(l)).map(s)
            }
            FieldId::GroupGid => Some(FieldValue::U64(ev.gid.into())),
            FieldId::GroupName => self.users.group(ev.gid).map(s),

            FieldId::FdNum
            | FieldId::FdType
            | FieldId::FdTypechar
            | FieldId::FdName
            | FieldId::FdNameraw
            | FieldId::FdDirectory
            | FieldId::FdFilename
            | FieldId::FdL4proto
            | FieldId::FdSockfamily
            | FieldId::FdIsServer
            | FieldId::FdConnected
            | FieldId::FdNameChanged
            | FieldId::FdIp
            | FieldId::FdNet
            | FieldId::FdSip
            | FieldId::FdSnet
            | FieldId::FdCip
            | FieldId::FdCnet
            | FieldId::FdLip
            | FieldId::FdLnet
            | FieldId::FdRip
            | FieldId::FdRnet
            | FieldId::FdPort
            | FieldId::FdSport
            | FieldId::FdCport
            | FieldId::FdLport
            | FieldId::FdRport
            | FieldId::FdProto
            | FieldId::FdSproto
            | FieldId::FdCproto
            | FieldId::FdLproto
            | FieldId::FdRproto => self.fd_field(field),
            FieldId::ContainerId => Some(v.and_then(|v| v.container.as_ref()).map_or(s("host"), |c| s(c.short_id()))),
            FieldId::ContainerFullId => Some(v.and_then(|v| v.container.as_ref()).map_or(s("host"), |c| s(&c.id))),
            FieldId::ContainerType => v.and_then(|v| v.container.as_ref()).map(|c| s(c.runtime.as_str())),
            FieldId::K8sPodUid | FieldId::K8sPodId => self
                .pod()
                .map(|p| s(&p.uid))
                .or_else(|| v.and_then(|v| v.container.as_ref()).and_then(|c| c.pod_uid.as_deref()).map(s)),
            _ => self.meta_field(field, arg),
        }
    }
}

#[cfg(test)]
mod tests;
