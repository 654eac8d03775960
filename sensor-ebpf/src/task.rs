//! Reads of kernel struct fields at offsets the agent found in the node's BTF.

use aya_ebpf::helpers::bpf_probe_read_kernel;

#[inline(always)]
pub unsafe fn read<T: Copy>(base: u64, off: u32) -> Option<T> {
    if base == 0 {
        return None;
    }
    // SAFETY: bpf_probe_read_kernel tolerates bad addresses and returns an error.
    unsafe { bpf_probe_read_kernel((base + off as u64) as *const T).ok() }
}
