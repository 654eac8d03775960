//! `cargo xtask bench --baseline-only`: `sensor run` (built-in rules) and
//! `sensor run --baseline-dir` over two open storms, read-only opens of one
//! file (events no profile records) and write opens over 64 files of one
//! directory (profile items, known once learned), interleaved round by
//! round. Reported: the agent's CPU time (user and system, from
//! `/proc/PID/stat`) per event, each open and its close being two events.

use std::path::Path;
use std::process::Command;

use anyhow::Context as _;

use crate::bench::{start, stop, time_workload};
use crate::workload::Kind;

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which may hold spaces: state is 3rd.
    let after = stat.rsplit_once(')').context("stat format")?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).context("utime")?.parse::<u64>()? + f.get(12).context("stime")?.parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    #[allow(clippy::cast_precision_loss)] // ticks and hz are small
    Ok(ticks as f64 / hz as f64)
}

pub fn run(rounds: usize, opens: u64, sensor: &Path) -> anyhow::Result<()> {
    let mut results: Vec<(Kind, bool, Vec<f64>)> = Vec::new();
    for kind in [Kind::Open, Kind::Write] {
        for with in [false, true] {
            results.push((kind, with, Vec::new()));
        }
    }
    for round in 0..rounds {
        for kind in [Kind::Open, Kind::Write] {
            // Alternate which run goes first: no position bias.
            let order = if round % 2 == 0 { [false, true] } else { [true, false] };
            for with in order {
                let dir = tempfile_dir()?;
                let mut cmd = Command::new(sensor);
                cmd.args(["run", "--listen", "127.0.0.1:0"]);
                if with {
                    // Learns in the first second of the storm, then enforces.
                    cmd.arg("--baseline-dir").arg(&dir).args(["--baseline-learn", "1s", "--baseline-min-events", "10"]);
                }
                let r = start(&mut cmd, Some("sensor: ready"))?;
                let pid = r.child.id();
                let before = cpu_seconds(pid)?;
                let t = time_workload(kind, opens)?;
                // The reader drains the ring after the storm ends.
                std::thread::sleep(std::time::Duration::from_millis(500));
                let cpu = cpu_seconds(pid)? - before;
                stop(r)?;
                let _ = std::fs::remove_dir_all(&dir);
                #[allow(clippy::cast_precision_loss)] // event counts are exact in an f64
                let per_event_us = cpu * 1e6 / (2 * opens) as f64;
                eprintln!(
                    "round {round} {kind:?} baseline={with}: storm {t:?}, agent CPU {cpu:.2} s, {per_event_us:.2} us/event"
                );
                if let Some(x) = results.iter_mut().find(|(k, w, _)| *k == kind && *w == with) {
                    x.2.push(per_event_us);
                }
            }
        }
    }
    println!();
    println!(
        "| storm ({opens} open+close, 2 events each) | agent | CPU per event (median) | best | vs without baselines (median) |"
    );
    println!("|---|---|---|---|---|");
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0])
    };
    for kind in [Kind::Open, Kind::Write] {
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for (k, w, v) in &results {
            if *k == kind {
                if *w { on.clone_from(v) } else { off.clone_from(v) }
            }
        }
        let ((mo, bo), (mn, bn)) = (med(&mut off), med(&mut on));
        let what = if kind == Kind::Open { "read-only opens of one file" } else { "write opens of 64 files" };
        println!("| {what} | `sensor run` | {mo:.2} us | {bo:.2} us | |");
        println!(
            "| {what} | `sensor run --baseline-dir` | {mn:.2} us | {bn:.2} us | {:+.1} % |",
            (mn / mo - 1.0) * 100.0
        );
    }
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("sensor-bench-baseline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
