//! Response: `kill_process` on an open of a protected path. Programs on
//! `syscalls:sys_enter_open`, `sys_enter_openat` and `sys_enter_openat2`,
//! attached only while such a rule is armed in enforce mode, read the path
//! the caller passes and, when it is a `KILL_OPENS` key, send SIGKILL: the
//! open still runs, but the process dies before the syscall returns to it,
//! so it never holds the descriptor. Only absolute paths are matched (a
//! relative one, or a path longer than `KILL_PATH_LEN - 1`, is left to
//! the rule engine, which kills through a pidfd). The kill is left in
//! `OPEN_KILLS` for the agent's report. Same safeguards as the exec kill:
//! never the agent, pid 1, an allow-listed process name (`OPEN_ALLOW`) or
//! an exempt cgroup; the same rate limit.

use aya_ebpf::helpers::bpf_get_current_comm;
use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid,
        generated::{bpf_probe_read_user_str, bpf_send_signal},
    },
    macros::{map, tracepoint},
    maps::{Array, HashMap, LruHashMap, PerCpuArray},
    programs::TracePointContext,
};
use sensor_common::{
    KILL_PATH_LEN, KILL_RATE_LIMITED, KillName, KillPath, MAX_KILL_NAMES, MAX_KILL_PATHS, OpenKillConf,
};

use crate::maps::{CONFIG, RESPONSE, in_scope, take_kill_token};

/// Absolute paths whose open a `kill_process` rule kills → that rule's id.
#[map]
pub static KILL_OPENS: HashMap<KillPath, u32> = HashMap::with_max_entries(MAX_KILL_PATHS, 0);

/// Process names (`task->comm`) never killed at an open: the response
/// allow-list (init, kubelet, the runtimes, sshd, ...).
#[map]
pub static OPEN_ALLOW: HashMap<KillName, u32> = HashMap::with_max_entries(MAX_KILL_NAMES, 0);

/// Where each program's path argument is in its tracepoint record (from
/// the node's format files).
#[map]
pub static OPEN_KILL_CONF: Array<OpenKillConf> = Array::with_max_entries(1, 0);

/// Kills done here, for the agent's report: pid_tgid → rule << 32 | result.
#[map]
pub static OPEN_KILLS: LruHashMap<u64, u64> = LruHashMap::with_max_entries(4096, 0);

/// Where a key is assembled.
#[map]
static OPEN_KEY: PerCpuArray<KillPath> = PerCpuArray::with_max_entries(1, 0);

const SIGKILL: u32 = 9;

#[tracepoint]
pub fn kill_open(ctx: TracePointContext) -> u32 {
    let off = OPEN_KILL_CONF.get(0).map_or(u32::MAX, |c| c.open_filename);
    let _ = try_kill(&ctx, off);
    0
}

#[tracepoint]
pub fn kill_openat(ctx: TracePointContext) -> u32 {
    let off = OPEN_KILL_CONF.get(0).map_or(u32::MAX, |c| c.openat_filename);
    let _ = try_kill(&ctx, off);
    0
}

#[tracepoint]
pub fn kill_openat2(ctx: TracePointContext) -> u32 {
    let off = OPEN_KILL_CONF.get(0).map_or(u32::MAX, |c| c.openat2_filename);
    let _ = try_kill(&ctx, off);
    0
}

#[inline(always)]
fn try_kill(ctx: &TracePointContext, off: u32) -> Option<()> {
    if off == u32::MAX {
        return None;
    }
    let conf = RESPONSE.get(0)?;
    if conf.enforce == 0 {
        return None;
    }
    // SAFETY: the offset comes from this tracepoint's format file.
    let filename: u64 = unsafe { ctx.read_at(off as usize).ok()? };
    let key = OPEN_KEY.get_ptr_mut(0)?;
    // SAFETY: this CPU's key buffer; the read is bounded by its size.
    unsafe {
        *key = [0u8; KILL_PATH_LEN];
        let n = bpf_probe_read_user_str(key.cast(), KILL_PATH_LEN as u32, filename as *const _);
        // Empty, unreadable, relative, or cut at the buffer's end.
        if n <= 1 || n >= KILL_PATH_LEN as i64 || (*key)[0] != b'/' {
            return None;
        }
        let rule = KILL_OPENS.get(&*key).copied()?;
        let pid_tgid = bpf_get_current_pid_tgid();
        let tgid = (pid_tgid >> 32) as u32;
        if tgid == CONFIG.get(0)?.agent_tgid || tgid == 1 {
            return None;
        }
        let comm = bpf_get_current_comm().ok()?;
        if OPEN_ALLOW.get(&comm).is_some() || !in_scope(conf) {
            return None;
        }
        let ret =
            if take_kill_token(conf.kills_per_minute) { bpf_send_signal(SIGKILL) as i32 } else { KILL_RATE_LIMITED };
        let v = (u64::from(rule) << 32) | u64::from(ret as u32);
        let _ = OPEN_KILLS.insert(&pid_tgid, &v, 0);
    }
    Some(())
}
