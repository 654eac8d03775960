//! The field registry: every field a condition or output may reference,
//! with its value type and what kind of argument it takes.
//!
//! Fields are resolved to a [`FieldId`] once at load time so that the event
//! side can `match` on an enum instead of comparing strings per event.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use thiserror::Error;

/// The value type a field extracts (Falco's `ppm_param_type` families).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// CHARBUF and friends.
    Str,
    /// BYTEBUF (`evt.buffer`), compared with `bcontains`/`bstartswith`.
    Bytes,
    /// UINT8..UINT64.
    U64,
    /// INT8..INT64 (`fd.num`, `evt.rawres`, `user.loginuid`...).
    I64,
    Bool,
    /// A single IPv4/IPv6 address.
    IpAddr,
    /// An address matched against CIDR networks: `=` means "is inside".
    IpNet,
    Port,
    /// Nanosecond duration.
    RelTime,
    /// Nanoseconds since the epoch.
    AbsTime,
    /// Event parameters: the type depends on the event, so comparisons are
    /// decided on the extracted value's runtime type.
    Dynamic,
}

impl FieldType {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Str => "string",
            FieldType::Bytes => "bytebuf",
            FieldType::U64 => "uint64",
            FieldType::I64 => "int64",
            FieldType::Bool => "bool",
            FieldType::IpAddr => "ipaddr",
            FieldType::IpNet => "ipnet",
            FieldType::Port => "port",
            FieldType::RelTime => "reltime",
            FieldType::AbsTime => "abstime",
            FieldType::Dynamic => "dynamic",
        }
    }

    #[must_use]
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldType::U64 | FieldType::I64 | FieldType::Port | FieldType::RelTime | FieldType::AbsTime)
    }
}

/// What argument a field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSpec {
    None,
    /// Optional `[N]` ancestor level. Without it a filter matches ANY
    /// ancestor and the value is a list (Falco's `proc.aname` semantics).
    Ancestor,
    /// Optional `[N]` index (`proc.args[N]`-style); without it the whole value.
    OptIndex,
    /// Optional `[key]`.
    OptKey,
    /// Mandatory `[key]` (`container.mount.dest[/path]`).
    Key,
    /// Mandatory `.name`, `[name]` or `[N]` (`evt.arg.flags`, `evt.arg[0]`).
    EvtArg,
}

/// The argument given to a field, already parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldArg {
    Index(u32),
    Key(Box<str>),
}

impl fmt::Display for FieldArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldArg::Index(i) => write!(f, "{i}"),
            FieldArg::Key(k) => f.write_str(k),
        }
    }
}

/// Static description of a field.
#[derive(Debug)]
pub struct FieldInfo {
    pub id: FieldId,
    pub name: &'static str,
    pub ty: FieldType,
    pub arg: ArgSpec,
}

macro_rules! fields {
    ($( $id:ident = $name:literal : $ty:ident $(, $arg:ident)? ;)*) => {
        /// Identifier of a registered field; the event side matches on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum FieldId { $($id,)* }

        /// All registered fields, indexed by `FieldId as usize`.
        pub static FIELDS: &[FieldInfo] = &[
            $( FieldInfo { id: FieldId::$id, name: $name, ty: FieldType::$ty, arg: fields!(@arg $($arg)?) }, )*
        ];
    };
    (@arg) => { ArgSpec::None };
    (@arg $a:ident) => { ArgSpec::$a };
}

fields! {
    // evt.*
    EvtNum = "evt.num": U64;
    EvtTime = "evt.time": AbsTime;
    EvtTimeS = "evt.time.s": Str;
    EvtTimeIso8601 = "evt.time.iso8601": Str;
    EvtDatetime = "evt.datetime": Str;
    EvtDatetimeS = "evt.datetime.s": Str;
    EvtRawtime = "evt.rawtime": AbsTime;
    EvtRawtimeS = "evt.rawtime.s": U64;
    EvtRawtimeNs = "evt.rawtime.ns": U64;
    EvtReltime = "evt.reltime": RelTime;
    EvtDeltatime = "evt.deltatime": RelTime;
    EvtDir = "evt.dir": Str;
    EvtType = "evt.type": Str;
    SyscallType = "syscall.type": Str;
    EvtCategory = "evt.category": Str;
    EvtCpu = "evt.cpu": I64;
    EvtArgs = "evt.args": Str;
    EvtArg = "evt.arg": Dynamic, EvtArg;
    EvtRawarg = "evt.rawarg": Dynamic, EvtArg;
    EvtInfo = "evt.info": Str;
    EvtBuffer = "evt.buffer": Bytes;
    EvtBuflen = "evt.buflen": U64;
    EvtRes = "evt.res": Str;
    EvtRawres = "evt.rawres": I64;
    EvtFailed = "evt.failed": Bool;
    EvtIsIo = "evt.is_io": Bool;
    EvtIsIoRead = "evt.is_io_read": Bool;
    EvtIsIoWrite = "evt.is_io_write": Bool;
    EvtIoDir = "evt.io_dir": Str;
    EvtIsWait = "evt.is_wait": Bool;
    EvtWaitLatency = "evt.wait_latency": RelTime;
    EvtIsSyslog = "evt.is_syslog": Bool;
    EvtCount = "evt.count": U64;
    EvtAbspath = "evt.abspath": Str, OptKey;
    EvtIsOpenRead = "evt.is_open_read": Bool;
    EvtIsOpenWrite = "evt.is_open_write": Bool;
    EvtIsOpenExec = "evt.is_open_exec": Bool;
    EvtIsOpenCreate = "evt.is_open_create": Bool;
    EvtHostname = "evt.hostname": Str;
    EvtSource = "evt.source": Str;
    EvtPluginname = "evt.pluginname": Str;
    EvtAsynctype = "evt.asynctype": Str;
    // proc.* / thread.*
    ProcExe = "proc.exe": Str;
    ProcPexe = "proc.pexe": Str;
    ProcAexe = "proc.aexe": Str, Ancestor;
    ProcExepath = "proc.exepath": Str;
    ProcPexepath = "proc.pexepath": Str;
    ProcAexepath = "proc.aexepath": Str, Ancestor;
    ProcName = "proc.name": Str;
    ProcPname = "proc.pname": Str;
    ProcAname = "proc.aname": Str, Ancestor;
    ProcArgs = "proc.args": Str;
    ProcCmdline = "proc.cmdline": Str;
    ProcPcmdline = "proc.pcmdline": Str;
    ProcAcmdline = "proc.acmdline": Str, Ancestor;
    ProcCmdnargs = "proc.cmdnargs": U64;
    ProcCmdlenargs = "proc.cmdlenargs": U64;
    ProcExeline = "proc.exeline": Str;
    ProcEnv = "proc.env": Str, OptKey;
    ProcAenv = "proc.aenv": Str, OptKey;
    ProcCwd = "proc.cwd": Str;
    ProcLoginshellid = "proc.loginshellid": I64;
    ProcTty = "proc.tty": U64;
    ProcPid = "proc.pid": I64;
    ProcPpid = "proc.ppid": I64;
    ProcApid = "proc.apid": I64, Ancestor;
    ProcVpid = "proc.vpid": I64;
    ProcPvpid = "proc.pvpid": I64;
    ProcSid = "proc.sid": I64;
    ProcSname = "proc.sname": Str;
    ProcSidExe = "proc.sid.exe": Str;
    ProcSidExepath = "proc.sid.exepath": Str;
    ProcVpgid = "proc.vpgid": I64;
    ProcVpgidName = "proc.vpgid.name": Str;
    ProcVpgidExe = "proc.vpgid.exe": Str;
    ProcVpgidExepath = "proc.vpgid.exepath": Str;
    ProcDuration = "proc.duration": RelTime;
    ProcPpidDuration = "proc.ppid.duration": RelTime;
    ProcPidTs = "proc.pid.ts": AbsTime;
    ProcPpidTs = "proc.ppid.ts": AbsTime;
    ProcIsExeWritable = "proc.is_exe_writable": Bool;
    ProcIsExeUpperLayer = "proc.is_exe_upper_layer": Bool;
    ProcIsExeFromMemfd = "proc.is_exe_from_memfd": Bool;
    ProcIsSidLeader = "proc.is_sid_leader": Bool;
    ProcIsVpgidLeader = "proc.is_vpgid_leader": Bool;
    ProcExeIno = "proc.exe_ino": U64;
    ProcExeInoCtime = "proc.exe_ino.ctime": AbsTime;
    ProcExeInoMtime = "proc.exe_ino.mtime": AbsTime;
    ProcExeInoCtimeDurationProcStart = "proc.exe_ino.ctime_duration_proc_start": RelTime;
    ProcExeInoCtimeDurationPidnsStart = "proc.exe_ino.ctime_duration_pidns_start": RelTime;
    ProcPidnsInitStartTs = "proc.pidns_init_start_ts": AbsTime;
    ProcFdopencount = "proc.fdopencount": U64;
    ProcFdlimit = "proc.fdlimit": I64;
    ProcVmsize = "proc.vmsize": U64;
    ProcVmrss = "proc.vmrss": U64;
    ProcVmswap = "proc.vmswap": U64;
    ProcNthreads = "proc.nthreads": U64;
    ProcNchilds = "proc.nchilds": U64;
    ProcStdinName = "proc.stdin.name": Str;
    ProcStdoutName = "proc.stdout.name": Str;
    ProcStderrName = "proc.stderr.name": Str;
    ThreadTid = "thread.tid": I64;
    ThreadVtid = "thread.vtid": I64;
    ThreadIsmain = "thread.ismain": Bool;
    ThreadCapPermitted = "thread.cap_permitted": Str;
    ThreadCapInheritable = "thread.cap_inheritable": Str;
    ThreadCapEffective = "thread.cap_effective": Str;
    ThreadExectime = "thread.exectime": RelTime;
    ThreadTotexectime = "thread.totexectime": RelTime;
    ThreadCgroups = "thread.cgroups": Str;
    ThreadCgroup = "thread.cgroup": Str, Key;
    // user.* / group.*
    UserUid = "user.uid": U64;
    UserName = "user.name": Str;
    UserHomedir = "user.homedir": Str;
    UserShell = "user.shell": Str;
    UserLoginuid = "user.loginuid": I64;
    UserLoginname = "user.loginname": Str;
    GroupGid = "group.gid": U64;
    GroupName = "group.name": Str;
    // fd.*
    FdNum = "fd.num": I64;
    FdType = "fd.type": Str;
    FdTypechar = "fd.typechar": Str;
    FdName = "fd.name": Str;
    FdNameraw = "fd.nameraw": Str;
    FdDirectory = "fd.directory": Str;
    FdFilename = "fd.filename": Str;
    FdIp = "fd.ip": IpAddr;
    FdCip = "fd.cip": IpAddr;
    FdSip = "fd.sip": IpAddr;
    FdLip = "fd.lip": IpAddr;
    FdRip = "fd.rip": IpAddr;
    FdPort = "fd.port": Port;
    FdCport = "fd.cport": Port;
    FdSport = "fd.sport": Port;
    FdLport = "fd.lport": Port;
    FdRport = "fd.rport": Port;
    FdL4proto = "fd.l4proto": Str;
    FdSockfamily = "fd.sockfamily": Str;
    FdIsServer = "fd.is_server": Bool;
    FdUid = "fd.uid": Str;
    FdContainername = "fd.containername": Str;
    FdContainerdirectory = "fd.containerdirectory": Str;
    FdProto = "fd.proto": Str;
    FdCproto = "fd.cproto": Str;
    FdSproto = "fd.sproto": Str;
    FdLproto = "fd.lproto": Str;
    FdRproto = "fd.rproto": Str;
    FdNet = "fd.net": IpNet;
    FdCnet = "fd.cnet": IpNet;
    FdSnet = "fd.snet": IpNet;
    FdLnet = "fd.lnet": IpNet;
    FdRnet = "fd.rnet": IpNet;
    FdConnected = "fd.connected": Bool;
    FdNameChanged = "fd.name_changed": Bool;
    FdCipName = "fd.cip.name": Str;
    FdSipName = "fd.sip.name": Str;
    FdLipName = "fd.lip.name": Str;
    FdRipName = "fd.rip.name": Str;
    FdDev = "fd.dev": U64;
    FdDevMajor = "fd.dev.major": U64;
    FdDevMinor = "fd.dev.minor": U64;
    FdIno = "fd.ino": U64;
    FdTypes = "fd.types": Str, OptIndex;
    FdIsUpperLayer = "fd.is_upper_layer": Bool;
    FdIsLowerLayer = "fd.is_lower_layer": Bool;
    // container.*
    ContainerId = "container.id": Str;
    ContainerFullId = "container.full_id": Str;
    ContainerName = "container.name": Str;
    ContainerImage = "container.image": Str;
    ContainerImageId = "container.image.id": Str;
    ContainerImageRepository = "container.image.repository": Str;
    ContainerImageTag = "container.image.tag": Str;
    ContainerImageDigest = "container.image.digest": Str;
    ContainerType = "container.type": Str;
    ContainerPrivileged = "container.privileged": Bool;
    ContainerMounts = "container.mounts": Str;
    ContainerMount = "container.mount": Str, Key;
    ContainerMountSource = "container.mount.source": Str, Key;
    ContainerMountDest = "container.mount.dest": Str, Key;
    ContainerMountMode = "container.mount.mode": Str, Key;
    ContainerMountRdwr = "container.mount.rdwr": Str, Key;
    ContainerMountPropagation = "container.mount.propagation": Str, Key;
    ContainerHealthcheck = "container.healthcheck": Str;
    ContainerLivenessProbe = "container.liveness_probe": Str;
    ContainerReadinessProbe = "container.readiness_probe": Str;
    ContainerStartTs = "container.start_ts": AbsTime;
    ContainerDuration = "container.duration": RelTime;
    ContainerIp = "container.ip": IpAddr;
    ContainerCniJson = "container.cni.json": Str;
    ContainerHostPid = "container.host_pid": Bool;
    ContainerHostNetwork = "container.host_network": Bool;
    ContainerHostIpc = "container.host_ipc": Bool;
    ContainerLabel = "container.label": Str, Key;
    ContainerLabels = "container.labels": Str;
    ContainerInfo = "container.info": Str;
    // k8s.*
    K8sPodName = "k8s.pod.name": Str;
    K8sPodId = "k8s.pod.id": Str;
    K8sPodUid = "k8s.pod.uid": Str;
    K8sPodSandboxId = "k8s.pod.sandbox_id": Str;
    K8sPodFullSandboxId = "k8s.pod.full_sandbox_id": Str;
    K8sPodLabel = "k8s.pod.label": Str, Key;
    K8sPodLabels = "k8s.pod.labels": Str;
    K8sPodIp = "k8s.pod.ip": IpAddr;
    K8sPodCniJson = "k8s.pod.cni.json": Str;
    K8sNsName = "k8s.ns.name": Str;
    K8sNsId = "k8s.ns.id": Str;
    K8sNsLabel = "k8s.ns.label": Str, Key;
    K8sNsLabels = "k8s.ns.labels": Str;
    K8sRcName = "k8s.rc.name": Str;
    K8sRsName = "k8s.rs.name": Str;
    K8sSvcName = "k8s.svc.name": Str;
    K8sDeploymentName = "k8s.deployment.name": Str;
    K8sDeploymentId = "k8s.deployment.id": Str;
    // Ours: the pod's owning workload, whatever its kind.
    K8sWorkloadKind = "k8s.workload.kind": Str;
    K8sWorkloadName = "k8s.workload.name": Str;
    K8sPodServiceAccount = "k8s.pod.service_account": Str;
    K8sPodAnnotation = "k8s.pod.annotation": Str, Key;
}

impl FieldId {
    #[must_use]
    pub fn info(self) -> &'static FieldInfo {
        // The table is generated from the same list as the enum, in order.
        &FIELDS[self as usize]
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        self.info().name
    }
}

static BY_NAME: LazyLock<HashMap<&'static str, &'static FieldInfo>> =
    LazyLock::new(|| FIELDS.iter().map(|f| (f.name, f)).collect());

/// Why a field reference could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FieldError {
    #[error("unknown field '{name}'{}", suggestion.as_ref().map(|s| format!(", did you mean '{s}'?")).unwrap_or_default())]
    Unknown { name: String, suggestion: Option<&'static str> },
    #[error("field '{name}' requires an argument")]
    ArgRequired { name: &'static str },
    #[error("field '{name}' does not take an argument")]
    ArgNotAllowed { name: &'static str },
    #[error("field '{name}' needs a numeric index, got '{arg}'")]
    BadIndex { name: &'static str, arg: String },
}

/// A field resolved at load time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRef {
    pub id: FieldId,
    pub arg: Option<FieldArg>,
}

impl FieldRef {
    #[must_use]
    pub fn ty(&self) -> FieldType {
        self.id.info().ty
    }

    /// True when the field yields a list whose elements are matched with
    /// "any" semantics (ancestor fields without a level).
    #[must_use]
    pub fn is_any_ancestor(&self) -> bool {
        self.arg.is_none() && self.id.info().arg == ArgSpec::Ancestor
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.arg, self.id.info().arg) {
            (None, _) => f.write_str(self.id.name()),
            (Some(FieldArg::Key(k)), ArgSpec::EvtArg) => write!(f, "{}.{k}", self.id.name()),
            (Some(a), _) => write!(f, "{}[{a}]", self.id.name()),
        }
    }
}

/// The closest registered field name, for "did you mean" hints.
#[must_use]
pub fn suggest(name: &str) -> Option<&'static str> {
    FIELDS
        .iter()
        .map(|f| (strsim::levenshtein(name, f.name), f.name))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, _)| *d <= name.len().max(4) / 2)
        .map(|(_, n)| n)
}

/// Fields whose argument may be written with a dot (`evt.arg.flags`,
/// legacy `k8s.pod.label.app`).
fn dotted_arg_field(name: &str) -> Option<(&'static FieldInfo, &str)> {
    let mut end = name.len();
    while let Some(dot) = name[..end].rfind('.') {
        if let Some(info) = BY_NAME.get(&name[..dot])
            && matches!(info.arg, ArgSpec::EvtArg | ArgSpec::Key | ArgSpec::OptKey)
        {
            return Some((info, &name[dot + 1..]));
        }
        end = dot;
    }
    None
}

/// Resolves `name` (as written, without brackets) and an optional bracket
/// argument to a [`FieldRef`].
///
/// # Errors
/// Unknown field (with a suggestion), or an argument that does not fit.
pub fn resolve(name: &str, bracket: Option<&str>) -> Result<FieldRef, FieldError> {
    let (info, dotted) = match BY_NAME.get(name) {
        Some(info) => (*info, None),
        None => match dotted_arg_field(name) {
            Some((info, arg)) if bracket.is_none() && !arg.is_empty() => (info, Some(arg)),
            _ => {
                return Err(FieldError::Unknown { name: name.to_string(), suggestion: suggest(name) });
            }
        },
    };
    let arg_text = dotted.or(bracket);
    let arg = match (info.arg, arg_text) {
        (ArgSpec::None | ArgSpec::Ancestor | ArgSpec::OptIndex | ArgSpec::OptKey, None) => None,
        (ArgSpec::None, Some(_)) => return Err(FieldError::ArgNotAllowed { name: info.name }),
        (ArgSpec::Key | ArgSpec::EvtArg, None) => return Err(FieldError::ArgRequired { name: info.name }),
        (ArgSpec::Ancestor | ArgSpec::OptIndex, Some(a)) => Some(FieldArg::Index(
            a.trim().parse::<u32>().map_err(|_| FieldError::BadIndex { name: info.name, arg: a.to_string() })?,
        )),
        (ArgSpec::EvtArg, Some(a)) if dotted.is_none() => match a.trim().parse::<u32>() {
            Ok(i) => Some(FieldArg::Index(i)),
            Err(_) => Some(FieldArg::Key(a.into())),
        },
        (ArgSpec::EvtArg | ArgSpec::Key | ArgSpec::OptKey, Some(a)) => Some(FieldArg::Key(a.into())),
    };
    Ok(FieldRef { id: info.id, arg })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_enum_order() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(f.id as usize, i, "{}", f.name);
        }
    }

    #[test]
    fn upstream_field_list_resolves() {
        let text = include_str!("testdata/fields-used-by-upstream-rules.txt");
        let mut n = 0;
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let name = line.split('\t').next().unwrap_or_default();
            let (base, arg) = match name.find('[') {
                Some(i) => (&name[..i], Some(name[i + 1..].trim_end_matches(']'))),
                None => (name, None),
            };
            assert!(resolve(base, arg).is_ok(), "{name}: {:?}", resolve(base, arg));
            n += 1;
        }
        assert!(n > 100);
    }

    #[test]
    fn unknown_field_suggests() {
        let e = resolve("proc.nmae", None).unwrap_err();
        assert_eq!(e.to_string(), "unknown field 'proc.nmae', did you mean 'proc.name'?");
    }

    #[test]
    fn args() {
        let f = resolve("evt.arg.flags", None).unwrap();
        assert_eq!((f.id, f.arg), (FieldId::EvtArg, Some(FieldArg::Key("flags".into()))));
        let f = resolve("evt.arg", Some("1")).unwrap();
        assert_eq!(f.arg, Some(FieldArg::Index(1)));
        assert!(resolve("proc.aname", None).unwrap().is_any_ancestor());
        assert!(!resolve("proc.aname", Some("2")).unwrap().is_any_ancestor());
        assert!(resolve("proc.aname", Some("x")).is_err());
        assert!(resolve("proc.name", Some("1")).is_err());
        assert!(resolve("container.mount.dest", None).is_err());
        assert_eq!(resolve("k8s.pod.label.app", None).unwrap().to_string(), "k8s.pod.label[app]");
    }
}
