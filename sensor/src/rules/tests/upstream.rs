//! Loading Falco's upstream stable rules file.

use std::path::PathBuf;

use crate::rules::{EngineConfig, MapEvent, RuleSet};

/// Finds `shared/falco/falco_rules.yaml` next to an ancestor of the crate.
fn upstream_rules() -> Option<PathBuf> {
    let mut dir = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    while let Some(d) = dir {
        let candidate = d.join("shared/falco/falco_rules.yaml");
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = d.parent().map(PathBuf::from);
    }
    None
}

/// `None` (test passes vacuously) only outside CI.
fn require_upstream() -> Option<PathBuf> {
    let p = upstream_rules();
    if p.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "shared/falco/falco_rules.yaml not found above {} (required when CI=true)",
            env!("CARGO_MANIFEST_DIR")
        );
        eprintln!("skipping: shared/falco/falco_rules.yaml not found above CARGO_MANIFEST_DIR");
    }
    p
}

#[test]
fn loads_all_upstream_rules() {
    let Some(path) = require_upstream() else { return };
    let (set, report) = RuleSet::load_paths(&[&path], &EngineConfig::default());
    let errors: Vec<String> = report.errors.iter().map(crate::rules::LoadError::full_message).collect();
    assert!(errors.is_empty(), "errors: {errors:#?}");
    assert!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    let set = set.expect("rule set when no errors");
    assert_eq!(set.rules().len(), 25);
    assert_eq!(report.rules_loaded, 25);
    // Every upstream rule is restricted to some event types.
    for r in set.rules() {
        assert!(!r.evttypes.is_complement(), "{} matches all event types", r.name);
    }
}

#[test]
fn upstream_terminal_shell_fires() {
    let Some(path) = require_upstream() else { return };
    let (set, _) = RuleSet::load_paths(&[&path], &EngineConfig::default());
    let Some(set) = set else { panic!("load failed") };
    let ev = MapEvent::new("execve")
        .s("proc.name", "bash")
        .s("proc.pname", "containerd-shim")
        .s("container.id", "ee97d9c4186f")
        .u("proc.tty", 34816)
        .s("evt.arg.flags", "EXE_WRITABLE")
        .b("proc.is_vpgid_leader", true)
        .s("proc.cmdline", "bash")
        .s("user.name", "root");
    let mut out = Vec::new();
    set.evaluate(&ev, &mut out);
    let names: Vec<&str> = out.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Terminal shell in container"]);
}

#[test]
fn upstream_sensitive_file_read_fires_and_host_is_quiet() {
    let Some(path) = require_upstream() else { return };
    let (set, _) = RuleSet::load_paths(&[&path], &EngineConfig::default());
    let Some(set) = set else { panic!("load failed") };
    let base = MapEvent::new("openat")
        .b("evt.is_open_read", true)
        .s("fd.typechar", "f")
        .i("fd.num", 3)
        .s("fd.name", "/etc/shadow")
        .s("fd.directory", "/etc")
        .s("proc.name", "cat")
        .s("proc.pname", "bash")
        .s("proc.cmdline", "cat /etc/shadow")
        .s("proc.exepath", "/usr/bin/cat")
        .s("container.id", "host");
    let mut out = Vec::new();
    set.evaluate(&base, &mut out);
    assert_eq!(out.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["Read sensitive file untrusted"]);

    let other = base.s("fd.name", "/tmp/x").s("fd.directory", "/tmp");
    out.clear();
    set.evaluate(&other, &mut out);
    assert!(out.is_empty(), "{:?}", out.iter().map(|r| &r.name).collect::<Vec<_>>());
}
