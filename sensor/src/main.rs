//! `sensor`: command-line edge of the agent.

use std::collections::HashSet;
use std::io::{BufRead as _, BufWriter, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args as ClapArgs, Parser, Subcommand};
use log::{info, warn};
use sensor::container::meta::MetaStore;
use sensor::detect::sink::AlertSink;
use sensor::detect::users::Users;
use sensor::detect::{Detector, RuleSources, load_rules};
use sensor::event::Event;
use sensor::k8s::PodWatcher;
use sensor::metrics::Metrics;
use sensor::pipeline::{self, Filter, JsonLines, Pipeline, Sink};
use sensor::process::ProcessTable;
use sensor::programs::{self, Loaded, Options, Selection, SyscallHooks};
use sensor::rules::{CheckReport, EngineConfig, RuleMatching, RuleSet};
use sensor::runtime::{Runtimes, RuntimesConfig, SocketKind};
use sensor::syscall_table::{self, Category};

#[derive(Parser)]
#[command(version, about = "Node-level eBPF runtime security sensor")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Stream enriched kernel events as JSON lines on stdout.
    Events(EventsArgs),
    /// Detect: kernel events through the rules, Falco JSON alerts on stdout.
    Run(RunArgs),
    /// Run recorded events (the lines `sensor events` prints) through the
    /// rules offline and print the alerts.
    Replay(ReplayArgs),
    /// Rule-file tools.
    #[command(subcommand)]
    Rules(RulesCmd),
}

#[derive(Subcommand)]
enum RulesCmd {
    /// Validate rule files like `falco -V`: errors and warnings with
    /// `file:line:column`; non-zero exit on errors.
    Check(CheckArgs),
}

#[derive(ClapArgs)]
struct KernelArgs {
    /// Ring buffer size: bytes, or with a K or M suffix; a power of two of
    /// at least one page.
    #[arg(long, default_value = "16M", value_parser = parse_size)]
    ring_buffer: u32,
    /// Most processes tracked at once.
    #[arg(long, default_value_t = 65_536)]
    process_table_size: usize,
    /// Syscall hooks: BTF raw tracepoints (cheaper), classic tracepoints, or
    /// auto (BTF where they load).
    #[arg(long, value_enum, default_value_t = SyscallHooks::Auto)]
    syscall_hooks: SyscallHooks,
    /// Serve Prometheus metrics at `http://ADDR/metrics` (e.g. 0.0.0.0:9464).
    #[arg(long)]
    metrics_addr: Option<std::net::SocketAddr>,
}

#[derive(ClapArgs)]
struct EventsArgs {
    /// Event types (`openat`, `execve`, ...) or categories (process, file,
    /// network, privilege) to print; repeat or comma-separate. Default: all.
    /// Unselected syscalls are switched off in the kernel.
    #[arg(long = "type", short = 't', value_delimiter = ',')]
    types: Vec<String>,
    /// Only events of these process ids; repeat or comma-separate.
    #[arg(long, short = 'p', value_delimiter = ',')]
    pid: Vec<u32>,
    /// Leave out the process and ancestry of each event.
    #[arg(long)]
    no_enrich: bool,
    #[command(flatten)]
    kernel: KernelArgs,
}

#[derive(ClapArgs)]
struct RuleArgs {
    /// Rule files or directories (`*.yaml`), loaded after the built-in rules
    /// in the order given; repeat for more.
    #[arg(long = "rules", short = 'r')]
    rules: Vec<PathBuf>,
    /// Do not load the built-in rules (`rules/sensor_rules.yaml`).
    #[arg(long)]
    no_default_rules: bool,
    /// Falco's `rule_matching`: stop at the first matching rule, or report all.
    #[arg(long, value_enum, default_value_t = Matching::First)]
    rule_matching: Matching,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Matching {
    First,
    All,
}

#[derive(ClapArgs)]
struct RunArgs {
    #[command(flatten)]
    rules: RuleArgs,
    /// Container runtime sockets to ask for metadata, as `cri:PATH` or
    /// `docker:PATH`; repeat for more. Default: the well-known containerd,
    /// CRI-O, Docker and k3s sockets that exist.
    #[arg(long = "runtime-socket", value_parser = parse_socket)]
    runtime_sockets: Vec<(PathBuf, SocketKind)>,
    #[command(flatten)]
    kernel: KernelArgs,
}

#[derive(ClapArgs)]
struct ReplayArgs {
    #[command(flatten)]
    rules: RuleArgs,
    /// Recorded events, one JSON object per line (`-` for stdin).
    events: PathBuf,
}

#[derive(ClapArgs)]
struct CheckArgs {
    /// Rule files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Load the built-in rules first (for files that use their macros).
    #[arg(long)]
    with_default_rules: bool,
    /// One JSON object: `rules_loaded`, `rules_skipped`, errors, warnings.
    #[arg(long)]
    json: bool,
}

fn parse_socket(s: &str) -> Result<(PathBuf, SocketKind), String> {
    match s.split_once(':') {
        Some(("cri", p)) => Ok((PathBuf::from(p), SocketKind::Cri)),
        Some(("docker", p)) => Ok((PathBuf::from(p), SocketKind::Docker)),
        _ => Err(format!("{s:?}: expected cri:PATH or docker:PATH")),
    }
}

fn parse_size(s: &str) -> Result<u32, String> {
    let (num, mult) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 1024),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    let n: u32 = num.parse().map_err(|e| format!("{s:?}: {e}"))?;
    n.checked_mul(mult).ok_or_else(|| format!("{s:?} is too large"))
}

fn selection(types: &[String]) -> anyhow::Result<(Selection, Option<HashSet<String>>)> {
    if types.is_empty() {
        return Ok((Selection::default(), None));
    }
    let cats = [Category::Process, Category::File, Category::Network, Category::Privilege];
    let mut sys = HashSet::new();
    let mut wanted = HashSet::new();
    for t in types {
        let t = t.trim();
        if let Some(c) = cats.iter().find(|c| c.as_str() == t) {
            sys.extend(syscall_table::TABLE.iter().filter(|s| s.category == *c).map(|s| s.name));
        } else if syscall_table::all_names().any(|n| n == t) {
            if let Some(s) = syscall_table::by_name(t) {
                sys.insert(s.name);
            }
        } else {
            let known: Vec<_> = syscall_table::all_names().collect();
            bail!("unknown event type {t:?}; known: process, file, network, privilege, {}", known.join(", "));
        }
        wanted.insert(t.to_owned());
    }
    Ok((Selection { syscalls: Some(sys) }, Some(wanted)))
}

async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

fn start_kernel(k: &KernelArgs, selection: Selection) -> anyhow::Result<(Loaded, ProcessTable)> {
    let loaded = programs::load(&Options {
        ring_bytes: k.ring_buffer,
        agent_tgid: std::process::id(),
        selection,
        hooks: k.syscall_hooks,
    })
    .context("starting the kernel side")?;
    info!("syscall hooks: {}", loaded.hooks);
    let mut table = ProcessTable::new(k.process_table_size, Duration::from_secs(5));
    let seeded = table.seed_from_proc();
    info!("seeded {seeded} processes from /proc");
    Ok((loaded, table))
}

async fn serve_metrics(k: &KernelArgs, m: &Metrics) -> anyhow::Result<()> {
    if let Some(addr) = k.metrics_addr {
        let bound = sensor::metrics_server::serve(addr, m.clone()).await?;
        eprintln!("sensor: metrics on http://{bound}/metrics");
    }
    Ok(())
}

async fn stream<S: Sink>(mut loaded: Loaded, mut pipe: Pipeline, sink: &mut S) -> anyhow::Result<Pipeline> {
    // Tests and scripts wait for this line before acting.
    eprintln!("sensor: ready");
    pipeline::run(&mut loaded, &mut pipe, sink, stop_signal()).await?;
    sink.finish(&pipe.metrics)?;
    eprintln!("sensor: summary {}", pipe.metrics.summary_json());
    let st = pipe.table.stats();
    info!(
        "stopped: {} decode errors, {} processes tracked, {} evicted, {} /proc misses",
        pipe.decode_errors, st.live, st.evicted, st.misses
    );
    Ok(pipe)
}

async fn events(a: EventsArgs) -> anyhow::Result<()> {
    let (selection, types) = selection(&a.types)?;
    let (loaded, table) = start_kernel(&a.kernel, selection)?;
    let filter = Filter { types, pids: (!a.pid.is_empty()).then(|| a.pid.iter().copied().collect()) };
    let mut pipe = Pipeline::new(table, Metrics::new(), filter);
    pipe.enrich = !a.no_enrich;
    serve_metrics(&a.kernel, &pipe.metrics).await?;
    let mut sink = JsonLines(BufWriter::with_capacity(1 << 16, std::io::stdout().lock()));
    stream(loaded, pipe, &mut sink).await?;
    Ok(())
}

fn engine_config(r: &RuleArgs) -> EngineConfig {
    EngineConfig {
        rule_matching: match r.rule_matching {
            Matching::First => RuleMatching::First,
            Matching::All => RuleMatching::All,
        },
        ..EngineConfig::default()
    }
}

/// Loads the rules or fails with every error, `file:line:column` first.
fn rules_or_fail(r: &RuleArgs) -> anyhow::Result<(RuleSet, usize)> {
    let src = RuleSources { builtin: !r.no_default_rules, paths: r.rules.clone() };
    let (set, report) = load_rules(&src, &engine_config(r));
    let check = CheckReport::from(&report);
    for w in &check.warnings {
        warn!("{}", w.message);
    }
    for s in &check.rules_skipped {
        warn!("rule skipped: {}: {}", s.rule, s.reason);
    }
    match set {
        Some(set) => {
            info!("{} rules loaded, {} skipped", report.rules_loaded, report.skipped.len());
            Ok((set, report.skipped.len()))
        }
        None => bail!("rules failed to load:\n{}", check.render_human()),
    }
}

async fn run(a: RunArgs) -> anyhow::Result<()> {
    let (rules, skipped) = rules_or_fail(&a.rules)?;
    let (loaded, table) = start_kernel(&a.kernel, Selection::default())?;
    let metrics = Metrics::new();
    metrics.rules_loaded.set(rules.rules().len() as i64);
    metrics.rules_skipped.set(skipped as i64);
    serve_metrics(&a.kernel, &metrics).await?;
    let mut detector = Detector::new(rules, Users::host(), pipeline::boot_to_unix_ns());
    detector.meta = metadata_sources(a.runtime_sockets, &metrics).await;
    let pipe = Pipeline::new(table, metrics, Filter::default());
    let mut sink = AlertSink::new(detector, BufWriter::with_capacity(1 << 16, std::io::stdout().lock()));
    stream(loaded, pipe, &mut sink).await?;
    info!("{} alerts", sink.alerts);
    Ok(())
}

/// Container runtimes and the Kubernetes pod watch, whichever this node
/// has; neither is host mode (container ids only), said once.
async fn metadata_sources(sockets: Vec<(PathBuf, SocketKind)>, metrics: &Metrics) -> MetaStore {
    let mut cfg = RuntimesConfig::default();
    if !sockets.is_empty() {
        cfg.sockets = sockets;
    }
    let (runtimes, failed) = Runtimes::probe(cfg).await;
    for (path, e) in failed {
        log::debug!("runtime socket {}: {e}", path.display());
    }
    let names: Vec<&str> = runtimes.clients().iter().map(sensor::runtime::RuntimeClient::name).collect();
    let pods = match PodWatcher::start_from_env(sensor::k8s::DEFAULT_GRACE).await {
        Ok(p) => p,
        Err(e) => {
            warn!("Kubernetes API unavailable ({e}); pod metadata comes from runtime labels only");
            None
        }
    };
    if names.is_empty() && pods.is_none() {
        info!("no container runtime socket and no Kubernetes credentials: container ids only");
        return MetaStore::new(None, None);
    }
    info!("container metadata from runtimes {names:?}, Kubernetes API: {}", if pods.is_some() { "yes" } else { "no" });
    let runtimes = (!names.is_empty()).then(|| std::sync::Arc::new(runtimes));
    // The sources keep their own atomics; mirror them into the registry.
    let (r, p, m) = (runtimes.clone(), pods.clone(), metrics.clone());
    tokio::spawn(async move {
        loop {
            if let Some(r) = &r {
                let s = r.stats();
                m.runtime_lookups.set(s.lookups as i64);
                m.runtime_errors.set(s.errors as i64);
            }
            if let Some(p) = &p {
                m.k8s_pods.set(p.stats().pods() as i64);
                m.k8s_watch_errors.set(p.stats().watch_errors() as i64);
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    let (tx, rx) = sensor::container::fetch::spawn(runtimes, pods);
    MetaStore::new(Some(tx), Some(rx))
}

fn replay(a: &ReplayArgs) -> anyhow::Result<()> {
    let (rules, _) = rules_or_fail(&a.rules)?;
    let input: Box<dyn std::io::BufRead> = if a.events.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&a.events).with_context(|| format!("opening {}", a.events.display()))?,
        ))
    };
    // Recorded views carry boot-clock start times of the recording host.
    let detector = Detector::new(rules, Users::host(), pipeline::boot_to_unix_ns());
    let mut sink = AlertSink::new(detector, BufWriter::new(std::io::stdout().lock()));
    let metrics = Metrics::new();
    let (mut events, mut bad) = (0u64, 0u64);
    for (i, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", a.events.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Event>(&line) {
            Ok(ev) => {
                events += 1;
                sink.emit(&ev, &metrics)?;
            }
            Err(e) => {
                bad += 1;
                warn!("{}:{}: not an event: {e}", a.events.display(), i + 1);
            }
        }
    }
    sink.finish(&metrics)?;
    eprintln!("sensor: replayed {events} events, {} alerts, {bad} unreadable lines", sink.alerts);
    if bad > 0 {
        bail!("{bad} lines were not events");
    }
    Ok(())
}

fn check(a: &CheckArgs) -> anyhow::Result<bool> {
    let src = RuleSources { builtin: a.with_default_rules, paths: a.paths.clone() };
    let (_, report) = load_rules(&src, &EngineConfig::default());
    let check = CheckReport::from(&report);
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", check.to_json())?;
    } else {
        write!(out, "{}", check.render_human())?;
    }
    Ok(check.is_ok())
}

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    match cli.cmd {
        Cmd::Events(a) => rt.block_on(events(a)),
        Cmd::Run(a) => rt.block_on(run(a)),
        Cmd::Replay(a) => replay(&a),
        Cmd::Rules(RulesCmd::Check(a)) => {
            if check(&a)? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
    }
}
