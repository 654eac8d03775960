//! Maps shared with the agent; names are the agent's handles to them.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, PerCpuArray, RingBuf},
};
use sensor_common::{Config, MAX_RECORD, MAX_SYSCALLS, SyscallConf, loss};

/// Default size; the agent resizes it at load time (`--ring-buffer-mb`).
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(8 * 1024 * 1024, 0);

#[map]
pub static CONFIG: Array<Config> = Array::with_max_entries(1, 0);

#[map]
pub static SYSCALLS: Array<SyscallConf> = Array::with_max_entries(MAX_SYSCALLS, 0);

/// Arguments captured at syscall entry, keyed by thread id.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Pending {
    pub nr: u64,
    pub args: [u64; 6],
}

/// Sized for threads blocked in traced syscalls (accept, recvmsg) at once.
#[map]
pub static PENDING: HashMap<u32, Pending> = HashMap::with_max_entries(32768, 0);

/// Records are assembled here, then copied to the ring buffer at their real
/// size: reserving the worst case would waste most of the ring on short paths.
#[repr(C, align(8))]
pub struct Scratch {
    pub buf: [u8; MAX_RECORD],
}

#[map]
pub static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

#[map]
pub static LOSSES: PerCpuArray<u64> = PerCpuArray::with_max_entries(loss::COUNT, 0);

#[inline(always)]
pub fn count_loss(reason: u32) {
    if let Some(p) = LOSSES.get_ptr_mut(reason) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe { *p += 1 };
    }
}
