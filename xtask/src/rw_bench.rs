//! `cargo xtask bench --rw-only`: the read/write storm (1-byte reads and
//! writes, syscalls no rule, baseline or fd table needs) under each tracer,
//! interleaved round by round in a rotating order: no tracer; bpftrace
//! counting `openat` enter and exit only (the cost of per-syscall ftrace
//! events); `sensor run` with the default rules and Falco's stable rules,
//! plus any `--rw-variant` (`KEY=VALUE` words first set the environment:
//! `SENSOR_BENCH_RAW_FLOOR=1` adds an empty program on the raw `sys_exit`
//! hook, the floor of any raw-hook design; Debian's bpftrace 0.17 has no
//! `rawtracepoint` probes to measure it with). Reported: medians of
//! the time and of each round's ratio to that round's no-tracer run, and the
//! events the sensor lost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::bench::{median, median_f64, start, stop, which};
use crate::workload::Kind;

const BPFTRACE_OPENAT: &str =
    "tracepoint:syscalls:sys_enter_openat,tracepoint:syscalls:sys_exit_openat { @[probe] = count(); }";

enum Tracer {
    None,
    Bpftrace(PathBuf, &'static str),
    /// Another sensor binary (`@PATH` first in a variant: an older build),
    /// environment (`KEY=VALUE` words first), and extra arguments of
    /// `sensor run`, or `events ...`: a `sensor events` run.
    Sensor(Option<PathBuf>, Vec<(String, String)>, Vec<String>),
}

struct Row {
    label: String,
    tracer: Tracer,
    times: Vec<Duration>,
    ratios: Vec<f64>,
    /// The storm process's CPU time (user + system) against the round's
    /// no-tracer run: less hurt by a busy machine's run queue than wall time.
    cpu_ratios: Vec<f64>,
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

pub fn run(rounds: usize, kind: Kind, n: u64, sensor: &Path, variants: &[String]) -> anyhow::Result<()> {
    let falco = falco_stable()?;
    let mut rows = vec![Row::new("no tracer".into(), Tracer::None)];
    if let Some(bt) = which("bpftrace") {
        rows.push(Row::new("bpftrace, openat enter+exit (count)".into(), Tracer::Bpftrace(bt, BPFTRACE_OPENAT)));
    } else {
        eprintln!("bpftrace not installed (Debian package bpftrace): its rows are skipped");
    }
    rows.push(Row::new(
        "sensor run, default + Falco stable rules".into(),
        Tracer::Sensor(None, Vec::new(), Vec::new()),
    ));
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
        let mut env = Vec::new();
        while let Some((k, v)) = args.first().and_then(|a| a.split_once('=')).filter(|(k, _)| !k.starts_with('-')) {
            env.push((k.to_owned(), v.to_owned()));
            args.remove(0);
        }
        let label = if args.first().is_some_and(|a| a == "events") {
            format!("sensor {v}")
        } else {
            format!("sensor run, default + Falco stable rules, {v}")
        };
        rows.push(Row::new(label, Tracer::Sensor(bin, env, args)));
    }
    for round in 0..rounds {
        // Rotate the order: no position bias against the noisy machine.
        let k = rows.len();
        let order: Vec<usize> = (0..k).map(|i| (i + round) % k).collect();
        let mut times = vec![(Duration::ZERO, Duration::ZERO); k];
        for &i in &order {
            let (t, lost, events) = measure(&rows[i].tracer, kind, n, sensor, &falco)?;
            eprintln!("round {round} {}: wall {:?} cpu {:?} lost {lost}", rows[i].label, t.0, t.1);
            times[i] = t;
            rows[i].lost = rows[i].lost.max(lost);
            rows[i].events = rows[i].events.max(events);
        }
        let base = times[0];
        if base.0.is_zero() || base.1.is_zero() {
            bail!("zero baseline");
        }
        for (row, (wall, cpu)) in rows.iter_mut().zip(times) {
            row.times.push(wall);
            row.ratios.push(wall.as_secs_f64() / base.0.as_secs_f64());
            row.cpu_ratios.push(cpu.as_secs_f64() / base.1.as_secs_f64());
        }
    }
    println!();
    let what = if kind == Kind::ReadWrite {
        format!("read/write storm ({n} syscalls of 1 byte)")
    } else {
        format!("{kind:?} storm ({n})")
    };
    println!(
        "| {what}, {rounds} rounds | median | slowdown (median of per-round ratios) | range of ratios | storm CPU time ratio (median) | sensor events (max) | lost (max) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        let lo = r.ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sensor = matches!(r.tracer, Tracer::Sensor(..));
        let (ev, lost) = if sensor { (r.events.to_string(), r.lost.to_string()) } else { ("-".into(), "-".into()) };
        println!(
            "| {} | {:.3} s | {:.3}x | {lo:.3}–{hi:.3} | {:.3}x | {ev} | {lost} |",
            r.label,
            median(r.times).as_secs_f64(),
            median_f64(r.ratios),
            median_f64(r.cpu_ratios),
        );
    }
    Ok(())
}

impl Row {
    fn new(label: String, tracer: Tracer) -> Row {
        Row { label, tracer, times: Vec::new(), ratios: Vec::new(), cpu_ratios: Vec::new(), lost: 0, events: 0 }
    }
}

/// The storm in its own process: wall time and the process's CPU time.
fn storm(kind: Kind, n: u64) -> anyhow::Result<(Duration, Duration)> {
    let name = clap::ValueEnum::to_possible_value(&kind).context("workload name")?.get_name().to_owned();
    let t0 = Instant::now();
    let child = Command::new(std::env::current_exe()?).args(["workload", &name, &n.to_string()]).spawn()?;
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child with valid out-pointers.
    let r = unsafe { libc::wait4(child.id() as i32, &raw mut status, 0, &raw mut ru) };
    let wall = t0.elapsed();
    if r < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("the {name} storm failed (wait4 {r}, status {status})");
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    Ok((wall, tv(ru.ru_utime) + tv(ru.ru_stime)))
}

/// One storm under `tracer`: its times, and the sensor's lost and total events.
fn measure(
    tracer: &Tracer,
    kind: Kind,
    n: u64,
    sensor: &Path,
    falco: &Path,
) -> anyhow::Result<((Duration, Duration), u64, u64)> {
    match tracer {
        Tracer::None => Ok((storm(kind, n)?, 0, 0)),
        Tracer::Bpftrace(bt, prog) => {
            let r = start(Command::new(bt).args(["-e", prog]), None)?;
            let t = storm(kind, n)?;
            let _ = stop(r)?;
            Ok((t, 0, 0))
        }
        Tracer::Sensor(bin, env, extra) => {
            let mut cmd = Command::new(bin.as_deref().unwrap_or(sensor));
            cmd.envs(env.iter().map(|(k, v)| (k, v)));
            if extra.first().is_some_and(|a| a == "events") {
                // A variant of `sensor events` (a narrower kernel selection).
                cmd.args(["events", "--no-listen"]).args(&extra[1..]);
            } else {
                cmd.args(["run", "--no-listen", "--rules"]).arg(falco).args(extra);
            }
            let r = start(&mut cmd, Some("sensor: ready"))?;
            let t = storm(kind, n)?;
            let sum = stop(r)?.context("sensor printed no summary")?;
            let lost = sum.iter().filter(|(k, _)| k.starts_with("lost.")).map(|(_, v)| v).sum();
            let events = sum.iter().filter(|(k, _)| k.starts_with("events.")).map(|(_, v)| v).sum();
            Ok((t, lost, events))
        }
    }
}
