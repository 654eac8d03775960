//! `sensor`: command-line edge of the agent.

use std::collections::HashSet;
use std::io::{BufWriter, Write as _};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args as ClapArgs, Parser, Subcommand};
use log::info;
use sensor::metrics::Metrics;
use sensor::pipeline::{self, Filter, Pipeline};
use sensor::process::ProcessTable;
use sensor::programs::{self, Options, Selection, SyscallHooks};
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
    /// Leave out the process and ancestry of each event.
    #[arg(long)]
    no_enrich: bool,
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

fn parse_size(s: &str) -> Result<u32, String> {
    let (num, mult) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 1024),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    let n: u32 = num.parse().map_err(|e| format!("{s:?}: {e}"))?;
    n.checked_mul(mult).ok_or_else(|| format!("{s:?} is too large"))
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

async fn events(a: EventsArgs) -> anyhow::Result<()> {
    let (selection, types) = selection(&a.types)?;
    let ring_bytes = a.ring_buffer;
    let mut loaded =
        programs::load(&Options { ring_bytes, agent_tgid: std::process::id(), selection, hooks: a.syscall_hooks })
            .context("starting the kernel side")?;
    info!("syscall hooks: {}", loaded.hooks);
    let mut table = ProcessTable::new(a.process_table_size, Duration::from_secs(5));
    let seeded = table.seed_from_proc();
    let filter = Filter { types, pids: (!a.pid.is_empty()).then(|| a.pid.iter().copied().collect()) };
    let mut pipe = Pipeline::new(table, Metrics::new(), filter);
    pipe.enrich = !a.no_enrich;
    info!("seeded {seeded} processes from /proc");
    // Tests and scripts wait for this line before acting.
    eprintln!("sensor: ready");
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    pipeline::run(&mut loaded, &mut pipe, &mut out, stop_signal()).await?;
    out.flush().ok();
    eprintln!("sensor: summary {}", pipe.metrics.summary_json());
    let st = pipe.table.stats();
    info!(
        "stopped: {} decode errors, {} processes tracked, {} evicted, {} /proc misses",
        pipe.decode_errors, st.live, st.evicted, st.misses
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    match cli.cmd {
        Cmd::Events(a) => rt.block_on(events(a)),
    }
}
