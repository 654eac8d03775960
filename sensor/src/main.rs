//! `sensor`: command-line edge of the agent.

mod authoring;
mod baseline_cmd;
mod response_cmd;

use std::collections::HashSet;
use std::io::{BufRead as _, BufWriter, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{ArgMatches, Args as ClapArgs, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use log::{info, warn};
use sensor::config::Config;
use sensor::config::output::disable_below;
use sensor::config::output::{OutputConfig, OutputOverrides};
use sensor::detect::reload::{self, Watch};
use sensor::detect::{Detector, RuleSources, load_rules};
use sensor::enrich::container::meta::MetaStore;
use sensor::enrich::k8s::PodWatcher;
use sensor::enrich::runtime::{Runtimes, RuntimesConfig, SocketKind};
use sensor::enrich::users::Users;
use sensor::event::Event;
use sensor::kernel::programs::{self, CompatSyscalls, Loaded, NativeSyscalls, Options, Selection, SyscallHooks};
use sensor::kernel::syscall_table::{self, Category};
use sensor::metrics::Metrics;
use sensor::output::OutputsConfig;
use sensor::pipeline::alert_stage::{AlertFormat, AlertSettings};
use sensor::pipeline::wire::{self, AlertWiring};
use sensor::pipeline::{self, Filter, JsonLines, Pipeline, Sink};
use sensor::process::ProcessTable;
use sensor::rules::{CheckReport, EngineConfig, RuleMatching, RuleSelection, RuleSet};

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
    /// Every field conditions and outputs can use (like `falco --list`):
    /// type, argument, description.
    Fields(authoring::FieldsArgs),
    /// Configuration-file tools.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Learned workload profiles: review, export, import, approve, reset.
    #[command(subcommand)]
    Baseline(baseline_cmd::BaselineCmd),
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validate configuration files as `sensor run --config` would, without
    /// starting: unknown keys and bad values with `file:line:column` and the
    /// key's path; exit 1 on an error.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RulesCmd {
    /// Validate rule files like `falco -V`: errors and warnings with
    /// `file:line:column`; non-zero exit on errors.
    Check(CheckArgs),
    /// Run rule fixtures (recorded events with the verdict a rule must give)
    /// through the rules: PASS/FAIL per fixture, exit 1 on any FAIL, 2 when
    /// fixtures or rules cannot be loaded.
    Test(authoring::TestArgs),
    /// Every loaded rule (like `falco -L`): description, priority, source,
    /// tags, enabled, and where it is defined (`file:line:column`).
    List(authoring::ListArgs),
    /// A Markdown reference of the rules (what each detects, MITRE tags,
    /// priority, covering fixtures): `sensor rules doc > docs/rules.md`.
    Doc(authoring::DocArgs),
    /// A dry run of the rules' `actions:`: which could fire on what, and
    /// where each is decided (in the kernel at exec, or in user space).
    Actions(response_cmd::ActionsArgs),
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
    /// How native syscalls are hooked: `tracepoints`, each emitted
    /// syscall's own `syscalls:sys_exit_<name>` event (syscalls nothing
    /// needs run no program), or `raw`, the one raw `sys_exit` hook every
    /// syscall runs.
    #[arg(long, value_enum, default_value_t = NativeSyscalls::Tracepoints)]
    native_syscalls: NativeSyscalls,
    /// 32-bit (ia32) syscalls, which only the raw `sys_exit` hook sees:
    /// `always` (hook attached from the start), `auto` (attached at the
    /// first 32-bit exec: that program's first syscalls and earlier
    /// `int 0x80` calls are missed, logged and counted), `off`.
    #[arg(long, value_enum, default_value_t = CompatSyscalls::Always)]
    compat_syscalls: CompatSyscalls,
    /// Serve `/metrics` (Prometheus), `/healthz` and `/readyz` on ADDR.
    /// Default: 0.0.0.0:8765 (Falco's port); if that port is taken the
    /// sensor says so and runs without the listener. An ADDR given here
    /// must bind (port 0 picks a free one).
    #[arg(long = "listen", visible_alias = "metrics-addr", value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// Serve no metrics or health endpoints.
    #[arg(long, conflicts_with = "listen")]
    no_listen: bool,
    /// The cgroup v2 root the DNS programs attach to. Default: the first
    /// cgroup2 mount of /sys/fs/cgroup and /sys/fs/cgroup/unified.
    #[arg(long, value_name = "DIR")]
    cgroup_root: Option<std::path::PathBuf>,
    /// Capture no DNS traffic (no `dns` events, no `fd.sip.name`).
    #[arg(long)]
    no_dns: bool,
}

/// `--listen`'s default.
const DEFAULT_LISTEN: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 8765);

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
    /// Do not load the built-in rules (`rules/*.yaml`).
    #[arg(long)]
    no_default_rules: bool,
    /// Falco's `rule_matching`: stop at the first matching rule, or report all.
    #[arg(long, value_enum, default_value_t = Matching::First)]
    rule_matching: Matching,
    #[command(flatten)]
    select: SelectArgs,
}

/// Falco's `rules:` selection of falco.yaml (`- enable: {rule: ...}`),
/// applied after loading in the order given on the command line.
#[derive(ClapArgs)]
struct SelectArgs {
    /// Enable the rules whose name matches (`*` wildcards, as Falco's
    /// `rules: - enable: {rule: GLOB}`); `--enable-rule '*'` enables all,
    /// including those disabled by default. Repeatable.
    #[arg(long, value_name = "GLOB")]
    enable_rule: Vec<String>,
    /// Disable the rules whose name matches. Repeatable.
    #[arg(long, value_name = "GLOB")]
    disable_rule: Vec<String>,
    /// Enable the rules with a matching tag. Repeatable.
    #[arg(long, value_name = "GLOB")]
    enable_tag: Vec<String>,
    /// Disable the rules with a matching tag. Repeatable.
    #[arg(long, value_name = "GLOB")]
    disable_tag: Vec<String>,
}

type MakeSelection = fn(&str) -> RuleSelection;

/// The selection flags of one subcommand, in command-line order.
fn rule_selection(m: &ArgMatches) -> Vec<RuleSelection> {
    let kinds: [(&str, MakeSelection); 4] = [
        ("enable_rule", RuleSelection::enable_rule),
        ("disable_rule", RuleSelection::disable_rule),
        ("enable_tag", RuleSelection::enable_tag),
        ("disable_tag", RuleSelection::disable_tag),
    ];
    let mut out: Vec<(usize, RuleSelection)> = Vec::new();
    for (id, make) in kinds {
        // `try_`: subcommands without these flags (`events`) have no such ids.
        let Ok(Some(values)) = m.try_get_many::<String>(id) else { continue };
        let Some(indices) = m.indices_of(id) else { continue };
        out.extend(indices.zip(values).map(|(i, v)| (i, make(v))));
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, s)| s).collect()
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Matching {
    First,
    All,
}

#[derive(ClapArgs, Clone)]
struct OutputArgs {
    /// Configuration file (YAML): falco.yaml's output keys (`json_output`,
    /// `json_include_*`, `time_format_iso_8601`, `priority`,
    /// `append_output`) and `time_format_utc`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Alerts as JSON lines (default) or Falco's text line; overrides
    /// `json_output`.
    #[arg(long, value_enum)]
    output_format: Option<OutFormat>,
    /// Text times in UTC instead of local time.
    #[arg(long)]
    utc: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OutFormat {
    Json,
    Text,
}

#[derive(ClapArgs)]
struct RunArgs {
    #[command(flatten)]
    rules: RuleArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Container runtime sockets to ask for metadata, as `cri:PATH` or
    /// `docker:PATH`; repeat for more. Default: the well-known containerd,
    /// CRI-O, Docker and k3s sockets that exist.
    #[arg(long = "runtime-socket", value_parser = parse_socket)]
    runtime_sockets: Vec<(PathBuf, SocketKind)>,
    #[command(flatten)]
    delivery: DeliveryArgs,
    /// Seconds between checks of the rule files and the config for changes
    /// (a change reloads the rules; so does SIGHUP); 0: on SIGHUP only.
    #[arg(long, value_name = "SECS", default_value_t = 2)]
    watch_interval: u64,
    #[command(flatten)]
    baseline: baseline_cmd::BaselineArgs,
    #[command(flatten)]
    response: response_cmd::ResponseArgs,
    #[command(flatten)]
    kernel: KernelArgs,
}

#[derive(ClapArgs, Clone)]
struct DeliveryArgs {
    /// Also POST each alert as Falco JSON to URL (falcosidekick accepts it);
    /// repeatable. Other formats, TLS and authentication: the `outputs:`
    /// section of `--config`.
    #[arg(long, value_name = "URL")]
    webhook: Vec<String>,
    /// Directory of the network outputs' on-disk spools (at-least-once
    /// across restarts); overrides `outputs.spool_dir`.
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,
}

#[derive(ClapArgs)]
struct ReplayArgs {
    #[command(flatten)]
    rules: RuleArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    delivery: DeliveryArgs,
    #[command(flatten)]
    baseline: baseline_cmd::BaselineArgs,
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
    #[command(flatten)]
    select: SelectArgs,
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
    let mut dns = false;
    for t in types {
        let t = t.trim();
        if let Some(c) = cats.iter().find(|c| c.as_str() == t) {
            dns |= *c == Category::Network;
            sys.extend(syscall_table::TABLE.iter().filter(|s| s.category == *c).map(|s| s.name));
        } else if t == "dns" {
            dns = true;
        } else if syscall_table::all_names().any(|n| n == t) {
            if let Some(s) = syscall_table::by_name(t) {
                sys.insert(s.name);
            }
        } else {
            let known: Vec<_> = syscall_table::all_names().collect();
            bail!("unknown event type {t:?}; known: process, file, network, privilege, dns, {}", known.join(", "));
        }
        wanted.insert(t.to_owned());
    }
    Ok((Selection { syscalls: Some(sys), no_dns: !dns }, Some(wanted)))
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

fn start_kernel(k: &KernelArgs, mut selection: Selection) -> anyhow::Result<(Loaded, ProcessTable)> {
    selection.no_dns |= k.no_dns;
    // Each capability's operation tried once: a missing one is named.
    let checks = sensor::kernel::preflight::run()?;
    for (check, why) in checks.not_checked {
        info!("start-up check {check} not run: {why}");
    }
    let loaded = programs::load(&Options {
        ring_bytes: k.ring_buffer,
        agent_tgid: std::process::id(),
        selection,
        hooks: k.syscall_hooks,
        native: k.native_syscalls,
        compat: k.compat_syscalls,
        cgroup_root: k.cgroup_root.clone(),
    })
    .context("starting the kernel side")?;
    info!("syscall hooks: {}", loaded.syscall_hooks.describe());
    if let Ok(root) = &loaded.dns {
        info!("DNS capture: cgroup_skb on {}", root.display());
    }
    let mut table = ProcessTable::new(k.process_table_size, Duration::from_secs(5));
    let seeded = table.seed_from_proc();
    info!("seeded {seeded} processes from /proc");
    Ok((loaded, table))
}

async fn serve_metrics(k: &KernelArgs, m: &Metrics) -> anyhow::Result<()> {
    if k.no_listen {
        return Ok(());
    }
    let bound = match k.listen {
        Some(addr) => sensor::metrics::server::serve(addr, m.clone()).await?,
        None => match sensor::metrics::server::serve(DEFAULT_LISTEN, m.clone()).await {
            Ok(b) => b,
            Err(e) => {
                warn!(
                    "{}: running without /metrics, /healthz and /readyz (--listen ADDR to choose)",
                    anyhow::Error::from(e).chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
                );
                return Ok(());
            }
        },
    };
    eprintln!("sensor: metrics on http://{bound}/metrics");
    Ok(())
}

async fn stream<S: Sink>(mut loaded: Loaded, mut pipe: Pipeline, sink: &mut S) -> anyhow::Result<Pipeline> {
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
    pipe.dns.set_cgroup_root(loaded.dns.clone().ok());
    pipe.enrich = !a.no_enrich;
    serve_metrics(&a.kernel, &pipe.metrics).await?;
    let sink = JsonLines::new(BufWriter::with_capacity(1 << 16, std::io::stdout()));
    on_reader_thread(loaded, pipe, sink).await?.0?;
    Ok(())
}

/// Runs the ring reader's loop on a thread of its own with a
/// single-threaded runtime: records are read without cross-thread wakeups
/// (the reader on the multi-threaded runtime cost ~0.3 us more per event in
/// the open storm, BENCHMARKS.md), and the tasks on the main runtime's
/// workers (outputs, listener, metadata, rule watcher) never wait for a
/// busy reader. The sink comes back for the shutdown.
async fn on_reader_thread<S: Sink + Send + 'static>(
    loaded: Loaded,
    pipe: Pipeline,
    mut sink: S,
) -> anyhow::Result<(anyhow::Result<Pipeline>, S)> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("sensor-reader".into())
        .spawn(move || {
            let streamed = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("the reader's runtime")
                .and_then(|rt| rt.block_on(stream(loaded, pipe, &mut sink)));
            let _ = tx.send((streamed, sink));
        })
        .context("starting the reader thread")?;
    rx.await.context("the reader thread stopped without a result")
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
fn rules_or_fail(r: &RuleArgs, select: Vec<RuleSelection>) -> anyhow::Result<(RuleSet, usize)> {
    load_or_fail(r, &engine_config(r), select)
}

fn load_or_fail(r: &RuleArgs, cfg: &EngineConfig, select: Vec<RuleSelection>) -> anyhow::Result<(RuleSet, usize)> {
    let src = RuleSources { builtin: !r.no_default_rules, paths: r.rules.clone(), select };
    let (set, report) = load_rules(&src, cfg);
    let check = CheckReport::from(&report);
    for w in &check.warnings {
        warn!("{}", w.message);
    }
    for s in &check.rules_skipped {
        warn!("rule skipped: {}: {}", s.rule, s.reason);
    }
    match set {
        Some(set) => {
            info!(
                "{} rules loaded ({} enabled), {} skipped",
                report.rules_loaded,
                report.rules_enabled,
                report.skipped.len()
            );
            Ok((set, report.skipped.len()))
        }
        None => bail!("rules failed to load:\n{}", check.render_human()),
    }
}

/// The configuration file and the command line, resolved.
fn output_config_and_file(o: &OutputArgs) -> anyhow::Result<(OutputConfig, Config)> {
    let (cfg, name) = match &o.config {
        Some(p) => (Config::load(p)?, p.display().to_string()),
        None => (Config::default(), String::from("(defaults)")),
    };
    let format = o.output_format.map(|f| match f {
        OutFormat::Json => AlertFormat::Json,
        OutFormat::Text => AlertFormat::Text,
    });
    let oc = OutputConfig::resolve(&cfg, &name, OutputOverrides { format, utc: o.utc })?;
    Ok((oc, cfg))
}

/// The configured outputs with `--webhook` and `--spool-dir` applied;
/// `None` when only the stdout line is wanted. The flag `bool`: the
/// configuration's targets replace the stdout line.
fn outputs_config(a: &DeliveryArgs, cfg: &Config) -> anyhow::Result<Option<(OutputsConfig, bool)>> {
    let mut outs = cfg.outputs.clone().unwrap_or_default();
    let replaces_stdout = !outs.targets.is_empty();
    for url in &a.webhook {
        outs.add_webhook(url).with_context(|| format!("--webhook {url}"))?;
    }
    if let Some(d) = &a.spool_dir {
        outs.spool_dir = Some(d.clone());
    }
    if outs.targets.is_empty() {
        return Ok(None);
    }
    outs.validate().context("outputs")?;
    Ok(Some((outs, replaces_stdout)))
}

/// A detector for `rules` shaped by the output configuration (minimum
/// priority applied to the rules).
fn detector(mut rules: RuleSet, oc: &OutputConfig) -> Detector {
    let below = oc.apply_min_priority(&mut rules);
    if !below.is_empty() {
        info!("{} rules below priority {} disabled", below.len(), oc.min_priority);
    }
    for r in oc.append.unmatched_rules(&rules) {
        warn!("append_output matches rule {r:?}, which is not loaded");
    }
    Detector::with_options(rules, Users::host(), pipeline::boot_to_unix_ns(), oc.alert.clone(), &oc.append)
}

/// What a reload applies after detection.
fn alert_settings(
    oc: &OutputConfig,
    outputs: Option<(OutputsConfig, bool)>,
    response: sensor::respond::policy::Policy,
) -> AlertSettings {
    AlertSettings {
        response,
        format: oc.format,
        alert: oc.alert.clone(),
        append: oc.append.clone(),
        min_priority: oc.min_priority,
        replaces_stdout: outputs.as_ref().is_some_and(|(_, r)| *r),
        outputs: outputs.map(|(o, _)| o),
    }
}

/// The alert stages after detection, as the configuration and the flags
/// set them.
fn wiring<'a>(oc: &OutputConfig, outputs: Option<&'a (OutputsConfig, bool)>) -> AlertWiring<'a> {
    AlertWiring {
        format: oc.format,
        outputs: outputs.map(|(o, _)| o),
        replaces_stdout: outputs.is_some_and(|(_, r)| *r),
    }
}

async fn run(a: RunArgs, mut select: Vec<RuleSelection>) -> anyhow::Result<()> {
    a.baseline.enable_rules(&mut select);
    let (oc, cfg) = output_config_and_file(&a.output)?;
    let outputs = outputs_config(&a.delivery, &cfg)?;
    let watch = Watch {
        sources: RuleSources {
            builtin: !a.rules.no_default_rules,
            paths: a.rules.rules.clone(),
            select: select.clone(),
        },
        engine: engine_config(&a.rules),
        also: a.output.config.clone().into_iter().collect(),
        every: (a.watch_interval > 0).then(|| Duration::from_secs(a.watch_interval)),
    };
    let (rules, skipped) = rules_or_fail(&a.rules, select)?;
    let (mut loaded, table) = start_kernel(&a.kernel, Selection::default())?;
    let metrics = Metrics::new();
    metrics.rules_loaded.set(rules.rules().len() as i64);
    metrics.rules_skipped.set(skipped as i64);
    serve_metrics(&a.kernel, &metrics).await?;
    let mut detector = detector(rules, &oc).with_live_fds();
    detector.baselines = a.baseline.open(pipeline::boot_to_unix_ns())?;
    if let Some(b) = &mut detector.baselines {
        baseline_cmd::share(b).await;
    }
    detector.meta = metadata_sources(a.runtime_sockets, &metrics).await;
    // Not `stdout().lock()`: a configured stdout output writes from its own
    // thread and would wait for that lock until the sensor stops.
    let out = BufWriter::with_capacity(1 << 16, std::io::stdout());
    let mut sink = wire::alert_sink(detector, &wiring(&oc, outputs.as_ref()), &metrics, out)?;
    let enforce = a.response.enforce;
    sink.responder = Some(response_cmd::start(&mut loaded, &cfg, enforce, &metrics, sink.detector.rules()).await);
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    sink.reloads = Some(rx);
    // A reload reads the configuration file again, with the same flags
    // over it.
    let (out_args, delivery) = (a.output.clone(), a.delivery.clone());
    let config = move || -> Result<AlertSettings, String> {
        let (oc, cfg) = output_config_and_file(&out_args).map_err(|e| format!("{e:#}"))?;
        let outputs = outputs_config(&delivery, &cfg).map_err(|e| format!("{e:#}"))?;
        Ok(alert_settings(&oc, outputs, response_cmd::policy(&cfg, enforce)))
    };
    let prepare = |s: &mut RuleSet, c: &AlertSettings| drop(disable_below(s, c.min_priority));
    reload::spawn(watch, config, prepare, tx).context("watching for SIGHUP")?;
    let mut pipe = Pipeline::new(table, metrics, Filter::default());
    pipe.dns.set_cgroup_root(loaded.dns.clone().ok());
    let (streamed, mut sink) = on_reader_thread(loaded, pipe, sink).await?;
    info!("{} alerts", sink.alerts);
    // Even after a pipeline error: what was raised is delivered or spooled.
    wire::close(&mut sink, SHUTDOWN_DELIVERY).await;
    streamed.map(|_| ())
}

/// How long a stopping sensor keeps delivering (Kubernetes' default grace
/// period is 30 s; the rest of the shutdown needs little).
const SHUTDOWN_DELIVERY: Duration = Duration::from_secs(20);

/// Container runtimes and the Kubernetes pod watch, whichever this node
/// has; neither is host mode (container ids only), said once.
async fn metadata_sources(sockets: Vec<(PathBuf, SocketKind)>, metrics: &Metrics) -> MetaStore {
    let mut cfg = RuntimesConfig::default();
    if sockets.is_empty() {
        let (env_sockets, notes) = RuntimesConfig::sockets_from_env(
            std::env::var("DOCKER_HOST").ok().as_deref(),
            std::env::var("CONTAINER_RUNTIME_ENDPOINT").ok().as_deref(),
        );
        for n in notes {
            warn!("{n}");
        }
        cfg.sockets = env_sockets;
    } else {
        cfg.sockets = sockets;
    }
    let (runtimes, failed) = Runtimes::probe(cfg).await;
    for (path, e) in failed {
        log::debug!("runtime socket {}: {e}", path.display());
    }
    let names: Vec<&str> = runtimes.clients().iter().map(sensor::enrich::runtime::RuntimeClient::name).collect();
    let pods = match PodWatcher::start_from_env(sensor::enrich::k8s::DEFAULT_GRACE).await {
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
    let (tx, rx) = sensor::enrich::container::fetch::spawn(runtimes, pods);
    MetaStore::new(Some(tx), Some(rx))
}

async fn replay(a: ReplayArgs, mut select: Vec<RuleSelection>) -> anyhow::Result<()> {
    a.baseline.enable_rules(&mut select);
    let (oc, cfg) = output_config_and_file(&a.output)?;
    let outputs = outputs_config(&a.delivery, &cfg)?;
    let (rules, _) = rules_or_fail(&a.rules, select)?;
    let input: Box<dyn std::io::BufRead> = if a.events.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&a.events).with_context(|| format!("opening {}", a.events.display()))?,
        ))
    };
    // Recorded views carry boot-clock start times of the recording host.
    let metrics = Metrics::new();
    let out = BufWriter::new(std::io::stdout().lock());
    let mut det = detector(rules, &oc);
    det.baselines = a.baseline.open(pipeline::boot_to_unix_ns())?;
    let mut sink = wire::alert_sink(det, &wiring(&oc, outputs.as_ref()), &metrics, out)?;
    sink.responder = Some(response_cmd::replay_responder(&cfg, sink.detector.rules()));
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
    wire::close(&mut sink, SHUTDOWN_DELIVERY).await;
    eprintln!("sensor: replayed {events} events, {} alerts, {bad} unreadable lines", sink.alerts);
    if bad > 0 {
        bail!("{bad} lines were not events");
    }
    Ok(())
}

fn check(a: &CheckArgs, select: Vec<RuleSelection>) -> anyhow::Result<bool> {
    let src = RuleSources { builtin: a.with_default_rules, paths: a.paths.clone(), select };
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
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let sub = matches.subcommand().map(|(_, m)| m);
    let sub = match sub.and_then(ArgMatches::subcommand) {
        Some((_, m)) => Some(m),
        None => sub,
    };
    let select = sub.map(rule_selection).unwrap_or_default();
    // The outputs, the metadata fetchers, the listener and the rule watcher
    // run on two workers; the ring reader has a thread of its own
    // (`on_reader_thread`), so a storm that keeps it busy starves none of
    // them.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sensor-worker")
        .enable_all()
        .build()
        .context("tokio runtime")?;
    match cli.cmd {
        Cmd::Events(a) => rt.block_on(events(a)),
        Cmd::Run(a) => rt.block_on(run(a, select)),
        Cmd::Replay(a) => rt.block_on(replay(a, select)),
        Cmd::Fields(a) => authoring::fields(&a),
        Cmd::Baseline(c) => baseline_cmd::run(c),
        Cmd::Config(ConfigCmd::Check { paths }) => {
            let mut ok = true;
            for p in &paths {
                match sensor::config::check::check(p) {
                    Ok(c) if c.outputs.is_empty() => println!("OK: {} (alerts on stdout)", p.display()),
                    Ok(c) => println!("OK: {} (outputs: {})", p.display(), c.outputs.join(", ")),
                    Err(e) => {
                        ok = false;
                        println!("{e}");
                    }
                }
            }
            if ok { Ok(()) } else { std::process::exit(1) }
        }
        Cmd::Rules(RulesCmd::Check(a)) => {
            if check(&a, select)? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Cmd::Rules(RulesCmd::Doc(a)) => {
            if authoring::doc(&a)? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Cmd::Rules(RulesCmd::List(a)) => {
            if authoring::list(&a)? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Cmd::Rules(RulesCmd::Actions(a)) => {
            if response_cmd::actions(&a)? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
        Cmd::Rules(RulesCmd::Test(a)) => match authoring::test(&a, select)? {
            0 => Ok(()),
            code => std::process::exit(code),
        },
    }
}
