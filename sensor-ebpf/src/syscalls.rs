//! Generic syscall tracing at syscall exit only, as Falco's probe does:
//! the result, the number and the six arguments are all in the task's
//! registers then (a syscall leaves its argument registers alone), strings
//! and socket addresses are read from user memory then (for accept and
//! recvfrom the kernel fills them in only then), one record per call.
//! A syscall that seccomp denies never reaches `sys_enter` but does reach
//! `sys_exit`: it is delivered like any other, with its errno.
//! A 32-bit (ia32) syscall is translated to the native number here, its
//! arguments read from the compat registers and `socketcall` unpacked.
//! Native syscalls come from the per-syscall ftrace events of the syscalls
//! wanted (`sys_exit_one`), the rest through the raw hook (`RAW_WANT`).

use aya_ebpf::helpers::generated::{
    bpf_get_current_task, bpf_get_current_task_btf, bpf_probe_read_kernel, bpf_task_pt_regs,
};
use aya_ebpf::{
    bindings::BPF_RB_FORCE_WAKEUP,
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid,
        generated::{bpf_probe_read_user, bpf_probe_read_user_str},
    },
    macros::{btf_tracepoint, map, tracepoint},
    maps::{Array, RingBuf},
    programs::{BtfTracePointContext, TracePointContext},
};
use sensor_common::{
    CompatExec, Config, EXTRA_WORDS, ExitTpConf, HEADER_SIZE, IA32_SOCKETCALL, LOCAL_SOCKADDR, MAX_DATA,
    MAX_IA32_SYSCALLS, MAX_SOCKADDR, MAX_STR, MAX_STRS, MAX_SYSCALLS, RAW_WANT_LEN, SYSCALL_BODY_SIZE, SyscallBody,
    SyscallConf, TaskOffsets, addr_mode, flags, kind, loss, raw_want, sock_fd, sysflags,
};

use crate::{
    maps::{CONFIG, IA32_SYSCALLS, SOCKETCALLS, SYSCALLS, count_loss},
    record::{fill_header, scratch, submit},
    task::read,
};

const STR_BASE: usize = HEADER_SIZE + SYSCALL_BODY_SIZE;

/// By raw syscall number: which calls the raw `sys_exit` hook records
/// (`raw_want::*` bits, written by the agent). Looked up before anything
/// else is read: a syscall nothing needs leaves after one array lookup.
#[map]
pub static RAW_WANT: Array<u8> = Array::with_max_entries(RAW_WANT_LEN, 0);

/// Field offsets of the per-syscall `syscalls:sys_exit_<name>` events.
#[map]
pub static EXIT_TP: Array<ExitTpConf> = Array::with_max_entries(1, 0);

/// 32-bit execs seen while the compat hook is off (`--compat-syscalls auto`).
#[map]
pub static COMPAT_EXECS: RingBuf = RingBuf::with_byte_size(4096, 0);

// The raw hook, in two attachments of the same logic: a BTF raw tracepoint
// (the registers come with the context, no per-hit copy into a trace
// buffer) and the classic tracepoint as the fallback where BTF ones fail to
// load. It records what `RAW_WANT` asks: the 32-bit syscalls (ftrace's
// per-syscall events never fire for those on x86-64), native syscalls
// without a per-syscall event, or every native one (`--native-syscalls raw`).

/// Offset of the syscall number in `struct pt_regs` (`orig_ax` on x86-64),
/// from this node's BTF, set by the agent at load time. In `.rodata`,
/// frozen before the programs load: the verifier knows its value, so the
/// BTF hook reads the register with one plain load of the typed `regs`
/// pointer instead of a `bpf_probe_read_kernel` call. That read and one
/// array lookup are all a syscall nothing needs costs.
#[unsafe(no_mangle)]
static REGS_NR_OFF: u32 = 0;

#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit_btf(ctx: BtfTracePointContext) -> u32 {
    let _ = try_sys_exit_btf(&ctx);
    0
}

#[inline(always)]
fn try_sys_exit_btf(ctx: &BtfTracePointContext) -> Option<()> {
    let regs: *const u8 = ctx.arg(0);
    if regs.is_null() {
        return None;
    }
    // SAFETY: a constant the agent wrote before load.
    let off = unsafe { core::ptr::read_volatile(&raw const REGS_NR_OFF) };
    // SAFETY: `regs` is the tracepoint's `struct pt_regs *` (BTF-typed, the
    // verifier checks the access against the struct and guards the load);
    // `off` is a member's offset from this kernel's BTF.
    let nr: i64 = unsafe { *(regs.add(off as usize).cast::<i64>()) };
    let want = raw_wanted(nr)?;
    let cfg = CONFIG.get(0)?;
    if (bpf_get_current_pid_tgid() >> 32) as u32 == cfg.agent_tgid {
        return None;
    }
    let ret: i64 = ctx.arg(1);
    raw_exit(cfg, regs as u64, nr, ret, want)
}

/// Benchmarks only (`SENSOR_BENCH_RAW_FLOOR=1`): what any program on the
/// raw `sys_exit` hook costs every syscall before it does anything.
#[btf_tracepoint(function = "sys_exit")]
pub fn sys_exit_floor(_ctx: BtfTracePointContext) -> u32 {
    0
}

#[tracepoint]
pub fn sys_exit(ctx: TracePointContext) -> u32 {
    let _ = try_sys_exit(&ctx);
    0
}

#[inline(always)]
fn try_sys_exit(ctx: &TracePointContext) -> Option<()> {
    let cfg = CONFIG.get(0)?;
    // SAFETY: offsets come from this kernel's tracepoint format file.
    let nr: i64 = unsafe { ctx.read_at(cfg.sys_exit_id_off as usize).ok()? };
    let want = raw_wanted(nr)?;
    if (bpf_get_current_pid_tgid() >> 32) as u32 == cfg.agent_tgid {
        return None;
    }
    // SAFETY: as above.
    let ret: i64 = unsafe { ctx.read_at(cfg.sys_exit_ret_off as usize).ok()? };
    let Some(regs) = current_regs() else {
        count_loss(loss::TASK_READ);
        return None;
    };
    raw_exit(cfg, regs, nr, ret, want)
}

/// The `RAW_WANT` bits of raw syscall `nr`; `None` when no bit is set.
#[inline(always)]
fn raw_wanted(nr: i64) -> Option<u8> {
    if nr < 0 || nr >= i64::from(RAW_WANT_LEN) {
        return None;
    }
    let w = *RAW_WANT.get(nr as u32)?;
    if w == 0 { None } else { Some(w) }
}

#[inline(always)]
fn raw_exit(cfg: &Config, regs: u64, nr: i64, ret: i64, want: u8) -> Option<()> {
    let compat = in_compat_syscall(cfg);
    if want & if compat { raw_want::COMPAT } else { raw_want::NATIVE } == 0 {
        return None;
    }
    exit_common(cfg, regs, nr, ret, compat)
}

/// One program for every attached `syscalls:sys_exit_<name>` event: only
/// the syscalls some consumer needs run it.
#[tracepoint]
pub fn sys_exit_one(ctx: TracePointContext) -> u32 {
    let _ = try_sys_exit_one(&ctx);
    0
}

#[inline(always)]
fn try_sys_exit_one(ctx: &TracePointContext) -> Option<()> {
    let cfg = CONFIG.get(0)?;
    if (bpf_get_current_pid_tgid() >> 32) as u32 == cfg.agent_tgid {
        return None;
    }
    // Where an architecture's ftrace events fire for 32-bit syscalls too
    // (x86-64's never do), those are the raw hook's, by their own numbers.
    if in_compat_syscall(cfg) {
        return None;
    }
    let tp = EXIT_TP.get(0)?;
    // SAFETY: offsets come from this kernel's tracepoint format files.
    let nr: i32 = unsafe { ctx.read_at(tp.nr_off as usize).ok()? };
    // SAFETY: as above.
    let ret: i64 = unsafe { ctx.read_at(tp.ret_off as usize).ok()? };
    let Some(regs) = current_regs() else {
        count_loss(loss::TASK_READ);
        return None;
    };
    exit_common(cfg, regs, i64::from(nr), ret, false)
}

/// `--compat-syscalls auto`: tells the agent of a 32-bit exec (the new
/// image's first return to user space is a compat one, `TS_COMPAT` set).
#[btf_tracepoint(function = "sched_process_exec")]
pub fn compat_exec_watch(_ctx: BtfTracePointContext) -> u32 {
    if let Some(cfg) = CONFIG.get(0) {
        if in_compat_syscall(cfg) {
            let pid_tgid = bpf_get_current_pid_tgid();
            let e = CompatExec {
                tgid: (pid_tgid >> 32) as u32,
                tid: pid_tgid as u32,
                comm: bpf_get_current_comm().unwrap_or([0; 16]),
            };
            let _ = COMPAT_EXECS.output::<CompatExec>(&e, u64::from(BPF_RB_FORCE_WAKEUP));
        }
    }
    0
}

/// The current task's user registers (`struct pt_regs *`).
#[inline(always)]
pub fn current_regs() -> Option<u64> {
    // SAFETY: both helpers take no user input; the result is checked.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as u64;
    if regs == 0 { None } else { Some(regs) }
}

/// Whether the current task is in a 32-bit (compat) syscall.
#[inline(always)]
fn in_compat_syscall(cfg: &Config) -> bool {
    if cfg.compat_status_off == u32::MAX {
        return false;
    }
    // A plain initialised word, not an Option: inlined into callers that
    // branch on the result, LLVM would otherwise test an unset register on
    // the failed read's path, which the verifier refuses.
    let mut status: u32 = 0;
    // SAFETY: the helper writes at most 4 bytes into `status` (zeroes on a
    // failed read); the offset is from BTF.
    unsafe {
        bpf_probe_read_kernel(
            (&raw mut status).cast(),
            4,
            (bpf_get_current_task() + u64::from(cfg.compat_status_off)) as *const _,
        )
    };
    status & cfg.compat_mask != 0
}

/// The native syscall number and the six arguments of the syscall `raw`
/// the task is in, and whether it is a compat one. `None` for a syscall
/// the table does not trace, or unreadable registers (counted).
#[inline(always)]
pub fn native_call(cfg: &Config, regs: u64, raw: i64) -> Option<(u32, [u64; 6], bool)> {
    native_call_as(cfg, regs, raw, in_compat_syscall(cfg))
}

/// [`native_call`] where the caller knows whether the syscall is a compat one.
#[inline(always)]
fn native_call_as(cfg: &Config, regs: u64, raw: i64, compat: bool) -> Option<(u32, [u64; 6], bool)> {
    if raw < 0 {
        return None;
    }
    if !compat {
        if raw >= i64::from(MAX_SYSCALLS) {
            return None;
        }
        let nr = raw as u32;
        // Untraced syscalls leave here, before any register is read (the
        // clone family stays: the fork program needs its flags).
        let conf = SYSCALLS.get(nr)?;
        if conf.flags & sysflags::EMIT == 0 && conf.clone_mode == 0 {
            return None;
        }
        let args = regs_args(regs, &cfg.regs_arg_off, false)?;
        return Some((nr, args, false));
    }
    if raw >= i64::from(MAX_IA32_SYSCALLS) {
        return None;
    }
    let mut args = regs_args(regs, &cfg.regs_compat_arg_off, true)?;
    let native = if raw as u32 == IA32_SOCKETCALL {
        // socketcall(call, unsigned int args[]): the real call's arguments
        // are 32-bit words in user memory.
        let call = args[0];
        let native = *SOCKETCALLS.get(call as u32)?;
        let mut words = [0u32; 6];
        // SAFETY: helper validates the user address.
        if unsafe { bpf_probe_read_user(words.as_mut_ptr().cast(), 24, args[1] as *const _) } < 0 {
            return None;
        }
        args = [
            u64::from(words[0]),
            u64::from(words[1]),
            u64::from(words[2]),
            u64::from(words[3]),
            u64::from(words[4]),
            u64::from(words[5]),
        ];
        native
    } else {
        *IA32_SYSCALLS.get(raw as u32)?
    };
    if native == 0 {
        return None;
    }
    Some((native - 1, args, true))
}

#[inline(always)]
fn regs_args(regs: u64, o: &[u32; 6], compat: bool) -> Option<[u64; 6]> {
    // SAFETY: reads through bpf_probe_read_kernel at offsets from this kernel's BTF.
    let r = unsafe {
        [
            read::<u64>(regs, o[0]),
            read::<u64>(regs, o[1]),
            read::<u64>(regs, o[2]),
            read::<u64>(regs, o[3]),
            read::<u64>(regs, o[4]),
            read::<u64>(regs, o[5]),
        ]
    };
    let mut out = [0u64; 6];
    let mut i = 0;
    while i < 6 {
        let Some(v) = r[i] else {
            count_loss(loss::TASK_READ);
            return None;
        };
        // A compat task's registers hold 32-bit values.
        out[i] = if compat { v & 0xffff_ffff } else { v };
        i += 1;
    }
    Some(out)
}

#[inline(always)]
fn exit_common(cfg: &Config, regs: u64, raw: i64, ret: i64, compat: bool) -> Option<()> {
    let (nr, args, compat) = native_call_as(cfg, regs, raw, compat)?;
    let conf = SYSCALLS.get(nr)?;
    if conf.flags & sysflags::EMIT == 0 {
        return None;
    }
    if conf.flags & sysflags::EMIT_ON_ERROR_ONLY != 0 && ret >= 0 {
        return None;
    }
    let buf = scratch()?;
    // SAFETY: buf is this CPU's scratch buffer of MAX_RECORD bytes; every
    // write below is bounded by the checks next to it.
    unsafe { emit(buf, nr, ret, &args, conf, compat, cfg) };
    Some(())
}

#[inline(always)]
unsafe fn emit(buf: *mut u8, nr: u32, ret: i64, args: &[u64; 6], conf: &SyscallConf, compat: bool, cfg: &Config) {
    // SAFETY: see caller.
    unsafe {
        let hdr = fill_header(buf, kind::SYSCALL);
        let body = buf.add(HEADER_SIZE).cast::<SyscallBody>();
        (*body).nr = nr;
        (*body).ret = ret;
        (*body).args = *args;
        (*body).reserved = 0;
        (*body).data_len = 0;
        (*body).pad = 0;
        (*body).extra = [0; EXTRA_WORDS];
        (*body).addr_len = 0;

        let mut hflags = if compat { flags::COMPAT } else { 0 };
        let mut off = STR_BASE;
        let mut slot = 0;
        while slot < 3 {
            let a = conf.str_args[slot];
            let mut len = 0u16;
            if a != 0 && off <= STR_BASE + 2 * MAX_STR {
                let ptr = arg(args, a - 1);
                if ptr != 0 {
                    let n = bpf_probe_read_user_str(buf.add(off).cast(), MAX_STR as u32, ptr as *const _);
                    if n < 0 {
                        hflags |= flags::READ_FAULT;
                    } else if n > 0 {
                        if n as usize >= MAX_STR {
                            hflags |= flags::TRUNCATED;
                        }
                        // Drop the NUL the helper counted.
                        len = ((n as usize - 1) & (MAX_STR - 1)) as u16;
                    }
                }
            }
            (*body).str_lens[slot] = len;
            off += len as usize;
            slot += 1;
        }

        // The data the syscall moved: its first MAX_DATA bytes, after the
        // strings (recvfrom's filled buffer is only there at exit).
        if conf.data_arg != 0 && ret > 0 && off <= STR_BASE + MAX_STRS * MAX_STR {
            let ptr = arg(args, conf.data_arg - 1);
            let n = if ret as u64 > MAX_DATA as u64 { MAX_DATA as u32 } else { ret as u32 };
            if ptr != 0 && n > 0 && n <= MAX_DATA as u32 {
                if bpf_probe_read_user(buf.add(off).cast(), n, ptr as *const _) == 0 {
                    // Past the snaplen is Falco's behaviour too: not a truncation.
                    (*body).data_len = n as u16;
                    off += n as usize;
                } else {
                    hflags |= flags::READ_FAULT;
                }
            }
        }

        read_addr(body, args, conf, compat, &mut hflags);
        if conf.flags & sysflags::CREDS != 0 {
            read_caps(body, &cfg.task);
        } else {
            read_extra(body, args, conf, &mut hflags);
        }
        (*body).local = [0; LOCAL_SOCKADDR];
        let fd = match conf.sock_fd {
            sock_fd::ARG0 => args[0] as i32 as i64,
            sock_fd::RET => ret,
            _ => -1,
        };
        if fd >= 0 {
            read_local(body, fd as u64, &cfg.task);
        }

        (*hdr).flags = hflags;
        submit(buf, off);
    }
}

/// The socket's own address, through `current->files->fdt->fd[fd]->
/// private_data->sk`, written as a `sockaddr_in`/`sockaddr_in6`.
#[inline(always)]
unsafe fn read_local(body: *mut SyscallBody, fd: u64, off: &TaskOffsets) {
    // SAFETY: every kernel read goes through bpf_probe_read_kernel; body
    // points into the scratch buffer.
    unsafe {
        let task = bpf_get_current_task();
        let Some(files) = read::<u64>(task, off.task_files) else { return };
        let Some(fdt) = read::<u64>(files, off.files_fdt) else { return };
        let Some(max) = read::<u32>(fdt, off.fdtable_max_fds) else { return };
        if fd >= u64::from(max) {
            return;
        }
        let Some(fds) = read::<u64>(fdt, off.fdtable_fd) else { return };
        let Some(file) = read::<u64>(fds + fd * 8, 0) else { return };
        let Some(sock) = read::<u64>(file, off.file_private_data) else { return };
        let Some(sk) = read::<u64>(sock, off.socket_sk) else { return };
        let Some(family) = read::<u16>(sk, off.sk_family) else { return };
        let Some(port) = read::<u16>(sk, off.sk_num) else { return };
        let local = &mut (*body).local;
        match family {
            AF_INET => {
                let Some(addr) = read::<[u8; 4]>(sk, off.sk_rcv_saddr) else { return };
                local[4..8].copy_from_slice(&addr);
            }
            AF_INET6 if off.sk_v6_rcv_saddr != u32::MAX => {
                let Some(addr) = read::<[u8; 16]>(sk, off.sk_v6_rcv_saddr) else { return };
                local[8..24].copy_from_slice(&addr);
            }
            _ => return,
        }
        local[0..2].copy_from_slice(&family.to_ne_bytes());
        // skc_num is in host order; a sockaddr holds the port big-endian.
        local[2..4].copy_from_slice(&port.to_be_bytes());
    }
}

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

#[inline(always)]
fn arg(args: &[u64; 6], i: u8) -> u64 {
    match i {
        0 => args[0],
        1 => args[1],
        2 => args[2],
        3 => args[3],
        4 => args[4],
        5 => args[5],
        _ => 0,
    }
}

#[inline(always)]
unsafe fn read_addr(body: *mut SyscallBody, args: &[u64; 6], conf: &SyscallConf, compat: bool, hflags: &mut u16) {
    let (ptr, len) = match conf.addr_mode {
        addr_mode::PTR_LEN => (arg(args, conf.addr_arg), arg(args, conf.len_arg)),
        addr_mode::PTR_LENPTR => {
            let lenp = arg(args, conf.len_arg);
            if lenp == 0 {
                return;
            }
            let mut l: u32 = 0;
            // SAFETY: helper validates the user address.
            let r = unsafe { bpf_probe_read_user((&raw mut l).cast(), 4, lenp as *const _) };
            if r < 0 {
                *hflags |= flags::READ_FAULT;
                return;
            }
            (arg(args, conf.addr_arg), l as u64)
        }
        addr_mode::MSGHDR => {
            let msg = arg(args, conf.addr_arg);
            if msg == 0 {
                return;
            }
            // struct user_msghdr starts { void *msg_name; int msg_namelen; }
            // (uapi); struct compat_msghdr with 32-bit words.
            let mut head = [0u64; 2];
            // SAFETY: helper validates the user address.
            let r = unsafe { bpf_probe_read_user(head.as_mut_ptr().cast(), 16, msg as *const _) };
            if r < 0 {
                *hflags |= flags::READ_FAULT;
                return;
            }
            if compat { (head[0] & 0xffff_ffff, head[0] >> 32) } else { (head[0], head[1] & 0xffff_ffff) }
        }
        _ => return,
    };
    if ptr == 0 || len == 0 {
        return;
    }
    let len = if len > MAX_SOCKADDR as u64 { MAX_SOCKADDR as u64 } else { len };
    // SAFETY: len ≤ sizeof addr; helper validates the user address.
    let r = unsafe { bpf_probe_read_user((*body).addr.as_mut_ptr().cast(), len as u32, ptr as *const _) };
    if r < 0 {
        *hflags |= flags::READ_FAULT;
        return;
    }
    // SAFETY: body points into the scratch buffer.
    unsafe { (*body).addr_len = len as u16 };
}

#[inline(always)]
unsafe fn read_extra(body: *mut SyscallBody, args: &[u64; 6], conf: &SyscallConf, hflags: &mut u16) {
    if conf.extra_arg == 0 {
        return;
    }
    let ptr = arg(args, conf.extra_arg - 1);
    if ptr == 0 {
        return;
    }
    let len = conf.extra_len as u32;
    let len = if len > (EXTRA_WORDS * 8) as u32 { (EXTRA_WORDS * 8) as u32 } else { len };
    if len == 0 {
        return;
    }
    // SAFETY: len ≤ sizeof extra; helper validates the user address.
    let r = unsafe { bpf_probe_read_user((*body).extra.as_mut_ptr().cast(), len, ptr as *const _) };
    if r < 0 {
        *hflags |= flags::READ_FAULT;
    }
}

/// The task's capabilities after the syscall (capset: what the kernel
/// applied), as Falco reports them: `extra` = effective, permitted, inheritable.
#[inline(always)]
unsafe fn read_caps(body: *mut SyscallBody, off: &TaskOffsets) {
    // SAFETY: probe reads; body points into the scratch buffer.
    unsafe {
        let Some(cred) = read::<u64>(bpf_get_current_task(), off.task_cred) else { return };
        (*body).extra = [
            read::<u64>(cred, off.cred_cap_effective).unwrap_or(0),
            read::<u64>(cred, off.cred_cap_permitted).unwrap_or(0),
            read::<u64>(cred, off.cred_cap_inheritable).unwrap_or(0),
        ];
    }
}
