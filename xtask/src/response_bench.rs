//! `cargo xtask bench --response-only`: what enforcement adds. The exec
//! and connect storms under `sensor run` with the same rules twice, in
//! monitor mode and with `--enforce`, interleaved round by round (order
//! alternating). The rules arm the kernel: a `kill_process` on process
//! names, one on an executable path, and a `deny_connect` on a destination
//! the storms never use, so every exec pays the name lookup and the path
//! program's walk and lookup, every connect the connect program's, and
//! nothing is killed or refused.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::bench::{start, stop, time_workload};
use crate::workload::Kind;

const RULES: &str = "- rule: Bench miner started
  desc: a name the exec storm never runs (kernel kill at exec)
  condition: evt.type in (execve, execveat) and proc.name in (xmrig, minerd)
  output: miner %proc.name
  priority: CRITICAL
  actions: [kill_process]
- rule: Bench miner at its path
  desc: a path the exec storm never runs (the path program walks every exec)
  condition: evt.type in (execve, execveat) and proc.exepath = /usr/local/bin/xmrig
  output: miner %proc.exepath
  priority: CRITICAL
  actions: [kill_process]
- rule: Bench exfiltration
  desc: a destination the connect storm never uses (connect4 deny)
  condition: evt.type = connect and fd.snet = 203.0.113.0/24 and fd.sport = 443
  output: exfil %fd.name
  priority: CRITICAL
  actions: [deny_connect]
";

/// One storm's times: no sensor, monitor mode, enforce mode.
struct Row {
    kind: Kind,
    n: u64,
    base: Vec<Duration>,
    monitor: Vec<Duration>,
    enforce: Vec<Duration>,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn run(rounds: usize, execs: u64, connects: u64, sensor: &Path) -> anyhow::Result<()> {
    let rules = std::env::temp_dir().join(format!("sensor-bench-response-{}.yaml", std::process::id()));
    std::fs::write(&rules, RULES)?;
    let storms = [(Kind::Exec, execs), (Kind::Connect, connects)];
    let mut out: Vec<Row> = storms
        .iter()
        .map(|(k, n)| Row { kind: *k, n: *n, base: Vec::new(), monitor: Vec::new(), enforce: Vec::new() })
        .collect();
    for round in 0..rounds {
        for Row { kind, n, base, monitor, enforce } in &mut out {
            base.push(time_workload(*kind, *n)?);
            let order = if round % 2 == 0 { [false, true] } else { [true, false] };
            for enf in order {
                let mut cmd = Command::new(sensor);
                cmd.args(["run", "--no-default-rules", "--no-listen", "--rules"]).arg(&rules);
                if enf {
                    cmd.arg("--enforce");
                }
                let r = start(&mut cmd, Some("sensor: ready"))?;
                let t = time_workload(*kind, *n)?;
                stop(r)?;
                eprintln!("round {round} {kind:?} enforce={enf}: {t:?}");
                if enf { enforce.push(t) } else { monitor.push(t) }
            }
        }
    }
    let _ = std::fs::remove_file(&rules);
    println!();
    println!(
        "| storm | count | no sensor (median) | `sensor run` monitor (median) | `--enforce` (median) | enforce vs monitor |"
    );
    println!("|---|---|---|---|---|---|");
    for Row { kind, n, base, monitor, enforce } in out {
        let (b, m, e) = (median(base), median(monitor), median(enforce));
        println!(
            "| {kind:?} | {n} | {:.3} s | {:.3} s | {:.3} s | {:+.1} % |",
            b.as_secs_f64(),
            m.as_secs_f64(),
            e.as_secs_f64(),
            (e.as_secs_f64() / m.as_secs_f64() - 1.0) * 100.0
        );
    }
    Ok(())
}
