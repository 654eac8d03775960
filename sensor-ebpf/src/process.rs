//! Process lifecycle from the scheduler's BTF tracepoints. These are always
//! on and not filtered by pid: the agent's process table depends on them.

use aya_ebpf::{
    helpers::{
        bpf_get_current_pid_tgid,
        generated::{bpf_probe_read_kernel_str, bpf_probe_read_user},
    },
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use aya_log_ebpf::warn;
use sensor_common::{
    CGROUP_NAME_LEN, EXEC_BODY_SIZE, EXIT_BODY_SIZE, ExecBody, ExitBody, FORK_BODY_SIZE, ForkBody, HEADER_SIZE,
    MAX_ARGV, MAX_STR, TaskOffsets, clone_mode, flags, kind, loss,
};

use crate::{
    maps::{CONFIG, PENDING, SYSCALLS, count_loss},
    record::{fill_header, scratch, submit},
    task::read,
};

const EXEC_STR_BASE: usize = HEADER_SIZE + EXEC_BODY_SIZE;

/// `sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`
#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec(ctx: BtfTracePointContext) -> u32 {
    let _ = try_exec(&ctx);
    0
}

#[inline(always)]
fn try_exec(ctx: &BtfTracePointContext) -> Option<()> {
    let off = CONFIG.get(0)?.task;
    let task: u64 = ctx.arg::<*const u8>(0) as u64;
    let old_tid: i32 = ctx.arg(1);
    let bprm: u64 = ctx.arg::<*const u8>(2) as u64;
    let tid = bpf_get_current_pid_tgid() as u32;
    if old_tid as u32 != tid {
        // Its sys_exit will arrive under the leader's tid; see sys_exit.
        let _ = PENDING.remove(old_tid as u32);
    }
    let buf = scratch()?;
    // SAFETY: scratch is MAX_RECORD bytes; every write is bounded below.
    unsafe {
        let hdr = fill_header(buf, kind::EXEC);
        let body = buf.add(HEADER_SIZE).cast::<ExecBody>();
        let mut hflags = 0u16;
        let (ppid, start, euid, egid) = task_ids(task, &off).unwrap_or_else(|| {
            count_loss(loss::TASK_READ);
            // Rare by construction: it means an offset from BTF is wrong.
            warn!(ctx, "exec: task fields unreadable; check the BTF offsets");
            (0, 0, 0, 0)
        });
        (*body).ppid = ppid;
        (*body).old_tid = old_tid as u32;
        (*body).start_boottime_ns = start;
        (*body).euid = euid;
        (*body).egid = egid;
        (*body).filename_len = 0;
        (*body).argv_len = 0;
        (*body).argv_full_len = 0;

        let mut pos = EXEC_STR_BASE;
        if let Some(fname) = read::<u64>(bprm, off.binprm_filename) {
            let n = bpf_probe_read_kernel_str(buf.add(pos).cast(), MAX_STR as u32, fname as *const _);
            if n > 0 {
                if n as usize >= MAX_STR {
                    hflags |= flags::TRUNCATED;
                }
                let len = (n as usize - 1) & (MAX_STR - 1);
                (*body).filename_len = len as u16;
                pos += len;
            }
        }

        let mm = read::<u64>(task, off.task_mm).unwrap_or(0);
        let start_arg = read::<u64>(mm, off.mm_arg_start).unwrap_or(0);
        let end_arg = read::<u64>(mm, off.mm_arg_end).unwrap_or(0);
        if start_arg != 0 && end_arg > start_arg {
            let full = end_arg - start_arg;
            (*body).argv_full_len = full as u32;
            let mut len = full;
            if len > MAX_ARGV as u64 {
                len = MAX_ARGV as u64;
                hflags |= flags::TRUNCATED;
            }
            if pos <= EXEC_STR_BASE + MAX_STR && len > 0 && len <= MAX_ARGV as u64 {
                let r = bpf_probe_read_user(buf.add(pos).cast(), len as u32, start_arg as *const _);
                if r < 0 {
                    hflags |= flags::READ_FAULT;
                } else {
                    (*body).argv_len = len as u16;
                    pos += len as usize;
                }
            }
        }
        cgroup_names(task, &off, body);
        (*hdr).flags = hflags;
        submit(buf, pos);
    }
    Some(())
}

/// The task's cgroup v2 directory name and its parent's, from kernfs.
#[inline(always)]
unsafe fn cgroup_names(task: u64, off: &TaskOffsets, body: *mut ExecBody) {
    // SAFETY: every read goes through the probe-read helpers; body points
    // into the scratch buffer.
    unsafe {
        (*body).cgroup_leaf[0] = 0;
        (*body).cgroup_parent[0] = 0;
        let Some(css) = read::<u64>(task, off.task_cgroups) else { return };
        let Some(cgrp) = read::<u64>(css, off.css_set_dfl_cgrp) else { return };
        let Some(kn) = read::<u64>(cgrp, off.cgroup_kn) else { return };
        if let Some(name) = read::<u64>(kn, off.kernfs_node_name) {
            bpf_probe_read_kernel_str(
                (*body).cgroup_leaf.as_mut_ptr().cast(),
                CGROUP_NAME_LEN as u32,
                name as *const _,
            );
        }
        let Some(parent) = read::<u64>(kn, off.kernfs_node_parent) else { return };
        if let Some(name) = read::<u64>(parent, off.kernfs_node_name) {
            bpf_probe_read_kernel_str(
                (*body).cgroup_parent.as_mut_ptr().cast(),
                CGROUP_NAME_LEN as u32,
                name as *const _,
            );
        }
    }
}

/// `(ppid, start_boottime, euid, egid)` of a task.
#[inline(always)]
unsafe fn task_ids(task: u64, off: &TaskOffsets) -> Option<(u32, u64, u32, u32)> {
    // SAFETY: reads go through bpf_probe_read_kernel.
    unsafe {
        let parent = read::<u64>(task, off.task_real_parent)?;
        let ppid = read::<u32>(parent, off.task_tgid)?;
        let start = read::<u64>(task, off.task_start_boottime)?;
        let cred = read::<u64>(task, off.task_cred)?;
        let euid = read::<u32>(cred, off.cred_euid)?;
        let egid = read::<u32>(cred, off.cred_egid)?;
        Some((ppid, start, euid, egid))
    }
}

/// `sched_process_fork(struct task_struct *parent, struct task_struct *child)`
#[btf_tracepoint(function = "sched_process_fork")]
pub fn sched_process_fork(ctx: BtfTracePointContext) -> u32 {
    let _ = try_fork(&ctx);
    0
}

#[inline(always)]
fn try_fork(ctx: &BtfTracePointContext) -> Option<()> {
    let off = CONFIG.get(0)?.task;
    let child: u64 = ctx.arg::<*const u8>(1) as u64;
    let pid_tgid = bpf_get_current_pid_tgid();
    // SAFETY: reads go through bpf_probe_read_kernel.
    let (child_tgid, child_tid, child_start) = unsafe {
        match (
            read::<u32>(child, off.task_tgid),
            read::<u32>(child, off.task_pid),
            read::<u64>(child, off.task_start_boottime),
        ) {
            (Some(a), Some(b), Some(c)) => (a, b, c),
            _ => {
                count_loss(loss::TASK_READ);
                warn!(ctx, "fork: child task fields unreadable; check the BTF offsets");
                return None;
            }
        }
    };
    // Threads share their parent's process entry: not a new process.
    if child_tgid == (pid_tgid >> 32) as u32 {
        return None;
    }
    let (clone_flags, nr) = clone_flags(pid_tgid as u32);
    let buf = scratch()?;
    // SAFETY: scratch is larger than header + fork body.
    unsafe {
        fill_header(buf, kind::FORK);
        let body = buf.add(HEADER_SIZE).cast::<ForkBody>();
        (*body).parent_pid = (pid_tgid >> 32) as u32;
        (*body).parent_tid = pid_tgid as u32;
        (*body).child_pid = child_tgid;
        (*body).child_tid = child_tid;
        (*body).child_start_boottime_ns = child_start;
        (*body).clone_flags = clone_flags;
        (*body).syscall_nr = nr;
        (*body).reserved = 0;
        submit(buf, HEADER_SIZE + FORK_BODY_SIZE);
    }
    Some(())
}

/// Clone flags of the parent's in-flight syscall, from its stashed arguments.
#[inline(always)]
fn clone_flags(tid: u32) -> (u64, i32) {
    // SAFETY: copied out at once.
    let Some(p) = (unsafe { PENDING.get(tid) }).copied() else {
        return (0, -1);
    };
    let Some(conf) = SYSCALLS.get(p.nr as u32) else {
        return (0, -1);
    };
    const SIGCHLD: u64 = 17;
    const CLONE_VM: u64 = 0x100;
    const CLONE_VFORK: u64 = 0x4000;
    let flags = match conf.clone_mode {
        clone_mode::ARG0 => p.args[0],
        clone_mode::CLONE3 => {
            let mut f: u64 = 0;
            // SAFETY: helper validates the user address.
            unsafe { bpf_probe_read_user((&raw mut f).cast(), 8, p.args[0] as *const _) };
            f
        }
        clone_mode::FORK => SIGCHLD,
        clone_mode::VFORK => CLONE_VM | CLONE_VFORK | SIGCHLD,
        _ => 0,
    };
    (flags, p.nr as i32)
}

/// `sched_process_exit(struct task_struct *p, ...)`
#[btf_tracepoint(function = "sched_process_exit")]
pub fn sched_process_exit(ctx: BtfTracePointContext) -> u32 {
    let _ = try_exit(&ctx);
    0
}

#[inline(always)]
fn try_exit(ctx: &BtfTracePointContext) -> Option<()> {
    let pid_tgid = bpf_get_current_pid_tgid();
    // Threads that die inside a traced syscall (exit_group from a sibling)
    // never reach sys_exit.
    let _ = PENDING.remove(pid_tgid as u32);
    if pid_tgid as u32 != (pid_tgid >> 32) as u32 {
        return None;
    }
    let off = CONFIG.get(0)?.task;
    let task: u64 = ctx.arg::<*const u8>(0) as u64;
    let buf = scratch()?;
    // SAFETY: scratch is larger than header + exit body.
    unsafe {
        fill_header(buf, kind::EXIT);
        let body = buf.add(HEADER_SIZE).cast::<ExitBody>();
        (*body).exit_code = read::<i32>(task, off.task_exit_code).unwrap_or(0);
        (*body).reserved = 0;
        (*body).start_boottime_ns = read::<u64>(task, off.task_start_boottime).unwrap_or(0);
        submit(buf, HEADER_SIZE + EXIT_BODY_SIZE);
    }
    Some(())
}
