//! A real `sensor events` process shared by the tests of one binary: tests
//! act, then wait for the matching JSON event on its stdout.
#![allow(dead_code)]
// A failed step should fail the test loudly.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Sensor {
    pub pid: u32,
    /// Every stderr line so far.
    pub stderr: Arc<Mutex<Vec<String>>>,
    child: Mutex<Child>,
    events: Arc<(Mutex<Vec<Value>>, Condvar)>,
    /// Why the stdout reader stopped, once it has: a failed wait says so
    /// instead of a bare timeout.
    reader_end: Arc<Mutex<Option<String>>>,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Why kernel tests cannot run here, if they cannot.
fn cannot_run() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not root".into());
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("no kernel BTF".into());
    }
    None
}

/// Whether kernel tests can run here; says why not (under CI=true that is
/// a failure, not a skip).
pub fn kernel_tests_can_run() -> bool {
    match cannot_run() {
        None => true,
        Some(why) => {
            assert!(!in_ci(), "kernel tests cannot run in CI: {why}");
            eprintln!("SKIPPED kernel test: {why}");
            false
        }
    }
}

/// The shared sensor, or `None` (after printing why) when kernel tests
/// cannot run here. Under CI=true that is a failure, not a skip.
pub fn sensor() -> Option<&'static Sensor> {
    static S: OnceLock<Option<Sensor>> = OnceLock::new();
    S.get_or_init(|| {
        if let Some(why) = cannot_run() {
            assert!(!in_ci(), "kernel tests cannot run in CI: {why}");
            eprintln!("SKIPPED kernel test: {why}");
            return None;
        }
        // BTF hooks required, not merely tried: a silent fallback would hide
        // a broken fast path on these kernels.
        Some(Sensor::start(&["events", "--syscall-hooks", "btf"]))
    })
    .as_ref()
}

impl Sensor {
    /// Starts `sensor <args>` and waits until it reports ready.
    pub fn start(args: &[&str]) -> Sensor {
        Self::start_with_env(args, &[])
    }

    /// Likewise, with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Sensor {
        // Spawned from a thread that never exits, with PDEATHSIG: the sensor
        // dies with the test binary even though a static never drops.
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::os::unix::process::CommandExt as _;
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_sensor"));
            cmd.args(&args).envs(env).stdout(Stdio::piped()).stderr(Stdio::piped());
            // SAFETY: prctl is async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            tx.send(cmd.spawn().expect("spawn sensor")).expect("send child");
            loop {
                std::thread::park();
            }
        });
        let mut child = rx.recv().expect("sensor spawner");
        let pid = child.id();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let events: Arc<(Mutex<Vec<Value>>, Condvar)> = Arc::default();
        let reader_end: Arc<Mutex<Option<String>>> = Arc::default();
        let (ev, end) = (events.clone(), reader_end.clone());
        std::thread::spawn(move || {
            let mut out = BufReader::new(stdout);
            let why = loop {
                let mut line = Vec::new();
                match out.read_until(b'\n', &mut line) {
                    Ok(0) => break "the sensor closed its stdout".to_owned(),
                    Ok(_) => {}
                    Err(e) => break format!("reading the sensor's stdout: {e}"),
                }
                let v: Value = match serde_json::from_slice(&line) {
                    Ok(v) => v,
                    Err(e) => {
                        break format!(
                            "the sensor printed a non-JSON line ({e}): {:?}",
                            String::from_utf8_lossy(&line)
                        );
                    }
                };
                let (lock, cv) = &*ev;
                lock.lock().unwrap().push(v);
                cv.notify_all();
            };
            *end.lock().unwrap() = Some(why);
            ev.1.notify_all();
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stderr_lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let lines = stderr_lines.clone();
        std::thread::spawn(move || {
            let mut tx = Some(ready_tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[sensor {pid}] {line}");
                lines.lock().unwrap().push(line.clone());
                if line.contains("sensor: ready")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(());
                }
            }
        });
        if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            panic!("sensor did not become ready (did the eBPF programs load? see its stderr above)");
        }
        Sensor { pid, stderr: stderr_lines, child: Mutex::new(child), events, reader_end }
    }

    /// The first event satisfying `pred`, waiting up to 30 s (a loaded CI
    /// machine can lag; a passing test never waits that long). A failure
    /// says what the sensor was doing.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.try_wait_for(Duration::from_secs(30), &pred)
            .unwrap_or_else(|| panic!("no event matching: {what}\n{}", self.diagnosis()))
    }

    /// The sensor's state, for a failed wait: alive or not, events read, the
    /// reader's end, reported losses, the last lines of its stderr.
    pub fn diagnosis(&self) -> String {
        let alive = match self.child.lock().unwrap().try_wait() {
            Ok(None) => "running".to_owned(),
            Ok(Some(st)) => format!("exited: {st}"),
            Err(e) => format!("unknown: {e}"),
        };
        let (n, losses) = {
            let evs = self.events.0.lock().unwrap();
            let losses: Vec<String> =
                evs.iter().filter(|e| e["type"] == "sensor_loss").map(|e| e["args"].to_string()).collect();
            (evs.len(), losses)
        };
        let end = self.reader_end.lock().unwrap().clone().unwrap_or_else(|| "still reading".into());
        let err = self.stderr.lock().unwrap();
        let tail = err[err.len().saturating_sub(20)..].join("\n  ");
        format!(
            "sensor {}: {alive}; {n} events read; stdout reader: {end}; loss reports: {losses:?}; stderr tail:\n  {tail}",
            self.pid
        )
    }

    pub fn try_wait_for(&self, timeout: Duration, pred: &dyn Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.events;
        let mut evs = lock.lock().unwrap();
        let mut checked = 0;
        loop {
            if let Some(v) = evs[checked..].iter().find(|v| pred(v)) {
                return Some(v.clone());
            }
            checked = evs.len();
            let now = Instant::now();
            if now >= deadline || self.reader_end.lock().unwrap().is_some() {
                return None;
            }
            evs = cv.wait_timeout(evs, deadline - now).unwrap().0;
        }
    }

    /// All events so far that satisfy `pred`.
    pub fn all(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.events.0.lock().unwrap().iter().filter(|v| pred(v)).cloned().collect()
    }

    pub fn stop(&self) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid as i32), nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.lock().unwrap().wait();
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Sensor {
    /// Waits (up to 20 s) for a stderr line containing `what`.
    pub fn wait_stderr(&self, what: &str) {
        let end = Instant::now() + Duration::from_secs(20);
        while !self.stderr.lock().unwrap().iter().any(|l| l.contains(what)) {
            assert!(Instant::now() < end, "no '{what}' on stderr\n{}", self.diagnosis());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stderr lines so far containing `what`.
    pub fn count_stderr(&self, what: &str) -> usize {
        self.stderr.lock().unwrap().iter().filter(|l| l.contains(what)).count()
    }

    /// `host:port` of the sensor's `/metrics` listener, from its stderr.
    pub fn metrics_addr(&self) -> String {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self.stderr.lock().unwrap().iter().find_map(|l| {
                l.split_once("metrics on http://").map(|(_, a)| a.trim_end_matches("/metrics").to_owned())
            });
            if let Some(a) = found {
                return a;
            }
            assert!(Instant::now() < end, "no listener line on stderr\n{}", self.diagnosis());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Runs `start` on `cmd` (spawn or output) and retries `ETXTBSY`: a
/// program copied a moment ago is busy while a thread of this test binary
/// that forked at that moment holds the copy's write descriptor in its
/// child, until that child's exec closes it.
pub fn retry_busy<T>(
    cmd: &mut std::process::Command,
    mut start: impl FnMut(&mut std::process::Command) -> std::io::Result<T>,
) -> T {
    for _ in 0..100 {
        match start(cmd) {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => std::thread::sleep(Duration::from_millis(20)),
            r => return r.unwrap_or_else(|e| panic!("{cmd:?}: {e}")),
        }
    }
    panic!("{cmd:?}: text file busy for two seconds");
}

/// A scrape of `/metrics` at `addr` over real HTTP.
pub fn scrape(addr: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// The value of the sample `series` (name and labels, as printed) in a scrape.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()))
}

/// Replaces `path` atomically (as a `ConfigMap` update does, by rename).
pub fn install(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Opens `{prefix}0`, `{prefix}1`, ... from a thread, `per_tick` every
/// 20 ms, until [`OpenStorm::finish`] or drop (a test failing half-way
/// stops it too).
pub struct OpenStorm {
    stop: Arc<std::sync::atomic::AtomicBool>,
    opened: Arc<std::sync::atomic::AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OpenStorm {
    pub fn start(prefix: &str, per_tick: u64) -> OpenStorm {
        use std::sync::atomic::Ordering::Relaxed;
        let (stop, opened): (Arc<std::sync::atomic::AtomicBool>, Arc<std::sync::atomic::AtomicU64>) =
            (Arc::default(), Arc::default());
        let (st, op, prefix) = (stop.clone(), opened.clone(), prefix.to_owned());
        let thread = std::thread::spawn(move || {
            while !st.load(Relaxed) {
                for _ in 0..per_tick {
                    let n = op.fetch_add(1, Relaxed);
                    let _ = std::fs::File::open(format!("{prefix}{n}"));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        OpenStorm { stop, opened, thread: Some(thread) }
    }

    /// Stops the storm; how many opens it made (numbered from 0).
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.opened.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for OpenStorm {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A name no other test or process uses.
pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("sensor-test-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn me() -> u64 {
    u64::from(std::process::id())
}

pub fn is(ev: &Value, ty: &str) -> bool {
    ev["type"] == ty
}

pub fn arg<'a>(ev: &'a Value, name: &str) -> &'a Value {
    &ev["args"][name]
}

/// The calling thread's id: tests run in parallel threads of one process,
/// so fd numbers collide across tests; the tid does not.
pub fn tid() -> u64 {
    u64::from(nix::unistd::gettid().as_raw() as u32)
}

/// Attaches to a fresh `sleep` with `PTRACE_ATTACH`, detaches, kills it;
/// returns its pid.
pub fn ptrace_attach_a_sleeper() -> i32 {
    let mut victim = std::process::Command::new("/bin/sleep").arg("30").spawn().unwrap();
    let vpid = nix::unistd::Pid::from_raw(victim.id() as i32);
    nix::sys::ptrace::attach(vpid).unwrap();
    let _ = nix::sys::wait::waitpid(vpid, None);
    let _ = nix::sys::ptrace::detach(vpid, None);
    victim.kill().unwrap();
    victim.wait().unwrap();
    vpid.as_raw()
}

/// `../shared/falco/falco_rules.yaml` beside an ancestor of the crate; a
/// missing file fails under CI and skips (saying why) elsewhere.
pub fn upstream_rules() -> Option<std::path::PathBuf> {
    let mut dir = Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    while let Some(d) = dir {
        let c = d.join("shared/falco/falco_rules.yaml");
        if c.exists() {
            return Some(c);
        }
        dir = d.parent().map(std::path::PathBuf::from);
    }
    assert!(!in_ci(), "shared/falco/falco_rules.yaml missing in CI");
    eprintln!("SKIPPED: shared/falco/falco_rules.yaml not found above the crate");
    None
}

/// `sensor run` with one rules file and optional extra arguments.
pub fn run_with_rules(rules: &std::path::Path, extra: &[&str]) -> Sensor {
    let mut args = vec!["run", "--no-default-rules", "--rules", rules.to_str().unwrap(), "--syscall-hooks", "btf"];
    args.extend_from_slice(extra);
    Sensor::start(&args)
}
