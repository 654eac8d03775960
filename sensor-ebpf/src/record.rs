//! Record assembly: header fill, scratch access and the copy to the ring.

use aya_ebpf::helpers::{
    bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
    generated::{bpf_get_current_cgroup_id, bpf_ktime_get_boot_ns},
};
use sensor_common::{EventHeader, MAX_RECORD, loss};

use crate::maps::{CONFIG, EVENTS, SCRATCH, count_loss, note_fill};

const BPF_RB_AVAIL_DATA: u64 = 0;
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;

/// This CPU's scratch buffer.
#[inline(always)]
pub fn scratch() -> Option<*mut u8> {
    SCRATCH.get_ptr_mut(0).map(|s| s.cast::<u8>())
}

/// Writes the common header for the current task at the start of `buf`.
#[inline(always)]
pub unsafe fn fill_header(buf: *mut u8, kind: u16) -> *mut EventHeader {
    let hdr = buf.cast::<EventHeader>();
    let pid_tgid = bpf_get_current_pid_tgid();
    let uid_gid = bpf_get_current_uid_gid();
    // SAFETY: buf is the 8-aligned scratch buffer, larger than a header.
    unsafe {
        (*hdr).kind = kind;
        (*hdr).flags = 0;
        (*hdr).size = 0;
        (*hdr).ts_ns = bpf_ktime_get_boot_ns();
        (*hdr).pid = (pid_tgid >> 32) as u32;
        (*hdr).tid = pid_tgid as u32;
        (*hdr).uid = uid_gid as u32;
        (*hdr).gid = (uid_gid >> 32) as u32;
        (*hdr).cgroup_id = bpf_get_current_cgroup_id();
        (*hdr).comm = bpf_get_current_comm().unwrap_or([0; 16]);
    }
    hdr
}

/// Copies the first `size` bytes of the scratch record to the ring buffer,
/// counting a loss when the ring is full.
#[inline(always)]
pub unsafe fn submit(buf: *mut u8, size: usize) {
    // SAFETY: the caller's contract.
    unsafe { submit_waking(buf, size, false) }
}

/// [`submit`], waking the reader at once when `now` (instead of when
/// enough bytes wait).
#[inline(always)]
pub unsafe fn submit_waking(buf: *mut u8, size: usize, now: bool) {
    if size > MAX_RECORD || size == 0 {
        return;
    }
    // SAFETY: size is bounded by the scratch buffer's length just above.
    unsafe {
        (*buf.cast::<EventHeader>()).size = size as u32;
        let data = core::slice::from_raw_parts(buf.cast_const(), size);
        let threshold = CONFIG.get(0).map_or(0, |c| u64::from(c.wakeup_bytes));
        let waiting = EVENTS.query(BPF_RB_AVAIL_DATA);
        note_fill(waiting);
        let flags = if now || waiting >= threshold { BPF_RB_FORCE_WAKEUP } else { BPF_RB_NO_WAKEUP };
        if EVENTS.output::<[u8]>(data, flags).is_err() {
            count_loss(loss::RINGBUF_FULL);
        }
    }
}
