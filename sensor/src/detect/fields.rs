//! Falco fields extracted from our events: the bridge between the event
//! pipeline and the rule engine. Strings are borrowed from the event and the
//! shared process view wherever they exist there; derived strings
//! (`proc.cmdline`) are built only when a rule asks for them.

use std::borrow::Cow;

use super::flags;
use crate::enrich::container::meta::ContainerMeta;
use crate::enrich::fdtable::{FdInfo, FdKind};
use crate::enrich::users::Users;
use crate::event::process_view::SharedView;
use crate::event::{Arg, Event, Op, SockAddr};
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
    /// What the workload's learned profile says of the event.
    pub baseline: Option<&'a crate::detect::baseline::Verdict>,
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
/// `source:dest:mode:rdwr:propagation`, one mount as Falco prints it.
fn mount_text(x: &crate::enrich::runtime::Mount) -> String {
    let mode = x.mode.as_deref().unwrap_or_default();
    let prop = x.propagation.as_deref().unwrap_or_default();
    format!("{}:{}:{}:{}:{}", x.source, x.destination, mode, !x.read_only, prop)
}

fn labels_text(m: &std::collections::BTreeMap<String, String>) -> String {
    m.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(", ")
}

impl EventFields<'_> {
    fn view(&self) -> Option<&SharedView> {
        self.ev.proc.as_deref()
    }

    fn pod(&self) -> Option<&crate::enrich::container::meta::PodMeta> {
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
            FieldId::ContainerMounts => Some(owned(m.mounts.iter().map(mount_text).collect::<Vec<_>>().join(","))),
            FieldId::ContainerMountDest | FieldId::ContainerMountSource | FieldId::ContainerMount => {
                // As the container plugin: `[N]` is the N-th mount; a key is
                // a glob over the mount source (`container.mount.source`:
                // over the destination). No match: no value.
                let index = match arg? {
                    FieldArg::Index(i) => usize::try_from(*i).ok(),
                    FieldArg::Key(k) => k.parse::<usize>().ok(),
                };
                let mount = match (index, arg?) {
                    (Some(i), _) => m.mounts.get(i)?,
                    (None, FieldArg::Index(_)) => return None,
                    (None, FieldArg::Key(k)) => {
                        let g = crate::rules::glob::Glob::new(k, false);
                        let by_dest = matches!(field, FieldId::ContainerMountSource);
                        m.mounts.iter().find(|x| g.matches(if by_dest { &x.destination } else { &x.source }))?
                    }
                };
                Some(match field {
                    FieldId::ContainerMountDest => s(&mount.destination),
                    FieldId::ContainerMountSource => s(&mount.source),
                    _ => owned(mount_text(mount)),
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
        anc: impl Fn(&'s crate::event::process_view::Ancestor) -> Option<FieldValue<'s>>,
    ) -> Option<FieldValue<'s>> {
        let v = self.view()?;
        match Self::level(arg) {
            None => Some(FieldValue::List(v.ancestors.iter().filter_map(&anc).collect())),
            Some(0) => own(v),
            Some(n) => anc(v.ancestors.get(n - 1)?),
        }
    }

    /// The name of the process `leader` (a session or process group
    /// leader, host pid): the process itself or one of its ancestors.
    fn leader_name(&self, leader: u32) -> Option<FieldValue<'_>> {
        let v = self.view()?;
        if leader == 0 {
            return None;
        }
        if leader == self.ev.pid {
            return Some(s(&v.name));
        }
        v.ancestors.iter().find(|a| a.pid == leader).map(|a| s(&a.name))
    }

    /// `evt.arg.<name>` (`raw`: `evt.rawarg`, numbers left as numbers where
    /// Falco renders them as text).
    fn evt_arg(&self, arg: Option<&FieldArg>, raw: bool) -> Option<FieldValue<'_>> {
        let ev = self.ev;
        let (name, value) = match arg? {
            FieldArg::Key(k) => (k.as_ref(), ev.args.get(k)?),
            FieldArg::Index(i) => {
                let (n, v) = ev.args.0.get(*i as usize)?;
                (n.as_ref(), v)
            }
        };
        if let Arg::UInt(u) = value
            && let Some(text) = arg_flag_text(ev.kind.op(), name, *u, raw)
        {
            return Some(match text {
                FlagArg::Named(n) => owned(n),
                FlagArg::Unnamed => FieldValue::U64(*u),
            });
        }
        Some(match value {
            Arg::UInt(u) => FieldValue::U64(*u),
            Arg::Int(i) => FieldValue::I64(*i),
            Arg::Str(t) => s(t),
            Arg::List(l) => owned(l.join(" ")),
            Arg::Addr(a) => owned(addr_text(a)),
            Arg::Bytes(b) => FieldValue::Bytes(Cow::Borrowed(b)),
        })
    }

    /// The process's environment: the exec event's own `env` argument
    /// (recorded lines carry it there), else the process table's copy.
    fn env(&self) -> &[String] {
        if let Some(Arg::List(env)) = self.ev.args.get("env")
            && self.ev.kind.op() == Op::Execve
        {
            return env;
        }
        self.view().map_or(&[], |v| &v.env)
    }

    /// `proc.env`: `NAME=value` pairs space-joined, or one variable's value.
    fn env_field(&self, name: Option<&str>) -> FieldValue<'_> {
        let env = self.env();
        match name {
            None => owned(env.join(" ")),
            Some(n) => s(env_lookup(env, n).unwrap_or_default()),
        }
    }

    /// `proc.aenv`: without an argument (or level 0) the process's own
    /// environment; `[N]` the N-th ancestor's; `[NAME]` the first value of
    /// NAME up the ancestry, parent first (libsinsp's semantics).
    fn aenv_field(&self, arg: Option<&FieldArg>) -> Option<FieldValue<'_>> {
        let v = self.view();
        // `[2]` is a level, `[NAME]` a variable.
        let level = match arg {
            None => Some(0),
            Some(FieldArg::Index(n)) => Some(*n as usize),
            Some(FieldArg::Key(k)) => k.parse::<usize>().ok(),
        };
        match (level, arg) {
            (Some(0), _) => Some(self.env_field(None)),
            (Some(n), _) => {
                let a = v?.ancestors.get(n - 1)?;
                Some(owned(a.env.join(" ")))
            }
            (None, Some(FieldArg::Key(k))) => {
                let found = v.and_then(|v| v.ancestors.iter().find_map(|a| env_lookup(&a.env, k)));
                Some(s(found.unwrap_or_default()))
            }
            (None, _) => None,
        }
    }

    fn open_flags(&self) -> Option<u64> {
        if self.ev.kind.op() != Op::Open {
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
        let ip = |e: Option<&crate::enrich::fdtable::Endpoint>| e.map(|e| FieldValue::Ip(e.ip));
        let port = |e: Option<&crate::enrich::fdtable::Endpoint>| e.map(|e| FieldValue::U64(e.port.into()));
        match id {
            FieldId::FdNum => Some(FieldValue::I64(fd.num)),
            FieldId::FdType => Some(s(fd.kind.type_name())),
            FieldId::FdTypechar => Some(s(fd.kind.typechar())),
            // Paths are borrowed: rules compare fd.name of every open.
            FieldId::FdName => match fd.kind {
                FdKind::Ipv4 | FdKind::Ipv6 => fd.name().map(owned),
                _ => fd.path.as_deref().map(s),
            },
            FieldId::FdNameraw => fd.nameraw.as_deref().map(s).or_else(|| fd.name().map(owned)),
            FieldId::FdDirectory if matches!(fd.kind, FdKind::File | FdKind::Directory) => {
                let p = fd.path.as_deref()?;
                Some(s(match p.rfind('/') {
                    Some(0) => "/",
                    Some(i) => &p[..i],
                    None => p,
                }))
            }
            FieldId::FdFilename if matches!(fd.kind, FdKind::File | FdKind::Directory) => {
                fd.path.as_deref().map(|p| s(basename(p)))
            }
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
            // Names the process's container resolved for either end
            // (enrich/dns); the server end is ours on a server socket.
            FieldId::FdRipName if inet => fd.remote_name.as_deref().map(s),
            FieldId::FdLipName if inet => fd.local_name.as_deref().map(s),
            FieldId::FdSipName if inet => if fd.is_server { &fd.local_name } else { &fd.remote_name }.as_deref().map(s),
            FieldId::FdCipName if inet => if fd.is_server { &fd.remote_name } else { &fd.local_name }.as_deref().map(s),
            FieldId::FdProto | FieldId::FdSproto | FieldId::FdCproto | FieldId::FdLproto | FieldId::FdRproto
                if inet =>
            {
                fd.l4proto.map(s)
            }
            _ => None,
        }
    }
}

/// The value of `NAME` in `NAME=value` strings.
fn env_lookup<'e>(env: &'e [String], name: &str) -> Option<&'e str> {
    env.iter().find_map(|e| e.strip_prefix(name)?.strip_prefix('='))
}

/// A numeric argument Falco shows by name: its name, or none for a number
/// the table does not know.
enum FlagArg {
    Named(String),
    Unnamed,
}

/// The symbolic text of a numeric argument Falco names (open flags, chmod
/// modes, ptrace requests, socket domains): `None` when `name` is no such
/// argument of `kind`. `raw` (`evt.rawarg`) leaves chmod modes as numbers.
fn arg_flag_text(op: Op, name: &str, value: u64, raw: bool) -> Option<FlagArg> {
    let known = |n: Option<&str>| n.map_or(FlagArg::Unnamed, |n| FlagArg::Named(n.to_owned()));
    match name {
        "flags" if op == Op::Open => Some(FlagArg::Named(flags::open_flags(value))),
        "mode" if !raw && matches!(op, Op::Chmod | Op::Fchmod) => Some(FlagArg::Named(flags::chmod_mode(value))),
        "request" if op == Op::Ptrace => Some(known(flags::ptrace_request(value))),
        "domain" if op == Op::Socket => Some(known(flags::socket_domain(value))),
        _ => None,
    }
}

/// Data as Falco prints it in text: printable ASCII kept, every other byte
/// a dot.
fn printable(b: &[u8]) -> String {
    b.iter().map(|&c| if c.is_ascii_graphic() || c == b' ' { char::from(c) } else { '.' }).collect()
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
        self.ev.kind.name()
    }

    #[allow(clippy::too_many_lines)] // one arm per field: splitting hides the mapping
    fn get(&self, field: FieldId, arg: Option<&FieldArg>) -> Option<FieldValue<'_>> {
        let ev = self.ev;
        let v = self.view();
        match field {
            FieldId::EvtNum => Some(FieldValue::U64(ev.num)),
            FieldId::BaselineStatus
            | FieldId::BaselineKey
            | FieldId::BaselineKind
            | FieldId::BaselineItem
            | FieldId::BaselineKnown
            | FieldId::ProcIsBaseline
            | FieldId::FdIsBaseline => baseline::get(self.baseline?, field),
            // The clock strings (evt.time.s, evt.datetime...) are rendered
            // from the nanoseconds by the output formatter, in its zone.
            FieldId::EvtTime
            | FieldId::EvtRawtime
            | FieldId::EvtTimeS
            | FieldId::EvtTimeIso8601
            | FieldId::EvtDatetime
            | FieldId::EvtDatetimeS => Some(FieldValue::U64(ev.ts)),
            FieldId::EvtRawtimeS => Some(FieldValue::U64(ev.ts / 1_000_000_000)),
            FieldId::EvtRawtimeNs => Some(FieldValue::U64(ev.ts % 1_000_000_000)),
            FieldId::EvtType | FieldId::SyscallType => Some(s(ev.kind.name())),
            FieldId::EvtCategory => Some(s(ev.category.as_str())),
            FieldId::EvtHostname => Some(s(self.hostname)),
            FieldId::EvtSource => Some(s("syscall")),
            FieldId::EvtArg => self.evt_arg(arg, false),
            FieldId::EvtRawarg => self.evt_arg(arg, true),
            FieldId::EvtArgs => Some(owned(
                ev.args
                    .0
                    .iter()
                    .map(|(n, a)| {
                        let val = match a {
                            // Falco: the number, then its symbolic name.
                            Arg::UInt(u) => match arg_flag_text(ev.kind.op(), n, *u, false) {
                                Some(FlagArg::Named(text)) => format!("{u}({text})"),
                                _ => u.to_string(),
                            },
                            Arg::Int(i) => i.to_string(),
                            Arg::Str(t) => t.clone(),
                            Arg::List(l) => l.join(" "),
                            Arg::Addr(a) => addr_text(a),
                            Arg::Bytes(b) => printable(b),
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
            // The data the I/O syscall moved (recvfrom, sendto), as bytes.
            FieldId::EvtBuffer => match ev.args.get("data")? {
                Arg::Bytes(b) => Some(FieldValue::Bytes(Cow::Borrowed(b))),
                _ => None,
            },
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
                Some(owned(crate::process::path::absolute(name, v.and_then(|v| v.cwd.as_deref()))))
            }

            FieldId::ProcPid => Some(FieldValue::I64(ev.pid.into())),
            FieldId::ThreadTid => Some(FieldValue::I64(ev.tid.into())),
            FieldId::ThreadIsmain => Some(FieldValue::Bool(ev.pid == ev.tid)),
            FieldId::ProcPpid => v.map(|v| FieldValue::I64(v.ppid.into())),
            FieldId::ProcName => Some(s(v.map_or(ev.comm.as_str(), |v| v.name.as_str()))),
            FieldId::ProcExe => v.map(|v| s(v.args.first().map_or(v.exe.as_str(), String::as_str))),
            FieldId::ProcExepath => v.map(|v| s(v.exepath.as_deref().unwrap_or(&v.exe))),
            FieldId::ProcArgs => v.map(|v| s(v.args_line())),
            FieldId::ProcCmdline => v.map(|v| s(v.cmdline())),
            FieldId::ProcCmdnargs => v.map(|v| FieldValue::U64(v.args.len().saturating_sub(1) as u64)),
            FieldId::ProcCwd => v.and_then(|v| v.cwd.as_deref()).map(s),
            FieldId::ProcTty => v.map(|v| FieldValue::U64(v.tty.into())),
            FieldId::ProcSid => v.map(|v| FieldValue::I64(v.sid.into())),
            FieldId::ProcIsSidLeader => v.map(|v| FieldValue::Bool(v.sid == ev.pid)),
            FieldId::ProcSname => self.leader_name(v?.sid),
            FieldId::ProcVpid => v?.vpid.map(|p| FieldValue::I64(p.into())),
            FieldId::ProcVpgid => v?.vpgid.map(|p| FieldValue::I64(p.into())),
            FieldId::ProcVpgidName => self.leader_name(v?.pgid),
            FieldId::ProcIsVpgidLeader => {
                let v = v?;
                Some(FieldValue::Bool(v.vpgid? == v.vpid?))
            }
            FieldId::ProcIsExeFromMemfd => v.map(|v| {
                let p = v.exepath.as_deref().unwrap_or(&v.exe);
                FieldValue::Bool(v.exe_from_memfd || p.starts_with("memfd:"))
            }),
            FieldId::ProcIsExeWritable => v.map(|v| FieldValue::Bool(v.exe_writable)),
            FieldId::ProcIsExeUpperLayer => v.map(|v| FieldValue::Bool(v.exe_upper_layer)),
            FieldId::ProcEnv => Some(self.env_field(Self::key(arg))),
            FieldId::ProcAenv => self.aenv_field(arg),
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
            FieldId::ProcAcmdline => self.ancestor(
                arg,
                |v| Some(owned(crate::event::process_view::cmdline(&v.name, &v.args))),
                |a| Some(s(&a.cmdline)),
            ),
            FieldId::ProcApid => {
                self.ancestor(arg, |_| Some(FieldValue::I64(ev.pid.into())), |a| Some(FieldValue::I64(a.pid.into())))
            }
            FieldId::ThreadCapEffective => v.map(|v| owned(flags::caps(v.cap_effective))),
            FieldId::ThreadCapPermitted => v.map(|v| owned(flags::caps(v.cap_permitted))),
            FieldId::ThreadCapInheritable => v.map(|v| owned(flags::caps(v.cap_inheritable))),

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
            | FieldId::FdRproto
            | FieldId::FdSipName
            | FieldId::FdRipName
            | FieldId::FdCipName
            | FieldId::FdLipName => self.fd_field(field),
            FieldId::DnsQuery
            | FieldId::DnsQueryLen
            | FieldId::DnsQueryLongestLabel
            | FieldId::DnsType
            | FieldId::DnsQr
            | FieldId::DnsRcode
            | FieldId::DnsAnswers
            | FieldId::DnsServer
            | FieldId::DnsServerPort
            | FieldId::DnsMalformed
            | FieldId::DnsServerConfigured => self.dns_field(field),
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

mod baseline;
mod dns;
#[cfg(test)]
mod tests;
