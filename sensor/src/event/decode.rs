//! Ring-buffer bytes → typed events, with every length checked against the
//! record. Kernel bytes are copied into plain-integer `Pod` structs; kinds
//! and numbers are matched, never transmuted into enums.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use aya::Pod;
use sensor_common::{
    EXEC_BODY_SIZE, EventHeader, ExecBody, ExitBody, ForkBody, HEADER_SIZE, MAX_SOCKADDR, SYSCALL_BODY_SIZE,
    SyscallBody, exe_flags, flags, kind, sysflags,
};

use super::cgroup::{self, ContainerRef};
use crate::event::{Arg, Args, Event, Kind, Op, SockAddr};
use crate::kernel::syscall_table::{Category, Shape, Syscall};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("record of {len} bytes is shorter than the {need} bytes its {what} needs")]
    Short { what: &'static str, len: usize, need: usize },
    #[error("record says it has {claimed} bytes but {len} arrived")]
    SizeMismatch { claimed: u32, len: usize },
    #[error("unknown record kind {kind}")]
    UnknownKind { kind: u16 },
    #[error("syscall {nr} is not in this agent's table")]
    UnknownSyscall { nr: u32 },
    #[error("{what} length {len} runs past the record end")]
    PastEnd { what: &'static str, len: usize },
}

impl DecodeError {
    /// Stable label for the decode-error metric.
    pub fn label(&self) -> &'static str {
        match self {
            DecodeError::Short { .. } => "short",
            DecodeError::SizeMismatch { .. } => "size_mismatch",
            DecodeError::UnknownKind { .. } => "unknown_kind",
            DecodeError::UnknownSyscall { .. } => "unknown_syscall",
            DecodeError::PastEnd { .. } => "past_end",
        }
    }
}

/// Process-table changes carried by an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Lifecycle {
    Exec(Box<ExecInfo>),
    Fork { child_pid: u32, child_start_ns: u64 },
    Exit { start_ns: u64 },
}

/// What the kernel recorded about a new program at exec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecInfo {
    pub ppid: u32,
    pub start_ns: u64,
    /// The path as passed to execve.
    pub exe: String,
    pub args: Vec<String>,
    pub euid: u32,
    pub container: Option<ContainerRef>,
    pub env: Vec<String>,
    /// The executable's path walked up the dentry tree in the kernel
    /// (`memfd:NAME` for a memfd); `None` when the walk failed.
    pub exepath: Option<String>,
    pub cwd: Option<String>,
    /// `tty_nr` encoding; 0 without a controlling terminal.
    pub tty: u32,
    /// -1 when unset.
    pub loginuid: i64,
    pub cap_effective: u64,
    pub cap_permitted: u64,
    pub cap_inheritable: u64,
    pub exe_writable: bool,
    pub exe_upper_layer: bool,
    pub exe_from_memfd: bool,
    /// The systemd service of a host process (its cgroup's name).
    pub unit: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub event: Event,
    pub lifecycle: Option<Lifecycle>,
}

pub(super) fn read<T: Pod>(buf: &[u8], off: usize, what: &'static str) -> Result<T, DecodeError> {
    let need = off + std::mem::size_of::<T>();
    let bytes = buf.get(off..need).ok_or(DecodeError::Short { what, len: buf.len(), need })?;
    // SAFETY: T is Pod (any bit pattern valid) and `bytes` holds size_of::<T>() bytes.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// Splits `len` bytes off the front of `rest`.
fn take<'a>(rest: &mut &'a [u8], len: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
    if len > rest.len() {
        return Err(DecodeError::PastEnd { what, len });
    }
    let (a, b) = rest.split_at(len);
    *rest = b;
    Ok(a)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fixed-size kernel string up to its NUL.
fn cstr(c: &[u8]) -> String {
    let end = c.iter().position(|b| *b == 0).unwrap_or(c.len());
    text(&c[..end])
}

fn comm(c: &[u8; 16]) -> String {
    cstr(c)
}

/// Decodes one record. `boot_to_unix_ns` turns kernel boot-time stamps into
/// wall-clock time; `syscalls` is the dense table by number.
pub fn decode(
    buf: &[u8],
    boot_to_unix_ns: i128,
    syscalls: &[Option<&'static Syscall>],
) -> Result<Decoded, DecodeError> {
    let hdr: EventHeader = read(buf, 0, "header")?;
    if hdr.size as usize != buf.len() {
        // The ring pads records to 8 bytes; the header's size is exact.
        if (hdr.size as usize) > buf.len() || buf.len() - hdr.size as usize >= 8 {
            return Err(DecodeError::SizeMismatch { claimed: hdr.size, len: buf.len() });
        }
    }
    let buf = &buf[..hdr.size as usize];
    let ts = (i128::from(hdr.ts_ns) + boot_to_unix_ns).max(0) as u64;
    let mut ev = Event {
        num: 0,
        ts,
        kind: Kind::SENSOR_LOSS,
        category: Category::Process,
        pid: hdr.pid,
        tid: hdr.tid,
        uid: hdr.uid,
        gid: hdr.gid,
        cgroup_id: hdr.cgroup_id,
        comm: comm(&hdr.comm),
        ret: None,
        errno: None,
        truncated: hdr.flags & flags::TRUNCATED != 0,
        read_fault: hdr.flags & flags::READ_FAULT != 0,
        compat: hdr.flags & flags::COMPAT != 0,
        args: Args::default(),
        proc: None,
    };
    let lifecycle = match hdr.kind {
        kind::EXEC => Some(decode_exec(buf, &mut ev)?),
        kind::FORK => Some(decode_fork(buf, &mut ev)?),
        kind::EXIT => Some(decode_exit(buf, &mut ev)?),
        kind::SYSCALL => {
            decode_syscall(buf, &mut ev, syscalls)?;
            None
        }
        kind::DNS => {
            super::dns::decode_dns(buf, &mut ev)?;
            None
        }
        other => return Err(DecodeError::UnknownKind { kind: other }),
    };
    Ok(Decoded { event: ev, lifecycle })
}

/// Exec argument: the id of the rule whose `kill_process` the kernel
/// carried out on this exec (see `respond::plan::KernelPlan`).
pub const KILL_RULE_ARG: &str = "kill_rule";
/// Exec argument: `bpf_send_signal`'s result for that kill (0: sent).
pub const KILL_RET_ARG: &str = "kill_ret";

fn decode_exec(buf: &[u8], ev: &mut Event) -> Result<Lifecycle, DecodeError> {
    let b: ExecBody = read(buf, HEADER_SIZE, "exec body")?;
    let mut rest = &buf[HEADER_SIZE + EXEC_BODY_SIZE..];
    let exe = text(take(&mut rest, b.filename_len as usize, "exec filename")?);
    let argv = take(&mut rest, b.argv_len as usize, "exec argv")?;
    let env_area = take(&mut rest, b.env_len as usize, "exec environment")?;
    let exepath = take(&mut rest, b.exepath_len as usize, "exec exe path")?;
    let cwd = take(&mut rest, b.cwd_len as usize, "exec cwd")?;
    let args = split_argv(argv);
    let env = split_argv(env_area);
    let x = b.exe_flags;
    let memfd = x & exe_flags::MEMFD != 0;
    let exepath = (!exepath.is_empty()).then(|| {
        let p = text(exepath);
        // Falco writes a memfd executable as `memfd:NAME`.
        if memfd { p.trim_start_matches('/').to_owned() } else { p }
    });
    let cwd = (!cwd.is_empty()).then(|| text(cwd));
    let container = cgroup::parse_leaf(&cstr(&b.cgroup_parent), &cstr(&b.cgroup_leaf));
    let unit = if container.is_none() { cgroup::unit_of_leaf(&cstr(&b.cgroup_leaf)) } else { None };
    let info = ExecInfo {
        ppid: b.ppid,
        start_ns: b.start_boottime_ns,
        exe,
        args,
        euid: b.euid,
        container,
        unit,
        env,
        exepath,
        cwd,
        tty: b.tty,
        loginuid: if b.loginuid == u32::MAX { -1 } else { i64::from(b.loginuid) },
        cap_effective: b.cap_effective,
        cap_permitted: b.cap_permitted,
        cap_inheritable: b.cap_inheritable,
        exe_writable: ExeAccess::from_exec(&b).is_some_and(|a| a.writable()),
        exe_upper_layer: x & exe_flags::UPPER_LAYER != 0,
        exe_from_memfd: memfd,
    };
    ev.kind = Kind::EXECVE;
    ev.category = Category::Process;
    ev.ret = Some(0);
    ev.args.push("exe", Arg::Str(info.exe.clone()));
    ev.args.push("args", Arg::List(info.args.clone()));
    ev.args.push("ppid", Arg::UInt(b.ppid.into()));
    ev.args.push("euid", Arg::UInt(b.euid.into()));
    ev.args.push("egid", Arg::UInt(b.egid.into()));
    if b.old_tid != ev.pid {
        ev.args.push("old_tid", Arg::UInt(b.old_tid.into()));
    }
    if let Some(p) = &info.exepath {
        ev.args.push("trusted_exepath", Arg::Str(p.clone()));
    }
    if let Some(c) = &info.cwd {
        ev.args.push("cwd", Arg::Str(c.clone()));
    }
    ev.args.push("tty", Arg::UInt(b.tty.into()));
    ev.args.push("loginuid", Arg::Int(info.loginuid));
    ev.args.push("env", Arg::List(info.env.clone()));
    if b.kill_rule != 0 {
        // The kernel sent SIGKILL at this exec (a `kill_process` rule).
        ev.args.push(KILL_RULE_ARG, Arg::UInt(b.kill_rule.into()));
        ev.args.push(KILL_RET_ARG, Arg::Int(b.kill_ret.into()));
    }
    if b.argv_full_len as usize > argv.len() || b.env_full_len as usize > env_area.len() {
        ev.truncated = true;
    }
    Ok(Lifecycle::Exec(Box::new(info)))
}

/// What decides Falco's `proc.is_exe_writable`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExeAccess {
    /// The executable's `i_mode`, owner and group.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The process's filesystem user and group, and effective capabilities.
    pub fsuid: u32,
    pub fsgid: u32,
    pub cap_effective: u64,
    pub read_only_fs: bool,
    pub immutable: bool,
}

impl ExeAccess {
    /// `None` when the kernel could not read the inode or the credentials.
    pub fn from_exec(b: &ExecBody) -> Option<Self> {
        let x = b.exe_flags;
        if x & exe_flags::INODE_KNOWN == 0 || x & exe_flags::CREDS_KNOWN == 0 {
            return None;
        }
        Some(Self {
            mode: b.exe_mode,
            uid: b.exe_uid,
            gid: b.exe_gid,
            fsuid: b.fsuid,
            fsgid: b.fsgid,
            cap_effective: b.cap_effective,
            read_only_fs: x & exe_flags::SB_RDONLY != 0,
            immutable: x & exe_flags::IMMUTABLE != 0,
        })
    }

    /// The process's filesystem user may write its executable — it owns it,
    /// or the mode grants it to its group or to everyone, or it holds
    /// `CAP_DAC_OVERRIDE` — on a writable filesystem. (Supplementary groups
    /// are not known here; Falco's probe searches them.)
    pub fn writable(&self) -> bool {
        const CAP_DAC_OVERRIDE: u64 = 1 << 1;
        if self.read_only_fs || self.immutable || self.uid == u32::MAX || self.gid == u32::MAX {
            return false;
        }
        if self.fsuid == self.uid {
            return true;
        }
        let mode = if self.fsgid == self.gid { self.mode >> 3 } else { self.mode };
        mode & 0o2 != 0 || self.cap_effective & CAP_DAC_OVERRIDE != 0
    }
}

/// The argument area is NUL-terminated strings back to back; a truncated
/// area ends mid-string, which is kept.
pub fn split_argv(area: &[u8]) -> Vec<String> {
    let area = area.strip_suffix(&[0]).unwrap_or(area);
    if area.is_empty() {
        return Vec::new();
    }
    area.split(|b| *b == 0).map(text).collect()
}

fn decode_fork(buf: &[u8], ev: &mut Event) -> Result<Lifecycle, DecodeError> {
    let b: ForkBody = read(buf, HEADER_SIZE, "fork body")?;
    ev.kind = Kind::CLONE;
    ev.category = Category::Process;
    ev.ret = Some(b.child_pid.into());
    ev.args.push("child_pid", Arg::UInt(b.child_pid.into()));
    ev.args.push("child_tid", Arg::UInt(b.child_tid.into()));
    ev.args.push("flags", Arg::UInt(b.clone_flags));
    if b.syscall_nr >= 0
        && let Some(sc) = crate::kernel::syscall_table::by_nr(b.syscall_nr as u32)
    {
        ev.args.push("syscall", Arg::Str(sc.name.to_owned()));
    }
    Ok(Lifecycle::Fork { child_pid: b.child_pid, child_start_ns: b.child_start_boottime_ns })
}

fn decode_exit(buf: &[u8], ev: &mut Event) -> Result<Lifecycle, DecodeError> {
    let b: ExitBody = read(buf, HEADER_SIZE, "exit body")?;
    ev.kind = Kind::PROCEXIT;
    ev.category = Category::Process;
    let code = b.exit_code;
    ev.args.push("status", Arg::Int(code.into()));
    // wait(2) encoding: low 7 bits signal, next byte exit status.
    if code & 0x7f != 0 {
        ev.args.push("sig", Arg::Int((code & 0x7f).into()));
    } else {
        ev.args.push("code", Arg::Int(((code >> 8) & 0xff).into()));
    }
    Ok(Lifecycle::Exit { start_ns: b.start_boottime_ns })
}

fn decode_syscall(buf: &[u8], ev: &mut Event, syscalls: &[Option<&'static Syscall>]) -> Result<(), DecodeError> {
    let b: SyscallBody = read(buf, HEADER_SIZE, "syscall body")?;
    let sc = syscalls.get(b.nr as usize).copied().flatten().ok_or(DecodeError::UnknownSyscall { nr: b.nr })?;
    ev.kind = sc.kind;
    ev.category = sc.category;
    ev.ret = Some(b.ret);
    if b.ret < 0 {
        ev.errno = Some(errno_name(b.ret));
    }
    let mut rest = &buf[HEADER_SIZE + SYSCALL_BODY_SIZE..];
    let mut strs: [Option<String>; 3] = [None, None, None];
    for (i, slot) in strs.iter_mut().enumerate() {
        if sc.conf.str_args[i] != 0 {
            *slot = Some(text(take(&mut rest, b.str_lens[i] as usize, "string")?));
        }
    }
    let data = if sc.conf.data_arg == 0 { &[][..] } else { take(&mut rest, b.data_len as usize, "data")? };
    let args = &b.args;
    match sc.shape {
        Shape::Open { dirfd, flags_arg, mode_arg, how } => {
            if dirfd {
                ev.args.push("dirfd", Arg::Int(args[0] as i32 as i64));
            }
            ev.args.push("name", Arg::Str(strs[0].take().unwrap_or_default()));
            let (fl, mode) = if how {
                // struct open_how { u64 flags; u64 mode; u64 resolve; }
                (b.extra[0], b.extra[1])
            } else {
                // creat(2) is open(O_CREAT|O_WRONLY|O_TRUNC).
                let fl = flags_arg.map_or(0o1101, |i| args[i as usize]);
                (fl, mode_arg.map_or(0, |i| args[i as usize]))
            };
            ev.args.push("flags", Arg::UInt(fl & 0xffff_ffff));
            ev.args.push("mode", Arg::UInt(mode & 0o7777));
            if how {
                ev.args.push("resolve", Arg::UInt(b.extra[2]));
            }
            if b.ret >= 0 {
                ev.args.push("fd", Arg::Int(b.ret));
            }
        }
        Shape::Generic { ints, strs: names } => {
            push_ints(ev, sc, args, ints);
            for (name, s) in names.iter().zip(strs.iter_mut()) {
                ev.args.push(*name, Arg::Str(s.take().unwrap_or_default()));
            }
            if sc.conf.flags & sysflags::CREDS != 0 {
                // The task's capabilities after the call, read by the kernel.
                ev.args.push("cap_effective", Arg::UInt(b.extra[0]));
                ev.args.push("cap_permitted", Arg::UInt(b.extra[1]));
                ev.args.push("cap_inheritable", Arg::UInt(b.extra[2]));
            }
        }
        Shape::Net { ints } => {
            push_ints(ev, sc, args, ints);
            let n = (b.addr_len as usize).min(MAX_SOCKADDR);
            if n > 0 {
                ev.args.push("addr", Arg::Addr(sockaddr(&b.addr[..n])));
            }
            // Family 0: the kernel could not read the socket's own address.
            if b.local[0..2] != [0, 0] {
                ev.args.push("local", Arg::Addr(sockaddr(&b.local)));
            }
            if !data.is_empty() {
                ev.args.push("data", Arg::Bytes(data.to_vec()));
            }
        }
        Shape::None => {}
    }
    Ok(())
}

fn push_ints(ev: &mut Event, sc: &Syscall, args: &[u64; 6], names: &[Option<&'static str>]) {
    for (i, name) in names.iter().enumerate() {
        let Some(name) = name else { continue };
        let raw = args[i];
        // fds, pids and ids are C ints: show -1, not 4294967295.
        let signed = matches!(
            *name,
            "fd" | "dirfd" | "olddirfd" | "newdirfd" | "olddir" | "newdir" | "linkdirfd" | "oldfd" | "newfd" | "pid"
        ) || sc.kind.op() == Op::SetIds;
        let v = if signed { Arg::Int(raw as i32 as i64) } else { Arg::UInt(raw) };
        ev.args.push(*name, v);
    }
}

/// Parses a raw `struct sockaddr`: family in host order, port and address in
/// network order (uapi layouts, the same on every kernel).
pub fn sockaddr(b: &[u8]) -> SockAddr {
    const INET: u16 = libc::AF_INET as u16;
    const INET6: u16 = libc::AF_INET6 as u16;
    const UNIX: u16 = libc::AF_UNIX as u16;
    let family = b.get(0..2).map_or(0, |f| u16::from_ne_bytes([f[0], f[1]]));
    let port = || b.get(2..4).map_or(0, |p| u16::from_be_bytes([p[0], p[1]]));
    match family {
        INET => match b.get(4..8) {
            Some(a) => SockAddr::Inet { ip: IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])), port: port() },
            None => SockAddr::Other { num: family },
        },
        INET6 => match b.get(8..24).and_then(|a| <[u8; 16]>::try_from(a).ok()) {
            Some(a) => SockAddr::Inet6 { ip: IpAddr::V6(Ipv6Addr::from(a)), port: port() },
            None => SockAddr::Other { num: family },
        },
        UNIX => {
            let p = b.get(2..).unwrap_or_default();
            // Abstract sockets start with NUL; Falco shows them with '@'.
            let path = if let Some(abs) = p.strip_prefix(&[0]) {
                let end = abs.iter().position(|c| *c == 0).unwrap_or(abs.len());
                format!("@{}", text(&abs[..end]))
            } else {
                let end = p.iter().position(|c| *c == 0).unwrap_or(p.len());
                text(&p[..end])
            };
            SockAddr::Unix { path }
        }
        other => SockAddr::Other { num: other },
    }
}

/// `ENOENT` for -2, as Falco prints `evt.res`.
pub fn errno_name(ret: i64) -> Cow<'static, str> {
    let code = i32::try_from(-ret).unwrap_or(0);
    let e = nix::errno::Errno::from_raw(code);
    if e == nix::errno::Errno::UnknownErrno { Cow::Owned(format!("E{code}")) } else { Cow::Owned(format!("{e:?}")) }
}

#[cfg(test)]
mod tests;
