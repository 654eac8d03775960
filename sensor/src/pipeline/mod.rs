//! Kernel records → decoded, enriched events → a sink, wired in one place.
//! Kernel loss counters are polled and every increase becomes a visible
//! `sensor_loss` event.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::{debug, warn};
use sensor_common::loss;

pub mod alert_stage;
mod heap;
pub mod outputs_swap;
pub mod wire;

use crate::enrich::dns::Dns;
use crate::event::decode::{self, DecodeError};
use crate::event::{Arg, Args, Event, Kind, Op};
use crate::kernel::programs::{self, Loaded};
use crate::kernel::reader::{ReaderError, Ring};
use crate::kernel::syscall_table::{Category, Syscall};
use crate::metrics::Metrics;
use crate::process::ProcessTable;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("reading the kernel's records")]
    Reader(#[from] ReaderError),
    #[error("writing events")]
    Output(#[source] std::io::Error),
}

/// Output filter: by type (`openat`) or category (`file`), and by pid.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub types: Option<HashSet<String>>,
    pub pids: Option<HashSet<u32>>,
}

impl Filter {
    pub fn matches(&self, ev: &Event) -> bool {
        if let Some(pids) = &self.pids
            && !pids.contains(&ev.pid)
        {
            return false;
        }
        match &self.types {
            Some(t) => {
                ev.category == Category::Sensor || t.contains(ev.kind.name()) || t.contains(ev.category.as_str())
            }
            None => true,
        }
    }
}

/// Difference between the wall clock and the boot clock the kernel stamps with.
pub fn boot_to_unix_ns() -> i128 {
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
    let boot = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map_or(0, |t| i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec()));
    wall - boot
}

pub struct Pipeline {
    pub table: ProcessTable,
    pub metrics: Metrics,
    pub filter: Filter,
    pub enrich: bool,
    /// Answers joined to their process; addresses named.
    pub dns: Dns,
    syscalls: Vec<Option<&'static Syscall>>,
    clock: i128,
    losses_seen: [u64; loss::COUNT as usize],
    /// Per-type counts not yet added to the metric: a labelled counter
    /// lookup per event would cost a lock and a hash on the hot path.
    pending_counts: HashMap<&'static str, u64>,
    pub decode_errors: u64,
    /// Events decoded so far: the next event's `evt.num` is this plus one.
    events_seen: u64,
}

impl Pipeline {
    pub fn new(table: ProcessTable, metrics: Metrics, filter: Filter) -> Self {
        // Every loss reason is served from the start, at 0: an alert on
        // `increase(sensor_kernel_losses_total[5m])` then sees the first loss.
        for i in 0..loss::COUNT as usize {
            metrics.kernel_losses.with_label_values(&[programs::loss_label(i)]);
        }
        Self {
            table,
            metrics,
            filter,
            enrich: true,
            dns: Dns::default(),
            syscalls: crate::kernel::syscall_table::index(),
            clock: boot_to_unix_ns(),
            losses_seen: [0; loss::COUNT as usize],
            pending_counts: HashMap::new(),
            decode_errors: 0,
            events_seen: 0,
        }
    }

    /// Decodes one record, updates the process table and returns the event
    /// if the filter keeps it.
    pub fn handle(&mut self, bytes: &[u8]) -> Result<Option<Event>, DecodeError> {
        let d = match decode::decode(bytes, self.clock, &self.syscalls) {
            Ok(d) => d,
            Err(e) => {
                self.decode_errors += 1;
                self.metrics.decode_errors.with_label_values(&[e.label()]).inc();
                debug!("decode error: {e}");
                return Err(e);
            }
        };
        let mut ev = d.event;
        // Before the process view: an answer's task comes from its socket.
        let table = &mut self.table;
        self.dns.observe(&mut ev, |pid| {
            table.view(pid).map(|v| v.view.ancestors.iter().map(|a| a.pid).collect()).unwrap_or_default()
        });
        self.events_seen += 1;
        ev.num = self.events_seen;
        *self.pending_counts.entry(ev.kind.name()).or_insert(0) += 1;
        if let Some(lc) = &d.lifecycle {
            self.table.apply(ev.pid, &ev.comm, ev.uid, lc);
        }
        if ev.ret == Some(0) {
            match ev.kind.op() {
                Op::Chdir => {
                    if let Some(dir) = ev.args.str("path") {
                        self.table.chdir(ev.pid, dir);
                    }
                }
                // The directory behind the fd: the process is still in it.
                Op::Fchdir => {
                    if let Some(dir) = crate::process::procfs::cwd(ev.pid) {
                        self.table.chdir(ev.pid, &dir);
                    }
                }
                _ => {}
            }
        }
        if !self.filter.matches(&ev) {
            return Ok(None);
        }
        if self.enrich {
            ev.proc = self.table.view(ev.pid);
        }
        Ok(Some(ev))
    }

    /// Adds the per-type counts gathered since the last call to the metric.
    pub fn flush_counts(&mut self) {
        for (kind, n) in &mut self.pending_counts {
            if *n > 0 {
                self.metrics.events.with_label_values(&[*kind]).inc_by(*n);
                *n = 0;
            }
        }
    }

    /// Loss events for every counter that grew since the last call.
    pub fn loss_events(&mut self, now: [u64; loss::COUNT as usize]) -> Vec<Event> {
        self.flush_counts();
        let mut out = Vec::new();
        for (i, (&n, seen)) in now.iter().zip(self.losses_seen.iter_mut()).enumerate() {
            if n > *seen {
                let delta = n - *seen;
                *seen = n;
                let reason = programs::loss_label(i);
                self.metrics.kernel_losses.with_label_values(&[reason]).inc_by(delta);
                warn!("kernel lost {delta} events ({reason}); {n} in total");
                out.push(loss_event(reason, delta, n));
            }
        }
        self.metrics.dns.update(&self.dns.stats, self.dns.names_len());
        let st = self.table.stats();
        self.metrics.process_entries.set(st.live as i64);
        let ev = self.metrics.process_evictions.get();
        if st.evicted > ev {
            self.metrics.process_evictions.inc_by(st.evicted - ev);
        }
        let mi = self.metrics.process_misses.get();
        if st.misses > mi {
            self.metrics.process_misses.inc_by(st.misses - mi);
        }
        out
    }
}

fn loss_event(reason: &'static str, count: u64, total: u64) -> Event {
    let mut args = Args::default();
    args.push("reason", Arg::Str(reason.to_owned()));
    args.push("count", Arg::UInt(count));
    args.push("total", Arg::UInt(total));
    Event {
        num: 0,
        ts: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64),
        kind: Kind::SENSOR_LOSS,
        category: Category::Sensor,
        pid: std::process::id(),
        tid: std::process::id(),
        uid: 0,
        gid: 0,
        cgroup_id: 0,
        comm: "sensor".to_owned(),
        ret: None,
        errno: None,
        truncated: false,
        read_fault: false,
        compat: false,
        args,
        proc: None,
    }
}

/// Runs until `stop` resolves, handing every event to `out`.
pub async fn run<S: Sink>(
    loaded: &mut Loaded,
    pipe: &mut Pipeline,
    out: &mut S,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), PipelineError> {
    // Start-up's transient heap (the node's BTF, the rules' compilation)
    // leaves the RSS before the ring's pages join it.
    heap::trim();
    let mut ring = Ring::open(&mut loaded.ebpf)?;
    let mut compat = programs::CompatWatch::open(loaded).unwrap_or_else(|e| {
        warn!("32-bit exec watch unavailable ({}): 32-bit syscalls stay unrecorded", crate::error_chain(&e));
        None
    });
    let mut losses = tokio::time::interval(Duration::from_millis(500));
    tokio::pin!(stop);
    pipe.metrics.dns.capture.set(i64::from(loaded.dns.is_ok()));
    pipe.metrics.syscalls.set(&loaded.syscall_hooks);
    pipe.metrics.health.set_ready();
    let mut ticks: u32 = 0;
    // Tests and scripts wait for this line before acting: the programs are
    // attached, the ring is open and /readyz says so.
    eprintln!("sensor: ready");
    loop {
        tokio::select! {
            r = ring.wait() => {
                r?;
                drain_ring(&mut ring, pipe, out)?;
            }
            execs = async {
                match compat.as_mut() {
                    Some(w) => w.next().await,
                    None => std::future::pending().await,
                }
            } => {
                if cover_compat(loaded, pipe, execs) {
                    compat = None;
                }
            }
            _ = losses.tick() => {
                pipe.metrics.health.beat();
                ticks = ticks.wrapping_add(1);
                if ticks.is_multiple_of(120) {
                    drop(tokio::task::spawn_blocking(heap::trim));
                }
                match programs::take_ring_fill(&mut loaded.ebpf) {
                    // Bytes waiting never exceed the ring's (u32) size.
                    Ok(b) => pipe.metrics.ring_fill.set(
                        u32::try_from(b).map_or(1.0, |b| f64::from(b) / f64::from(loaded.ring_bytes.max(1))),
                    ),
                    Err(e) => debug!("reading the ring fill: {e}"),
                }
                match programs::read_losses(&loaded.ebpf) {
                    Ok(now) => for ev in pipe.loss_events(now) {
                        out.emit(&ev, &pipe.metrics)?;
                    },
                    Err(e) => warn!("reading loss counters: {e}"),
                }
                out.flush(&pipe.metrics)?;
            }
            () = &mut stop => break,
        }
    }
    // Drain what is already queued so a clean stop loses nothing.
    drain_ring(&mut ring, pipe, out)?;
    if let Ok(now) = programs::read_losses(&loaded.ebpf) {
        for ev in pipe.loss_events(now) {
            out.emit(&ev, &pipe.metrics)?;
        }
    }
    out.flush(&pipe.metrics)?;
    Ok(())
}

/// `--compat-syscalls auto`: the first 32-bit exec attaches the raw hook
/// for 32-bit syscalls. True once the watch is done with.
fn cover_compat(
    loaded: &mut Loaded,
    pipe: &Pipeline,
    execs: Result<Vec<sensor_common::CompatExec>, programs::LoadError>,
) -> bool {
    let execs = match execs {
        Ok(e) if e.is_empty() => return false,
        Ok(e) => e,
        Err(e) => {
            warn!("32-bit exec watch failed ({}): 32-bit syscalls stay unrecorded", crate::error_chain(&e));
            return true;
        }
    };
    pipe.metrics.syscalls.compat_uncovered_execs.inc_by(execs.len() as u64);
    let first = &execs[0];
    let comm = String::from_utf8_lossy(first.comm.split(|b| *b == 0).next().unwrap_or_default()).into_owned();
    match programs::cover_compat(loaded) {
        Ok(()) => warn!(
            "32-bit program exec'd (pid {}, {comm}): 32-bit syscalls recorded from now on; its first syscalls \
             before this were not (--compat-syscalls auto)",
            first.tgid
        ),
        Err(e) => warn!(
            "32-bit program exec'd (pid {}, {comm}) but the compat hook failed to attach ({}): 32-bit syscalls stay \
             unrecorded",
            first.tgid,
            crate::error_chain(&e)
        ),
    }
    pipe.metrics.syscalls.set(&loaded.syscall_hooks);
    true
}

fn drain_ring<S: Sink>(ring: &mut Ring, pipe: &mut Pipeline, out: &mut S) -> Result<(), PipelineError> {
    let any = ring.drain(|item| match pipe.handle(item) {
        Ok(Some(ev)) => out.emit(&ev, &pipe.metrics),
        _ => Ok(()),
    })?;
    if any {
        out.flush(&pipe.metrics)?;
    }
    Ok(())
}

/// Where events go: JSON lines (`sensor events`) or the rule engine
/// (`sensor run`).
pub trait Sink {
    fn emit(&mut self, ev: &Event, m: &Metrics) -> Result<(), PipelineError>;
    fn flush(&mut self, m: &Metrics) -> Result<(), PipelineError>;
    /// At shutdown: nothing may stay buffered.
    fn finish(&mut self, m: &Metrics) -> Result<(), PipelineError> {
        self.flush(m)
    }
}

/// Events as JSON lines.
/// One JSON object per line. Each event is serialized whole before any
/// byte of it is written: a failure never leaves half a line.
pub struct JsonLines<W: Write> {
    out: W,
    line: Vec<u8>,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W) -> Self {
        Self { out, line: Vec::with_capacity(1024) }
    }
}

impl<W: Write> Sink for JsonLines<W> {
    fn emit(&mut self, ev: &Event, m: &Metrics) -> Result<(), PipelineError> {
        self.line.clear();
        if let Err(e) = serde_json::to_writer(&mut self.line, ev) {
            m.output_errors.inc();
            warn!("serializing event: {e}");
            return Ok(());
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(PipelineError::Output)
    }

    fn flush(&mut self, _: &Metrics) -> Result<(), PipelineError> {
        self.out.flush().map_err(PipelineError::Output)
    }
}
