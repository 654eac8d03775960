//! Evaluates a synthetic mix of open/openat/execve/connect events against
//! the upstream Falco rules and reports events/s.
//!
//! Run: `cargo bench -p sensor --bench rules_engine` (needs `shared/falco/falco_rules.yaml`
//! next to an ancestor directory of the crate).

// Field extraction mirrors the registry: several fields share a body.
#![allow(clippy::match_same_arms)]

use std::borrow::Cow;
use std::hint::black_box;
use std::net::IpAddr;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sensor::rules::{EngineConfig, FieldArg, FieldId, FieldSource, FieldValue, RuleSet};

/// A struct-backed event, the way the sensor's event side will look.
#[derive(Clone)]
struct Event {
    ty: &'static str,
    proc_name: &'static str,
    pname: &'static str,
    exe: &'static str,
    cmdline: &'static str,
    args: &'static str,
    anames: [&'static str; 4],
    container_id: &'static str,
    image: &'static str,
    tty: u64,
    uid: u64,
    fd_name: Option<&'static str>,
    fd_dir: Option<&'static str>,
    fd_file: Option<&'static str>,
    fd_typechar: Option<&'static str>,
    fd_num: Option<i64>,
    open_read: bool,
    open_write: bool,
    flags: &'static str,
    sip: Option<IpAddr>,
    sport: Option<u64>,
    l4: Option<&'static str>,
}

impl FieldSource for Event {
    fn evt_type(&self) -> &str {
        self.ty
    }

    fn get(&self, f: FieldId, arg: Option<&FieldArg>) -> Option<FieldValue<'_>> {
        let s = |v: &'static str| Some(FieldValue::Str(Cow::Borrowed(v)));
        match f {
            FieldId::ProcName => s(self.proc_name),
            FieldId::ProcPname => s(self.pname),
            FieldId::ProcExe | FieldId::ProcExepath => s(self.exe),
            FieldId::ProcCmdline => s(self.cmdline),
            FieldId::ProcPcmdline => s(self.pname),
            FieldId::ProcArgs => s(self.args),
            FieldId::ProcAname => match arg {
                Some(FieldArg::Index(i)) => self.anames.get(*i as usize).and_then(|a| s(a)),
                _ => Some(FieldValue::List(
                    self.anames[1..].iter().map(|a| FieldValue::Str(Cow::Borrowed(*a))).collect(),
                )),
            },
            FieldId::ContainerId => s(self.container_id),
            FieldId::ContainerImageRepository => s(self.image),
            FieldId::ContainerPrivileged => Some(FieldValue::Bool(false)),
            FieldId::ProcTty => Some(FieldValue::U64(self.tty)),
            FieldId::UserUid => Some(FieldValue::U64(self.uid)),
            FieldId::UserName => s("root"),
            FieldId::UserLoginuid => Some(FieldValue::I64(-1)),
            FieldId::ProcVpid => Some(FieldValue::I64(1234)),
            FieldId::ProcIsVpgidLeader => Some(FieldValue::Bool(true)),
            FieldId::ProcDuration => Some(FieldValue::U64(60_000_000_000)),
            FieldId::FdName | FieldId::FdNameraw => self.fd_name.and_then(s),
            FieldId::FdDirectory => self.fd_dir.and_then(s),
            FieldId::FdFilename => self.fd_file.and_then(s),
            FieldId::FdTypechar => self.fd_typechar.and_then(s),
            FieldId::FdType => self.fd_typechar.and_then(|c| s(if c == "f" { "file" } else { "ipv4" })),
            FieldId::FdNum => self.fd_num.map(FieldValue::I64),
            FieldId::FdSip | FieldId::FdIp | FieldId::FdNet | FieldId::FdSnet => self.sip.map(FieldValue::Ip),
            FieldId::FdSport | FieldId::FdRport => self.sport.map(FieldValue::U64),
            FieldId::FdL4proto => self.l4.and_then(s),
            FieldId::FdConnected => Some(FieldValue::Bool(true)),
            FieldId::FdNameChanged => Some(FieldValue::Bool(false)),
            FieldId::EvtIsOpenRead => Some(FieldValue::Bool(self.open_read)),
            FieldId::EvtIsOpenWrite => Some(FieldValue::Bool(self.open_write)),
            FieldId::EvtIsOpenExec => Some(FieldValue::Bool(false)),
            FieldId::EvtRes => s("SUCCESS"),
            FieldId::EvtRawres => Some(FieldValue::I64(0)),
            FieldId::EvtNum => Some(FieldValue::U64(42)),
            FieldId::EvtArg => match arg {
                Some(FieldArg::Key(k)) if &**k == "flags" => s(self.flags),
                _ => None,
            },
            _ => None,
        }
    }
}

fn events() -> Vec<Event> {
    let base = Event {
        ty: "openat",
        proc_name: "nginx",
        pname: "nginx",
        exe: "/usr/sbin/nginx",
        cmdline: "nginx: worker process",
        args: "",
        anames: ["nginx", "nginx", "containerd-shim", "systemd"],
        container_id: "3ad7b26ded6d",
        image: "docker.io/library/nginx",
        tty: 0,
        uid: 101,
        fd_name: Some("/usr/share/nginx/html/index.html"),
        fd_dir: Some("/usr/share/nginx/html"),
        fd_file: Some("index.html"),
        fd_typechar: Some("f"),
        fd_num: Some(12),
        open_read: true,
        open_write: false,
        flags: "O_RDONLY|O_CLOEXEC",
        sip: None,
        sport: None,
        l4: None,
    };
    vec![
        base,
        Event {
            ty: "open",
            fd_name: Some("/etc/passwd"),
            fd_dir: Some("/etc"),
            fd_file: Some("passwd"),
            ..events_base()
        },
        Event {
            ty: "openat",
            proc_name: "python3",
            open_read: false,
            open_write: true,
            flags: "O_WRONLY|O_CREAT|O_TRUNC",
            fd_name: Some("/var/log/app/out.log"),
            fd_dir: Some("/var/log/app"),
            fd_file: Some("out.log"),
            ..events_base()
        },
        Event {
            ty: "execve",
            proc_name: "bash",
            pname: "runc",
            exe: "/bin/bash",
            cmdline: "bash -c ls /tmp",
            args: "-c ls /tmp",
            flags: "EXE_UPPER_LAYER",
            fd_name: None,
            fd_dir: None,
            fd_file: None,
            fd_typechar: None,
            fd_num: None,
            ..events_base()
        },
        Event {
            ty: "execve",
            proc_name: "ls",
            pname: "bash",
            exe: "/bin/ls",
            cmdline: "ls -la",
            args: "-la",
            flags: "",
            fd_name: None,
            fd_dir: None,
            fd_file: None,
            fd_typechar: None,
            fd_num: None,
            ..events_base()
        },
        Event {
            ty: "connect",
            proc_name: "curl",
            pname: "sh",
            exe: "/usr/bin/curl",
            cmdline: "curl https://10.96.0.1:443/api",
            fd_name: Some("172.17.0.5:43312->10.96.0.1:443"),
            fd_dir: None,
            fd_file: None,
            fd_typechar: Some("4"),
            fd_num: Some(5),
            sip: "10.96.0.1".parse().ok(),
            sport: Some(443),
            l4: Some("tcp"),
            ..events_base()
        },
    ]
}

fn events_base() -> Event {
    Event {
        ty: "openat",
        proc_name: "nginx",
        pname: "nginx",
        exe: "/usr/sbin/nginx",
        cmdline: "nginx: worker process",
        args: "",
        anames: ["nginx", "nginx", "containerd-shim", "systemd"],
        container_id: "3ad7b26ded6d",
        image: "docker.io/library/nginx",
        tty: 0,
        uid: 101,
        fd_name: Some("/usr/share/nginx/html/index.html"),
        fd_dir: Some("/usr/share/nginx/html"),
        fd_file: Some("index.html"),
        fd_typechar: Some("f"),
        fd_num: Some(12),
        open_read: true,
        open_write: false,
        flags: "O_RDONLY|O_CLOEXEC",
        sip: None,
        sport: None,
        l4: None,
    }
}

fn upstream() -> Option<PathBuf> {
    let mut dir = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    while let Some(d) = dir {
        let c = d.join("shared/falco/falco_rules.yaml");
        if c.is_file() {
            return Some(c);
        }
        dir = d.parent().map(PathBuf::from);
    }
    None
}

fn bench(c: &mut Criterion) {
    let Some(path) = upstream() else {
        eprintln!("shared/falco/falco_rules.yaml not found; nothing to benchmark");
        return;
    };
    let (set, report) = RuleSet::load_paths(&[path], &EngineConfig::default());
    let Some(set) = set else {
        eprintln!("rules failed to load: {:?}", report.errors);
        return;
    };
    // Repeat the mix so one iteration is a realistic batch.
    let evs: Vec<Event> = events().into_iter().cycle().take(600).collect();
    let mut probe = Vec::new();
    let fired: Vec<&str> = evs
        .iter()
        .take(6)
        .flat_map(|e| {
            probe.clear();
            set.evaluate(e, &mut probe);
            probe.iter().map(|r| r.name.as_str()).collect::<Vec<_>>()
        })
        .collect();
    eprintln!("{} rules loaded; rules fired by the 6-event mix: {fired:?}", set.rules().len());
    let mut g = c.benchmark_group("upstream_rules");
    bench_evaluate(&mut g, "evaluate_mix", &set, &evs);
    g.finish();
}

/// The events `sensor events` recorded (tests/data/recorded.jsonl).
fn recorded() -> Vec<sensor::event::Event> {
    let data = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/recorded.jsonl"))
        .expect("recorded events");
    data.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// `name` in `g`: the whole detection path (fd table, field extraction,
/// evaluation, alert formatting) of `set` over `evs`, per event.
fn bench_replay(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    set: RuleSet,
    evs: &[sensor::event::Event],
) {
    let mut det = sensor::detect::Detector::new(set, sensor::enrich::users::Users::host(), 0);
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.bench_function(name, |b| {
        b.iter(|| {
            let mut alerts = 0usize;
            for e in evs {
                alerts += det.process(black_box(e)).len();
            }
            black_box(alerts)
        });
    });
}

/// Rule evaluation alone of `evs` against `set`.
fn bench_evaluate(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    set: &RuleSet,
    evs: &[Event],
) {
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.bench_function(name, |b| {
        let mut out = Vec::with_capacity(4);
        b.iter(|| {
            let mut matched = 0usize;
            for e in evs {
                out.clear();
                set.evaluate(black_box(e), &mut out);
                matched += out.len();
            }
            black_box(matched)
        });
    });
}

/// The whole detection path on real events recorded by `sensor events`
/// with the upstream stable rules.
fn bench_recorded(c: &mut Criterion) {
    let Some(path) = upstream() else { return };
    let src = sensor::detect::RuleSources { builtin: false, paths: vec![path], select: Vec::new() };
    let (Some(set), _) = sensor::detect::load_rules(&src, &EngineConfig::default()) else { return };
    let mut g = c.benchmark_group("detector");
    bench_replay(&mut g, "replay_recorded", set, &recorded());
    g.finish();
}

/// The whole detection path with the built-in rule set (what a node runs by
/// default) on the same recorded events, to compare with the upstream rules.
fn bench_default_rules(c: &mut Criterion) {
    let src = sensor::detect::RuleSources { builtin: true, paths: vec![], select: Vec::new() };
    let (Some(set), _) = sensor::detect::load_rules(&src, &EngineConfig::default()) else { return };
    eprintln!("{} built-in rules loaded", set.rules().len());
    let mut g = c.benchmark_group("detector");
    bench_replay(&mut g, "replay_recorded_default_rules", set, &recorded());
    g.finish();
}

/// The whole detection path with all three of Falco's upstream files and
/// every rule enabled (`--enable-rule '*'`: 93 rules, sandbox included),
/// on the same recorded events, and rule evaluation alone on the mix.
fn bench_all_upstream(c: &mut Criterion) {
    bench_everything_enabled(c, "all_upstream_rules", false);
}

/// Issue 11's line: all 93 upstream rules and every built-in rule, all
/// enabled (`--enable-rule '*'` over the built-in set and the three files).
fn bench_all_rules(c: &mut Criterion) {
    bench_everything_enabled(c, "all_rules", true);
}

/// Group `group`: the three upstream files (and the built-in rules when
/// `builtin`), every rule enabled; evaluation on the mix and the whole
/// path on the recorded events.
fn bench_everything_enabled(c: &mut Criterion, group: &str, builtin: bool) {
    let Some(stable) = upstream() else { return };
    let dir = stable.parent().map(PathBuf::from).unwrap_or_default();
    let paths = vec![stable, dir.join("falco-incubating_rules.yaml"), dir.join("falco-sandbox_rules.yaml")];
    let src =
        sensor::detect::RuleSources { builtin, paths, select: vec![sensor::rules::RuleSelection::enable_rule("*")] };
    let (Some(set), report) = sensor::detect::load_rules(&src, &EngineConfig::default()) else { return };
    let enabled = set.rules().iter().filter(|r| r.enabled).count();
    eprintln!("{group}: {} rules loaded, {enabled} enabled, {} errors", set.rules().len(), report.errors.len());
    let mix: Vec<Event> = events().into_iter().cycle().take(600).collect();
    let mut g = c.benchmark_group(group);
    bench_evaluate(&mut g, "evaluate_mix", &set, &mix);
    bench_replay(&mut g, "replay_recorded", set, &recorded());
    g.finish();
}

/// Cost of container attribution on the detection path: the same recorded
/// events as host processes, then as processes of a container whose
/// runtime and pod metadata are cached (a store lookup per event, the
/// container fields the rules read, the suggested output fields).
fn bench_enrichment(c: &mut Criterion) {
    use sensor::enrich::container::meta::{ContainerMeta, MetaStore, PodMeta};
    use sensor::enrich::container::{ContainerRef, Runtime};
    let Some(path) = upstream() else { return };
    let src = sensor::detect::RuleSources { builtin: false, paths: vec![path], select: Vec::new() };
    let data = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/recorded.jsonl"))
        .expect("recorded events");
    let host: Vec<sensor::event::Event> = data.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let cref = ContainerRef {
        id: "3ad7b26ded6d8e7e0e6a3b4f1f2f5a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f".into(),
        runtime: Runtime::Containerd,
        pod_uid: Some("0f4b1c6e-2a3d-4e5f-8a9b-0c1d2e3f4a5b".into()),
    };
    let in_pod: Vec<sensor::event::Event> = host
        .iter()
        .cloned()
        .map(|mut e| {
            if let Some(p) = &e.proc {
                let mut v = p.view.clone();
                v.container = Some(cref.clone());
                e.proc = Some(std::sync::Arc::new(sensor::event::process_view::SharedView::new(v)));
            }
            e
        })
        .collect();
    let mut g = c.benchmark_group("enrichment");
    g.throughput(Throughput::Elements(host.len() as u64));
    for (name, evs, with_meta) in
        [("host", &host, false), ("container_ids_only", &in_pod, false), ("container_with_metadata", &in_pod, true)]
    {
        let (Some(set), _) = sensor::detect::load_rules(&src, &EngineConfig::default()) else { return };
        let mut det = sensor::detect::Detector::new(set, sensor::enrich::users::Users::host(), 0);
        if with_meta {
            let (req_tx, _req_rx) = tokio::sync::mpsc::unbounded_channel();
            let (ans_tx, ans_rx) = tokio::sync::mpsc::unbounded_channel();
            det.meta = MetaStore::new(Some(req_tx), Some(ans_rx));
            det.meta.wants_wait(&cref);
            let meta = ContainerMeta {
                container: sensor::enrich::runtime::ContainerMeta {
                    id: cref.id.clone(),
                    runtime: "containerd",
                    name: Some("app".into()),
                    image: Some("registry.example:5000/team/app:1.2.3".into()),
                    ..Default::default()
                },
                pod: Some(PodMeta {
                    name: "web-0".into(),
                    namespace: "shop".into(),
                    uid: cref.pod_uid.clone().unwrap_or_default(),
                    workload: Some(("Deployment".into(), "web".into())),
                    ..PodMeta::default()
                }),
            };
            let _ = ans_tx.send((cref.id.clone(), Ok(meta)));
            det.meta.poll();
        }
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut alerts = 0usize;
                for e in evs {
                    alerts += det.process(black_box(e)).len();
                }
                black_box(alerts)
            });
        });
    }
    g.finish();
}

/// Loading Falco's three upstream files together (stable, incubating,
/// sandbox: 93 rules), as `sensor run --rules ... --rules ... --rules ...`
/// does at start: read, collect, compile after each file.
fn bench_load(c: &mut Criterion) {
    let Some(stable) = upstream() else { return };
    let dir = stable.parent().map(PathBuf::from).unwrap_or_default();
    let paths: Vec<PathBuf> = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    let texts: Vec<(String, String)> =
        paths.iter().filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?))).collect();
    let refs: Vec<sensor::rules::RuleText> =
        texts.iter().map(|(n, c)| sensor::rules::RuleText { name: n, content: c }).collect();
    let (set, report) = RuleSet::load_texts(&refs, &EngineConfig::default());
    eprintln!("loader: {} rules, {} errors", set.map_or(0, |s| s.rules().len()), report.errors.len());
    let mut g = c.benchmark_group("loader");
    g.sample_size(10);
    g.bench_function("load_stable_incubating_sandbox", |b| {
        b.iter(|| black_box(RuleSet::load_texts(black_box(&refs), &EngineConfig::default())));
    });
    g.finish();
}

criterion_group!(
    benches,
    bench,
    bench_recorded,
    bench_default_rules,
    bench_all_upstream,
    bench_all_rules,
    bench_enrichment,
    bench_load
);
criterion_main!(benches);
