//! Build, test and benchmark automation: `cargo xtask <command>`.

mod baseline_bench;
mod bench;
mod burst_bench;
mod memory_bench;
mod response_bench;
mod rw_bench;
mod workload;

use std::process::Command;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Project automation")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install what this machine lacks (nightly rust-src, bpf-linker).
    Setup,
    /// Set up, then run every test (kernel tests need root).
    Test {
        /// Extra arguments for `cargo test`.
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Set up, build the release agent and run it: `cargo xtask run -- events`.
    Run {
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
    /// Clippy (pedantic, from [workspace.lints]) over every crate, warnings denied.
    Lint,
    /// Regenerate docs/rules.md from the built-in rules and their fixtures.
    Docs,
    /// Overhead benchmark: storms with and without the sensor, interleaved.
    Bench(bench::BenchArgs),
    /// A benchmark workload (used by `bench`, runs in its own process).
    #[command(hide = true)]
    Workload(workload::WorkloadArgs),
}

pub(crate) fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_owned()
}

pub fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn setup() -> anyhow::Result<()> {
    run(Command::new("bash").arg(root().join("scripts/setup.sh")))
}

pub fn build_release() -> anyhow::Result<std::path::PathBuf> {
    run(Command::new("cargo").current_dir(root()).args(["build", "--release", "-p", "sensor"]))?;
    Ok(root().join("target/release/sensor"))
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Setup => setup(),
        Cmd::Test { args } => {
            setup()?;
            // Every linked crate's licence is on deny.toml's allow list.
            run(Command::new("cargo").current_dir(root()).args(["deny", "check", "licenses"]))?;
            run(Command::new("cargo").current_dir(root()).args(["test", "--no-fail-fast"]).args(args))
        }
        Cmd::Run { args } => {
            setup()?;
            let bin = build_release()?;
            run(Command::new(bin).args(args))
        }
        Cmd::Lint => {
            setup()?;
            run(Command::new("cargo").current_dir(root()).args(["clippy", "--all-targets", "--", "-D", "warnings"]))
        }
        Cmd::Docs => {
            let out = Command::new("cargo")
                .current_dir(root())
                .args(["run", "-q", "-p", "sensor", "--", "rules", "doc"])
                .output()
                .context("running sensor rules doc")?;
            if !out.status.success() {
                bail!("sensor rules doc failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            std::fs::write(root().join("docs/rules.md"), out.stdout).context("writing docs/rules.md")
        }
        Cmd::Bench(a) => {
            setup()?;
            bench::run(&a)
        }
        Cmd::Workload(a) => workload::run(&a),
    }
}
