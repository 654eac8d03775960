//! How syscall exits are hooked: the raw `sys_exit` tracepoint (every
//! syscall of the node runs its program) and the per-syscall ftrace events
//! `syscalls:sys_exit_<name>` (only the syscalls attached to run it).

/// Entries of the `RAW_WANT` array: raw syscall numbers, native and i386.
pub const RAW_WANT_LEN: u32 = 512;
const _: () = assert!(RAW_WANT_LEN >= crate::MAX_SYSCALLS && RAW_WANT_LEN >= crate::MAX_IA32_SYSCALLS);

/// `RAW_WANT` bits, indexed by the number the task passed: which calls the
/// raw hook records. All clear: the program leaves at once.
pub mod raw_want {
    /// The native syscall of this number (no per-syscall event covers it).
    pub const NATIVE: u8 = 1 << 0;
    /// The 32-bit (ia32) syscall of this number.
    pub const COMPAT: u8 = 1 << 1;
}

/// Field offsets of the per-syscall exit events, from their format files
/// (`int __syscall_nr`, `long ret`); every attached event has these.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExitTpConf {
    pub nr_off: u32,
    pub ret_off: u32,
}

/// A 32-bit program was exec'd (`COMPAT_EXECS` ring): in the `auto`
/// compat mode the agent then attaches the raw hook.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompatExec {
    pub tgid: u32,
    pub tid: u32,
    pub comm: [u8; 16],
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: repr(C) structs of plain integers, no padding.
    unsafe impl aya::Pod for super::ExitTpConf {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::CompatExec {}
}
