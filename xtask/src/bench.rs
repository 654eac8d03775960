//! `cargo xtask bench`: each storm without the sensor and with
//! `sensor events > /dev/null`, interleaved round by round, reporting the
//! slowdown and events expected / received / lost.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;

use crate::workload::Kind;

// Independent command-line switches.
#[allow(clippy::struct_excessive_bools)]
#[derive(Args)]
pub struct BenchArgs {
    /// Rounds of (baseline, with sensor) per storm; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[arg(long, default_value_t = 1_000_000)]
    opens: u64,
    #[arg(long, default_value_t = 2_000)]
    execs: u64,
    #[arg(long, default_value_t = 20_000)]
    connects: u64,
    /// Datagrams of the UDP storm (the DNS programs' cost on other traffic).
    #[arg(long, default_value_t = 500_000)]
    datagrams: u64,
    /// Also time libbpf-tools opensnoop/execsnoop/tcpconnect where installed.
    #[arg(long)]
    compare: bool,
    /// Only the UDP storm with the DNS programs attached and not.
    #[arg(long)]
    dns_only: bool,
    /// Only `sensor run` with and without baselines over read and write
    /// open storms: the agent's CPU per event.
    #[arg(long, conflicts_with = "dns_only")]
    baseline_only: bool,
    /// Only the exec and connect storms under `sensor run` with armed
    /// response rules, monitor mode against `--enforce`.
    #[arg(long, conflicts_with_all = ["dns_only", "baseline_only"])]
    response_only: bool,
    /// Only the agent's RSS: idle, with `--processes` live processes, after
    /// they exit (Falco's stable rules and the built-in ones loaded).
    #[arg(long, conflicts_with_all = ["dns_only", "baseline_only", "response_only", "rw_only"])]
    memory_only: bool,
    #[arg(long, default_value_t = 10_000)]
    processes: usize,
    /// Only bursts of 100k to 2M events under the default ring: loss per size.
    #[arg(long, conflicts_with_all = ["dns_only", "baseline_only", "response_only", "memory_only"])]
    burst_only: bool,
    /// Only the soak: this many minutes of mixed load, RSS sampled.
    #[arg(long, conflicts_with_all = ["dns_only", "baseline_only", "response_only", "memory_only"])]
    soak_minutes: Option<u64>,
    /// Only the read/write storm (syscalls nothing needs): no tracer,
    /// bpftrace on openat only, bpftrace's empty raw `sys_exit` program,
    /// and `sensor run` with the default and Falco's stable rules.
    #[arg(long, conflicts_with_all = ["dns_only", "baseline_only", "response_only"])]
    rw_only: bool,
    /// Syscalls of the read/write storm (or iterations of `--rw-storm`).
    #[arg(long, default_value_t = 4_000_000)]
    rw_syscalls: u64,
    /// The storm `--rw-only` times (`open`: the same comparison on the open
    /// storm, to check for a regression there).
    #[arg(long, value_enum, default_value_t = Kind::ReadWrite)]
    rw_storm: Kind,
    /// With `--rw-only`: one more `sensor run` per round with these extra
    /// arguments (space-separated), or `events ARGS...` for a `sensor
    /// events` run; repeat for more.
    #[arg(long = "rw-variant", value_name = "ARGS", allow_hyphen_values = true)]
    rw_variants: Vec<String>,
    /// The sensor binary to time instead of building this tree's (an older
    /// build, to compare).
    #[arg(long, value_name = "PATH")]
    sensor_bin: Option<PathBuf>,
}

struct Sample {
    base: Duration,
    with: Duration,
    received: u64,
    lost: u64,
}

pub(crate) fn time_workload(kind: Kind, n: u64) -> anyhow::Result<Duration> {
    let exe = std::env::current_exe()?;
    let name = clap::ValueEnum::to_possible_value(&kind).context("workload name")?.get_name().to_owned();
    let t0 = Instant::now();
    crate::run(Command::new(exe).args(["workload", &name, &n.to_string()]))?;
    Ok(t0.elapsed())
}

pub(crate) fn median_f64(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub(crate) struct Running {
    pub(crate) child: Child,
    summary: std::sync::mpsc::Receiver<String>,
    /// The sensor said "DNS capture off".
    dns_off: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Starts a tracer with stdout to /dev/null; for the sensor, waits for its
/// ready line and collects its exit summary.
pub(crate) fn start(cmd: &mut Command, ready_marker: Option<&'static str>) -> anyhow::Result<Running> {
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().with_context(|| format!("{cmd:?}"))?;
    let stderr = child.stderr.take().context("stderr")?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (sum_tx, sum_rx) = std::sync::mpsc::channel();
    let dns_off = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let said = dns_off.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("DNS capture off") {
                said.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            if ready_marker.is_some_and(|m| line.contains(m)) {
                let _ = ready_tx.send(());
            }
            if let Some(j) = line.split_once("sensor: summary ").map(|(_, j)| j.to_owned()) {
                let _ = sum_tx.send(j);
            }
        }
    });
    if ready_marker.is_some() {
        ready_rx.recv_timeout(Duration::from_secs(60)).context("tracer not ready")?;
    } else {
        // Tools without a ready line: give them time to attach.
        std::thread::sleep(Duration::from_secs(2));
    }
    Ok(Running { child, summary: sum_rx, dns_off })
}

pub(crate) fn stop(mut r: Running) -> anyhow::Result<Option<serde_json_lite::Summary>> {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(r.child.id() as i32, libc::SIGTERM) };
    r.child.wait()?;
    Ok(r.summary.recv_timeout(Duration::from_secs(5)).ok().map(|s| serde_json_lite::parse(&s)))
}

/// The sensor's summary line is flat JSON of counters; parsed by hand to
/// keep xtask free of serde.
pub(crate) use serde_json_lite::Summary;

mod serde_json_lite {
    use std::collections::BTreeMap;

    pub type Summary = BTreeMap<String, u64>;

    /// `{"events.openat":3,"lost":0}` → map. Keys and values only.
    pub fn parse(s: &str) -> Summary {
        s.trim_matches(|c| c == '{' || c == '}')
            .split(',')
            .filter_map(|kv| {
                let (k, v) = kv.split_once(':')?;
                Some((k.trim().trim_matches('"').to_owned(), v.trim().parse().ok()?))
            })
            .collect()
    }
}

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn expected_types(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Open => &["events.openat"],
        Kind::Exec => &["events.execve"],
        Kind::Connect => &["events.connect"],
        Kind::Udp | Kind::Write | Kind::ReadWrite => &[],
    }
}

pub fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let sensor = match &a.sensor_bin {
        Some(p) => p.clone(),
        None => crate::build_release()?,
    };
    if a.rw_only {
        return crate::rw_bench::run(a.rounds, a.rw_storm, a.rw_syscalls, &sensor, &a.rw_variants);
    }
    if a.baseline_only {
        return crate::baseline_bench::run(a.rounds, a.opens, &sensor);
    }
    if a.response_only {
        return crate::response_bench::run(a.rounds, a.execs, a.connects, &sensor);
    }
    if a.memory_only {
        return crate::memory_bench::run_memory(&sensor, a.processes);
    }
    if a.burst_only {
        return crate::burst_bench::run(&sensor);
    }
    if let Some(minutes) = a.soak_minutes {
        return crate::memory_bench::run_soak(&sensor, minutes);
    }
    if !a.dns_only {
        run_sensor_bench(a, &sensor)?;
    }
    run_dns_bench(a, &sensor)?;
    if a.compare && !a.dns_only {
        run_compare(a)?;
    }
    Ok(())
}

fn storms(a: &BenchArgs) -> [(Kind, u64); 3] {
    [(Kind::Open, a.opens), (Kind::Exec, a.execs), (Kind::Connect, a.connects)]
}

fn run_sensor_bench(a: &BenchArgs, sensor: &Path) -> anyhow::Result<()> {
    let mut results: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for round in 0..a.rounds {
        for (kind, n) in storms(a) {
            let base = time_workload(kind, n)?;
            let r = start(Command::new(sensor).arg("events"), Some("sensor: ready"))?;
            let with = time_workload(kind, n)?;
            let sum = stop(r)?.context("sensor printed no summary")?;
            let received = expected_types(kind).iter().map(|t| sum.get(*t).copied().unwrap_or(0)).sum();
            let lost = sum.iter().filter(|(k, _)| k.starts_with("lost.")).map(|(_, v)| v).sum();
            eprintln!("round {round} {kind:?}: base {base:?} with {with:?} received {received} lost {lost}");
            results.entry(format!("{kind:?}")).or_default().push(Sample { base, with, received, lost });
        }
    }
    println!(
        "| storm | count | baseline (median) | with sensor (median) | slowdown | expected | received (min) | lost (max) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (kind, n) in storms(a) {
        let s = &results[&format!("{kind:?}")];
        let base = median(s.iter().map(|x| x.base).collect());
        let with = median(s.iter().map(|x| x.with).collect());
        let recv = s.iter().map(|x| x.received).min().unwrap_or(0);
        let lost = s.iter().map(|x| x.lost).max().unwrap_or(0);
        println!(
            "| {kind:?} | {n} | {:.3} s | {:.3} s | {:.2}x | {n} | {recv} | {lost} |",
            base.as_secs_f64(),
            with.as_secs_f64(),
            with.as_secs_f64() / base.as_secs_f64()
        );
    }
    Ok(())
}

/// The UDP storm on a non-DNS port three ways, interleaved per round: no
/// sensor; `sensor events --type execve --no-dns`; the same with the DNS
/// programs on the cgroup root. The two sensor runs differ only in the
/// `cgroup_skb` programs, so their ratio is what those cost other traffic.
fn run_dns_bench(a: &BenchArgs, sensor: &Path) -> anyhow::Result<()> {
    let count = a.datagrams;
    let (mut base, mut off, mut on) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..a.rounds {
        base.push(time_workload(Kind::Udp, count)?);
        // Alternate which sensor run goes first: no position bias.
        for dns in if round % 2 == 0 { [false, true] } else { [true, false] } {
            let args: &[&str] =
                if dns { &["events", "--type", "execve,dns"] } else { &["events", "--type", "execve", "--no-dns"] };
            let r = start(Command::new(sensor).args(args), Some("sensor: ready"))?;
            let t = time_workload(Kind::Udp, count)?;
            if dns && r.dns_off.load(std::sync::atomic::Ordering::Relaxed) {
                bail!("the sensor ran with DNS capture off: nothing to measure");
            }
            if dns {
                on.push(t);
            } else {
                off.push(t);
            }
            stop(r)?;
        }
        eprintln!("round {round} udp: base {:?} dns off {:?} dns on {:?}", base[round], off[round], on[round]);
    }
    // Counts up to millions: exact in an f64.
    #[allow(clippy::cast_precision_loss)]
    let rate = |d: Duration| count as f64 / d.as_secs_f64();
    let best = |v: &[Duration]| v.iter().copied().min().unwrap_or_default();
    let (bb, fb, ob) = (best(&base), best(&off), best(&on));
    let (b, f, o) = (median(base), median(off), median(on));
    println!();
    println!(
        "| UDP storm ({count} datagrams, 64 B, loopback, port != 53) | median | datagrams/s | vs DNS off | best | datagrams/s | vs DNS off |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (what, m, bst, mref, bref) in [
        ("no sensor", b, bb, f, fb),
        ("sensor, DNS programs off", f, fb, f, fb),
        ("sensor, DNS programs on", o, ob, f, fb),
    ] {
        println!(
            "| {what} | {:.3} s | {:.0} | {:.3} | {:.3} s | {:.0} | {:.3} |",
            m.as_secs_f64(),
            rate(m),
            rate(m) / rate(mref),
            bst.as_secs_f64(),
            rate(bst),
            rate(bst) / rate(bref)
        );
    }
    Ok(())
}

pub(crate) fn which(tool: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].iter().map(|d| Path::new(d).join(tool)).find(|p| p.exists())
}

fn run_compare(a: &BenchArgs) -> anyhow::Result<()> {
    let tools = [
        (Kind::Open, "opensnoop", a.opens),
        (Kind::Exec, "execsnoop", a.execs),
        (Kind::Connect, "tcpconnect", a.connects),
    ];
    println!();
    println!("| storm | tool | baseline (median) | with tool (median) | slowdown |");
    println!("|---|---|---|---|---|");
    for (kind, tool, n) in tools {
        let Some(path) = which(tool) else {
            eprintln!("{tool} not installed (Debian package libbpf-tools); skipped");
            continue;
        };
        let (mut bases, mut withs) = (Vec::new(), Vec::new());
        for _ in 0..a.rounds {
            bases.push(time_workload(kind, n)?);
            let r = start(&mut Command::new(&path), None)?;
            withs.push(time_workload(kind, n)?);
            let _ = stop(r)?;
        }
        let (b, w) = (median(bases), median(withs));
        if b.is_zero() {
            bail!("zero baseline");
        }
        println!(
            "| {kind:?} | {tool} | {:.3} s | {:.3} s | {:.2}x |",
            b.as_secs_f64(),
            w.as_secs_f64(),
            w.as_secs_f64() / b.as_secs_f64()
        );
    }
    Ok(())
}
