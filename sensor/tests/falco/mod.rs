//! Shared by the end-to-end tests of Falco's upstream rules
//! (`kernel_falco_*.rs`): one `sensor run` per test binary with Falco's
//! three files and every rule enabled, the static helper program, tagged
//! behaviours, and the "exactly these rules fired" assertion.
//!
//! A behaviour carries a unique tag in the command line of each process it
//! runs (an argument the program ignores, or a path). Its alerts are those
//! whose `proc.cmdline` (in every upstream rule's output) holds the tag, so
//! concurrent tests and the machine's own activity never mix in.
#![allow(dead_code)]

pub mod docker;
#[path = "../support/runtime.rs"]
pub mod runtime_support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, Sensor};

pub const FILES: [&str; 3] = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"];

/// How long a behaviour's other alerts may still arrive after the expected
/// ones did: its events are processed in order, so this only covers the
/// tail of the same behaviour.
const SETTLE: Duration = Duration::from_millis(1500);

/// Addresses a test puts on the loopback device of a network namespace it
/// creates (TEST-NET-2, RFC 5737): not 127.0.0.0/8, so rules about
/// non-local peers apply, yet nothing leaves the namespace.
pub const NS_SERVER: &str = "198.51.100.1";
pub const NS_CLIENT: &str = "198.51.100.2";

/// `sensor run` with Falco's three files, every rule enabled
/// (`--enable-rule '*'`), every matching rule reported, plus `extra`.
/// `None` (after saying why) when kernel tests or the files are missing.
pub fn start(extra: &[&str]) -> Option<Sensor> {
    if !common::kernel_tests_can_run() {
        return None;
    }
    let stable = common::upstream_rules()?;
    let dir = stable.parent()?.to_owned();
    let mut args: Vec<String> =
        ["run", "--no-default-rules", "--syscall-hooks", "btf", "--rule-matching", "all", "--enable-rule", "*"]
            .map(String::from)
            .to_vec();
    for f in FILES {
        args.push("--rules".into());
        args.push(dir.join(f).display().to_string());
    }
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = Sensor::start(&refs);
    let log = s.stderr.lock().unwrap().join("\n");
    assert!(log.contains("93 rules loaded (93 enabled), 0 skipped"), "{log}");
    Some(s)
}

/// A tag no other test or process uses.
pub fn tag(what: &str) -> String {
    common::unique(what)
}

/// `--tag=<tag>`: the helper ignores it; it makes the command line unique.
pub fn tag_arg(tag: &str) -> String {
    format!("--tag={tag}")
}

/// A directory whose path carries the tag; readable by every user (tests
/// run programs as `nobody` from it). Removed on drop.
pub fn tagged_dir(tag: &str) -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix(&format!("{tag}-")).tempdir().unwrap();
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// The static helper (`tests/data/falco_helper.c`), built once per test
/// binary; `None` (a failure under CI) without a C compiler.
pub fn helper() -> Option<&'static Path> {
    static H: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    H.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/falco_helper.c");
        let dir = tempfile::Builder::new().prefix("falco-helper-").tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = dir.path().join("falco_helper");
        let r = Command::new("cc").args(["-static", "-O1", "-o"]).arg(&out).arg(&src).output();
        match r {
            Ok(o) if o.status.success() => Some((dir, out)),
            other => {
                let why = format!("cc -static failed (gcc and libc6-dev are needed): {other:?}");
                assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
                eprintln!("SKIPPED: {why}");
                None
            }
        }
    })
    .as_ref()
    .map(|(_, p)| p.as_path())
}

/// A copy of the helper named `name` (the name a rule keys on) in `dir`.
pub fn helper_as(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(helper().expect("helper built"), &p).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Runs `cmd`, returning its output; the exit status is the caller's business
/// (many behaviours are attempts that fail by design). A fresh copy's
/// `ETXTBSY` is retried.
pub fn run(cmd: &mut Command) -> Output {
    common::retry_busy(cmd, Command::output)
}

/// Runs `cmd` and asserts it succeeded.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(out.status.success(), "{cmd:?}: {out:?}");
    out
}

/// Accepts one connection on `l` within 10 s; whether one came.
pub fn accept_one(l: &std::net::TcpListener) -> bool {
    l.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match l.accept() {
            Ok(_) => return true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("accept: {e}"),
        }
    }
    false
}

/// Alerts whose process command line carries `tag`.
pub fn tagged(tag: &str) -> impl Fn(&Value) -> bool + '_ {
    move |a| a["output_fields"]["proc.cmdline"].as_str().is_some_and(|c| c.contains(tag))
}

/// Waits for an alert of each rule in `rules` among the alerts `mine`
/// selects, lets the behaviour's tail arrive, then asserts that `mine`
/// selected alerts of exactly those rules. Returns the first alert of each.
pub fn expect(s: &Sensor, mine: impl Fn(&Value) -> bool, rules: &[&str]) -> BTreeMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut first = BTreeMap::new();
    for r in rules {
        let left = deadline.saturating_duration_since(Instant::now());
        let got = s.try_wait_for(left, &|a| a["rule"] == *r && mine(a));
        let Some(a) = got else {
            let seen: Vec<Value> = s.all(|a| a.get("rule").is_some() && mine(a));
            panic!("no alert of rule {r:?}; this behaviour's alerts: {seen:#?}");
        };
        first.insert((*r).to_owned(), a);
    }
    std::thread::sleep(SETTLE);
    let all = s.all(|a| a.get("rule").is_some() && mine(a));
    let fired: BTreeSet<&str> = all.iter().filter_map(|a| a["rule"].as_str()).collect();
    let want: BTreeSet<&str> = rules.iter().copied().collect();
    assert_eq!(fired, want, "rules fired by this behaviour: {all:#?}");
    first
}

/// `a`'s output field `f`.
pub fn field<'a>(a: &'a Value, f: &str) -> &'a Value {
    &a["output_fields"][f]
}

/// Asserts `a`'s output field `f` is the string `want`.
pub fn assert_field(a: &Value, f: &str, want: &str) {
    assert_eq!(field(a, f).as_str(), Some(want), "{f} in {a:#}");
}

/// Asserts `a`'s output field `f` is a string containing `part`.
pub fn assert_field_contains(a: &Value, f: &str, part: &str) {
    assert!(field(a, f).as_str().is_some_and(|v| v.contains(part)), "{f} should contain {part:?}: {a:#}");
}

/// `sh -c SCRIPT` in a new network namespace whose loopback device is up
/// and also carries `NS_SERVER` and `NS_CLIENT`. Tags reach the script
/// through the environment (`env`), so the script's own command line holds
/// none and only the processes it starts are the behaviour's.
pub fn in_netns(script: &str, env: &[(&str, &str)]) -> Output {
    // busybox's ip: busybox-static is installed wherever these tests run.
    // The setup is a statement of its own: `a && b & c` would background it.
    let setup = format!(
        "busybox ip link set lo up && busybox ip addr add {NS_SERVER}/32 dev lo \
         && busybox ip addr add {NS_CLIENT}/32 dev lo || exit 1\n{script}"
    );
    // `timeout`: a server whose client never came must not hang the test.
    let mut cmd = Command::new("timeout");
    cmd.args(["30", "unshare", "--net", "sh", "-c", &setup]).envs(env.iter().copied());
    run_ok(&mut cmd)
}

/// `sh -c SCRIPT` in a new private mount namespace: the script can mount
/// tmpfs over system directories (`/etc/opt`, `/usr/sbin`, `/home`, ...)
/// and write there without touching the host's. As with `in_netns`, tags
/// come through `env`.
pub fn in_mountns(script: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", script]).envs(env.iter().copied());
    run_ok(&mut cmd)
}
