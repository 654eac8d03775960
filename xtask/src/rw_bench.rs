//! `cargo xtask bench --rw-only`: the read/write storm (1-byte reads and
//! writes, syscalls no rule, baseline or fd table needs) under each tracer,
//! interleaved round by round in a rotating order: no tracer; bpftrace
//! counting `openat` enter and exit only (the cost of per-syscall ftrace
//! events); bpftrace's empty program on the raw `sys_exit` tracepoint (the
//! floor of any raw-hook design); `sensor run` with the default rules and
//! Falco's stable rules, plus any `--rw-variant`. Reported: medians of
//! the time and of each round's ratio to that round's no-tracer run, and the
//! events the sensor lost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::bench::{median, median_f64, start, stop, time_workload, which};
use crate::workload::Kind;

const BPFTRACE_OPENAT: &str =
    "tracepoint:syscalls:sys_enter_openat,tracepoint:syscalls:sys_exit_openat { @[probe] = count(); }";
const BPFTRACE_RAW_EXIT: &str = "rawtracepoint:sys_exit { }";

enum Tracer {
    None,
    Bpftrace(PathBuf, &'static str),
    /// Another sensor binary (`@PATH` first in a variant: an older build),
    /// and extra arguments of `sensor run`, or `events ...`: a `sensor events` run.
    Sensor(Option<PathBuf>, Vec<String>),
}

struct Row {
    label: String,
    tracer: Tracer,
    times: Vec<Duration>,
    ratios: Vec<f64>,
    lost: u64,
    events: u64,
}

/// Falco's stable rules: `$SENSOR_FALCO_RULES`, else
/// `shared/falco/falco_rules.yaml` in a directory above the workspace.
fn falco_stable() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("SENSOR_FALCO_RULES") {
        return Ok(PathBuf::from(p));
    }
    let root = crate::root();
    root.ancestors()
        .map(|d| d.join("shared/falco/falco_rules.yaml"))
        .find(|p| p.exists())
        .with_context(|| format!("no shared/falco/falco_rules.yaml above {} (set SENSOR_FALCO_RULES)", root.display()))
}

pub fn run(rounds: usize, n: u64, sensor: &Path, variants: &[String]) -> anyhow::Result<()> {
    let falco = falco_stable()?;
    let mut rows = vec![Row::new("no tracer".into(), Tracer::None)];
    if let Some(bt) = which("bpftrace") {
        rows.push(Row::new("bpftrace, openat enter+exit (count)".into(), Tracer::Bpftrace(bt.clone(), BPFTRACE_OPENAT)));
        rows.push(Row::new("bpftrace, empty raw sys_exit program".into(), Tracer::Bpftrace(bt, BPFTRACE_RAW_EXIT)));
    } else {
        eprintln!("bpftrace not installed (Debian package bpftrace): its rows are skipped");
    }
    rows.push(Row::new("sensor run, default + Falco stable rules".into(), Tracer::Sensor(None, Vec::new())));
    for v in variants {
        let mut args: Vec<String> = v.split_whitespace().map(str::to_owned).collect();
        let bin = match args.first().and_then(|a| a.strip_prefix('@')) {
            Some(p) => {
                let p = PathBuf::from(p);
                args.remove(0);
                Some(p)
            }
            None => None,
        };
        let label = if args.first().is_some_and(|a| a == "events") {
            format!("sensor {v}")
        } else {
            format!("sensor run, default + Falco stable rules, {v}")
        };
        rows.push(Row::new(label, Tracer::Sensor(bin, args)));
    }
    for round in 0..rounds {
        // Rotate the order: no position bias against the noisy machine.
        let k = rows.len();
        let order: Vec<usize> = (0..k).map(|i| (i + round) % k).collect();
        let mut times = vec![Duration::ZERO; k];
        for &i in &order {
            let (t, lost, events) = measure(&rows[i].tracer, n, sensor, &falco)?;
            eprintln!("round {round} {}: {t:?} lost {lost}", rows[i].label);
            times[i] = t;
            rows[i].lost = rows[i].lost.max(lost);
            rows[i].events = rows[i].events.max(events);
        }
        let base = times[0];
        if base.is_zero() {
            bail!("zero baseline");
        }
        for (row, t) in rows.iter_mut().zip(times) {
            row.times.push(t);
            row.ratios.push(t.as_secs_f64() / base.as_secs_f64());
        }
    }
    println!();
    println!("| read/write storm ({n} syscalls of 1 byte), {rounds} rounds | median | slowdown (median of per-round ratios) | range of ratios | sensor events (max) | lost (max) |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        let lo = r.ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sensor = matches!(r.tracer, Tracer::Sensor(..));
        let (ev, lost) = if sensor { (r.events.to_string(), r.lost.to_string()) } else { ("-".into(), "-".into()) };
        println!(
            "| {} | {:.3} s | {:.3}x | {lo:.3}–{hi:.3} | {ev} | {lost} |",
            r.label,
            median(r.times).as_secs_f64(),
            median_f64(r.ratios),
        );
    }
    Ok(())
}

impl Row {
    fn new(label: String, tracer: Tracer) -> Row {
        Row { label, tracer, times: Vec::new(), ratios: Vec::new(), lost: 0, events: 0 }
    }
}

/// One storm under `tracer`: its time, and the sensor's lost and total events.
fn measure(tracer: &Tracer, n: u64, sensor: &Path, falco: &Path) -> anyhow::Result<(Duration, u64, u64)> {
    match tracer {
        Tracer::None => Ok((time_workload(Kind::ReadWrite, n)?, 0, 0)),
        Tracer::Bpftrace(bt, prog) => {
            let r = start(Command::new(bt).args(["-e", prog]), None)?;
            let t = time_workload(Kind::ReadWrite, n)?;
            let _ = stop(r)?;
            Ok((t, 0, 0))
        }
        Tracer::Sensor(bin, extra) => {
            let mut cmd = Command::new(bin.as_deref().unwrap_or(sensor));
            if extra.first().is_some_and(|a| a == "events") {
                // A variant of `sensor events` (a narrower kernel selection).
                cmd.args(["events", "--no-listen"]).args(&extra[1..]);
            } else {
                cmd.args(["run", "--no-listen", "--rules"]).arg(falco).args(extra);
            }
            let r = start(&mut cmd, Some("sensor: ready"))?;
            let t = time_workload(Kind::ReadWrite, n)?;
            let sum = stop(r)?.context("sensor printed no summary")?;
            let lost = sum.iter().filter(|(k, _)| k.starts_with("lost.")).map(|(_, v)| v).sum();
            let events = sum.iter().filter(|(k, _)| k.starts_with("events.")).map(|(_, v)| v).sum();
            Ok((t, lost, events))
        }
    }
}
