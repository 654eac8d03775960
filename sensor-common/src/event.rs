//! Ring-buffer record layouts.

/// `TASK_COMM_LEN` in the kernel.
pub const COMM_LEN: usize = 16;
/// Longest string copied per syscall argument; `PATH_MAX`.
pub const MAX_STR: usize = 4096;
/// Strings a syscall record can carry (mount: source, target, fstype).
pub const MAX_STRS: usize = 3;
/// Bytes of the argument area copied on exec.
pub const MAX_ARGV: usize = 4096;
/// Room for any socket address we decode (`sockaddr_un` is 110 bytes).
pub const MAX_SOCKADDR: usize = 128;
/// Bytes of an I/O syscall's data copied (`evt.buffer`), Falco's default
/// snaplen.
pub const MAX_DATA: usize = 80;
/// Extra user memory copied for some syscalls (`struct open_how`, `struct clone_args` head).
pub const EXTRA_WORDS: usize = 3;

/// Record kinds (`EventHeader::kind`).
pub mod kind {
    /// A successful exec, from `sched_process_exec`.
    pub const EXEC: u16 = 1;
    /// A new process (not thread), from `sched_process_fork`.
    pub const FORK: u16 = 2;
    /// A thread-group leader exited, from `sched_process_exit`.
    pub const EXIT: u16 = 3;
    /// Any traced syscall, joined entry + exit; the body says which.
    pub const SYSCALL: u16 = 4;
    /// A DNS message seen on the packet path (`cgroup_skb`), [`super::DnsBody`].
    pub const DNS: u16 = 5;
}

/// Bytes of a DNS message copied from a packet: the EDNS buffer size the
/// DNS flag day (2020) recommends, so an answer of ordinary size is whole.
pub const MAX_DNS: usize = 1232;

/// `DnsBody::direction`.
pub mod dns_dir {
    /// Leaving a socket of this node (a query, or a local server's answer).
    pub const EGRESS: u8 = 0;
    /// Arriving at a socket of this node.
    pub const INGRESS: u8 = 1;
}

/// `EventHeader::flags` bits.
pub mod flags {
    /// A string or the argv area hit its bound.
    pub const TRUNCATED: u16 = 1 << 0;
    /// A user-memory read failed; the affected piece is empty.
    pub const READ_FAULT: u16 = 1 << 1;
    /// A 32-bit (ia32 compat) syscall: `SyscallBody::nr` is already the
    /// native number it was translated to.
    pub const COMPAT: u16 = 1 << 2;
}

/// `ExecBody::exe_flags` bits: facts about the executable's file.
pub mod exe_flags {
    /// The file lives on an overlay filesystem...
    pub const OVERLAY: u16 = 1 << 0;
    /// ...in its upper (writable) layer: written after the container started.
    pub const UPPER_LAYER: u16 = 1 << 1;
    /// An anonymous memory file (`memfd_create`): fileless execution.
    pub const MEMFD: u16 = 1 << 2;
    /// Its filesystem is mounted read-only.
    pub const SB_RDONLY: u16 = 1 << 3;
    /// The inode is immutable (`chattr +i`).
    pub const IMMUTABLE: u16 = 1 << 4;
    /// The exe path walk stopped at its component bound: the path is partial.
    pub const EXEPATH_PARTIAL: u16 = 1 << 5;
    /// Likewise for the cwd.
    pub const CWD_PARTIAL: u16 = 1 << 6;
    /// The exe's inode fields (`exe_mode`, `exe_uid`, `exe_gid`) were read.
    pub const INODE_KNOWN: u16 = 1 << 7;
    /// The task's credentials (`fsuid`, `fsgid`, caps) were read.
    pub const CREDS_KNOWN: u16 = 1 << 8;
}

/// Common first part of every record.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventHeader {
    pub kind: u16,
    pub flags: u16,
    /// Total record size in bytes, header included.
    pub size: u32,
    /// `bpf_ktime_get_boot_ns`: nanoseconds since boot, suspend included.
    pub ts_ns: u64,
    /// Thread-group id (user-space "pid").
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    /// cgroup v2 id of the task.
    pub cgroup_id: u64,
    pub comm: [u8; COMM_LEN],
}

/// Bytes kept of a cgroup directory name (`cri-containerd-<64 hex>.scope` is 85).
pub const CGROUP_NAME_LEN: usize = 128;

/// Body of [`kind::EXEC`]; followed by, in order and without NULs:
/// `filename_len` bytes of the exec'd path as passed to execve,
/// `argv_len` bytes of the NUL-separated argument area, `env_len` bytes of
/// the NUL-separated environment, `exepath_len` bytes of the executable's
/// absolute path and `cwd_len` bytes of the working directory (both walked
/// up the dentry tree in the kernel, relative to the task's root).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecBody {
    /// Parent's thread-group id.
    pub ppid: u32,
    /// Thread id that called execve (differs from pid when a non-leader execs).
    pub old_tid: u32,
    /// Task start, nanoseconds since boot: with pid, the process key.
    pub start_boottime_ns: u64,
    pub euid: u32,
    pub egid: u32,
    pub filename_len: u16,
    pub argv_len: u16,
    /// Full length of the argument area in the process, before truncation.
    pub argv_full_len: u32,
    pub env_len: u16,
    pub exepath_len: u16,
    pub cwd_len: u16,
    /// `exe_flags::*`.
    pub exe_flags: u16,
    /// Full length of the environment area, before truncation.
    pub env_full_len: u32,
    /// Controlling terminal as a device number (`new_encode_dev`, as
    /// /proc/PID/stat's `tty_nr`); 0 without one.
    pub tty: u32,
    /// Audit login uid; `u32::MAX` when unset or unknown.
    pub loginuid: u32,
    pub fsuid: u32,
    pub fsgid: u32,
    /// The executable's `i_mode`, owner and group.
    pub exe_mode: u32,
    pub exe_uid: u32,
    pub exe_gid: u32,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    /// Name of the task's cgroup v2 directory and of its parent, read in the
    /// kernel at exec so that a container that exits at once is still
    /// attributed. NUL-terminated; empty at the root.
    pub cgroup_leaf: [u8; CGROUP_NAME_LEN],
    pub cgroup_parent: [u8; CGROUP_NAME_LEN],
    /// Response: the id (`KILL_NAMES` value, from 1) of the rule whose
    /// `kill_process` the kernel carried out on this exec; 0: none.
    pub kill_rule: u32,
    /// `bpf_send_signal(SIGKILL)`'s result when `kill_rule` is set.
    pub kill_ret: i32,
}

/// Body of [`kind::FORK`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForkBody {
    pub parent_pid: u32,
    pub parent_tid: u32,
    pub child_pid: u32,
    pub child_tid: u32,
    pub child_start_boottime_ns: u64,
    /// Clone flags of the parent's syscall; 0 when unknown (kernel-internal clone).
    pub clone_flags: u64,
    /// Native syscall number that created the child, or -1.
    pub syscall_nr: i32,
    pub reserved: u32,
}

/// Body of [`kind::EXIT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitBody {
    /// `task->exit_code`: `(status << 8) | signal`.
    pub exit_code: i32,
    pub reserved: u32,
    pub start_boottime_ns: u64,
}

/// Body of [`kind::SYSCALL`]; followed by the strings (see `str_lens`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallBody {
    /// Architecture syscall number.
    pub nr: u32,
    /// Bytes of `addr` that hold a socket address (0: none).
    pub addr_len: u16,
    /// Bytes of each string that follows, in order, no NUL.
    pub str_lens: [u16; MAX_STRS],
    pub reserved: u32,
    /// Return value at syscall exit.
    pub ret: i64,
    /// Raw syscall arguments at entry.
    pub args: [u64; 6],
    /// User memory pointed to by an argument (`open_how`, `clone_args`).
    pub extra: [u64; EXTRA_WORDS],
    pub addr: [u8; MAX_SOCKADDR],
    /// The socket's own address (`sockaddr_in`/`sockaddr_in6` layout; family
    /// 0 when unknown): connect's and accept's local end.
    pub local: [u8; LOCAL_SOCKADDR],
    /// Bytes of data (`SyscallConf::data_arg`) after the strings.
    pub data_len: u16,
    /// Explicit tail padding to the 8-byte alignment, always zero.
    pub pad: u16,
}

/// Body of [`kind::DNS`]; followed by [`MAX_DNS`] bytes of which the first
/// `data_len` are the DNS message (after TCP's two-byte length prefix), the
/// rest zero. The record has one fixed size: the kernel reserves it in the
/// ring directly (a packet program can interrupt a tracepoint program on
/// the same CPU, so it must not share the per-CPU scratch buffer).
///
/// The header's pid, tid, uid, gid and comm are the sending task's on
/// egress and zero on ingress (softirq context: the current task is
/// unrelated); `cgroup_id` is the socket's cgroup in both directions.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsBody {
    /// The socket's cookie (`bpf_get_socket_cookie`): joins an answer to the
    /// process that sent the query.
    pub cookie: u64,
    /// Source and destination address; IPv4 in the first four bytes.
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    /// Bytes of the DNS message in the packet, before the copy's bound.
    pub msg_len: u16,
    /// Bytes copied (at most [`MAX_DNS`]).
    pub data_len: u16,
    /// 4 or 6.
    pub family: u8,
    /// IP protocol number: 17 (UDP) or 6 (TCP).
    pub l4proto: u8,
    /// [`dns_dir`].
    pub direction: u8,
    /// Explicit padding to the 8-byte alignment, always zero.
    pub pad: [u8; 5],
}

pub const DNS_BODY_SIZE: usize = core::mem::size_of::<DnsBody>();
/// The one size of a DNS record.
pub const DNS_RECORD_SIZE: usize = HEADER_SIZE + DNS_BODY_SIZE + MAX_DNS;

/// `sizeof(struct sockaddr_in6)`.
pub const LOCAL_SOCKADDR: usize = 28;

pub const HEADER_SIZE: usize = core::mem::size_of::<EventHeader>();
pub const EXEC_BODY_SIZE: usize = core::mem::size_of::<ExecBody>();
pub const FORK_BODY_SIZE: usize = core::mem::size_of::<ForkBody>();
pub const EXIT_BODY_SIZE: usize = core::mem::size_of::<ExitBody>();
pub const SYSCALL_BODY_SIZE: usize = core::mem::size_of::<SyscallBody>();

/// Bytes of the environment copied on exec.
pub const MAX_ENV: usize = 4096;
/// Bytes of a path walked up the dentry tree (exe path, cwd).
pub const MAX_PATH: usize = 4096;
/// Path components walked before the walk gives up (the path is then partial).
pub const MAX_PATH_COMPONENTS: usize = 48;

/// Largest record: header, syscall body and three strings, or exec with
/// its five variable parts. The kernel's scratch buffer has this size.
pub const MAX_RECORD: usize = {
    let sys = HEADER_SIZE + SYSCALL_BODY_SIZE + MAX_STRS * MAX_STR + MAX_DATA;
    let exec = HEADER_SIZE + EXEC_BODY_SIZE + MAX_STR + MAX_ARGV + MAX_ENV + 2 * MAX_PATH;
    if sys > exec { sys } else { exec }
};

// The layout is pinned: both sides compile these, so a field moved on one
// side only fails the build, and no implicit padding (which would carry
// stale per-CPU scratch bytes into the ring) can appear unnoticed.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<EventHeader>() == 56);
    assert!(offset_of!(EventHeader, ts_ns) == 8);
    assert!(offset_of!(EventHeader, cgroup_id) == 32);
    assert!(offset_of!(EventHeader, comm) == 40);
    assert!(size_of::<ExecBody>() == 360);
    assert!(offset_of!(ExecBody, kill_rule) == 352);
    assert!(offset_of!(ExecBody, kill_ret) == 356);
    assert!(offset_of!(ExecBody, env_len) == 32);
    assert!(offset_of!(ExecBody, env_full_len) == 40);
    assert!(offset_of!(ExecBody, cap_inheritable) == 72);
    assert!(offset_of!(ExecBody, cgroup_leaf) == 96);
    assert!(size_of::<ForkBody>() == 40);
    assert!(size_of::<ExitBody>() == 16);
    assert!(size_of::<SyscallBody>() == 256);
    assert!(offset_of!(SyscallBody, ret) == 16);
    assert!(offset_of!(SyscallBody, args) == 24);
    assert!(offset_of!(SyscallBody, extra) == 72);
    assert!(offset_of!(SyscallBody, addr) == 96);
    assert!(offset_of!(SyscallBody, local) == 224);
    assert!(offset_of!(SyscallBody, data_len) == 252);
    assert!(size_of::<DnsBody>() == 56);
    assert!(offset_of!(DnsBody, saddr) == 8);
    assert!(offset_of!(DnsBody, sport) == 40);
    assert!(offset_of!(DnsBody, data_len) == 46);
    assert!(offset_of!(DnsBody, direction) == 50);
    assert!(DNS_RECORD_SIZE.is_multiple_of(8));
    // The per-CPU scratch value must stay under the kernel's 32 KiB limit.
    assert!(MAX_RECORD <= 32 * 1024);
};

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all these types are repr(C) with only integer and byte-array
    // fields, so any bit pattern is valid.
    unsafe impl aya::Pod for super::EventHeader {}
    unsafe impl aya::Pod for super::SyscallBody {}
    unsafe impl aya::Pod for super::ExecBody {}
    unsafe impl aya::Pod for super::ForkBody {}
    unsafe impl aya::Pod for super::ExitBody {}
    unsafe impl aya::Pod for super::DnsBody {}
}
