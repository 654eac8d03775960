//! Settings the agent writes into maps before attaching the programs.

/// Highest syscall number + 1 the syscall table covers.
pub const MAX_SYSCALLS: u32 = 512;

/// Index of the one entry of the `CONFIG` array.
pub const CONFIG_KEY: u32 = 0;

/// Loss reasons: index into the per-CPU `LOSSES` array.
pub mod loss {
    /// `bpf_ringbuf_output` failed: the ring buffer was full.
    pub const RINGBUF_FULL: u32 = 0;
    /// The per-thread pending-syscall table was full at syscall entry.
    pub const PENDING_FULL: u32 = 1;
    /// A syscall exit found no matching entry (attached mid-syscall, or evicted).
    pub const PENDING_MISSING: u32 = 2;
    /// A task field could not be read (bad BTF offset?).
    pub const TASK_READ: u32 = 3;
    pub const COUNT: u32 = 4;
}

/// Global settings: the agent's identity and layout facts learned at load
/// time from the node's BTF and tracepoint format files, so no kernel
/// struct offset is compiled in.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The agent's own thread-group id; its syscalls are not traced.
    pub agent_tgid: u32,
    /// Offset of `long id` in `raw_syscalls:sys_enter`.
    pub sys_enter_id_off: u32,
    /// Offset of `unsigned long args[6]` in `raw_syscalls:sys_enter`.
    pub sys_enter_args_off: u32,
    /// Offset of `long id` in `raw_syscalls:sys_exit`.
    pub sys_exit_id_off: u32,
    /// Offset of `long ret` in `raw_syscalls:sys_exit`.
    pub sys_exit_ret_off: u32,
    /// Offset in `struct pt_regs` of the syscall number at exit (`orig_ax` on x86-64).
    pub regs_nr_off: u32,
    /// Offsets in `struct pt_regs` of the six syscall argument registers.
    pub regs_arg_off: [u32; 6],
    /// Wake the reader only once this many bytes are queued; it also drains
    /// on a short timer. Waking it per record costs a syscall round per event.
    pub wakeup_bytes: u32,
    pub reserved: u32,
    pub task: TaskOffsets,
}

/// Byte offsets inside kernel structs, read from `/sys/kernel/btf/vmlinux`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskOffsets {
    pub task_pid: u32,
    pub task_tgid: u32,
    pub task_real_parent: u32,
    pub task_mm: u32,
    pub task_cred: u32,
    pub task_exit_code: u32,
    pub task_start_boottime: u32,
    pub cred_euid: u32,
    pub cred_egid: u32,
    pub mm_arg_start: u32,
    pub mm_arg_end: u32,
    pub binprm_filename: u32,
    pub task_cgroups: u32,
    pub css_set_dfl_cgrp: u32,
    pub cgroup_kn: u32,
    pub kernfs_node_name: u32,
    /// `kernfs_node.parent` (`__parent` since 6.15).
    pub kernfs_node_parent: u32,
    pub task_files: u32,
    pub files_fdt: u32,
    pub fdtable_fd: u32,
    pub fdtable_max_fds: u32,
    pub file_private_data: u32,
    pub socket_sk: u32,
    /// Offsets inside `struct sock` (its `__sk_common` included).
    pub sk_family: u32,
    pub sk_num: u32,
    pub sk_rcv_saddr: u32,
    /// `u32::MAX` on kernels without IPv6.
    pub sk_v6_rcv_saddr: u32,
}

/// `SyscallConf::flags` bits.
pub mod sysflags {
    /// Keep the arguments at entry (needed by `EMIT` and by fork's clone flags).
    pub const STASH: u8 = 1 << 0;
    /// Emit a record at exit.
    pub const EMIT: u8 = 1 << 1;
    /// Emit only when the syscall failed (execve: success comes from `sched_process_exec`).
    pub const EMIT_ON_ERROR_ONLY: u8 = 1 << 2;
}

/// How to find a socket address for a syscall (`SyscallConf::addr_mode`).
pub mod addr_mode {
    pub const NONE: u8 = 0;
    /// `args[addr_arg]` points to it, `args[len_arg]` is its length (connect, bind, sendto).
    pub const PTR_LEN: u8 = 1;
    /// `args[len_arg]` points to a u32 length the kernel filled (accept, recvfrom).
    pub const PTR_LENPTR: u8 = 2;
    /// `args[addr_arg]` points to a `struct user_msghdr` (sendmsg, recvmsg).
    pub const MSGHDR: u8 = 3;
}

/// How the fork program learns clone flags from the parent's pending syscall.
pub mod clone_mode {
    pub const NONE: u8 = 0;
    /// Flags are `args[0]` (clone on x86-64 and arm64).
    pub const ARG0: u8 = 1;
    /// Flags are the first u64 of the `struct clone_args` at `args[0]`.
    pub const CLONE3: u8 = 2;
    /// fork(2): SIGCHLD.
    pub const FORK: u8 = 3;
    /// vfork(2): `CLONE_VM | CLONE_VFORK | SIGCHLD`.
    pub const VFORK: u8 = 4;
}

/// One entry of the `SYSCALLS` array, indexed by syscall number. The agent
/// fills it for its architecture; the kernel side stays syscall-agnostic.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyscallConf {
    pub flags: u8,
    /// For each string slot: argument index + 1 holding a user string pointer, 0 = unused.
    pub str_args: [u8; 3],
    pub addr_mode: u8,
    pub addr_arg: u8,
    pub len_arg: u8,
    pub clone_mode: u8,
    /// Argument index + 1 pointing to user memory copied into `extra`, 0 = none.
    pub extra_arg: u8,
    /// Bytes to copy for `extra` (at most 8 * `EXTRA_WORDS`).
    pub extra_len: u8,
    /// Which fd is a socket whose local address to record (`sock_fd::*`).
    pub sock_fd: u8,
    pub reserved: u8,
}

/// Where the socket of a network syscall is (`SyscallConf::sock_fd`).
pub mod sock_fd {
    pub const NONE: u8 = 0;
    /// `args[0]` (connect, bind, sendto, ...).
    pub const ARG0: u8 = 1;
    /// The returned fd (accept).
    pub const RET: u8 = 2;
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: repr(C), integer fields only, no padding holes left implicit.
    unsafe impl aya::Pod for super::Config {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::SyscallConf {}
}
