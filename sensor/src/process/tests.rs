use super::*;
use crate::process::path::normalize;

fn table() -> ProcessTable {
    ProcessTable::new(1000, Duration::from_secs(60))
}

/// Pids far above `pid_max` so /proc lookups never find a real process.
const BASE: u32 = 4_000_000_000;

fn exec(t: &mut ProcessTable, pid: u32, ppid: u32, start: u64, exe: &str) {
    t.apply(
        pid,
        exe.rsplit('/').next().unwrap(),
        0,
        &Lifecycle::Exec(Box::new(crate::event::decode::ExecInfo {
            ppid,
            start_ns: start,
            exe: exe.into(),
            args: vec![exe.into(), "-x".into()],
            exepath: Some(exe.into()),
            loginuid: -1,
            ..Default::default()
        })),
    );
}

#[test]
fn fork_exec_builds_ancestry() {
    let mut t = table();
    exec(&mut t, BASE + 1, 0, 100, "/sbin/init");
    t.apply(BASE + 1, "init", 0, &Lifecycle::Fork { child_pid: BASE + 2, child_start_ns: 200 });
    exec(&mut t, BASE + 2, BASE + 1, 200, "/bin/bash");
    t.apply(BASE + 2, "bash", 0, &Lifecycle::Fork { child_pid: BASE + 3, child_start_ns: 300 });
    // Before exec the child is a copy of its parent.
    assert_eq!(t.get(BASE + 3).unwrap().exe, "/bin/bash");
    exec(&mut t, BASE + 3, BASE + 2, 300, "/usr/bin/curl");
    let v = t.view(BASE + 3).unwrap();
    assert_eq!(v.exe, "/usr/bin/curl");
    assert_eq!(v.exec_id, format!("{}:300", BASE + 3));
    let names: Vec<_> = v.ancestors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["bash", "init"]);
    assert_eq!(v.ancestors[0].cmdline, "bash -x");
}

#[test]
fn exited_process_resolves_during_grace_then_pid_reuse_is_distinct() {
    let mut t = table();
    exec(&mut t, BASE + 5, 0, 500, "/bin/old");
    t.apply(BASE + 5, "old", 0, &Lifecycle::Exit { start_ns: 500 });
    assert!(t.get(BASE + 5).is_none());
    // Late events of the dead process still resolve.
    assert_eq!(t.resolve(BASE + 5).unwrap().exe, "/bin/old");
    // The pid is reused by a new process: a different exec id.
    exec(&mut t, BASE + 6, 0, 550, "/bin/parent");
    t.apply(BASE + 6, "parent", 0, &Lifecycle::Fork { child_pid: BASE + 5, child_start_ns: 900 });
    exec(&mut t, BASE + 5, BASE + 6, 900, "/bin/new");
    let v = t.view(BASE + 5).unwrap();
    assert_eq!(v.exe, "/bin/new");
    assert_eq!(v.exec_id, format!("{}:900", BASE + 5));
}

#[test]
fn exit_of_an_older_incarnation_does_not_remove_the_new_one() {
    let mut t = table();
    exec(&mut t, BASE + 7, 0, 1_000_000_000, "/bin/new");
    t.apply(BASE + 7, "x", 0, &Lifecycle::Exit { start_ns: 1 });
    assert!(t.get(BASE + 7).is_some());
}

#[test]
fn fork_over_a_live_pid_counts_reuse() {
    let mut t = table();
    exec(&mut t, BASE + 8, 0, 1, "/bin/a");
    exec(&mut t, BASE + 9, 0, 2, "/bin/b");
    t.apply(BASE + 9, "b", 0, &Lifecycle::Fork { child_pid: BASE + 8, child_start_ns: 3 });
    assert_eq!(t.stats().pid_reused, 1);
    assert_eq!(t.get(BASE + 8).unwrap().start_ns, 3);
}

#[test]
fn capacity_is_enforced_with_counted_evictions() {
    let mut t = ProcessTable::new(10, Duration::from_secs(60));
    for i in 0..25 {
        exec(&mut t, BASE + 100 + i, 0, u64::from(i), "/bin/x");
    }
    let st = t.stats();
    assert!(st.live <= 10, "{st:?}");
    assert_eq!(st.evicted as usize + st.live, 25, "every drop counted: {st:?}");
    // The newest survive.
    assert!(t.get(BASE + 124).is_some());
}

#[test]
fn ancestry_cycles_terminate() {
    let mut t = table();
    exec(&mut t, BASE + 20, BASE + 21, 1, "/bin/a");
    exec(&mut t, BASE + 21, BASE + 20, 2, "/bin/b");
    let v = t.view(BASE + 20).unwrap();
    assert!(v.ancestors.len() <= MAX_ANCESTORS);
}

#[test]
fn unknown_pid_is_read_from_proc_and_counted() {
    let mut t = table();
    let me = std::process::id();
    let v = t.view(me).unwrap();
    assert!(!v.exe.is_empty());
    assert_eq!(t.stats().misses, 1);
    assert!(t.view(BASE + 999).is_none());
}

#[test]
fn relative_exe_is_made_absolute() {
    assert_eq!(resolve_exe("./a", Some("/w")), "/w/a");
    assert_eq!(resolve_exe("b/c", Some("/w/")), "/w/b/c");
    assert_eq!(resolve_exe("/abs", Some("/w")), "/abs");
    assert_eq!(resolve_exe("rel", None), "rel");
}

#[test]
fn chdir_moves_the_cwd_and_refreshes_views() {
    let mut t = table();
    exec(&mut t, BASE + 20, 0, 100, "/bin/sh");
    t.chdir(BASE + 20, "/srv/app");
    assert_eq!(t.view(BASE + 20).unwrap().cwd.as_deref(), Some("/srv/app"));
    t.chdir(BASE + 20, "../data/./x/..");
    assert_eq!(t.view(BASE + 20).unwrap().cwd.as_deref(), Some("/srv/data"));
    assert_eq!(normalize("/a/../../b"), "/b");
    assert_eq!(normalize("/"), "/");
}

#[test]
fn paths_with_nothing_to_resolve_stay_and_the_others_resolve() {
    for p in ["/", "/etc/passwd", "/a/.b/..c/...", "/x"] {
        assert_eq!(normalize(p), p);
    }
    for (p, want) in [
        ("//etc", "/etc"),
        ("/etc/", "/etc"),
        ("/etc/.", "/etc"),
        ("/etc/..", "/"),
        ("/a//b", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/b/../c", "/a/c"),
        ("/..", "/"),
    ] {
        assert_eq!(normalize(p), want, "{p}");
    }
    assert_eq!(normalize("rel/../x"), "rel/../x");
}

#[test]
fn forked_child_takes_the_parents_current_name_and_no_namespace_pid() {
    let mut t = table();
    exec(&mut t, BASE + 20, 0, 100, "/usr/bin/runc");
    // runc renamed itself (prctl) before forking: the fork record carries
    // the parent's current comm, which the child starts with.
    t.apply(BASE + 20, "runc:[1:CHILD]", 0, &Lifecycle::Fork { child_pid: BASE + 21, child_start_ns: 200 });
    let c = t.get(BASE + 21).unwrap();
    assert_eq!(c.name, "runc:[1:CHILD]");
    assert_eq!(c.exe, "/usr/bin/runc");
    assert_eq!(c.details.vpid, None);
}

/// A shell with two long-lived children and a short-lived one that execs
/// and exits: the churn drops only the views it shows.
#[test]
fn a_leaf_exec_and_exit_keep_other_views_and_a_parent_change_refreshes_its_children() {
    let mut t = table();
    exec(&mut t, BASE + 1, 0, 100, "/bin/sh");
    for (c, start) in [(BASE + 2, 200), (BASE + 3, 300)] {
        t.apply(BASE + 1, "sh", 0, &Lifecycle::Fork { child_pid: c, child_start_ns: start });
        exec(&mut t, c, BASE + 1, start, "/usr/bin/worker");
    }
    let (w2, w3, sh) = (t.view(BASE + 2).unwrap(), t.view(BASE + 3).unwrap(), t.view(BASE + 1).unwrap());
    // Churn: a probe process forks from worker 2, execs, exits.
    for i in 0..3u32 {
        let probe = BASE + 10 + i;
        let start = 1000 + u64::from(i);
        t.apply(BASE + 2, "worker", 0, &Lifecycle::Fork { child_pid: probe, child_start_ns: start });
        exec(&mut t, probe, BASE + 2, start, "/bin/true");
        assert_eq!(t.view(probe).unwrap().ancestors[0].name, "worker");
        t.apply(probe, "true", 0, &Lifecycle::Exit { start_ns: start });
    }
    assert!(Arc::ptr_eq(&w3, &t.view(BASE + 3).unwrap()), "an unrelated view was rebuilt");
    assert!(Arc::ptr_eq(&sh, &t.view(BASE + 1).unwrap()), "the grandparent's view was rebuilt");
    // Worker 2 had children: its exec refreshes itself and its descendants,
    // not its sibling.
    t.apply(BASE + 2, "worker", 0, &Lifecycle::Fork { child_pid: BASE + 20, child_start_ns: 2000 });
    exec(&mut t, BASE + 20, BASE + 2, 2000, "/bin/sleep");
    assert_eq!(t.view(BASE + 20).unwrap().ancestors[0].exe, "/usr/bin/worker");
    exec(&mut t, BASE + 2, BASE + 1, 200, "/usr/bin/worker2");
    assert!(!Arc::ptr_eq(&w2, &t.view(BASE + 2).unwrap()));
    assert_eq!(t.view(BASE + 20).unwrap().ancestors[0].exe, "/usr/bin/worker2");
    assert!(Arc::ptr_eq(&w3, &t.view(BASE + 3).unwrap()));
    // Its exit cuts its child's chain there, as a rebuild would.
    t.apply(BASE + 2, "worker2", 0, &Lifecycle::Exit { start_ns: 200 });
    assert!(t.view(BASE + 20).unwrap().ancestors.is_empty());
    // A cwd change shows in the process's own view only.
    t.chdir(BASE + 1, "/srv");
    assert_eq!(t.view(BASE + 1).unwrap().cwd.as_deref(), Some("/srv"));
    assert!(Arc::ptr_eq(&w3, &t.view(BASE + 3).unwrap()));
}

/// A pid reused by a new fork never shows the view of its previous
/// process, even when that view was built after the exit.
#[test]
fn a_reused_pid_does_not_show_the_dead_process_view() {
    let mut t = table();
    exec(&mut t, BASE + 1, 0, 100, "/bin/sh");
    t.apply(BASE + 1, "sh", 0, &Lifecycle::Fork { child_pid: BASE + 5, child_start_ns: 500 });
    exec(&mut t, BASE + 5, BASE + 1, 500, "/usr/bin/old");
    t.apply(BASE + 5, "old", 0, &Lifecycle::Exit { start_ns: 500 });
    // A late event of the dead process: its view from the exited table.
    assert_eq!(t.view(BASE + 5).unwrap().exe, "/usr/bin/old");
    t.apply(BASE + 1, "sh", 0, &Lifecycle::Fork { child_pid: BASE + 5, child_start_ns: 900 });
    let v = t.view(BASE + 5).unwrap();
    assert_eq!((v.exe.as_str(), v.start_ns), ("/bin/sh", 900));
}

/// The most recent exited incarnation of a pid is the one resolved.
#[test]
fn the_latest_exited_incarnation_of_a_pid_resolves() {
    let mut t = table();
    exec(&mut t, BASE + 1, 0, 100, "/bin/sh");
    for (start, exe) in [(300, "/bin/b"), (200, "/bin/a"), (400, "/bin/c")] {
        t.apply(BASE + 1, "sh", 0, &Lifecycle::Fork { child_pid: BASE + 7, child_start_ns: start });
        exec(&mut t, BASE + 7, BASE + 1, start, exe);
        t.apply(BASE + 7, "x", 0, &Lifecycle::Exit { start_ns: start });
    }
    exec(&mut t, BASE + 8, 0, 50, "/bin/other");
    assert_eq!(t.resolve(BASE + 7).unwrap().exe, "/bin/c");
    assert_eq!(t.resolve(BASE + 8).unwrap().exe, "/bin/other");
}

/// 10,000 idle processes: the cached views stay bounded and the processes
/// execed with one environment share one copy of it.
#[test]
fn views_are_bounded_and_equal_environments_shared() {
    let mut t = ProcessTable::new(20_000, Duration::from_secs(60));
    let env: Vec<String> = (0..40).map(|i| format!("VAR{i}=some value of a usual length")).collect();
    for i in 0..10_000 {
        t.apply(
            BASE + i,
            "sleep",
            0,
            &Lifecycle::Exec(Box::new(crate::event::decode::ExecInfo {
                ppid: 0,
                start_ns: u64::from(i) + 1,
                exe: "/bin/sleep".into(),
                args: vec!["sleep".into(), "900".into()],
                env: env.clone(),
                loginuid: -1,
                ..Default::default()
            })),
        );
        assert!(t.view(BASE + i).is_some());
    }
    assert!(t.views.len() <= MAX_VIEWS, "{} views cached", t.views.len());
    let a = t.get(BASE).unwrap().details.env.clone();
    let b = t.get(BASE + 9_999).unwrap().details.env.clone();
    assert!(Arc::ptr_eq(&a, &b), "one environment, one copy");
    assert_eq!(&*a, &env[..]);
    // A view evicted with its idle process is rebuilt when it acts again.
    assert_eq!(t.view(BASE + 1).unwrap().exec_id, format!("{}:2", BASE + 1));
}
