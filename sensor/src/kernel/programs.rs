//! Loading the kernel programs: layout facts from this node, the syscall
//! table, then attachment. Every failure names the program or map at fault.

use std::collections::HashSet;
use std::path::Path;

use aya::maps::{Array, MapError, PerCpuArray};
use aya::programs::{BtfTracePoint, ProgramError, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};
use sensor_common::{Config, SyscallConf, loss, sysflags};

use crate::kernel::btf_offsets::{self, BtfError};
use crate::kernel::syscall_table::{self, Shape};
use crate::kernel::tracefs::{self, FormatError};

/// The eBPF object, built by build.rs and embedded: one file to ship.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/sensor"));

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("kernel BTF")]
    Btf(#[from] BtfError),
    #[error("tracepoint format")]
    Format(#[from] FormatError),
    #[error("cannot parse kernel BTF for program loading")]
    AyaBtf(#[source] aya::BtfError),
    #[error("loading the eBPF object failed (is this root, kernel ≥ 5.8 with BTF?)")]
    Object(#[source] aya::EbpfError),
    #[error("program {name}: {action} failed")]
    Program {
        name: &'static str,
        action: &'static str,
        #[source]
        source: ProgramError,
    },
    #[error("map {name}: {action} failed")]
    Map {
        name: &'static str,
        action: &'static str,
        #[source]
        source: MapError,
    },
    #[error("map {name} missing from the eBPF object")]
    MissingMap { name: &'static str },
    #[error("program {name} missing from the eBPF object")]
    MissingProgram { name: &'static str },
    #[error("BTF syscall hooks need a pt_regs mapping, which this architecture ({arch}) lacks")]
    NoRegsMapping { arch: &'static str },
    #[error("ring buffer size {bytes} must be a power of two of at least 4096 bytes")]
    RingSize { bytes: u32 },
}

/// Which event types the kernel emits. exec, fork and exit are always on.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `None`: every syscall in the table.
    pub syscalls: Option<HashSet<&'static str>>,
    /// Leave the DNS programs on the packet path off.
    pub no_dns: bool,
}

/// How syscalls are hooked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SyscallHooks {
    /// BTF raw tracepoints where they load, else classic ones.
    #[default]
    Auto,
    /// BTF raw tracepoints only (fail if they do not load).
    Btf,
    /// Classic `raw_syscalls` tracepoints.
    Classic,
}

pub struct Options {
    pub ring_bytes: u32,
    pub agent_tgid: u32,
    pub selection: Selection,
    pub hooks: SyscallHooks,
    /// The cgroup v2 root the DNS programs attach to; `None`: found at run time.
    pub cgroup_root: Option<std::path::PathBuf>,
}

pub struct Loaded {
    pub ebpf: Ebpf,
    /// Size of the `EVENTS` ring.
    pub ring_bytes: u32,
    /// The syscall hooks in use: `btf` or `classic`.
    pub hooks: &'static str,
    /// Where the DNS programs are attached, or why they are not.
    pub dns: Result<std::path::PathBuf, String>,
}

fn map_err(name: &'static str, action: &'static str) -> impl FnOnce(MapError) -> LoadError {
    move |source| LoadError::Map { name, action, source }
}

fn prog_err(name: &'static str, action: &'static str) -> impl FnOnce(ProgramError) -> LoadError {
    move |source| LoadError::Program { name, action, source }
}

pub fn load(opts: &Options) -> Result<Loaded, LoadError> {
    if opts.ring_bytes < 4096 || !opts.ring_bytes.is_power_of_two() {
        return Err(LoadError::RingSize { bytes: opts.ring_bytes });
    }
    let kbtf = btf_offsets::KernelBtf::open(Path::new(btf_offsets::VMLINUX))?;
    let task = kbtf.task_offsets()?;
    let root = tracefs::root()?;
    let regs = kbtf.regs_offsets()?;
    let r = regs.unwrap_or_default();
    let (compat_status_off, compat_mask) = kbtf.compat_test().unwrap_or((u32::MAX, 0));
    // The parsed vmlinux BTF is tens of MiB: gone before aya parses its own.
    drop(kbtf);
    let cfg = Config {
        agent_tgid: opts.agent_tgid,
        sys_exit_id_off: tracefs::field_offset(&root, "raw_syscalls", "sys_exit", "id")?,
        sys_exit_ret_off: tracefs::field_offset(&root, "raw_syscalls", "sys_exit", "ret")?,
        regs_nr_off: r.nr,
        regs_arg_off: r.args,
        regs_compat_arg_off: r.compat_args,
        compat_status_off,
        compat_mask,
        wakeup_bytes: opts.ring_bytes / 8,
        reserved: 0,
        task,
    };
    if regs.is_none() {
        // Arguments are read from the registers at exit, on both hook kinds.
        return Err(LoadError::NoRegsMapping { arch: std::env::consts::ARCH });
    }

    let mut ebpf =
        EbpfLoader::new().map_max_entries("EVENTS", opts.ring_bytes).load(OBJECT).map_err(LoadError::Object)?;

    {
        let m = ebpf.map_mut("CONFIG").ok_or(LoadError::MissingMap { name: "CONFIG" })?;
        let mut arr: Array<_, Config> = Array::try_from(m).map_err(map_err("CONFIG", "open"))?;
        arr.set(sensor_common::CONFIG_KEY, cfg, 0).map_err(map_err("CONFIG", "write"))?;
    }
    write_syscalls(&mut ebpf, &opts.selection)?;
    write_compat_tables(&mut ebpf)?;

    let btf = Btf::from_sys_fs().map_err(LoadError::AyaBtf)?;
    // The response's path program first: it runs before the exec program
    // on the same tracepoint, which reports its kill.
    let exec_progs: [(&'static str, &str); 4] = [
        ("sched_process_exec_kill_path", "sched_process_exec"),
        ("sched_process_exec", "sched_process_exec"),
        ("sched_process_fork", "sched_process_fork"),
        ("sched_process_exit", "sched_process_exit"),
    ];
    for (name, tp) in exec_progs {
        let p: &mut BtfTracePoint = ebpf
            .program_mut(name)
            .ok_or(LoadError::MissingProgram { name })?
            .try_into()
            .map_err(prog_err(name, "cast"))?;
        p.load(tp, &btf).map_err(prog_err(name, "load"))?;
        p.attach().map_err(prog_err(name, "attach"))?;
    }
    let hooks = if opts.hooks == SyscallHooks::Classic {
        attach_classic_syscalls(&mut ebpf)?;
        "classic"
    } else {
        match attach_btf_syscalls(&mut ebpf, &btf) {
            Ok(()) => "btf",
            Err(e) if opts.hooks == SyscallHooks::Auto => {
                log::warn!("BTF syscall hook unavailable ({e}); using the classic tracepoint");
                attach_classic_syscalls(&mut ebpf)?;
                "classic"
            }
            Err(e) => return Err(e),
        }
    };
    let dns = if opts.selection.no_dns {
        Err("not selected".to_owned())
    } else {
        super::dns_hook::cgroup2_root(opts.cgroup_root.as_deref())
            .and_then(|root| super::dns_hook::attach(&mut ebpf, &root).map(|()| root))
            .map_err(|e| {
                let text = crate::error_chain(&e);
                log::warn!("DNS capture off: {text}");
                text
            })
    };
    Ok(Loaded { ebpf, ring_bytes: opts.ring_bytes, hooks, dns })
}

fn attach_btf_syscalls(ebpf: &mut Ebpf, btf: &Btf) -> Result<(), LoadError> {
    let name = "sys_exit_btf";
    let p: &mut BtfTracePoint =
        ebpf.program_mut(name).ok_or(LoadError::MissingProgram { name })?.try_into().map_err(prog_err(name, "cast"))?;
    p.load("sys_exit", btf).map_err(prog_err(name, "load"))?;
    p.attach().map_err(prog_err(name, "attach"))?;
    Ok(())
}

fn attach_classic_syscalls(ebpf: &mut Ebpf) -> Result<(), LoadError> {
    let name = "sys_exit";
    let p: &mut TracePoint =
        ebpf.program_mut(name).ok_or(LoadError::MissingProgram { name })?.try_into().map_err(prog_err(name, "cast"))?;
    p.load().map_err(prog_err(name, "load"))?;
    p.attach("raw_syscalls", name).map_err(prog_err(name, "attach"))?;
    Ok(())
}

/// The i386 → native and `socketcall` → native translations (x86-64).
fn write_compat_tables(ebpf: &mut Ebpf) -> Result<(), LoadError> {
    #[cfg(target_arch = "x86_64")]
    {
        for (name, pairs) in
            [("IA32_SYSCALLS", syscall_table::ia32::table()), ("SOCKETCALLS", syscall_table::ia32::socketcalls())]
        {
            let m = ebpf.map_mut(name).ok_or(LoadError::MissingMap { name })?;
            let mut arr: Array<_, u32> = Array::try_from(m).map_err(map_err(name, "open"))?;
            for (from, native) in pairs {
                arr.set(from, native + 1, 0).map_err(map_err(name, "write"))?;
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ebpf;
    Ok(())
}

fn write_syscalls(ebpf: &mut Ebpf, sel: &Selection) -> Result<(), LoadError> {
    let m = ebpf.map_mut("SYSCALLS").ok_or(LoadError::MissingMap { name: "SYSCALLS" })?;
    let mut arr: Array<_, SyscallConf> = Array::try_from(m).map_err(map_err("SYSCALLS", "open"))?;
    for sc in syscall_table::TABLE {
        let mut conf = sc.conf;
        let wanted = sel.syscalls.as_ref().is_none_or(|s| s.contains(sc.name));
        if !wanted && sc.shape != Shape::None {
            // Clone-family entries stay: fork records need their flags.
            conf.flags &= !(sysflags::EMIT | sysflags::EMIT_ON_ERROR_ONLY);
            if conf.clone_mode == 0 {
                conf.flags = 0;
            }
        }
        arr.set(sc.nr, conf, 0).map_err(map_err("SYSCALLS", "write"))?;
    }
    Ok(())
}

/// Kernel-side loss counters summed over CPUs, by `loss::*` index.
pub fn read_losses(ebpf: &Ebpf) -> Result<[u64; loss::COUNT as usize], LoadError> {
    let m = ebpf.map("LOSSES").ok_or(LoadError::MissingMap { name: "LOSSES" })?;
    let arr: PerCpuArray<_, u64> = PerCpuArray::try_from(m).map_err(map_err("LOSSES", "open"))?;
    let mut out = [0u64; loss::COUNT as usize];
    for (i, slot) in out.iter_mut().enumerate() {
        let vals = arr.get(&(i as u32), 0).map_err(map_err("LOSSES", "read"))?;
        *slot = vals.iter().sum();
    }
    Ok(out)
}

/// The most bytes any CPU saw waiting in the ring since the last call
/// (which zeroes the mark).
pub fn take_ring_fill(ebpf: &mut Ebpf) -> Result<u64, LoadError> {
    let m = ebpf.map_mut("RING_FILL").ok_or(LoadError::MissingMap { name: "RING_FILL" })?;
    let mut arr: PerCpuArray<_, u64> = PerCpuArray::try_from(m).map_err(map_err("RING_FILL", "open"))?;
    let vals = arr.get(&0, 0).map_err(map_err("RING_FILL", "read"))?;
    let most = vals.iter().copied().max().unwrap_or(0);
    let zeros = aya::maps::PerCpuValues::try_from(vec![0u64; vals.len()]).map_err(|e| LoadError::Map {
        name: "RING_FILL",
        action: "reset",
        source: MapError::IoError(e),
    })?;
    arr.set(0, zeros, 0).map_err(map_err("RING_FILL", "reset"))?;
    Ok(most)
}

pub fn loss_label(i: usize) -> &'static str {
    match i as u32 {
        loss::RINGBUF_FULL => "ringbuf_full",
        loss::TASK_READ => "task_read",
        loss::DNS_RINGBUF_FULL => "dns_ringbuf_full",
        _ => "unknown",
    }
}
