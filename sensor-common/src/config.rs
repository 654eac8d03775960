//! Settings the agent writes into maps before attaching the programs.

/// Highest syscall number + 1 the syscall table covers.
pub const MAX_SYSCALLS: u32 = 512;

/// Index of the one entry of the `CONFIG` array.
pub const CONFIG_KEY: u32 = 0;

/// Entries of the `IA32_SYSCALLS` map: i386 syscall numbers.
pub const MAX_IA32_SYSCALLS: u32 = 512;
/// Entries of the `SOCKETCALLS` map: `socketcall(2)` call numbers (`SYS_SOCKET` = 1 ...).
pub const MAX_SOCKETCALLS: u32 = 21;
/// The i386 `socketcall` multiplexer.
pub const IA32_SOCKETCALL: u32 = 102;

/// Loss reasons: index into the per-CPU `LOSSES` array.
pub mod loss {
    /// `bpf_ringbuf_output` failed: the ring buffer was full.
    pub const RINGBUF_FULL: u32 = 0;
    /// A task field or the syscall registers could not be read (bad BTF offset?).
    pub const TASK_READ: u32 = 1;
    /// A DNS packet's record found the ring buffer full.
    pub const DNS_RINGBUF_FULL: u32 = 2;
    pub const COUNT: u32 = 3;
}

/// Global settings: the agent's identity and layout facts learned at load
/// time from the node's BTF and tracepoint format files, so no kernel
/// struct offset is compiled in.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The agent's own thread-group id; its syscalls are not traced.
    pub agent_tgid: u32,
    /// Offset of `long id` in `raw_syscalls:sys_exit`.
    pub sys_exit_id_off: u32,
    /// Offset of `long ret` in `raw_syscalls:sys_exit`.
    pub sys_exit_ret_off: u32,
    /// Offset in `struct pt_regs` of the syscall number at exit (`orig_ax` on x86-64).
    pub regs_nr_off: u32,
    /// Offsets in `struct pt_regs` of the six syscall argument registers.
    pub regs_arg_off: [u32; 6],
    /// The same for a 32-bit (compat) syscall: `bx, cx, dx, si, di, bp`
    /// on x86-64. Unused when `compat_status_off` is `u32::MAX`.
    pub regs_compat_arg_off: [u32; 6],
    /// Offset in `task_struct` of the word whose `compat_mask` bit says the
    /// task is in a 32-bit syscall (`thread_info.status`, `TS_COMPAT` on
    /// x86-64); `u32::MAX` where the agent knows no such test.
    pub compat_status_off: u32,
    pub compat_mask: u32,
    /// Wake the reader only once this many bytes are queued; it also drains
    /// on a short timer. Waking it per record costs a syscall round per event.
    pub wakeup_bytes: u32,
    pub reserved: u32,
    pub task: TaskOffsets,
}

/// Byte offsets inside kernel structs, read from `/sys/kernel/btf/vmlinux`.
/// `u32::MAX` marks a member this kernel lacks (an optional feature).
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
    pub mm_env_start: u32,
    pub mm_env_end: u32,
    /// `task_struct.signal`, `signal_struct.tty`, `tty_struct.index`,
    /// `tty_struct.driver`, `tty_driver.major`, `tty_driver.minor_start`.
    pub task_signal: u32,
    pub signal_tty: u32,
    pub tty_index: u32,
    pub tty_driver: u32,
    pub tty_driver_major: u32,
    pub tty_driver_minor_start: u32,
    /// `task_struct.loginuid` (`CONFIG_AUDIT`); `u32::MAX` without.
    pub task_loginuid: u32,
    pub cred_fsuid: u32,
    pub cred_fsgid: u32,
    pub cred_cap_inheritable: u32,
    pub cred_cap_permitted: u32,
    pub cred_cap_effective: u32,
    /// `linux_binprm.file`.
    pub binprm_file: u32,
    /// `file.f_path` (a `struct path { vfsmount *mnt; dentry *dentry; }`)
    /// and `file.f_inode`.
    pub file_f_path: u32,
    pub file_f_inode: u32,
    pub path_mnt: u32,
    pub path_dentry: u32,
    /// `dentry.d_parent`, `dentry.d_name.name`, `dentry.d_name.len`, `dentry.d_inode`.
    pub dentry_parent: u32,
    pub dentry_name: u32,
    pub dentry_name_len: u32,
    pub dentry_inode: u32,
    /// `vfsmount.mnt_root`; `mount.mnt` (the embedded vfsmount),
    /// `mount.mnt_parent`, `mount.mnt_mountpoint`.
    pub vfsmount_root: u32,
    pub mount_mnt: u32,
    pub mount_parent: u32,
    pub mount_mountpoint: u32,
    /// `task_struct.fs`, `fs_struct.root`, `fs_struct.pwd`.
    pub task_fs: u32,
    pub fs_root: u32,
    pub fs_pwd: u32,
    /// `inode.i_mode`, `i_uid`, `i_gid`, `i_flags`, `i_sb`, `i_ino`;
    /// `super_block.s_flags`, `s_magic`.
    pub inode_mode: u32,
    pub inode_uid: u32,
    pub inode_gid: u32,
    pub inode_flags: u32,
    pub inode_sb: u32,
    pub inode_ino: u32,
    pub sb_flags: u32,
    pub sb_magic: u32,
    /// Distance from an overlay inode's `vfs_inode` to its `__upperdentry`
    /// (`struct ovl_inode`); `u32::MAX` when the kernel's BTF lacks overlayfs.
    pub ovl_upper_from_inode: u32,
}

/// `SyscallConf::flags` bits.
pub mod sysflags {
    /// Emit a record at exit.
    pub const EMIT: u8 = 1 << 1;
    /// Emit only when the syscall failed (execve: success comes from `sched_process_exec`).
    pub const EMIT_ON_ERROR_ONLY: u8 = 1 << 2;
    /// Copy the task's resulting capabilities (effective, permitted,
    /// inheritable) into `extra` at exit (capset: what the kernel applied).
    pub const CREDS: u8 = 1 << 3;
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

/// How the fork program learns clone flags from the parent's syscall registers.
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
    /// Argument index + 1 of a data buffer whose first bytes (at most
    /// `MAX_DATA`, and no more than the syscall returned) are copied at
    /// exit (`evt.buffer` of recvfrom, sendto); 0 = none.
    pub data_arg: u8,
}

/// Where the socket of a network syscall is (`SyscallConf::sock_fd`).
pub mod sock_fd {
    pub const NONE: u8 = 0;
    /// `args[0]` (connect, bind, sendto, ...).
    pub const ARG0: u8 = 1;
    /// The returned fd (accept).
    pub const RET: u8 = 2;
}

/// Response settings (the `RESPONSE` array's one entry).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResponseConf {
    /// Where in-kernel responses act ([`enforce`]).
    pub enforce: u32,
    /// 1: exec records wake the agent's reader at once (a rule only user
    /// space can decide kills at exec: its latency is the reader's).
    pub wake_exec: u32,
    /// Entries in `KILL_PATHS` (0: the path program returns at once).
    pub paths: u32,
    /// In-kernel kills allowed per minute, all programs and CPUs together
    /// (`KILL_BUDGET`); 0: no limit. A kill past it is not done and the
    /// exec record says so (`KILL_RATE_LIMITED`).
    pub kills_per_minute: u32,
}

/// `OPEN_KILL_CONF`'s one entry: the offset of the path argument in each
/// `syscalls:sys_enter_open*` record, from the node's format files
/// (`u32::MAX`: that program is not attached).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenKillConf {
    pub open_filename: u32,
    pub openat_filename: u32,
    pub openat2_filename: u32,
    /// Explicit padding, always zero.
    pub reserved: u32,
}

/// `ResponseConf::enforce`.
pub mod enforce {
    /// Monitor mode: the kernel acts nowhere.
    pub const OFF: u32 = 0;
    /// Enforce mode: everywhere but `EXEMPT_CGROUPS`.
    pub const ALL: u32 = 1;
    /// Monitor mode with namespaces set to enforce: only in
    /// `ENFORCE_CGROUPS` (and never in `EXEMPT_CGROUPS`).
    pub const LISTED: u32 = 2;
}

/// `ExecBody::kill_ret` of an exec a rule would have killed in the kernel
/// but for the rate limit (`bpf_send_signal` only returns 0 or -errno).
pub const KILL_RATE_LIMITED: i32 = 1;

/// Key of `KILL_NAMES`: a process name as the kernel keeps it after exec
/// (`task->comm`, NUL-padded), so at most `COMM_LEN - 1` bytes.
pub type KillName = [u8; crate::event::COMM_LEN];

/// Entries of `KILL_NAMES`.
pub const MAX_KILL_NAMES: u32 = 4096;

/// Bytes of a `KILL_PATHS` key: an executable's absolute path (as
/// `proc.exepath` reads it), NUL-padded; longer paths are decided in user
/// space.
pub const KILL_PATH_LEN: usize = 128;

/// Key of `KILL_PATHS`.
pub type KillPath = [u8; KILL_PATH_LEN];

/// Entries of `KILL_PATHS`.
pub const MAX_KILL_PATHS: u32 = 1024;

/// Bytes of a `KILL_BASENAMES` key: the last component of a `KILL_PATHS`
/// path, cut to `KILL_BASENAME_LEN - 1` bytes and NUL-padded. The path
/// program walks an exec's path only when its file's name is one of these.
pub const KILL_BASENAME_LEN: usize = 32;

/// Key of `KILL_BASENAMES`.
pub type KillBasename = [u8; KILL_BASENAME_LEN];

/// Entries of each `DENY*` map (`deny_connect` destinations).
pub const MAX_DENY_NETS: u32 = 4096;

/// Entries of `EXEMPT_CGROUPS`: cgroup v2 ids (of containers and pods in
/// allow-listed namespaces) whose tasks and descendants are never killed.
pub const MAX_EXEMPT_CGROUPS: u32 = 16384;

/// cgroup levels below the root the exec program checks against
/// `EXEMPT_CGROUPS` (a pod's container sits at level 3 to 5 in
/// kubelet's layouts).
pub const EXEMPT_CGROUP_LEVELS: u32 = 8;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: repr(C), four u32, no padding.
    unsafe impl aya::Pod for super::ResponseConf {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::OpenKillConf {}
    // SAFETY: repr(C), integer fields only, no padding holes left implicit.
    unsafe impl aya::Pod for super::Config {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::SyscallConf {}
}

const _: () = {
    use core::mem::size_of;
    assert!(size_of::<TaskOffsets>() == 66 * 4);
    assert!(size_of::<Config>() == 16 + 48 + 16 + 66 * 4);
    assert!(size_of::<SyscallConf>() == 12);
    assert!(size_of::<ResponseConf>() == 16);
    assert!(size_of::<OpenKillConf>() == 16);
    assert!(core::mem::offset_of!(OpenKillConf, openat2_filename) == 8);
    assert!(core::mem::offset_of!(ResponseConf, enforce) == 0);
    assert!(core::mem::offset_of!(ResponseConf, kills_per_minute) == 12);
};
