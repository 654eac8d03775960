//! Kernel records → decoded, enriched events → a sink. The ring buffer is
//! drained through tokio's `AsyncFd`; kernel loss counters are polled and
//! every increase becomes a visible `sensor_loss` event.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aya::maps::{MapData, RingBuf};
use log::{debug, warn};
use sensor_common::loss;
use tokio::io::unix::AsyncFd;

use crate::decode::{self, DecodeError};
use crate::event::{Arg, Args, Event};
use crate::metrics::Metrics;
use crate::process::ProcessTable;
use crate::programs::{self, Loaded};
use crate::syscall_table::{Category, Syscall};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("ring buffer map EVENTS missing")]
    NoRing,
    #[error("opening the ring buffer")]
    Ring(#[source] aya::maps::MapError),
    #[error("polling the ring buffer")]
    Poll(#[source] std::io::Error),
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
                ev.category == Category::Sensor || t.contains(ev.kind.as_ref()) || t.contains(ev.category.as_str())
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
    syscalls: Vec<Option<&'static Syscall>>,
    clock: i128,
    losses_seen: [u64; loss::COUNT as usize],
    /// Per-type counts not yet added to the metric: a labelled counter
    /// lookup per event would cost a lock and a hash on the hot path.
    pending_counts: HashMap<Cow<'static, str>, u64>,
    pub decode_errors: u64,
}

impl Pipeline {
    pub fn new(table: ProcessTable, metrics: Metrics, filter: Filter) -> Self {
        Self {
            table,
            metrics,
            filter,
            enrich: true,
            syscalls: crate::syscall_table::index(),
            clock: boot_to_unix_ns(),
            losses_seen: [0; loss::COUNT as usize],
            pending_counts: HashMap::new(),
            decode_errors: 0,
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
        match self.pending_counts.get_mut(ev.kind.as_ref()) {
            Some(n) => *n += 1,
            None => {
                self.pending_counts.insert(ev.kind.clone(), 1);
            }
        }
        if let Some(lc) = &d.lifecycle {
            self.table.apply(ev.pid, &ev.comm, ev.uid, lc);
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
                self.metrics.events.with_label_values(&[kind.as_ref()]).inc_by(*n);
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
        ts: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64),
        kind: Cow::Borrowed("sensor_loss"),
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
        args,
        proc: None,
    }
}

/// Runs until `stop` resolves, writing JSON lines to `out`.
pub async fn run<S: Sink>(
    loaded: &mut Loaded,
    pipe: &mut Pipeline,
    out: &mut S,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), PipelineError> {
    let map = loaded.ebpf.take_map("EVENTS").ok_or(PipelineError::NoRing)?;
    let ring: RingBuf<MapData> = RingBuf::try_from(map).map_err(PipelineError::Ring)?;
    // SAFETY: the RingBuf owns its map fd, which stays open and unchanged
    // until the AsyncFd (which owns the RingBuf) is dropped.
    let mut fd = unsafe { AsyncFd::register_with_interest(ring, tokio::io::Interest::READABLE) }
        .map_err(|e| PipelineError::Poll(e.into()))?;
    // The kernel wakes us only when the ring is an eighth full; the drain
    // timer bounds the latency of a quiet node's events.
    let mut drain = tokio::time::interval(DRAIN_INTERVAL);
    drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut losses = tokio::time::interval(Duration::from_millis(500));
    // Kernel-side warnings (aya-log), forwarded to the agent's log.
    let mut kernel_log = match aya_log::EbpfLogger::init(&mut loaded.ebpf) {
        // SAFETY: the logger owns its ring-buffer map fd for its whole life,
        // and the AsyncFd owns the logger.
        Ok(l) => unsafe { AsyncFd::register_with_interest(l, tokio::io::Interest::READABLE) }.ok(),
        Err(e) => {
            warn!("kernel log unavailable: {e}");
            None
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            guard = async {
                match &mut kernel_log {
                    Some(l) => l.readable_mut().await,
                    None => std::future::pending().await,
                }
            } => {
                if let Ok(mut guard) = guard {
                    guard.get_inner_mut().flush();
                    guard.clear_ready();
                }
            }
            guard = fd.readable_mut() => {
                let mut guard = guard.map_err(PipelineError::Poll)?;
                drain_ring(guard.get_inner_mut(), pipe, out)?;
                guard.clear_ready();
            }
            _ = drain.tick() => drain_ring(fd.get_mut(), pipe, out)?,
            _ = losses.tick() => {
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
    drain_ring(fd.get_mut(), pipe, out)?;
    if let Ok(now) = programs::read_losses(&loaded.ebpf) {
        for ev in pipe.loss_events(now) {
            out.emit(&ev, &pipe.metrics)?;
        }
    }
    out.flush(&pipe.metrics)?;
    Ok(())
}

/// Longest a record waits in a quiet ring before the agent reads it.
pub const DRAIN_INTERVAL: Duration = Duration::from_millis(20);

fn drain_ring<S: Sink>(ring: &mut RingBuf<MapData>, pipe: &mut Pipeline, out: &mut S) -> Result<(), PipelineError> {
    let mut any = false;
    while let Some(item) = ring.next() {
        any = true;
        if let Ok(Some(ev)) = pipe.handle(&item) {
            out.emit(&ev, &pipe.metrics)?;
        }
    }
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
pub struct JsonLines<W: Write>(pub W);

impl<W: Write> Sink for JsonLines<W> {
    fn emit(&mut self, ev: &Event, m: &Metrics) -> Result<(), PipelineError> {
        if let Err(e) = serde_json::to_writer(&mut self.0, ev) {
            m.output_errors.inc();
            warn!("serializing event: {e}");
            return Ok(());
        }
        self.0.write_all(b"\n").map_err(PipelineError::Output)
    }

    fn flush(&mut self, _: &Metrics) -> Result<(), PipelineError> {
        self.0.flush().map_err(PipelineError::Output)
    }
}
