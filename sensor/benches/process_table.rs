//! The process table under exec churn beside a stream of events: 50
//! long-lived processes (a shell's workers) each have events, and between
//! every two batches one short-lived probe forks from a worker, execs and
//! exits (a kubelet exec probe, a cron job). Each iteration is one churn
//! cycle and 100 view lookups. Before 2026-12-04 every exec and exit moved
//! a global generation that dropped every cached view, so each cycle
//! rebuilt (and re-serialized) the views of all 50 workers.
//!
//! Run: `cargo bench -p sensor --bench process_table`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sensor::event::decode::{ExecInfo, Lifecycle};
use sensor::process::ProcessTable;

/// Pids far above `pid_max`: /proc never has them.
const BASE: u32 = 4_000_000_000;
const WORKERS: u32 = 50;

fn exec(t: &mut ProcessTable, pid: u32, ppid: u32, start: u64, exe: &str) {
    let info = ExecInfo {
        ppid,
        start_ns: start,
        exe: exe.into(),
        args: vec![exe.into(), "--serve".into()],
        exepath: Some(exe.into()),
        cwd: Some("/srv".into()),
        loginuid: -1,
        ..Default::default()
    };
    t.apply(pid, exe.rsplit('/').next().unwrap_or(exe), 0, &Lifecycle::Exec(Box::new(info)));
}

fn bench(c: &mut Criterion) {
    let mut t = ProcessTable::new(10_000, Duration::from_secs(60));
    exec(&mut t, BASE, 0, 1, "/usr/bin/containerd-shim");
    exec(&mut t, BASE + 1, BASE, 2, "/bin/sh");
    for w in 0..WORKERS {
        let pid = BASE + 2 + w;
        t.apply(BASE + 1, "sh", 0, &Lifecycle::Fork { child_pid: pid, child_start_ns: 10 + u64::from(w) });
        exec(&mut t, pid, BASE + 1, 10 + u64::from(w), "/usr/bin/worker");
    }
    let mut g = c.benchmark_group("process_table");
    g.throughput(Throughput::Elements(100));
    let mut n: u64 = 0;
    g.bench_function("views_with_exec_churn", |b| {
        b.iter(|| {
            n += 1;
            let probe = BASE + 1000 + (n % 30_000) as u32;
            let start = 1_000 + n;
            let parent = BASE + 2 + (n % u64::from(WORKERS)) as u32;
            t.apply(parent, "worker", 0, &Lifecycle::Fork { child_pid: probe, child_start_ns: start });
            exec(&mut t, probe, parent, start, "/bin/true");
            t.apply(probe, "true", 0, &Lifecycle::Exit { start_ns: start });
            let mut names = 0usize;
            for i in 0..100u32 {
                let pid = BASE + 2 + i % WORKERS;
                names += t.view(black_box(pid)).map_or(0, |v| v.ancestors.len());
            }
            black_box(names)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
