//! Maps shared with the agent; names are the agent's handles to them.

use aya_ebpf::{
    helpers::generated::{bpf_get_current_ancestor_cgroup_id, bpf_get_current_cgroup_id, bpf_ktime_get_ns},
    macros::map,
    maps::{Array, HashMap, PerCpuArray, RingBuf},
};
use sensor_common::{
    Config, EXEMPT_CGROUP_LEVELS, KillBasename, KillName, KillPath, MAX_EXEMPT_CGROUPS, MAX_IA32_SYSCALLS,
    MAX_KILL_NAMES, MAX_KILL_PATHS, MAX_PATH, MAX_RECORD, MAX_SOCKETCALLS, MAX_SYSCALLS, ResponseConf, SyscallConf,
    enforce, loss,
};

/// Default size; the agent resizes it at load time (`--ring-buffer-mb`).
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(8 * 1024 * 1024, 0);

#[map]
pub static CONFIG: Array<Config> = Array::with_max_entries(1, 0);

#[map]
pub static SYSCALLS: Array<SyscallConf> = Array::with_max_entries(MAX_SYSCALLS, 0);

/// Response mode (enforce or monitor); written by the agent.
#[map]
pub static RESPONSE: Array<ResponseConf> = Array::with_max_entries(1, 0);

/// Process names (`task->comm` after exec) that a `kill_process` rule
/// kills at exec → that rule's id (from 1). Filled from the compiled rules.
#[map]
pub static KILL_NAMES: HashMap<KillName, u32> = HashMap::with_max_entries(MAX_KILL_NAMES, 0);

/// Executable paths (`proc.exepath`, NUL-padded) that a `kill_process`
/// rule kills at exec → that rule's id (from 1).
#[map]
pub static KILL_PATHS: HashMap<KillPath, u32> = HashMap::with_max_entries(MAX_KILL_PATHS, 0);

/// The last components of the `KILL_PATHS` paths (cut to
/// `KILL_BASENAME_LEN - 1` bytes) → how many paths end so. The path
/// program walks only an exec whose file is named so.
#[map]
pub static KILL_BASENAMES: HashMap<KillBasename, u32> = HashMap::with_max_entries(MAX_KILL_PATHS, 0);

/// The path program's kill, for the exec record: (pid_tgid, rule << 32 |
/// result), per CPU.
#[map]
pub static PENDING_KILL: PerCpuArray<[u64; 2]> = PerCpuArray::with_max_entries(1, 0);

/// The in-kernel kills' rate limit: (window start in ns, kills in it),
/// one entry for every CPU (see [`take_kill_token`]).
#[map]
pub static KILL_BUDGET: Array<[u64; 2]> = Array::with_max_entries(1, 0);

const MINUTE_NS: u64 = 60_000_000_000;

/// Whether one more in-kernel kill fits this minute's budget (`0`: no
/// limit). CPUs update the entry without atomics: under contention a few
/// kills past the limit may slip through (at most one per CPU racing),
/// never fewer than the limit.
#[inline(always)]
pub fn take_kill_token(per_minute: u32) -> bool {
    if per_minute == 0 {
        return true;
    }
    let Some(b) = KILL_BUDGET.get_ptr_mut(0) else { return false };
    // SAFETY: the map's one entry; plain reads and writes of u64s.
    unsafe {
        let now = bpf_ktime_get_ns();
        if now.wrapping_sub((*b)[0]) >= MINUTE_NS {
            (*b)[0] = now;
            (*b)[1] = 0;
        }
        if (*b)[1] >= u64::from(per_minute) {
            return false;
        }
        (*b)[1] += 1;
    }
    true
}

/// Where a `KILL_PATHS` key is assembled.
#[map]
pub static KILL_KEY: PerCpuArray<KillPath> = PerCpuArray::with_max_entries(1, 0);

/// cgroup v2 ids whose tasks (and their descendants' cgroups) are never
/// killed: containers and pods of allow-listed namespaces.
#[map]
pub static EXEMPT_CGROUPS: HashMap<u64, u32> = HashMap::with_max_entries(MAX_EXEMPT_CGROUPS, 0);

/// cgroup v2 ids whose tasks (and descendants) are enforced on while the
/// global mode is monitor (`enforce::LISTED`): containers and pods of
/// namespaces set to `enforce`.
#[map]
pub static ENFORCE_CGROUPS: HashMap<u64, u32> = HashMap::with_max_entries(MAX_EXEMPT_CGROUPS, 0);

/// Whether the task's cgroup v2, or one of its ancestors, is in `set`.
#[inline(always)]
fn in_cgroups(set: &HashMap<u64, u32>) -> bool {
    // SAFETY: helper calls on the current task; map lookups copied at once.
    unsafe {
        let own = bpf_get_current_cgroup_id();
        if set.get(&own).is_some() {
            return true;
        }
        for level in 1..=EXEMPT_CGROUP_LEVELS as i32 {
            let id = bpf_get_current_ancestor_cgroup_id(level);
            if id == 0 || id == own {
                break;
            }
            if set.get(&id).is_some() {
                return true;
            }
        }
    }
    false
}

/// Whether a response may act on the current task under `conf`'s mode:
/// everywhere but exempt cgroups (`enforce::ALL`), or only in enforced
/// ones (`enforce::LISTED`); the exec kills, the open kills and the
/// connect deny all ask, after their own cheap checks.
#[inline(always)]
pub fn in_scope(conf: &ResponseConf) -> bool {
    match conf.enforce {
        enforce::ALL => !in_cgroups(&EXEMPT_CGROUPS),
        enforce::LISTED => in_cgroups(&ENFORCE_CGROUPS) && !in_cgroups(&EXEMPT_CGROUPS),
        _ => false,
    }
}

/// i386 syscall number → native number + 1 (0: not traced).
#[map]
pub static IA32_SYSCALLS: Array<u32> = Array::with_max_entries(MAX_IA32_SYSCALLS, 0);

/// `socketcall(2)` call number → native number + 1 (0: not traced).
#[map]
pub static SOCKETCALLS: Array<u32> = Array::with_max_entries(MAX_SOCKETCALLS, 0);

/// Records are assembled here, then copied to the ring buffer at their real
/// size: reserving the worst case would waste most of the ring on short paths.
#[repr(C, align(8))]
pub struct Scratch {
    pub buf: [u8; MAX_RECORD],
}

#[map]
pub static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// Room for one dentry walk: the name pointers found on the way up, then
/// the path assembled root first (a component never exceeds `NAME_MAX`,
/// hence the slack after `MAX_PATH`).
#[repr(C, align(8))]
pub struct PathScratch {
    /// Power-of-two sized so that a masked index is always in bounds.
    pub comps: [u64; 64],
    /// Components found so far, and whether the walk hit its bound; kept
    /// in the map (not in registers) so that the verifier sees one state
    /// per loop step rather than one per (step, count) pair.
    pub n: u64,
    pub partial: u64,
    /// Bytes of `buf` written, and the walk's cursor (dentry, vfsmount,
    /// mount); in memory for the same reason.
    pub pos: u64,
    pub cur: [u64; 3],
    pub buf: [u8; MAX_PATH + 256],
}

#[map]
pub static PATHS: PerCpuArray<PathScratch> = PerCpuArray::with_max_entries(1, 0);

#[map]
pub static LOSSES: PerCpuArray<u64> = PerCpuArray::with_max_entries(loss::COUNT, 0);

/// Most bytes seen waiting in `EVENTS` at an output, per CPU, since the
/// agent last read (and zeroed) it: the ring's fill.
#[map]
pub static RING_FILL: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

#[inline(always)]
pub fn note_fill(waiting: u64) {
    if let Some(p) = RING_FILL.get_ptr_mut(0) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe {
            if waiting > *p {
                *p = waiting;
            }
        }
    }
}

#[inline(always)]
pub fn count_loss(reason: u32) {
    if let Some(p) = LOSSES.get_ptr_mut(reason) {
        // SAFETY: per-CPU slot, no concurrent writer on this CPU.
        unsafe { *p += 1 };
    }
}
