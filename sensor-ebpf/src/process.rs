//! Process lifecycle from the scheduler's BTF tracepoints. These are always
//! on and not filtered by pid: the agent's process table depends on them.

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid,
        generated::{bpf_probe_read_kernel, bpf_probe_read_kernel_str, bpf_probe_read_user, bpf_send_signal},
    },
    macros::btf_tracepoint,
    programs::BtfTracePointContext,
};
use aya_log_ebpf::warn;
use sensor_common::{
    CGROUP_NAME_LEN, EXEC_BODY_SIZE, EXIT_BODY_SIZE, ExecBody, ExitBody, FORK_BODY_SIZE, ForkBody, HEADER_SIZE,
    KILL_BASENAME_LEN, KILL_PATH_LEN, KILL_RATE_LIMITED, KillBasename, MAX_ARGV, MAX_ENV, MAX_PATH, MAX_STR,
    TaskOffsets, clone_mode, exe_flags, flags, kind, loss,
};

use crate::{
    maps::{
        CONFIG, KILL_BASENAMES, KILL_KEY, KILL_NAMES, KILL_PATHS, PENDING_KILL, RESPONSE, SYSCALLS, count_loss,
        in_scope, take_kill_token,
    },
    path::{kpath, walk},
    record::{fill_header, scratch, submit, submit_waking},
    syscalls::{current_regs, native_call},
    task::read,
};

const EXEC_STR_BASE: usize = HEADER_SIZE + EXEC_BODY_SIZE;

/// `sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`
#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec(ctx: BtfTracePointContext) -> u32 {
    let _ = try_exec(&ctx);
    0
}

const ARGV_END: usize = EXEC_STR_BASE + MAX_STR + MAX_ARGV;
const ENV_END: usize = ARGV_END + MAX_ENV;
const EXEPATH_END: usize = ENV_END + MAX_PATH;

const SIGKILL: u32 = 9;

/// Response: in enforce mode, SIGKILL the task that just exec'd when a
/// `kill_process` rule names its new image. The signal is pending when
/// the exec returns to user space, so the new image never runs an
/// instruction. Never the agent itself nor pid 1 (the agent keeps other
/// allow-listed names out of the map). Returns (rule id, signal result).
#[inline(always)]
fn kill_at_exec(agent_tgid: u32) -> (u32, i32) {
    let Some(conf) = RESPONSE.get(0) else { return (0, 0) };
    if conf.enforce == 0 {
        return (0, 0);
    }
    // Killed by path a moment ago, by the program before this one.
    if let Some(p) = PENDING_KILL.get_ptr_mut(0) {
        // SAFETY: per-CPU slot, written only by this CPU's programs.
        unsafe {
            if (*p)[0] == bpf_get_current_pid_tgid() && (*p)[1] != 0 {
                let k = (*p)[1];
                (*p)[0] = 0;
                (*p)[1] = 0;
                return ((k >> 32) as u32, k as u32 as i32);
            }
        }
    }
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    if tgid == agent_tgid || tgid == 1 {
        return (0, 0);
    }
    let Ok(comm) = bpf_get_current_comm() else { return (0, 0) };
    // SAFETY: a map lookup; the value is copied out at once.
    let Some(rule) = (unsafe { KILL_NAMES.get(&comm) }).copied() else { return (0, 0) };
    if !in_scope(conf) {
        return (0, 0);
    }
    if !take_kill_token(conf.kills_per_minute) {
        return (rule, KILL_RATE_LIMITED);
    }
    // SAFETY: a helper call on the current task.
    let ret = unsafe { bpf_send_signal(SIGKILL) } as i32;
    (rule, ret)
}

/// Response by path: a program of its own on the same tracepoint,
/// attached before [`sched_process_exec`] (the exec program's verifier
/// budget has no room for a second path walk). It walks the new image's
/// path, and when a `kill_process` rule names it, sends SIGKILL and leaves
/// (pid_tgid, rule, result) in `PENDING_KILL` for the exec record.
#[btf_tracepoint(function = "sched_process_exec")]
pub fn sched_process_exec_kill_path(ctx: BtfTracePointContext) -> u32 {
    let _ = try_kill_path(&ctx);
    0
}

#[inline(always)]
fn try_kill_path(ctx: &BtfTracePointContext) -> Option<()> {
    let conf = RESPONSE.get(0)?;
    if conf.enforce == 0 || conf.paths == 0 {
        return None;
    }
    let cfg = CONFIG.get(0)?;
    let off = cfg.task;
    let task: u64 = ctx.arg::<*const u8>(0) as u64;
    let bprm: u64 = ctx.arg::<*const u8>(2) as u64;
    // SAFETY: probe reads; the walk writes only its per-CPU scratch.
    unsafe {
        let fs = read::<u64>(task, off.task_fs)?;
        let root = kpath(fs + u64::from(off.fs_root), &off)?;
        let file = read::<u64>(bprm, off.binprm_file)?;
        let exe = kpath(file + u64::from(off.file_f_path), &off)?;
        // The walk only for a file named as some rule's path ends: most
        // execs leave after one name read and one lookup.
        let name = read::<u64>(exe.dentry, off.dentry_name)?;
        let mut base: KillBasename = [0u8; KILL_BASENAME_LEN];
        if bpf_probe_read_kernel_str(base.as_mut_ptr().cast(), KILL_BASENAME_LEN as u32, name as *const _) <= 1 {
            return None;
        }
        KILL_BASENAMES.get(&base)?;
        let (src, len, partial) = walk(exe, root, &off)?;
        if partial {
            return None;
        }
        let k = kill_by_path(src as u64, len as u64, u64::from(cfg.agent_tgid));
        if k != 0 {
            let pending = PENDING_KILL.get_ptr_mut(0)?;
            (*pending)[0] = bpf_get_current_pid_tgid();
            (*pending)[1] = k;
        }
    }
    Some(())
}

/// Sends SIGKILL when the `len` bytes at `src` (a kernel address) are a
/// `KILL_PATHS` key; (rule << 32 | result), or 0.
#[inline(never)]
fn kill_by_path(src: u64, len: u64, agent_tgid: u64) -> u64 {
    if len == 0 || len >= KILL_PATH_LEN as u64 {
        return 0;
    }
    let tgid = bpf_get_current_pid_tgid() >> 32;
    if tgid == agent_tgid || tgid == 1 {
        return 0;
    }
    let Some(key) = KILL_KEY.get_ptr_mut(0) else { return 0 };
    // SAFETY: the per-CPU key buffer is ours for this program's run; the
    // read is bounded by the mask below its size.
    unsafe {
        *key = [0u8; KILL_PATH_LEN];
        if bpf_probe_read_kernel(key.cast(), (len & (KILL_PATH_LEN as u64 - 1)) as u32, src as *const _) != 0 {
            return 0;
        }
        let Some(rule) = KILL_PATHS.get(&*key).copied() else { return 0 };
        let Some(conf) = RESPONSE.get(0) else { return 0 };
        if !in_scope(conf) {
            return 0;
        }
        let ret =
            if take_kill_token(conf.kills_per_minute) { bpf_send_signal(SIGKILL) as i32 } else { KILL_RATE_LIMITED };
        (u64::from(rule) << 32) | u64::from(ret as u32)
    }
}

#[inline(always)]
fn try_exec(ctx: &BtfTracePointContext) -> Option<()> {
    let cfg = CONFIG.get(0)?;
    let (kill_rule, kill_ret) = kill_at_exec(cfg.agent_tgid);
    let off = cfg.task;
    let task: u64 = ctx.arg::<*const u8>(0) as u64;
    let old_tid: i32 = ctx.arg(1);
    let bprm: u64 = ctx.arg::<*const u8>(2) as u64;
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
        (*body).env_len = 0;
        (*body).env_full_len = 0;
        (*body).exepath_len = 0;
        (*body).cwd_len = 0;
        (*body).kill_rule = kill_rule;
        (*body).kill_ret = kill_ret;

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
        let (len, full) =
            user_area(buf, pos, EXEC_STR_BASE + MAX_STR, mm, off.mm_arg_start, off.mm_arg_end, &mut hflags);
        (*body).argv_len = len as u16;
        (*body).argv_full_len = full;
        pos += len;
        let (len, full) = user_area(buf, pos, ARGV_END, mm, off.mm_env_start, off.mm_env_end, &mut hflags);
        (*body).env_len = len as u16;
        (*body).env_full_len = full;
        pos += len;

        let mut xflags = 0u16;
        let fs = read::<u64>(task, off.task_fs).unwrap_or(0);
        let root = kpath(fs + u64::from(off.fs_root), &off);
        let file = read::<u64>(bprm, off.binprm_file).unwrap_or(0);
        if let (Some(root), Some(exe)) = (root, kpath(file + u64::from(off.file_f_path), &off))
            && let Some((src, len, partial)) = walk(exe, root, &off)
            && pos <= ENV_END
        {
            if bpf_probe_read_kernel(buf.add(pos).cast(), (len & (MAX_PATH - 1)) as u32, src.cast()) == 0 {
                (*body).exepath_len = len as u16;
                pos += len & (MAX_PATH - 1);
            }
            if partial {
                xflags |= exe_flags::EXEPATH_PARTIAL;
            }
        }
        if let (Some(root), Some(pwd)) = (root, kpath(fs + u64::from(off.fs_pwd), &off))
            && let Some((src, len, partial)) = walk(pwd, root, &off)
            && pos <= EXEPATH_END
        {
            if bpf_probe_read_kernel(buf.add(pos).cast(), (len & (MAX_PATH - 1)) as u32, src.cast()) == 0 {
                (*body).cwd_len = len as u16;
                pos += len & (MAX_PATH - 1);
            }
            if partial {
                xflags |= exe_flags::CWD_PARTIAL;
            }
        }
        exe_facts(task, file, &off, body, &mut xflags);
        (*body).exe_flags = xflags;
        (*body).tty = tty(task, &off);
        (*body).loginuid = if off.task_loginuid == u32::MAX {
            u32::MAX
        } else {
            read::<u32>(task, off.task_loginuid).unwrap_or(u32::MAX)
        };
        cgroup_names(task, &off, body);
        (*hdr).flags = hflags;
        let wake = RESPONSE.get(0).is_some_and(|r| r.wake_exec != 0);
        submit_waking(buf, pos, wake);
    }
    Some(())
}

/// Copies the user memory `[mm->start, mm->end)` (argv or environment area)
/// to `buf + pos`, at most `MAX_ARGV` bytes. Returns the bytes copied and
/// the area's full length.
#[inline(always)]
unsafe fn user_area(
    buf: *mut u8,
    pos: usize,
    limit: usize,
    mm: u64,
    start_off: u32,
    end_off: u32,
    hflags: &mut u16,
) -> (usize, u32) {
    // SAFETY: probe reads; the write is bounded by `pos <= limit` and the
    // length mask, and `limit + MAX_ARGV` is inside the scratch buffer.
    unsafe {
        let start = read::<u64>(mm, start_off).unwrap_or(0);
        let end = read::<u64>(mm, end_off).unwrap_or(0);
        if start == 0 || end <= start {
            return (0, 0);
        }
        let full = end - start;
        let mut len = full;
        if len > MAX_ARGV as u64 {
            len = MAX_ARGV as u64;
            *hflags |= flags::TRUNCATED;
        }
        if pos > limit || len == 0 || len > MAX_ARGV as u64 {
            return (0, full as u32);
        }
        let r = bpf_probe_read_user(buf.add(pos).cast(), len as u32, start as *const _);
        if r < 0 {
            *hflags |= flags::READ_FAULT;
            return (0, full as u32);
        }
        (len as usize, full as u32)
    }
}

/// The executable's inode facts and the task's credentials, for
/// `proc.is_exe_writable`, `proc.is_exe_upper_layer`,
/// `proc.is_exe_from_memfd` and `thread.cap_*`.
#[inline(always)]
unsafe fn exe_facts(task: u64, file: u64, off: &TaskOffsets, body: *mut ExecBody, xflags: &mut u16) {
    const OVERLAYFS_SUPER_MAGIC: u64 = 0x794c_7630;
    const SB_RDONLY: u64 = 1;
    const S_IMMUTABLE: u32 = 1 << 3;
    // SAFETY: probe reads; body points into the scratch buffer.
    unsafe {
        (*body).exe_mode = 0;
        (*body).exe_uid = u32::MAX;
        (*body).exe_gid = u32::MAX;
        (*body).fsuid = u32::MAX;
        (*body).fsgid = u32::MAX;
        (*body).cap_inheritable = 0;
        (*body).cap_permitted = 0;
        (*body).cap_effective = 0;
        if let Some(cred) = read::<u64>(task, off.task_cred)
            && let (Some(fsuid), Some(fsgid), Some(ci), Some(cp), Some(ce)) = (
                read::<u32>(cred, off.cred_fsuid),
                read::<u32>(cred, off.cred_fsgid),
                read::<u64>(cred, off.cred_cap_inheritable),
                read::<u64>(cred, off.cred_cap_permitted),
                read::<u64>(cred, off.cred_cap_effective),
            )
        {
            (*body).fsuid = fsuid;
            (*body).fsgid = fsgid;
            (*body).cap_inheritable = ci;
            (*body).cap_permitted = cp;
            (*body).cap_effective = ce;
            *xflags |= exe_flags::CREDS_KNOWN;
        }
        let Some(inode) = read::<u64>(file, off.file_f_inode) else { return };
        if let (Some(mode), Some(uid), Some(gid), Some(iflags)) = (
            read::<u16>(inode, off.inode_mode),
            read::<u32>(inode, off.inode_uid),
            read::<u32>(inode, off.inode_gid),
            read::<u32>(inode, off.inode_flags),
        ) {
            (*body).exe_mode = u32::from(mode);
            (*body).exe_uid = uid;
            (*body).exe_gid = gid;
            *xflags |= exe_flags::INODE_KNOWN;
            if iflags & S_IMMUTABLE != 0 {
                *xflags |= exe_flags::IMMUTABLE;
            }
        }
        if let Some(sb) = read::<u64>(inode, off.inode_sb) {
            if read::<u64>(sb, off.sb_flags).unwrap_or(0) & SB_RDONLY != 0 {
                *xflags |= exe_flags::SB_RDONLY;
            }
            if read::<u64>(sb, off.sb_magic) == Some(OVERLAYFS_SUPER_MAGIC) {
                *xflags |= exe_flags::OVERLAY;
                // The overlay inode is the dentry's, not the file's (which
                // may be the real, underlying one).
                let dentry = read::<u64>(file, off.file_f_path + off.path_dentry).unwrap_or(0);
                let vfs_inode = read::<u64>(dentry, off.dentry_inode).unwrap_or(0);
                if off.ovl_upper_from_inode != u32::MAX
                    && let Some(upper) = read::<u64>(vfs_inode, off.ovl_upper_from_inode)
                    && let Some(upper_inode) = read::<u64>(upper, off.dentry_inode)
                    && read::<u64>(upper_inode, off.inode_ino).unwrap_or(0) != 0
                {
                    *xflags |= exe_flags::UPPER_LAYER;
                }
            }
        }
        // memfd: a lone dentry named `memfd:...`.
        if let Some(dentry) = read::<u64>(file, off.file_f_path + off.path_dentry)
            && read::<u64>(dentry, off.dentry_parent) == Some(dentry)
            && let Some(name) = read::<u64>(dentry, off.dentry_name)
            && let Some(head) = read::<[u8; 6]>(name, 0)
            && head == *b"memfd:"
        {
            *xflags |= exe_flags::MEMFD;
        }
    }
}

/// The controlling terminal's device number, encoded as /proc/PID/stat's
/// `tty_nr` (`new_encode_dev(MKDEV(major, minor_start) + index)`); 0 without one.
#[inline(always)]
unsafe fn tty(task: u64, off: &TaskOffsets) -> u32 {
    // SAFETY: probe reads.
    unsafe {
        let Some(signal) = read::<u64>(task, off.task_signal) else { return 0 };
        let Some(tty) = read::<u64>(signal, off.signal_tty) else { return 0 };
        let (Some(index), Some(driver)) = (read::<i32>(tty, off.tty_index), read::<u64>(tty, off.tty_driver)) else {
            return 0;
        };
        let (Some(major), Some(minor_start)) =
            (read::<i32>(driver, off.tty_driver_major), read::<i32>(driver, off.tty_driver_minor_start))
        else {
            return 0;
        };
        let minor = (minor_start + index) as u32;
        (minor & 0xff) | ((major as u32) << 8) | ((minor & !0xff) << 12)
    }
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
    let (clone_flags, nr) = clone_flags().unwrap_or((0, -1));
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

/// Clone flags of the parent's in-flight syscall, from its registers (this
/// tracepoint fires inside that syscall, in the parent).
#[inline(always)]
fn clone_flags() -> Option<(u64, i32)> {
    let cfg = CONFIG.get(0)?;
    let regs = current_regs()?;
    // SAFETY: probe read at an offset from BTF.
    let raw: i64 = unsafe { read::<i64>(regs, cfg.regs_nr_off)? };
    let (nr, args, _) = native_call(cfg, regs, raw)?;
    let conf = SYSCALLS.get(nr)?;
    const SIGCHLD: u64 = 17;
    const CLONE_VM: u64 = 0x100;
    const CLONE_VFORK: u64 = 0x4000;
    let flags = match conf.clone_mode {
        clone_mode::ARG0 => args[0],
        clone_mode::CLONE3 => {
            let mut f: u64 = 0;
            // SAFETY: helper validates the user address.
            unsafe { bpf_probe_read_user((&raw mut f).cast(), 8, args[0] as *const _) };
            f
        }
        clone_mode::FORK => SIGCHLD,
        clone_mode::VFORK => CLONE_VM | CLONE_VFORK | SIGCHLD,
        _ => return None,
    };
    Some((flags, nr as i32))
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
