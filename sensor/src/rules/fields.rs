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
    /// One line for `sensor fields`: the entry's doc comment.
    doc: &'static str,
}

impl FieldInfo {
    /// What the field holds (one line; empty if the entry has no doc comment).
    #[must_use]
    pub fn description(&self) -> &'static str {
        self.doc.trim()
    }
}

impl ArgSpec {
    /// How `sensor fields` shows the argument a field takes.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            ArgSpec::None => "none",
            ArgSpec::Ancestor => "optional [N] ancestor level; without it any ancestor matches",
            ArgSpec::OptIndex => "optional [N] index",
            ArgSpec::OptKey => "optional [key]",
            ArgSpec::Key => "required [key]",
            ArgSpec::EvtArg => "required .name, [name] or [N]",
        }
    }
}

// Each entry's `///` line is the field's description (`sensor fields`).
macro_rules! fields {
    ($( $(#[doc = $doc:literal])* $id:ident = $name:literal : $ty:ident $(, $arg:ident)? ;)*) => {
        /// Identifier of a registered field; the event side matches on it.
        // The variants' docs are the plain text `sensor fields` prints.
        #[allow(clippy::doc_markdown)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum FieldId { $( $(#[doc = $doc])* $id,)* }

        /// All registered fields, indexed by `FieldId as usize`.
        pub static FIELDS: &[FieldInfo] = &[
            $( FieldInfo {
                id: FieldId::$id,
                name: $name,
                ty: FieldType::$ty,
                arg: fields!(@arg $($arg)?),
                doc: concat!($($doc),*),
            }, )*
        ];
    };
    (@arg) => { ArgSpec::None };
    (@arg $a:ident) => { ArgSpec::$a };
}

fields! {
    // evt.*
    /// Sequence number of the event in this agent's stream, from 1.
    EvtNum = "evt.num": U64;
    /// Event time; prints as HH:MM:SS.nnnnnnnnn (local time unless UTC is configured), compares as nanoseconds since the epoch.
    EvtTime = "evt.time": AbsTime;
    /// Event time as HH:MM:SS, without the fraction of a second.
    EvtTimeS = "evt.time.s": Str;
    /// Event time as an ISO 8601 date and time in UTC with nanoseconds (2024-05-01T13:44:05.478445995+0000).
    EvtTimeIso8601 = "evt.time.iso8601": Str;
    /// Event date and time as YYYY-MM-DD HH:MM:SS.nnnnnnnnn.
    EvtDatetime = "evt.datetime": Str;
    /// Event date and time as YYYY-MM-DD HH:MM:SS.
    EvtDatetimeS = "evt.datetime.s": Str;
    /// Event time as a number: nanoseconds since the Unix epoch.
    EvtRawtime = "evt.rawtime": AbsTime;
    /// Whole seconds of the event time since the epoch.
    EvtRawtimeS = "evt.rawtime.s": U64;
    /// Nanosecond part of the event time (0 to 999999999).
    EvtRawtimeNs = "evt.rawtime.ns": U64;
    /// Time since the capture started, in nanoseconds.
    EvtReltime = "evt.reltime": RelTime;
    /// Time since the previous event, in nanoseconds.
    EvtDeltatime = "evt.deltatime": RelTime;
    /// Event direction, '>' for a syscall entry and '<' for its exit; every delivered event is an exit (Falco 0.42+), so this is '<'.
    EvtDir = "evt.dir": Str;
    /// Event name: the syscall (openat, connect...), or execve, clone, procexit.
    EvtType = "evt.type": Str;
    /// Name of the syscall for syscall events; unset for other events.
    SyscallType = "syscall.type": Str;
    /// Coarse event class: process, file, network, privilege or sensor.
    EvtCategory = "evt.category": Str;
    /// Number of the CPU the event happened on.
    EvtCpu = "evt.cpu": I64;
    /// Every event parameter as one name=value string.
    EvtArgs = "evt.args": Str;
    /// One event parameter, by name (evt.arg.flags, evt.arg[flags]) or position (evt.arg[0]), rendered like Falco (O_RDONLY|O_CLOEXEC, PTRACE_ATTACH).
    EvtArg = "evt.arg": Dynamic, EvtArg;
    /// One event parameter by name or position, as its raw value (numbers as numbers).
    EvtRawarg = "evt.rawarg": Dynamic, EvtArg;
    /// Same as evt.args.
    EvtInfo = "evt.info": Str;
    /// Data buffer of I/O events (read, recvfrom...); match it with bcontains/bstartswith.
    EvtBuffer = "evt.buffer": Bytes;
    /// Length of the data buffer of I/O events.
    EvtBuflen = "evt.buflen": U64;
    /// Syscall result as text: SUCCESS, or the error name (ENOENT) when it failed.
    EvtRes = "evt.res": Str;
    /// Syscall result as a number (negative errno on failure).
    EvtRawres = "evt.rawres": I64;
    /// True when the syscall returned an error.
    EvtFailed = "evt.failed": Bool;
    /// True for events that read or write through a file descriptor.
    EvtIsIo = "evt.is_io": Bool;
    /// True for events that read through a file descriptor.
    EvtIsIoRead = "evt.is_io_read": Bool;
    /// True for events that write through a file descriptor.
    EvtIsIoWrite = "evt.is_io_write": Bool;
    /// 'r' for reading events, 'w' for writing ones.
    EvtIoDir = "evt.io_dir": Str;
    /// True for events that block the thread (sleep, poll, select...).
    EvtIsWait = "evt.is_wait": Bool;
    /// Time a blocking event waited, in nanoseconds.
    EvtWaitLatency = "evt.wait_latency": RelTime;
    /// True for writes to the syslog socket (/dev/log).
    EvtIsSyslog = "evt.is_syslog": Bool;
    /// Always 1: counts events when summed.
    EvtCount = "evt.count": U64;
    /// Absolute path of the event's path parameter, resolved against the process's working directory; the argument names the parameter (evt.abspath[name]).
    EvtAbspath = "evt.abspath": Str, OptKey;
    /// True for an open that asks for read access.
    EvtIsOpenRead = "evt.is_open_read": Bool;
    /// True for an open that asks for write access.
    EvtIsOpenWrite = "evt.is_open_write": Bool;
    /// True for an open that creates a file with execute permission.
    EvtIsOpenExec = "evt.is_open_exec": Bool;
    /// True for an open with O_CREAT.
    EvtIsOpenCreate = "evt.is_open_create": Bool;
    /// Name of the host the sensor runs on.
    EvtHostname = "evt.hostname": Str;
    /// Event source: always syscall here.
    EvtSource = "evt.source": Str;
    /// Name of the plugin that produced the event (plugin sources only).
    EvtPluginname = "evt.pluginname": Str;
    /// Type name of an asynchronous event (plugin sources only).
    EvtAsynctype = "evt.asynctype": Str;
    // proc.* / thread.*
    /// First command-line argument (argv[0]) of the process, as it was executed.
    ProcExe = "proc.exe": Str;
    /// argv[0] of the parent process.
    ProcPexe = "proc.pexe": Str;
    /// argv[0] of an ancestor: [N] picks level N (1 = parent); without it, any ancestor matches.
    ProcAexe = "proc.aexe": Str, Ancestor;
    /// Full path of the process's executable file.
    ProcExepath = "proc.exepath": Str;
    /// Full path of the parent's executable file.
    ProcPexepath = "proc.pexepath": Str;
    /// Full path of an ancestor's executable: [N] picks level N (1 = parent); without it, any ancestor matches.
    ProcAexepath = "proc.aexepath": Str, Ancestor;
    /// Name of the executable generating the event, without its path.
    ProcName = "proc.name": Str;
    /// Name of the parent process.
    ProcPname = "proc.pname": Str;
    /// Name of an ancestor: [N] picks level N (0 = the process, 1 = parent); without it, any ancestor matches.
    ProcAname = "proc.aname": Str, Ancestor;
    /// Command-line arguments after argv[0], space-separated.
    ProcArgs = "proc.args": Str;
    /// Process name followed by its arguments.
    ProcCmdline = "proc.cmdline": Str;
    /// Command line (name and arguments) of the parent.
    ProcPcmdline = "proc.pcmdline": Str;
    /// Command line of an ancestor: [N] picks level N (0 = the process); without it, any ancestor matches.
    ProcAcmdline = "proc.acmdline": Str, Ancestor;
    /// Number of command-line arguments after argv[0].
    ProcCmdnargs = "proc.cmdnargs": U64;
    /// Total length of the command-line arguments after argv[0], spaces included.
    ProcCmdlenargs = "proc.cmdlenargs": U64;
    /// argv[0] followed by the arguments (the full command line as executed).
    ProcExeline = "proc.exeline": Str;
    /// Environment of the process as NAME=value pairs; proc.env[NAME] gives one variable's value.
    ProcEnv = "proc.env": Str, OptKey;
    /// Environment of an ancestor: [N] picks level N; [NAME] gives the first value of NAME up the ancestry.
    ProcAenv = "proc.aenv": Str, OptKey;
    /// Current working directory of the process.
    ProcCwd = "proc.cwd": Str;
    /// Pid of the oldest shell among the process's ancestors (the login shell).
    ProcLoginshellid = "proc.loginshellid": I64;
    /// Controlling terminal of the process (device number), 0 when it has none.
    ProcTty = "proc.tty": U64;
    /// Process id (thread group id).
    ProcPid = "proc.pid": I64;
    /// Parent process id.
    ProcPpid = "proc.ppid": I64;
    /// Pid of an ancestor: [N] picks level N (0 = the process); without it, any ancestor matches.
    ProcApid = "proc.apid": I64, Ancestor;
    /// Process id as seen inside its pid namespace (container).
    ProcVpid = "proc.vpid": I64;
    /// Parent process id as seen inside its pid namespace.
    ProcPvpid = "proc.pvpid": I64;
    /// Session id of the process.
    ProcSid = "proc.sid": I64;
    /// Name of the session leader process.
    ProcSname = "proc.sname": Str;
    /// argv[0] of the session leader.
    ProcSidExe = "proc.sid.exe": Str;
    /// Executable path of the session leader.
    ProcSidExepath = "proc.sid.exepath": Str;
    /// Process group id as seen inside the pid namespace.
    ProcVpgid = "proc.vpgid": I64;
    /// Name of the process group leader.
    ProcVpgidName = "proc.vpgid.name": Str;
    /// argv[0] of the process group leader.
    ProcVpgidExe = "proc.vpgid.exe": Str;
    /// Executable path of the process group leader.
    ProcVpgidExepath = "proc.vpgid.exepath": Str;
    /// How long the process has been running, in nanoseconds.
    ProcDuration = "proc.duration": RelTime;
    /// How long the parent has been running, in nanoseconds.
    ProcPpidDuration = "proc.ppid.duration": RelTime;
    /// Start time of the process, nanoseconds since the epoch.
    ProcPidTs = "proc.pid.ts": AbsTime;
    /// Start time of the parent, nanoseconds since the epoch.
    ProcPpidTs = "proc.ppid.ts": AbsTime;
    /// True when the executable file is writable by the process's user.
    ProcIsExeWritable = "proc.is_exe_writable": Bool;
    /// True when the executable sits in the writable (upper) layer of an overlay filesystem: added or changed after the container started.
    ProcIsExeUpperLayer = "proc.is_exe_upper_layer": Bool;
    /// True when the executable is an anonymous memory file (memfd): code that never touched a disk.
    ProcIsExeFromMemfd = "proc.is_exe_from_memfd": Bool;
    /// True when the process leads its session.
    ProcIsSidLeader = "proc.is_sid_leader": Bool;
    /// True when the process leads its process group.
    ProcIsVpgidLeader = "proc.is_vpgid_leader": Bool;
    /// Inode number of the executable file.
    ProcExeIno = "proc.exe_ino": U64;
    /// Last status change time of the executable's inode, nanoseconds since the epoch.
    ProcExeInoCtime = "proc.exe_ino.ctime": AbsTime;
    /// Last modification time of the executable file, nanoseconds since the epoch.
    ProcExeInoMtime = "proc.exe_ino.mtime": AbsTime;
    /// Time from the executable's last status change to the process's start, in nanoseconds.
    ProcExeInoCtimeDurationProcStart = "proc.exe_ino.ctime_duration_proc_start": RelTime;
    /// Time from the pid namespace's start to the executable's last status change, in nanoseconds.
    ProcExeInoCtimeDurationPidnsStart = "proc.exe_ino.ctime_duration_pidns_start": RelTime;
    /// Start time of the init process of the process's pid namespace.
    ProcPidnsInitStartTs = "proc.pidns_init_start_ts": AbsTime;
    /// Number of file descriptors the process has open.
    ProcFdopencount = "proc.fdopencount": U64;
    /// Maximum number of file descriptors the process may open.
    ProcFdlimit = "proc.fdlimit": I64;
    /// Virtual memory size of the process, in KiB.
    ProcVmsize = "proc.vmsize": U64;
    /// Resident memory of the process, in KiB.
    ProcVmrss = "proc.vmrss": U64;
    /// Swapped-out memory of the process, in KiB.
    ProcVmswap = "proc.vmswap": U64;
    /// Number of threads of the process.
    ProcNthreads = "proc.nthreads": U64;
    /// Number of child threads of the process.
    ProcNchilds = "proc.nchilds": U64;
    /// What the process's standard input (fd 0) refers to.
    ProcStdinName = "proc.stdin.name": Str;
    /// What the process's standard output (fd 1) refers to.
    ProcStdoutName = "proc.stdout.name": Str;
    /// What the process's standard error (fd 2) refers to.
    ProcStderrName = "proc.stderr.name": Str;
    /// Id of the thread that made the syscall.
    ThreadTid = "thread.tid": I64;
    /// Thread id as seen inside its pid namespace.
    ThreadVtid = "thread.vtid": I64;
    /// True when the thread is the process's main thread.
    ThreadIsmain = "thread.ismain": Bool;
    /// Permitted capabilities of the thread (CAP_CHOWN CAP_KILL ...).
    ThreadCapPermitted = "thread.cap_permitted": Str;
    /// Inheritable capabilities of the thread.
    ThreadCapInheritable = "thread.cap_inheritable": Str;
    /// Effective capabilities of the thread: what it may do right now.
    ThreadCapEffective = "thread.cap_effective": Str;
    /// CPU time the thread used in its last scheduling slice.
    ThreadExectime = "thread.exectime": RelTime;
    /// CPU time the thread has used in total.
    ThreadTotexectime = "thread.totexectime": RelTime;
    /// Every cgroup of the thread, as subsystem=path pairs.
    ThreadCgroups = "thread.cgroups": Str;
    /// Cgroup path of the thread for the subsystem given as argument (thread.cgroup[cpuset]).
    ThreadCgroup = "thread.cgroup": Str, Key;
    // user.* / group.*
    /// User id of the process (real uid).
    UserUid = "user.uid": U64;
    /// User name of the process (from the host's or the container's own /etc/passwd).
    UserName = "user.name": Str;
    /// Home directory of the process's user.
    UserHomedir = "user.homedir": Str;
    /// Login shell of the process's user.
    UserShell = "user.shell": Str;
    /// Audit login uid: the user who logged in, kept across su/sudo; -1 when unset.
    UserLoginuid = "user.loginuid": I64;
    /// Name of the audit login user.
    UserLoginname = "user.loginname": Str;
    /// Group id of the process.
    GroupGid = "group.gid": U64;
    /// Group name of the process.
    GroupName = "group.name": Str;
    // fd.*
    /// File descriptor number the event is about.
    FdNum = "fd.num": I64;
    /// Kind of file descriptor: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, memfd...
    FdType = "fd.type": Str;
    /// Kind of file descriptor as one letter (f file, 4 ipv4, 6 ipv6, u unix, p pipe...).
    FdTypechar = "fd.typechar": Str;
    /// Full name of the descriptor: absolute path of a file, client:port->server:port of a connection, path of a unix socket.
    FdName = "fd.name": Str;
    /// Name of the descriptor as the process gave it (a path before it was made absolute).
    FdNameraw = "fd.nameraw": Str;
    /// Directory part of a file descriptor's path.
    FdDirectory = "fd.directory": Str;
    /// File name part of a file descriptor's path.
    FdFilename = "fd.filename": Str;
    /// Either address of a connection; matches when the client or the server address fits.
    FdIp = "fd.ip": IpAddr;
    /// Client address of a connection.
    FdCip = "fd.cip": IpAddr;
    /// Server address of a connection.
    FdSip = "fd.sip": IpAddr;
    /// Local address of a connection.
    FdLip = "fd.lip": IpAddr;
    /// Remote address of a connection.
    FdRip = "fd.rip": IpAddr;
    /// Either port of a connection; matches when the client or the server port fits.
    FdPort = "fd.port": Port;
    /// Client port of a connection.
    FdCport = "fd.cport": Port;
    /// Server port of a connection.
    FdSport = "fd.sport": Port;
    /// Local port of a connection.
    FdLport = "fd.lport": Port;
    /// Remote port of a connection.
    FdRport = "fd.rport": Port;
    /// Transport protocol of a socket: tcp, udp, icmp or raw.
    FdL4proto = "fd.l4proto": Str;
    /// Family of a socket: ip or unix.
    FdSockfamily = "fd.sockfamily": Str;
    /// True when the process is the server end of the connection.
    FdIsServer = "fd.is_server": Bool;
    /// Unique id of the descriptor: thread id and fd number.
    FdUid = "fd.uid": Str;
    /// Container id and descriptor name together (container:fd.name).
    FdContainername = "fd.containername": Str;
    /// Container id and directory together (container:fd.directory).
    FdContainerdirectory = "fd.containerdirectory": Str;
    /// Protocol of either end of a connection (name of the well-known port).
    FdProto = "fd.proto": Str;
    /// Protocol of the client end (name of the well-known port).
    FdCproto = "fd.cproto": Str;
    /// Protocol of the server end (name of the well-known port).
    FdSproto = "fd.sproto": Str;
    /// Protocol of the local end (name of the well-known port).
    FdLproto = "fd.lproto": Str;
    /// Protocol of the remote end (name of the well-known port).
    FdRproto = "fd.rproto": Str;
    /// Either address of a connection, compared with a network in CIDR form (fd.net=10.0.0.0/8).
    FdNet = "fd.net": IpNet;
    /// Client address, compared with a network in CIDR form.
    FdCnet = "fd.cnet": IpNet;
    /// Server address, compared with a network in CIDR form.
    FdSnet = "fd.snet": IpNet;
    /// Local address, compared with a network in CIDR form.
    FdLnet = "fd.lnet": IpNet;
    /// Remote address, compared with a network in CIDR form.
    FdRnet = "fd.rnet": IpNet;
    /// True when the socket is connected.
    FdConnected = "fd.connected": Bool;
    /// True when this event changed the descriptor's name (a socket connected to a new peer).
    FdNameChanged = "fd.name_changed": Bool;
    /// Domain name of the client address.
    FdCipName = "fd.cip.name": Str;
    /// Domain name of the server address.
    FdSipName = "fd.sip.name": Str;
    /// Domain name of the local address.
    FdLipName = "fd.lip.name": Str;
    /// Domain name of the remote address.
    FdRipName = "fd.rip.name": Str;
    /// Device number of the file's filesystem.
    FdDev = "fd.dev": U64;
    /// Major device number of the file's filesystem.
    FdDevMajor = "fd.dev.major": U64;
    /// Minor device number of the file's filesystem.
    FdDevMinor = "fd.dev.minor": U64;
    /// Inode number of the file.
    FdIno = "fd.ino": U64;
    /// Kinds of the process's file descriptors; [N] for descriptor N only.
    FdTypes = "fd.types": Str, OptIndex;
    /// True when the file is in the writable (upper) layer of an overlay filesystem.
    FdIsUpperLayer = "fd.is_upper_layer": Bool;
    /// True when the file is in a read-only (lower) layer of an overlay filesystem.
    FdIsLowerLayer = "fd.is_lower_layer": Bool;
    // dns.* (evt.type = dns, from the packet path)
    /// Name asked, lower case without the final dot (the first question).
    DnsQuery = "dns.query": Str;
    /// Length of the name asked, in characters.
    DnsQueryLen = "dns.query.len": U64;
    /// Length of the longest label of the name asked (tunnelling packs data into long labels).
    DnsQueryLongestLabel = "dns.query.longest_label": U64;
    /// Record type asked: A, AAAA, TXT, ...
    DnsType = "dns.type": Str;
    /// query or response.
    DnsQr = "dns.qr": Str;
    /// Response code of an answer: NOERROR, NXDOMAIN, SERVFAIL, ...
    DnsRcode = "dns.rcode": Str;
    /// Addresses an answer gave (A and AAAA records).
    DnsAnswers = "dns.answers": IpAddr;
    /// Address of the DNS server: the query's destination, the answer's source.
    DnsServer = "dns.server": IpAddr;
    /// Port of the DNS server.
    DnsServerPort = "dns.server.port": Port;
    /// True when the message did not decode as DNS.
    DnsMalformed = "dns.malformed": Bool;
    /// True when the server is one the process's /etc/resolv.conf names (absent when unknown).
    DnsServerConfigured = "dns.server.configured": Bool;
    // baseline.* (the learned profile of the event's workload; filled on
    // the events a profile records: exec, write, sensitive read, connect,
    // listen, rare syscalls)
    /// Mode of the workload's profile: learning, enforcing, approved, or unstable (kept changing after learning).
    BaselineStatus = "baseline.status": Str;
    /// Key of the workload's profile: pod:NAMESPACE/KIND/NAME/CONTAINER, image:REPOSITORY or host:EXE <- PARENT.
    BaselineKey = "baseline.key": Str;
    /// What the event adds to a profile: exec, write, read, connect, listen or syscall.
    BaselineKind = "baseline.kind": Str;
    /// The event's generalised profile item (/usr/bin/curl <- /bin/sh, /tmp/tmp.*, tcp example.com:443, tcp 8080, ptrace).
    BaselineItem = "baseline.item": Str;
    /// True when the profile knew the event's item before this event.
    BaselineKnown = "baseline.known": Bool;
    /// True when the process (its executable with its parent's) is in its workload's profile.
    ProcIsBaseline = "proc.is_baseline": Bool;
    /// True when the event's file, destination or port is in its workload's profile.
    FdIsBaseline = "fd.is_baseline": Bool;
    // container.*
    /// Short (12 character) container id, or 'host' for processes outside containers.
    ContainerId = "container.id": Str;
    /// Full (64 character) container id, or 'host'.
    ContainerFullId = "container.full_id": Str;
    /// Container name, from the container runtime.
    ContainerName = "container.name": Str;
    /// Image reference the container runs (repository:tag).
    ContainerImage = "container.image": Str;
    /// Id of the container's image.
    ContainerImageId = "container.image.id": Str;
    /// Repository part of the container's image.
    ContainerImageRepository = "container.image.repository": Str;
    /// Tag part of the container's image.
    ContainerImageTag = "container.image.tag": Str;
    /// Digest (sha256:...) of the container's image.
    ContainerImageDigest = "container.image.digest": Str;
    /// Container runtime: docker, containerd, cri-o, podman...
    ContainerType = "container.type": Str;
    /// True for a privileged container.
    ContainerPrivileged = "container.privileged": Bool;
    /// Every mount of the container as source:dest:mode:rdwr:propagation, comma-separated.
    ContainerMounts = "container.mounts": Str;
    /// The mount whose source or destination path is the argument (container.mount[/var/run]).
    ContainerMount = "container.mount": Str, Key;
    /// Source path of the mount whose destination or source is the argument.
    ContainerMountSource = "container.mount.source": Str, Key;
    /// Destination path of the mount whose source or destination is the argument.
    ContainerMountDest = "container.mount.dest": Str, Key;
    /// Mode of the mount given as argument.
    ContainerMountMode = "container.mount.mode": Str, Key;
    /// Whether the mount given as argument is read-write.
    ContainerMountRdwr = "container.mount.rdwr": Str, Key;
    /// Propagation of the mount given as argument.
    ContainerMountPropagation = "container.mount.propagation": Str, Key;
    /// Health check command of the container, when it has one.
    ContainerHealthcheck = "container.healthcheck": Str;
    /// Kubernetes liveness probe command of the container.
    ContainerLivenessProbe = "container.liveness_probe": Str;
    /// Kubernetes readiness probe command of the container.
    ContainerReadinessProbe = "container.readiness_probe": Str;
    /// Start time of the container, nanoseconds since the epoch.
    ContainerStartTs = "container.start_ts": AbsTime;
    /// How long the container has been running, in nanoseconds.
    ContainerDuration = "container.duration": RelTime;
    /// IP address of the container.
    ContainerIp = "container.ip": IpAddr;
    /// CNI result of the container's network setup, as JSON.
    ContainerCniJson = "container.cni.json": Str;
    /// True when the container shares the host's pid namespace.
    ContainerHostPid = "container.host_pid": Bool;
    /// True when the container shares the host's network namespace.
    ContainerHostNetwork = "container.host_network": Bool;
    /// True when the container shares the host's IPC namespace.
    ContainerHostIpc = "container.host_ipc": Bool;
    /// Value of the container label given as argument (container.label[app]).
    ContainerLabel = "container.label": Str, Key;
    /// Every container label as key:value, comma-separated.
    ContainerLabels = "container.labels": Str;
    /// Deprecated in Falco: prints as nothing in outputs.
    ContainerInfo = "container.info": Str;
    // k8s.*
    /// Name of the Kubernetes pod the container belongs to.
    K8sPodName = "k8s.pod.name": Str;
    /// Uid of the pod (the older name of k8s.pod.uid).
    K8sPodId = "k8s.pod.id": Str;
    /// Uid of the Kubernetes pod.
    K8sPodUid = "k8s.pod.uid": Str;
    /// Short id of the pod's sandbox (pause) container.
    K8sPodSandboxId = "k8s.pod.sandbox_id": Str;
    /// Full id of the pod's sandbox (pause) container.
    K8sPodFullSandboxId = "k8s.pod.full_sandbox_id": Str;
    /// Value of the pod label given as argument (k8s.pod.label[app]).
    K8sPodLabel = "k8s.pod.label": Str, Key;
    /// Every pod label as key:value, comma-separated.
    K8sPodLabels = "k8s.pod.labels": Str;
    /// IP address of the pod.
    K8sPodIp = "k8s.pod.ip": IpAddr;
    /// CNI result of the pod's network setup, as JSON.
    K8sPodCniJson = "k8s.pod.cni.json": Str;
    /// Kubernetes namespace of the pod.
    K8sNsName = "k8s.ns.name": Str;
    /// Uid of the pod's namespace.
    K8sNsId = "k8s.ns.id": Str;
    /// Value of the namespace label given as argument.
    K8sNsLabel = "k8s.ns.label": Str, Key;
    /// Every label of the pod's namespace.
    K8sNsLabels = "k8s.ns.labels": Str;
    /// Name of the replication controller that owns the pod.
    K8sRcName = "k8s.rc.name": Str;
    /// Name of the ReplicaSet that owns the pod.
    K8sRsName = "k8s.rs.name": Str;
    /// Name of the Kubernetes service that selects the pod.
    K8sSvcName = "k8s.svc.name": Str;
    /// Name of the Deployment that owns the pod (through its ReplicaSet).
    K8sDeploymentName = "k8s.deployment.name": Str;
    /// Uid of the Deployment that owns the pod.
    K8sDeploymentId = "k8s.deployment.id": Str;
    // Ours: the pod's owning workload, whatever its kind.
    /// Kind of the pod's owning workload: Deployment, StatefulSet, DaemonSet, Job, CronJob... (this sensor's own field).
    K8sWorkloadKind = "k8s.workload.kind": Str;
    /// Name of the pod's owning workload (this sensor's own field).
    K8sWorkloadName = "k8s.workload.name": Str;
    /// Service account the pod runs as (this sensor's own field).
    K8sPodServiceAccount = "k8s.pod.service_account": Str;
    /// Value of the pod annotation given as argument (this sensor's own field).
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

    /// libsinsp's `EPF_NO_RHS`: the field can neither be compared with a
    /// right-hand side field nor be one.
    #[must_use]
    pub fn no_rhs(self) -> bool {
        use FieldId::{
            EvtRawarg, FdCipName, FdCnet, FdIp, FdLipName, FdLnet, FdNet, FdPort, FdProto, FdRipName, FdRnet,
            FdSipName, FdSnet, FdTypes, ProcAcmdline, ProcAenv, ProcAexe, ProcAexepath, ProcAname, ProcApid,
        };
        matches!(
            self,
            EvtRawarg
                | FdIp
                | FdPort
                | FdProto
                | FdNet
                | FdCnet
                | FdSnet
                | FdLnet
                | FdRnet
                | FdCipName
                | FdSipName
                | FdLipName
                | FdRipName
                | FdTypes
                | ProcAexe
                | ProcAexepath
                | ProcAname
                | ProcAcmdline
                | ProcAenv
                | ProcApid
        )
    }

    /// libsinsp's `EPF_NO_TRANSFORMER`: the field cannot be transformed.
    #[must_use]
    pub fn no_transformer(self) -> bool {
        self.no_rhs() && self != FieldId::FdTypes
    }

    /// libsinsp's `EPF_IS_LIST`: the field extracts a list of values, which
    /// supports only `in` (every value in the set), `intersects` and `exists`.
    #[must_use]
    pub fn is_list(self) -> bool {
        self == FieldId::FdTypes
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
    fn every_field_has_a_description_and_a_type() {
        for f in FIELDS {
            let d = f.description();
            assert!(!d.is_empty(), "{}: add a `///` line above its registry entry", f.name);
            assert!(!d.contains('\n'), "{}: one line", f.name);
            assert!(!f.ty.name().is_empty(), "{}", f.name);
        }
        assert_eq!(
            FieldId::EvtNum.info().description(),
            "Sequence number of the event in this agent's stream, from 1."
        );
    }

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
