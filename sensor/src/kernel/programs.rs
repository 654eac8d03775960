//! Loading the kernel programs: layout facts from this node, the syscall
//! table, then attachment. Every failure names the program or map at fault.

use std::collections::HashSet;
use std::path::Path;

use aya::maps::{Array, MapData, MapError, PerCpuArray, RingBuf};
use aya::programs::{BtfTracePoint, ProgramError, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};
use log::{info, warn};
use sensor_common::{CompatExec, Config, ExitTpConf, RAW_WANT_LEN, SyscallConf, loss, raw_want, sysflags};

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
    #[error("the compat exec watch: opening its ring buffer")]
    CompatWatch(#[source] std::io::Error),
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

/// How native (64-bit) syscalls reach the programs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum NativeSyscalls {
    /// The per-syscall `syscalls:sys_exit_<name>` events of the syscalls
    /// the sensor emits: others never run a program. A syscall this kernel
    /// has no event for goes through the raw hook (logged).
    #[default]
    Tracepoints,
    /// The raw `sys_exit` hook: every syscall of the node runs its program,
    /// which leaves at once for a syscall nothing needs.
    Raw,
}

/// 32-bit (ia32) syscalls on x86-64: the per-syscall events never fire for
/// them (nor for `int 0x80` from a 64-bit program), only the raw hook sees
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CompatSyscalls {
    /// The raw hook attached from the start: every 32-bit syscall is seen,
    /// every syscall of the node runs the raw program (native ones leave at
    /// once).
    #[default]
    Always,
    /// The raw hook attached at the first exec of a 32-bit program, then
    /// kept: until then no syscall runs it, but the first milliseconds of
    /// that program and `int 0x80` calls of 64-bit programs before it are
    /// not seen (logged, `sensor_syscall_compat_uncovered_execs_total`).
    Auto,
    /// 32-bit syscalls are not recorded (exec, fork and exit still are).
    Off,
}

impl CompatSyscalls {
    pub fn as_str(self) -> &'static str {
        match self {
            CompatSyscalls::Always => "always",
            CompatSyscalls::Auto => "auto",
            CompatSyscalls::Off => "off",
        }
    }
}

pub struct Options {
    pub ring_bytes: u32,
    pub agent_tgid: u32,
    pub selection: Selection,
    pub hooks: SyscallHooks,
    pub native: NativeSyscalls,
    pub compat: CompatSyscalls,
    /// The cgroup v2 root the DNS programs attach to; `None`: found at run time.
    pub cgroup_root: Option<std::path::PathBuf>,
}

pub struct Loaded {
    pub ebpf: Ebpf,
    /// Size of the `EVENTS` ring.
    pub ring_bytes: u32,
    /// The raw hook's kind: `btf` or `classic`.
    pub hooks: &'static str,
    /// Which syscalls go through which hook.
    pub syscall_hooks: HookState,
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

    let mut ebpf = EbpfLoader::new()
        .map_max_entries("EVENTS", opts.ring_bytes)
        .override_global("REGS_NR_OFF", &r.nr, true)
        .load(OBJECT)
        .map_err(LoadError::Object)?;

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
        attach_btf_program(&mut ebpf, &btf, name, tp)?;
    }
    let syscall_hooks = attach_syscalls(&mut ebpf, &btf, &root, opts)?;
    let hooks = syscall_hooks.raw_kind;
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
    Ok(Loaded { ebpf, ring_bytes: opts.ring_bytes, hooks, syscall_hooks, dns })
}

/// What the syscall hooks cover, for the log, the metrics and `auto`'s
/// later attachment of the raw hook.
pub struct HookState {
    /// `btf` or `classic`: the raw hook's kind (loaded, attached or not).
    pub raw_kind: &'static str,
    pub native: NativeSyscalls,
    pub compat: CompatSyscalls,
    /// Syscalls delivered through their own `sys_exit_<name>` event.
    pub tracepoints: Vec<&'static str>,
    /// Native syscalls delivered through the raw hook.
    pub raw_native: Vec<&'static str>,
    /// The raw hook is attached.
    pub raw_attached: bool,
    /// 32-bit syscalls are recorded now.
    pub compat_covered: bool,
    /// The i386 numbers (`RAW_WANT` indices) of the 32-bit syscalls to record.
    compat_nrs: Vec<u32>,
    /// `auto`, before the first 32-bit exec: the exec watch's link.
    watch: Option<aya::programs::tp_btf::BtfTracePointLinkId>,
}

impl HookState {
    /// One line for the log.
    pub fn describe(&self) -> String {
        let native = match self.native {
            NativeSyscalls::Raw => "native syscalls: raw sys_exit hook".to_owned(),
            NativeSyscalls::Tracepoints if self.raw_native.is_empty() => {
                format!("native syscalls: {} per-syscall tracepoints", self.tracepoints.len())
            }
            NativeSyscalls::Tracepoints => format!(
                "native syscalls: {} per-syscall tracepoints, raw hook for {} without one ({})",
                self.tracepoints.len(),
                self.raw_native.len(),
                self.raw_native.join(", ")
            ),
        };
        let compat = match (self.compat, self.compat_covered) {
            (CompatSyscalls::Off, _) => "32-bit syscalls: off (not recorded)",
            (_, true) => "32-bit syscalls: raw hook",
            (CompatSyscalls::Auto, false) => "32-bit syscalls: raw hook once a 32-bit program runs",
            (CompatSyscalls::Always, false) => "32-bit syscalls: none selected",
        };
        format!("{native}; {compat}; raw hook {}", if self.raw_attached { self.raw_kind } else { "not attached" })
    }
}

/// The syscalls the loaded selection emits (what `write_syscalls` marks
/// `EMIT`).
fn emitted(sel: &Selection) -> Vec<&'static syscall_table::Syscall> {
    syscall_table::TABLE
        .iter()
        .filter(|sc| sc.shape != Shape::None && sc.conf.flags & (sysflags::EMIT | sysflags::EMIT_ON_ERROR_ONLY) != 0)
        .filter(|sc| sel.syscalls.as_ref().is_none_or(|s| s.contains(sc.name)))
        .collect()
}

/// The ftrace event names to try for a syscall: its own, then the kernel's
/// name where that differs (`SYSCALL_DEFINE2(umount, ...)` is `umount2`).
fn event_names(name: &str) -> impl Iterator<Item = String> {
    let alias = match name {
        "umount2" => Some("umount"),
        _ => None,
    };
    std::iter::once(name).chain(alias).map(|n| format!("sys_exit_{n}"))
}

/// The i386 numbers whose syscalls translate to an emitted native one
/// (`socketcall` if any of its calls does).
fn compat_nrs(emitted: &[&'static syscall_table::Syscall]) -> Vec<u32> {
    #[cfg(target_arch = "x86_64")]
    {
        let native: HashSet<u32> = emitted.iter().map(|s| s.nr).collect();
        let mut out: Vec<u32> =
            syscall_table::ia32::table().into_iter().filter(|(_, n)| native.contains(n)).map(|(i, _)| i).collect();
        if syscall_table::ia32::socketcalls().iter().any(|(_, n)| native.contains(n)) {
            out.push(sensor_common::IA32_SOCKETCALL);
        }
        out.retain(|&i| i < RAW_WANT_LEN);
        out
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = emitted;
        Vec::new()
    }
}

fn attach_syscalls(ebpf: &mut Ebpf, btf: &Btf, root: &Path, opts: &Options) -> Result<HookState, LoadError> {
    let emitted = emitted(&opts.selection);
    let mut want = vec![0u8; RAW_WANT_LEN as usize];
    let mut st = HookState {
        raw_kind: "btf",
        native: opts.native,
        compat: opts.compat,
        tracepoints: Vec::new(),
        raw_native: Vec::new(),
        raw_attached: false,
        compat_covered: false,
        compat_nrs: if opts.compat == CompatSyscalls::Off { Vec::new() } else { compat_nrs(&emitted) },
        watch: None,
    };
    match opts.native {
        NativeSyscalls::Raw => st.raw_native = emitted.iter().map(|s| s.name).collect(),
        NativeSyscalls::Tracepoints => attach_tracepoints(ebpf, root, &emitted, &mut st)?,
    }
    for sc in &emitted {
        if st.raw_native.contains(&sc.name) && sc.nr < RAW_WANT_LEN {
            want[sc.nr as usize] |= raw_want::NATIVE;
        }
    }
    let compat_now =
        opts.compat == CompatSyscalls::Always || (opts.compat == CompatSyscalls::Auto && !st.raw_native.is_empty());
    if compat_now {
        // Attached anyway (or asked for): 32-bit syscalls from the start.
        for &i in &st.compat_nrs {
            want[i as usize] |= raw_want::COMPAT;
        }
        st.compat_covered = !st.compat_nrs.is_empty();
    }
    {
        let m = ebpf.map_mut("RAW_WANT").ok_or(LoadError::MissingMap { name: "RAW_WANT" })?;
        let mut arr: Array<_, u8> = Array::try_from(m).map_err(map_err("RAW_WANT", "open"))?;
        for (i, w) in want.iter().enumerate() {
            if *w != 0 {
                arr.set(i as u32, *w, 0).map_err(map_err("RAW_WANT", "write"))?;
            }
        }
    }
    let attach_now = want.iter().any(|w| *w != 0);
    st.raw_kind = load_raw(ebpf, btf, opts.hooks, attach_now)?;
    if std::env::var_os("SENSOR_BENCH_RAW_FLOOR").is_some() {
        // Benchmarks only: an empty program on the raw hook, the floor.
        attach_btf_program(ebpf, btf, "sys_exit_floor", "sys_exit")?;
        warn!("SENSOR_BENCH_RAW_FLOOR: an empty program on the raw sys_exit hook (benchmarks only)");
    }
    st.raw_attached = attach_now;
    if opts.compat == CompatSyscalls::Auto && !st.compat_covered && !st.compat_nrs.is_empty() {
        st.watch = Some(attach_btf_program(ebpf, btf, "compat_exec_watch", "sched_process_exec")?);
    }
    Ok(st)
}

impl HookState {
    /// `auto` waits for a 32-bit exec.
    pub fn watching(&self) -> bool {
        self.watch.is_some()
    }
}

/// `--compat-syscalls auto`: the ring the exec watch reports 32-bit execs on.
pub struct CompatWatch {
    fd: tokio::io::unix::AsyncFd<RingBuf<MapData>>,
}

impl CompatWatch {
    /// Takes the watch's ring out of the programs; `None` when nothing is watched.
    pub fn open(loaded: &mut Loaded) -> Result<Option<CompatWatch>, LoadError> {
        if !loaded.syscall_hooks.watching() {
            return Ok(None);
        }
        let name = "COMPAT_EXECS";
        let map = loaded.ebpf.take_map(name).ok_or(LoadError::MissingMap { name })?;
        let ring: RingBuf<MapData> = RingBuf::try_from(map).map_err(map_err(name, "open"))?;
        // SAFETY: the RingBuf owns its map fd, open and unchanged until the
        // AsyncFd (which owns the RingBuf) is dropped.
        let fd = unsafe { tokio::io::unix::AsyncFd::register_with_interest(ring, tokio::io::Interest::READABLE) }
            .map_err(|e| LoadError::CompatWatch(e.into()))?;
        Ok(Some(CompatWatch { fd }))
    }

    /// The 32-bit execs reported since the last call; waits for one.
    pub async fn next(&mut self) -> Result<Vec<CompatExec>, LoadError> {
        let mut guard = self.fd.readable_mut().await.map_err(LoadError::CompatWatch)?;
        // Cleared before the drain: a record that lands during it wakes us again.
        guard.clear_ready();
        let mut out = Vec::new();
        let ring = guard.get_inner_mut();
        while let Some(item) = ring.next() {
            if item.len() >= std::mem::size_of::<CompatExec>() {
                // SAFETY: CompatExec is plain integers; the length is checked
                // and the read is unaligned.
                out.push(unsafe { std::ptr::read_unaligned(item.as_ptr().cast::<CompatExec>()) });
            }
        }
        Ok(out)
    }
}

/// `auto`, at the first 32-bit exec: 32-bit syscalls are recorded from now
/// on (the raw hook attached if it was not), the watch detached.
pub fn cover_compat(loaded: &mut Loaded) -> Result<(), LoadError> {
    let st = &mut loaded.syscall_hooks;
    let ebpf = &mut loaded.ebpf;
    {
        let m = ebpf.map_mut("RAW_WANT").ok_or(LoadError::MissingMap { name: "RAW_WANT" })?;
        let mut arr: Array<_, u8> = Array::try_from(m).map_err(map_err("RAW_WANT", "open"))?;
        for &i in &st.compat_nrs {
            let w = arr.get(&i, 0).map_err(map_err("RAW_WANT", "read"))?;
            arr.set(i, w | raw_want::COMPAT, 0).map_err(map_err("RAW_WANT", "write"))?;
        }
    }
    if !st.raw_attached {
        if st.raw_kind == "classic" {
            let name = "sys_exit";
            let p: &mut TracePoint = ebpf
                .program_mut(name)
                .ok_or(LoadError::MissingProgram { name })?
                .try_into()
                .map_err(prog_err(name, "cast"))?;
            p.attach("raw_syscalls", name).map_err(prog_err(name, "attach"))?;
        } else {
            let name = "sys_exit_btf";
            btf_program(ebpf, name)?.attach().map_err(prog_err(name, "attach"))?;
        }
        st.raw_attached = true;
    }
    st.compat_covered = true;
    if let Some(link) = st.watch.take() {
        let name = "compat_exec_watch";
        let p: &mut BtfTracePoint = ebpf
            .program_mut(name)
            .ok_or(LoadError::MissingProgram { name })?
            .try_into()
            .map_err(prog_err(name, "cast"))?;
        p.detach(link).map_err(prog_err(name, "detach"))?;
    }
    Ok(())
}

/// Attaches `sys_exit_one` to the exit event of every emitted syscall that
/// has one; the others are left to the raw hook (`raw_native`).
fn attach_tracepoints(
    ebpf: &mut Ebpf,
    root: &Path,
    emitted: &[&'static syscall_table::Syscall],
    st: &mut HookState,
) -> Result<(), LoadError> {
    let mut offs: Option<ExitTpConf> = None;
    let mut found: Vec<(&'static str, String)> = Vec::new();
    for sc in emitted {
        let mut event = None;
        for ev in event_names(sc.name) {
            let nr = tracefs::field_offset(root, "syscalls", &ev, "__syscall_nr");
            let ret = tracefs::field_offset(root, "syscalls", &ev, "ret");
            let (Ok(nr_off), Ok(ret_off)) = (nr, ret) else { continue };
            let here = ExitTpConf { nr_off, ret_off };
            // One program reads every event: their layouts must agree.
            if *offs.get_or_insert(here) != here {
                warn!("syscall {}: {ev} has another layout than the other exit events; raw hook", sc.name);
                break;
            }
            event = Some(ev);
            break;
        }
        match event {
            Some(ev) => found.push((sc.name, ev)),
            None => st.raw_native.push(sc.name),
        }
    }
    if !st.raw_native.is_empty() {
        info!(
            "no syscalls:sys_exit_<name> event on this kernel for {}: through the raw sys_exit hook",
            st.raw_native.join(", ")
        );
    }
    if found.is_empty() {
        return Ok(());
    }
    {
        let m = ebpf.map_mut("EXIT_TP").ok_or(LoadError::MissingMap { name: "EXIT_TP" })?;
        let mut arr: Array<_, ExitTpConf> = Array::try_from(m).map_err(map_err("EXIT_TP", "open"))?;
        arr.set(0, offs.unwrap_or_default(), 0).map_err(map_err("EXIT_TP", "write"))?;
    }
    let name = "sys_exit_one";
    let p: &mut TracePoint =
        ebpf.program_mut(name).ok_or(LoadError::MissingProgram { name })?.try_into().map_err(prog_err(name, "cast"))?;
    p.load().map_err(prog_err(name, "load"))?;
    for (sc, ev) in found {
        match p.attach("syscalls", &ev) {
            Ok(_) => st.tracepoints.push(sc),
            Err(e) => {
                warn!("syscalls:{ev}: attach failed ({}); raw hook", crate::error_chain(&e));
                st.raw_native.push(sc);
            }
        }
    }
    Ok(())
}

/// Loads the raw `sys_exit` hook (BTF, or classic as `hooks` allows) and
/// attaches it if `attach`. Returns its kind.
fn load_raw(ebpf: &mut Ebpf, btf: &Btf, hooks: SyscallHooks, attach: bool) -> Result<&'static str, LoadError> {
    if hooks == SyscallHooks::Classic {
        load_classic_raw(ebpf, attach)?;
        return Ok("classic");
    }
    match load_btf_raw(ebpf, btf, attach) {
        Ok(()) => Ok("btf"),
        Err(e) if hooks == SyscallHooks::Auto => {
            warn!("BTF syscall hook unavailable ({e}); using the classic tracepoint");
            load_classic_raw(ebpf, attach)?;
            Ok("classic")
        }
        Err(e) => Err(e),
    }
}

/// The BTF tracepoint program `name`, out of the object.
fn btf_program<'a>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut BtfTracePoint, LoadError> {
    ebpf.program_mut(name).ok_or(LoadError::MissingProgram { name })?.try_into().map_err(prog_err(name, "cast"))
}

/// Loads the BTF tracepoint program `name` for tracepoint `tp` and attaches it.
fn attach_btf_program(
    ebpf: &mut Ebpf,
    btf: &Btf,
    name: &'static str,
    tp: &str,
) -> Result<aya::programs::tp_btf::BtfTracePointLinkId, LoadError> {
    let p = btf_program(ebpf, name)?;
    p.load(tp, btf).map_err(prog_err(name, "load"))?;
    p.attach().map_err(prog_err(name, "attach"))
}

fn load_btf_raw(ebpf: &mut Ebpf, btf: &Btf, attach: bool) -> Result<(), LoadError> {
    let name = "sys_exit_btf";
    let p = btf_program(ebpf, name)?;
    p.load("sys_exit", btf).map_err(prog_err(name, "load"))?;
    if attach {
        p.attach().map_err(prog_err(name, "attach"))?;
    }
    Ok(())
}

fn load_classic_raw(ebpf: &mut Ebpf, attach: bool) -> Result<(), LoadError> {
    let name = "sys_exit";
    let p: &mut TracePoint =
        ebpf.program_mut(name).ok_or(LoadError::MissingProgram { name })?.try_into().map_err(prog_err(name, "cast"))?;
    p.load().map_err(prog_err(name, "load"))?;
    if attach {
        p.attach("raw_syscalls", name).map_err(prog_err(name, "attach"))?;
    }
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
