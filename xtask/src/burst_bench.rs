//! `cargo xtask bench --burst-only`: bursts of open+close (two events per
//! iteration) as fast as two threads make them, under `sensor run` with
//! Falco's stable rules, the built-in ones and the default 16 MiB ring;
//! per burst size the events delivered and those the kernel counted lost
//! (`lost.*` of the summary). The largest burst with no loss is reported.
//! Two ways: with the reader running (what this machine's two CPUs can
//! generate while the agent drains), and with the agent stopped
//! (SIGSTOP) for the whole burst, so that the ring alone must hold it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::bench::{start, stop};

/// Iterations of open+close: 2 events each.
const SIZES: [u64; 5] = [50_000, 125_000, 250_000, 500_000, 1_000_000];

pub fn run(sensor: &Path) -> anyhow::Result<()> {
    let rules = crate::root().join("../shared/falco/falco_rules.yaml");
    anyhow::ensure!(rules.exists(), "{} missing: the burst loads Falco's stable rules", rules.display());
    let exe = std::env::current_exe()?;
    println!("| burst (events) | reader | generated in | events/s | openat delivered | lost |");
    println!("|---|---|---|---|---|---|");
    let mut held = [0u64; 2];
    for paused in [false, true] {
        for n in SIZES {
            let r =
                start(Command::new(sensor).args(["run", "--no-listen", "--rules"]).arg(&rules), Some("sensor: ready"))?;
            let pid = i32::try_from(r.child.id())?;
            if paused {
                // SAFETY: signalling our own child.
                unsafe { libc::kill(pid, libc::SIGSTOP) };
            }
            // Two workers, each half the burst, started together.
            let t0 = Instant::now();
            let half = (n / 2).to_string();
            let mut kids = Vec::new();
            for _ in 0..2 {
                kids.push(Command::new(&exe).args(["workload", "open", &half]).spawn()?);
            }
            for k in &mut kids {
                k.wait()?;
            }
            let took = t0.elapsed();
            if paused {
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGCONT) };
            }
            // Let the reader finish what the ring holds before the summary.
            std::thread::sleep(Duration::from_secs(2));
            let sum = stop(r)?.context("sensor printed no summary")?;
            let opens = sum.get("events.openat").copied().unwrap_or(0);
            let lost: u64 = sum.iter().filter(|(k, _)| k.starts_with("lost.")).map(|(_, v)| v).sum();
            let events = 2 * n;
            #[allow(clippy::cast_precision_loss)] // counts far below 2^52
            let rate = events as f64 / took.as_secs_f64();
            let reader = if paused { "stopped" } else { "running" };
            println!("| {events} | {reader} | {:.2} s | {rate:.0} | {opens} | {lost} |", took.as_secs_f64());
            if lost == 0 {
                held[usize::from(paused)] = events;
            }
        }
    }
    println!("\nlargest burst held with 0 loss: {} events (reader running), {} (reader stopped)", held[0], held[1]);
    Ok(())
}
