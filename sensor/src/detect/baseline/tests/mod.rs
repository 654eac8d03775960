// Tests bind detector, number, profile, dirs (d, n, p, a, b): one letter
// per role, the same in every test.
#![allow(clippy::many_single_char_names)]

// The stateful API server lives with the integration tests, which start
// sensor processes against it too.
#[allow(dead_code)] // the containment half is tests/response_contain.rs's
#[path = "../../../../tests/support/profile_api.rs"]
mod api_server;
mod cluster;

use std::time::Duration;

use super::item::{self, Item, ItemKind, generalise_path};
use super::key::ProfileKey;
use super::profile::{FANOUT, Mode, ProfileDoc};
use super::{BaselineConfig, Baselines, review, store};
use crate::detect::{Detector, RuleSources, load_rules};
use crate::enrich::users::Users;
use crate::event::Event;
use crate::rules::{EngineConfig, RuleSelection};

const SEC: u64 = 1_000_000_000;
/// Event times of the synthetic stream (2026-12-03).
const T0: u64 = 1_796_300_000 * SEC;

#[test]
fn generated_path_parts_collapse_and_words_stay() {
    for (path, want) in [
        ("/tmp/tmp.aB3dE9", "/tmp/tmp.*"),
        ("/proc/1234/status", "/proc/*/status"),
        ("/var/log/app-2026-12-03.log", "/var/log/app-*-*-*.log"),
        ("/usr/lib/python3/dist-packages/x.pyc", "/usr/lib/python3/dist-packages/x.pyc"),
        ("/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-*.so.*"),
        ("/data/cache/0f3a9c2e7b1d", "/data/cache/*"),
        ("/etc/nginx/nginx.conf", "/etc/nginx/nginx.conf"),
    ] {
        assert_eq!(generalise_path(path), want, "{path}");
    }
}

fn key() -> ProfileKey {
    ProfileKey::Pod { namespace: "prod".into(), kind: "Deployment".into(), name: "web".into(), container: "app".into() }
}

fn write(path: &str) -> Item {
    Item { kind: ItemKind::Write, text: generalise_path(path) }
}

#[test]
fn a_directory_with_many_children_is_learned_as_the_directory() {
    let mut p = ProfileDoc::new(key());
    // Names of letters only (not generalised) in one directory.
    let names: Vec<String> =
        (0..40u8).map(|i| format!("/srv/spool/{}{}", char::from(b'a' + i % 26), char::from(b'a' + i / 26))).collect();
    for n in &names {
        let it = write(n);
        if !p.knows(&it) {
            assert!(p.learn(&it, 512));
        }
    }
    assert_eq!(p.spec.write.iter().cloned().collect::<Vec<_>>(), vec!["/srv/spool/*".to_owned()], "{:?}", p.spec.write);
    assert!(p.knows(&write("/srv/spool/anything")));
    assert!(!p.knows(&write("/srv/other/file")), "a sibling directory is not covered");
    assert!(!p.knows(&write("/srv/spool/sub/file")), "a subdirectory is not covered");
    assert!(p.status.partial().is_empty());
}

#[test]
fn endless_ports_collapse_and_a_full_list_is_counted_as_partial() {
    let mut p = ProfileDoc::new(key());
    for port in 1000..1100 {
        let it = Item { kind: ItemKind::Connect, text: format!("tcp 10.1.2.3:{port}") };
        if !p.knows(&it) {
            p.learn(&it, 512);
        }
    }
    assert_eq!(p.spec.connect.len(), 1, "{:?}", p.spec.connect);
    assert!(p.spec.connect.contains("tcp 10.1.2.3:*"));
    assert!(p.knows(&Item { kind: ItemKind::Connect, text: "tcp 10.1.2.3:22".into() }));
    assert!(!p.knows(&Item { kind: ItemKind::Connect, text: "udp 10.1.2.3:22".into() }));
    // Exec items never collapse: a list of 8 fills and the rest is counted.
    for i in 0..12 {
        let it = Item { kind: ItemKind::Exec, text: item::exec_text(&format!("/opt/tool{i}"), "/bin/sh") };
        p.learn(&it, 8);
    }
    assert_eq!(p.spec.exec.len(), 8);
    assert_eq!(p.status.overflow.get("exec"), Some(&4));
    assert_eq!(p.status.partial(), vec!["exec list full: 4 items not learned".to_owned()]);
}

#[test]
fn deviations_after_learning_mark_an_unstable_profile() {
    let mut p = ProfileDoc::new(key());
    p.spec.mode = Mode::Enforcing;
    for i in 0..super::profile::UNSTABLE_AFTER {
        assert!(!p.status.unstable, "{i}");
        p.deviate(&Item { kind: ItemKind::Syscall, text: format!("call{i}") });
        // The same deviation again is not a new one.
        p.deviate(&Item { kind: ItemKind::Syscall, text: format!("call{i}") });
    }
    assert!(p.status.unstable);
    assert_eq!(p.status.deviations, 2 * super::profile::UNSTABLE_AFTER as u64);
    // Still enforcing: reported, not silently re-learned.
    assert_eq!(p.spec.mode, Mode::Enforcing);
    assert!(p.spec.syscall.is_empty());
}

#[test]
fn merging_two_nodes_observations_is_their_union() {
    let mut a = ProfileDoc::new(key());
    let mut b = ProfileDoc::new(key());
    a.learn(&write("/var/cache/a"), 512);
    b.learn(&write("/var/cache/b"), 512);
    b.learn(&Item { kind: ItemKind::Listen, text: "tcp 8080".into() }, 512);
    a.status.events = 10;
    b.status.events = 30;
    b.spec.mode = Mode::Enforcing;
    a.merge(&b, 512);
    assert_eq!(a.spec.write.len(), 2);
    assert!(a.spec.listen.contains("tcp 8080"));
    assert_eq!(a.spec.mode, Mode::Enforcing);
    assert_eq!(a.status.events, 30);
}

#[test]
fn a_profile_round_trips_through_yaml_and_its_name_is_a_kubernetes_name() {
    let mut p = ProfileDoc::new(key());
    p.learn(&write("/tmp/tmp.x1y2z3"), 512);
    p.learn(&Item { kind: ItemKind::Exec, text: item::exec_text("/usr/bin/curl", "/bin/sh") }, 512);
    let text = store::encode(&p).unwrap();
    assert!(text.contains("kind: SensorProfile"), "{text}");
    assert!(text.contains("scope: pod"), "{text}");
    let back = store::decode_all(std::path::Path::new("x.yaml"), &text).unwrap();
    assert_eq!(back, vec![p.clone()]);
    let name = &p.metadata.name;
    assert!(name.len() <= 253 && name.starts_with("pod-prod-deployment-web-app-"), "{name}");
    assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{name}");
    assert_eq!(p.metadata.namespace.as_deref(), Some("prod"));
    // A hostile key still gives a valid name, and two keys two names.
    let h1 = ProfileKey::Host { exe: "/tmp/../ÿ$(rm -rf)".into(), parent: String::new() }.object_name();
    let h2 = ProfileKey::Host { exe: "/tmp/../ÿ$(rm -rf )".into(), parent: String::new() }.object_name();
    assert_ne!(h1, h2);
    assert!(h1.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{h1}");
    assert!(matches!(
        store::decode_all(std::path::Path::new("x.yaml"), "kind: Pod\n"),
        Err(store::StoreError::Parse { .. })
    ));
}

/// A host process stream: `/bin/sh` (parent `/usr/sbin/sshd`) runs
/// programs and opens files.
fn ev(num: u64, ts: u64, json: &str) -> Event {
    let proc_ = r#"{"exec_id":"500:1","ppid":400,"name":"sh","exe":"/bin/sh","exepath":"/bin/sh","args":["sh"],"euid":0,"loginuid":-1,"tty":0,"sid":0,"cap_effective":0,"cap_permitted":0,"cap_inheritable":0,"start_ns":1,"ancestors":[{"pid":400,"name":"sshd","exe":"/usr/sbin/sshd","exepath":"/usr/sbin/sshd","cmdline":"sshd"}]}"#;
    let text = format!(
        r#"{{"num":{num},"ts":{ts},"pid":500,"tid":500,"uid":0,"gid":0,"cgroup_id":1,"comm":"sh",{json},"proc":{proc_}}}"#
    );
    serde_json::from_str(&text).unwrap()
}

fn exec_child(num: u64, ts: u64, exe: &str) -> Event {
    let child = format!(
        r#"{{"exec_id":"600:{num}","ppid":500,"name":"x","exe":"{exe}","exepath":"{exe}","args":["x"],"euid":0,"loginuid":-1,"tty":0,"sid":0,"cap_effective":0,"cap_permitted":0,"cap_inheritable":0,"start_ns":2,"ancestors":[{{"pid":500,"name":"sh","exe":"/bin/sh","exepath":"/bin/sh","cmdline":"sh"}},{{"pid":400,"name":"sshd","exe":"/usr/sbin/sshd","exepath":"/usr/sbin/sshd","cmdline":"sshd"}}]}}"#
    );
    let text = format!(
        r#"{{"num":{num},"ts":{ts},"type":"execve","category":"process","pid":600,"tid":600,"uid":0,"gid":0,"cgroup_id":1,"comm":"x","ret":0,"args":{{"exe":"{exe}"}},"proc":{child}}}"#
    );
    serde_json::from_str(&text).unwrap()
}

fn open_write(num: u64, ts: u64, path: &str) -> Event {
    ev(
        num,
        ts,
        &format!(
            r#""type":"openat","category":"file","ret":3,"args":{{"dirfd":-100,"name":"{path}","flags":577,"mode":420,"fd":3}}"#
        ),
    )
}

fn detector(dir: &std::path::Path, learn_for: Duration) -> Detector {
    let (set, report) = load_rules(
        &RuleSources { builtin: true, paths: vec![], select: vec![RuleSelection::enable_tag("baseline")] },
        &EngineConfig::default(),
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut d = Detector::new(set.unwrap(), Users::host(), 0);
    let cfg = BaselineConfig { dir: Some(dir.to_owned()), learn_for, min_events: 3, ..BaselineConfig::default() };
    d.baselines = Some(Baselines::open(cfg, 0).unwrap());
    d
}

fn rules_of(d: &mut Detector, e: &Event) -> Vec<String> {
    d.process(e).into_iter().map(|a| a.rule).filter(|r| r.starts_with("Unexpected")).collect()
}

#[test]
fn learn_then_enforce_then_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = detector(dir.path(), Duration::from_secs(60));
    // Learning: a minute of the same work, no alerts.
    let mut n = 0;
    for s in 0..70 {
        n += 1;
        assert!(rules_of(&mut d, &exec_child(n, T0 + s * SEC, "/usr/bin/date")).is_empty());
        n += 1;
        assert!(rules_of(&mut d, &open_write(n, T0 + s * SEC, &format!("/tmp/job.{s}000"))).is_empty());
    }
    let sh = ProfileKey::Host { exe: "/bin/sh".into(), parent: "/usr/sbin/sshd".into() };
    let b = d.baselines.as_ref().unwrap();
    let p = b.profile(&sh).unwrap();
    assert_eq!(p.spec.mode, Mode::Enforcing, "{p:?}");
    assert_eq!(p.spec.exec.iter().cloned().collect::<Vec<_>>(), vec!["/usr/bin/date <- /bin/sh".to_owned()]);
    assert_eq!(p.spec.write.iter().cloned().collect::<Vec<_>>(), vec!["/tmp/job.*".to_owned()]);
    // Enforcing: the same work is quiet, new work alerts once each.
    let t = T0 + 100 * SEC;
    assert!(rules_of(&mut d, &exec_child(1000, t, "/usr/bin/date")).is_empty());
    assert!(rules_of(&mut d, &open_write(1001, t, "/tmp/job.99000")).is_empty());
    assert_eq!(rules_of(&mut d, &exec_child(1002, t, "/usr/bin/curl")), vec!["Unexpected process in workload"]);
    // (A write that a rule names, /etc/cron.d, gets that rule's alert: the
    // first match, as Falco's default rule_matching.)
    let w = open_write(1003, t, "/srv/data/new.bin");
    let all: Vec<String> = d.process(&w).into_iter().map(|a| a.rule).collect();
    assert_eq!(
        all,
        vec!["Unexpected file write"],
        "{:?}",
        d.baselines
            .as_ref()
            .unwrap()
            .profile(&ProfileKey::Host { exe: "/bin/sh".into(), parent: "/usr/sbin/sshd".into() })
    );
    let a = d.process(&exec_child(1004, t, "/usr/bin/wget"));
    let fields = a[0].output_fields.as_ref().unwrap();
    assert_eq!(fields["baseline.key"], "host:/bin/sh <- /usr/sbin/sshd");
    assert_eq!(fields["baseline.item"], "/usr/bin/wget <- /bin/sh");
    assert_eq!(fields["baseline.status"], "enforcing");
    // A restart: what was learned, and the mode, are read back.
    d.baselines.as_mut().unwrap().close(t);
    drop(d);
    let mut d = detector(dir.path(), Duration::from_secs(60));
    let p = d.baselines.as_ref().unwrap().profile(&sh).unwrap().clone();
    assert_eq!(p.spec.mode, Mode::Enforcing);
    assert!(p.status.learned_seconds >= 60, "{:?}", p.status);
    assert_eq!(p.status.deviations, 3);
    assert!(rules_of(&mut d, &exec_child(2000, t + SEC, "/usr/bin/date")).is_empty());
    assert_eq!(rules_of(&mut d, &exec_child(2001, t + SEC, "/usr/bin/nc")), vec!["Unexpected process in workload"]);
}

#[test]
fn a_restart_in_the_middle_of_learning_resumes_it() {
    let dir = tempfile::tempdir().unwrap();
    let sh = ProfileKey::Host { exe: "/bin/sh".into(), parent: "/usr/sbin/sshd".into() };
    let mut d = detector(dir.path(), Duration::from_secs(60));
    for s in 0..30 {
        d.process(&exec_child(s + 1, T0 + s * SEC, "/usr/bin/date"));
    }
    d.baselines.as_mut().unwrap().close(T0 + 29 * SEC);
    drop(d);
    let mut d = detector(dir.path(), Duration::from_secs(60));
    let p = d.baselines.as_ref().unwrap().profile(&sh).unwrap().clone();
    assert_eq!((p.spec.mode, p.status.learned_seconds, p.status.events), (Mode::Learning, 29, 30), "{p:?}");
    // The agent was down for an hour: that is not learned time.
    let later = T0 + 3600 * SEC;
    for s in 0..20 {
        d.process(&exec_child(100 + s, later + s * SEC, "/usr/bin/date"));
    }
    let p = d.baselines.as_ref().unwrap().profile(&sh).unwrap().clone();
    assert_eq!(p.spec.mode, Mode::Learning, "48 s watched of 60: {p:?}");
    assert!(p.spec.exec.contains("/usr/bin/date <- /bin/sh"));
    for s in 20..40 {
        d.process(&exec_child(100 + s, later + s * SEC, "/usr/bin/date"));
    }
    assert_eq!(d.baselines.as_ref().unwrap().profile(&sh).unwrap().spec.mode, Mode::Enforcing);
}

#[test]
fn approve_and_reset_on_disk_reach_a_running_agent() {
    let dir = tempfile::tempdir().unwrap();
    let sh = ProfileKey::Host { exe: "/bin/sh".into(), parent: "/usr/sbin/sshd".into() };
    let mut d = detector(dir.path(), Duration::from_secs(3600));
    d.process(&exec_child(1, T0, "/usr/bin/date"));
    let wall = |s: u64| T0 + s * 10 * SEC;
    let b = d.baselines.as_mut().unwrap();
    b.tick(wall(1), false);
    // The store thread writes in the background.
    let file = store::file_of(dir.path(), &sh.object_name());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !file.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(review::list(dir.path()).unwrap().contains("host:/bin/sh <- /usr/sbin/sshd"));
    assert_eq!(review::approve(dir.path(), "host:/bin/sh").unwrap(), vec![sh.to_string()]);
    // Two ticks: the scan finds the edit, the next one applies it.
    let mut approved = false;
    for i in 2..200 {
        d.baselines.as_mut().unwrap().tick(wall(i), false);
        if d.baselines.as_ref().unwrap().profile(&sh).is_some_and(|p| p.spec.mode == Mode::Approved) {
            approved = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(approved, "the approval was not taken over");
    assert_eq!(rules_of(&mut d, &exec_child(2, T0 + SEC, "/usr/bin/id")), vec!["Unexpected process in workload"]);
    let p = d.baselines.as_ref().unwrap().profile(&sh).unwrap();
    assert!(!p.spec.exec.contains("/usr/bin/id <- /bin/sh"), "approved profiles learn nothing");
    // Reset: the file goes, the agent learns the workload from nothing.
    review::reset(dir.path(), &sh.object_name()).unwrap();
    let mut gone = false;
    for i in 200..400 {
        d.baselines.as_mut().unwrap().tick(wall(i), false);
        if d.baselines.as_ref().unwrap().profile(&sh).is_none() {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone, "the reset was not taken over");
    assert!(rules_of(&mut d, &exec_child(3, T0 + 2 * SEC, "/usr/bin/id")).is_empty());
    assert!(matches!(review::approve(dir.path(), "pod:nothing"), Err(review::ReviewError::NoMatch { .. })));
}

#[test]
fn export_then_import_merges_into_another_directory() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut p = ProfileDoc::new(key());
    p.learn(&write("/var/cache/a"), 512);
    store::write_atomic(&store::file_of(a.path(), &p.metadata.name), &store::encode(&p).unwrap()).unwrap();
    let mut q = ProfileDoc::new(key());
    q.learn(&write("/var/cache/b"), 512);
    store::write_atomic(&store::file_of(b.path(), &q.metadata.name), &store::encode(&q).unwrap()).unwrap();
    let exported = review::export(a.path(), &[]).unwrap();
    let f = a.path().join("export.yaml.txt");
    std::fs::write(&f, &exported).unwrap();
    assert_eq!(review::import(b.path(), &f, false, 512).unwrap(), vec![key().to_string()]);
    let merged = review::export(b.path(), &["pod:prod/Deployment/web".to_owned()]).unwrap();
    assert!(merged.contains("/var/cache/a") && merged.contains("/var/cache/b"), "{merged}");
    // A broken file is an error naming it, not a crash.
    std::fs::write(&f, "kind: SensorProfile\nspec: [").unwrap();
    let e = review::import(b.path(), &f, false, 512).unwrap_err().to_string();
    assert!(e.contains("export.yaml.txt"), "{e}");
}

#[test]
fn lost_events_while_learning_make_the_profile_partial() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = detector(dir.path(), Duration::from_secs(3600));
    d.process(&exec_child(1, T0, "/usr/bin/date"));
    d.baselines.as_mut().unwrap().note_loss(17);
    let sh = ProfileKey::Host { exe: "/bin/sh".into(), parent: "/usr/sbin/sshd".into() };
    let p = d.baselines.as_ref().unwrap().profile(&sh).unwrap();
    // The synthetic process started at boot, before this agent: said too.
    assert_eq!(
        p.status.partial(),
        vec!["17 events lost during learning".to_owned(), "the agent started after the workload".to_owned()]
    );
    assert_eq!(FANOUT, 16);
}

#[test]
fn the_sensitive_syscall_match_is_the_list() {
    for name in item::SENSITIVE_SYSCALLS {
        assert!(item::sensitive_syscall(name), "{name}");
    }
    for name in ["read", "write", "openat", "mount2", "", "setuid32"] {
        assert!(!item::sensitive_syscall(name), "{name}");
    }
}

#[test]
fn a_systemd_service_is_one_profile_for_all_its_programs() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = detector(dir.path(), Duration::from_secs(3600));
    for (n, exe) in [(1, "/usr/bin/date"), (2, "/usr/bin/logger")] {
        let mut e = exec_child(n, T0, exe);
        let mut v = e.proc.as_deref().unwrap().view.clone();
        v.unit = Some("backup.service".into());
        e.proc = Some(std::sync::Arc::new(crate::event::process_view::SharedView::new(v)));
        d.process(&e);
    }
    let unit = ProfileKey::Unit { unit: "backup.service".into() };
    let p = d.baselines.as_ref().unwrap().profile(&unit).unwrap();
    assert_eq!(
        p.spec.exec.iter().cloned().collect::<Vec<_>>(),
        vec!["/usr/bin/date <- /bin/sh".to_owned(), "/usr/bin/logger <- /bin/sh".to_owned()]
    );
    assert_eq!(unit.to_string(), "unit:backup.service");
    assert!(!super::cluster::shared(&unit), "a node's own services stay on it");
}

#[test]
fn collapsed_forms_are_found_among_neighbours_that_sort_before_them() {
    let mut p = ProfileDoc::new(key());
    for t in ["/srv/a b", "/srv/a!x", "/srv/a", "/srv/a/*", "/srv/a(", "/srv/a/#x"] {
        p.spec.write.insert(t.to_owned());
    }
    assert!(p.knows(&write("/srv/a/new")), "`/srv/a/*` after `/srv/a/#x`");
    assert!(!p.knows(&write("/srv/b/new")));
    assert!(!p.knows(&write("/srv/new")), "`/srv/*` is not there");
    p.spec.connect.insert("tcp 10.1.2.0/24:443".to_owned());
    p.spec.connect.insert("udp 10.9.9.9:*".to_owned());
    let c = |t: &str| Item { kind: ItemKind::Connect, text: t.to_owned() };
    assert!(p.knows(&c("tcp 10.1.2.77:443")), "a written network");
    assert!(!p.knows(&c("tcp 10.1.2.77:80")));
    assert!(p.knows(&c("udp 10.9.9.9:53")));
    assert!(!p.knows(&c("tcp 10.9.9.9:53")));
}

#[test]
fn an_enforcing_profiles_event_count_is_written_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let sh = ProfileKey::Host { exe: "/bin/sh".into(), parent: "/usr/sbin/sshd".into() };
    let mut d = detector(dir.path(), Duration::from_secs(1));
    for s in 0..5 {
        d.process(&exec_child(s + 1, T0 + s * SEC, "/usr/bin/date"));
    }
    d.baselines.as_mut().unwrap().close(T0 + 5 * SEC);
    drop(d);
    let mut d = detector(dir.path(), Duration::from_secs(1));
    assert_eq!(d.baselines.as_ref().unwrap().profile(&sh).unwrap().spec.mode, Mode::Enforcing);
    // Known work only: nothing but the count changes.
    for s in 0..7 {
        d.process(&exec_child(100 + s, T0 + (10 + s) * SEC, "/usr/bin/date"));
    }
    d.baselines.as_mut().unwrap().close(T0 + 20 * SEC);
    drop(d);
    let d = detector(dir.path(), Duration::from_secs(1));
    assert_eq!(d.baselines.as_ref().unwrap().profile(&sh).unwrap().status.events, 12);
}
