//! What the baseline stage adds to detection: the same stream of events
//! through a `Detector` with the default rules, without baselines and with
//! every workload's profile enforcing (all items known, the common case).
//! The mix: opens for reading (a library, not a profile item), opens for
//! writing (items), execs, connects, closes and sends (no item).
//!
//! Run: `cargo bench -p sensor --bench baseline` (`SENSOR_BENCH_ROUNDS`, default 200).
#![allow(clippy::unwrap_used, clippy::missing_panics_doc, clippy::cast_precision_loss)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use sensor::detect::baseline::{BaselineConfig, Baselines, review};
use sensor::detect::{Detector, RuleSources, load_rules};
use sensor::enrich::users::Users;
use sensor::event::Event;
use sensor::rules::{EngineConfig, RuleSelection};

const PROC: &str = r#"{"exec_id":"500:1","ppid":400,"name":"app","exe":"/usr/local/bin/app","exepath":"/usr/local/bin/app","args":["app","--serve"],"cwd":"/srv","euid":1000,"loginuid":-1,"tty":0,"sid":0,"cap_effective":0,"cap_permitted":0,"cap_inheritable":0,"start_ns":1,"ancestors":[{"pid":400,"name":"sh","exe":"/bin/sh","exepath":"/bin/sh","cmdline":"sh -c app"}]}"#;

fn event(num: u64, body: &str) -> Event {
    let text = format!(
        r#"{{"num":{num},"ts":{},"pid":500,"tid":500,"uid":1000,"gid":1000,"cgroup_id":1,"comm":"app",{body},"proc":{PROC}}}"#,
        1_796_300_000_000_000_000 + num * 1000
    );
    serde_json::from_str(&text).unwrap()
}

/// 1,000 events: per 20, 6 library opens, 4 writes, 1 exec, 1 socket and
/// connect, 5 closes, 2 sends.
fn stream() -> Vec<Event> {
    let mut v = Vec::new();
    let mut n = 0;
    let mut push = |body: String| {
        n += 1;
        v.push(event(n, &body));
    };
    for i in 0..50 {
        for k in 0..6 {
            push(format!(
                r#""type":"openat","category":"file","ret":{},"args":{{"dirfd":-100,"name":"/usr/lib/x86_64-linux-gnu/lib{k}.so","flags":524288,"mode":0,"fd":{}}}"#,
                10 + k,
                10 + k
            ));
        }
        for k in 0..4 {
            push(format!(
                r#""type":"openat","category":"file","ret":{},"args":{{"dirfd":-100,"name":"/srv/cache/item.{}","flags":577,"mode":420,"fd":{}}}"#,
                20 + k,
                i * 10 + k,
                20 + k
            ));
        }
        push(r#""type":"execve","category":"process","ret":0,"args":{"exe":"/usr/local/bin/app"}"#.to_owned());
        push(r#""type":"socket","category":"network","ret":30,"args":{"domain":2,"type":1,"proto":6}"#.to_owned());
        push(r#""type":"connect","category":"network","ret":0,"args":{"fd":30,"addr":{"family":"inet","ip":"10.0.0.7","port":5432},"local":{"family":"inet","ip":"10.0.0.2","port":41000}}"#.to_owned());
        for k in 0..5 {
            push(format!(r#""type":"close","category":"file","ret":0,"args":{{"fd":{}}}"#, 10 + k));
        }
        for _ in 0..2 {
            push(r#""type":"sendto","category":"network","ret":100,"args":{"fd":30}"#.to_owned());
        }
    }
    v
}

fn detector(with_baseline: bool, with_rules: bool, events: &[Event], dir: &std::path::Path) -> Detector {
    let select = if with_rules { vec![RuleSelection::enable_tag("baseline")] } else { Vec::new() };
    let (set, report) = load_rules(&RuleSources { builtin: true, paths: vec![], select }, &EngineConfig::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut d = Detector::new(set.unwrap(), Users::host(), 0);
    if with_baseline {
        let cfg = BaselineConfig {
            dir: Some(dir.to_owned()),
            learn_for: Duration::from_secs(3600),
            min_events: 1,
            ..BaselineConfig::default()
        };
        d.baselines = Some(Baselines::open(cfg, 0).unwrap());
    }
    for e in events {
        d.process(e);
    }
    d
}

/// Profiles of the stream, learned and then approved (they enforce).
fn learned(events: &[Event]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut d = detector(true, false, events, dir.path());
    d.baselines.as_mut().unwrap().close(0);
    let approved = review::approve(dir.path(), "").unwrap();
    assert!(approved.len() >= 2, "{approved:?}");
    dir
}

/// Nanoseconds per event of one pass over the stream.
fn pass(d: &mut Detector, events: &[Event]) -> f64 {
    let t = Instant::now();
    let mut alerts = 0;
    for e in events {
        alerts += d.process(black_box(e)).len();
    }
    black_box(alerts);
    t.elapsed().as_nanos() as f64 / events.len() as f64
}

fn main() {
    let events = stream();
    // The stage alone (its rules off) shows what the lookups cost apart
    // from the six deviation rules' conditions.
    let (a, b) = (learned(&events), learned(&events));
    let mut variants = [
        ("default rules", detector(false, false, &events, a.path()), Vec::new()),
        ("+ baseline stage", detector(true, false, &events, a.path()), Vec::new()),
        ("+ baseline stage and rules", detector(true, true, &events, b.path()), Vec::new()),
    ];
    for (name, d, _) in &mut variants {
        // Every item known: the stream raises no alert.
        let alerts: usize = events.iter().map(|e| d.process(e).len()).sum();
        assert_eq!(alerts, 0, "{name}");
    }
    let rounds: usize = std::env::var("SENSOR_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    // Rounds alternate the variants (this VM's speed drifts over seconds):
    // each round times 20 passes of each, in a rotating order.
    for r in 0..rounds {
        for i in 0..variants.len() {
            let v = &mut variants[(r + i) % 3];
            let ns: f64 = (0..20).map(|_| pass(&mut v.1, &events)).sum::<f64>() / 20.0;
            v.2.push(ns);
        }
    }
    let stat = |xs: &mut Vec<f64>| {
        xs.sort_by(f64::total_cmp);
        (xs[xs.len() / 2], xs[0])
    };
    let (base_med, base_best) = stat(&mut variants[0].2);
    println!("{} events per pass, {rounds} rounds of 20 passes per variant", events.len());
    for (name, _, xs) in &mut variants {
        let (med, best) = stat(xs);
        println!(
            "{name:<28} median {med:7.1} ns/event ({:+5.1} %), best {best:7.1} ns/event ({:+5.1} %)",
            (med / base_med - 1.0) * 100.0,
            (best / base_best - 1.0) * 100.0
        );
    }
}
