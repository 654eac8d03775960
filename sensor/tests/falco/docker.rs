//! A private dockerd shared by one test binary, and the image its
//! containers run: busybox with every applet linked, an /etc/passwd and
//! /etc/group (user names are the container's own), and copies of the
//! static helper under the names rules key on.

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

use super::runtime_support::{BUSYBOX_BIN, DockerEnv, skip_or_fail};

pub const IMAGE: &str = "falcotest:1";

/// Names the helper is copied under in the image's /usr/bin.
const HELPER_NAMES: [&str; 7] = ["fhelper", "apk", "scp", "kubectl", "yarn", "debugfs", "nsjoin"];

static ENV: OnceLock<Option<Mutex<Option<DockerEnv>>>> = OnceLock::new();

/// Stops the shared daemon (and removes its containers) when the test
/// binary exits: a static is never dropped.
extern "C" fn stop_at_exit() {
    if let Some(Some(m)) = ENV.get()
        && let Ok(mut g) = m.lock()
    {
        drop(g.take());
    }
}

/// Runs `f` with the shared Docker environment, started (and the image
/// imported) on first use; `None` (skipped, or a failure under CI) when
/// Docker cannot run here.
pub fn with_env<T>(f: impl FnOnce(&mut DockerEnv) -> T) -> Option<T> {
    let m = ENV.get_or_init(|| {
        let env = match DockerEnv::start() {
            Ok(e) => e,
            Err(why) => {
                skip_or_fail(&format!("Docker cannot run: {why}"));
                return None;
            }
        };
        import_image(&env).unwrap();
        // SAFETY: registers a plain extern "C" function.
        unsafe { libc::atexit(stop_at_exit) };
        Some(Mutex::new(Some(env)))
    });
    let mut g = m.as_ref()?.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(f(g.as_mut()?))
}

/// `--runtime-socket docker:<the shared daemon's socket>`, for `sensor run`.
pub fn runtime_socket_arg() -> Option<String> {
    with_env(|d| format!("docker:{}", d.socket.display()))
}

fn import_image(env: &DockerEnv) -> Result<(), String> {
    let helper = super::helper().ok_or("helper not built")?;
    let root = env.dir().join("falco-rootfs");
    for d in ["bin", "usr/bin", "proc", "sys", "dev", "etc", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d)).map_err(|e| e.to_string())?;
    }
    std::fs::copy(BUSYBOX_BIN, root.join("bin/busybox")).map_err(|e| e.to_string())?;
    let list = Command::new(BUSYBOX_BIN).arg("--list").output().map_err(|e| e.to_string())?;
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace().filter(|a| *a != "busybox") {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).map_err(|e| e.to_string())?;
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").map_err(|e| e.to_string())?;
    for name in HELPER_NAMES {
        let p = root.join("usr/bin").join(name);
        std::fs::copy(helper, &p).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    }
    let tar = Command::new("tar").arg("-C").arg(&root).args(["-c", "."]).stdout(Stdio::piped()).spawn();
    let tar = tar.map_err(|e| e.to_string())?;
    let out = env
        .docker()
        .args(["import", "-", IMAGE])
        .stdin(tar.stdout.ok_or("tar stdout")?)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() { Ok(()) } else { Err(format!("docker import: {}", String::from_utf8_lossy(&out.stderr))) }
}

/// A running container: `docker run -d --network none ARGS IMAGE fhelper
/// sleep ... --tag=<tag>`; its init (pid 1 inside) carries the tag.
pub struct Container {
    pub id: String,
    pub tag: String,
    /// Host pid of its init.
    pub pid: u32,
    socket: std::path::PathBuf,
}

impl Container {
    pub fn start(name: &str, args: &[&str]) -> Option<Container> {
        let tag = super::tag(name);
        let targ = super::tag_arg(&tag);
        let mut all: Vec<&str> = vec!["--network", "none"];
        all.extend_from_slice(args);
        all.extend_from_slice(&[IMAGE, "fhelper", "sleep", "3600000", &targ]);
        let id = with_env(|d| d.run_detached(&tag, &all))?.unwrap();
        let pid = with_env(|d| {
            let out = d.docker().args(["inspect", "-f", "{{.State.Pid}}", &id]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        })?;
        let socket = with_env(|d| d.socket.clone())?;
        Some(Container { id, tag, pid, socket })
    }

    /// The 12-character id Falco's `container.id` shows.
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }

    /// `docker exec [OPTS] <container> ARGS`, its output.
    pub fn exec(&self, opts: &[&str], args: &[&str]) -> Output {
        // Not through `with_env`: concurrent tests need not wait for each other.
        let mut c = Command::new(super::runtime_support::DOCKER_BIN);
        c.arg("-H").arg(format!("unix://{}", self.socket.display()));
        c.arg("exec").args(opts).arg(&self.id).args(args).stdin(Stdio::null());
        super::run(&mut c)
    }

    /// Adds `addr/32` to the loopback device of the container's network
    /// namespace (`--network none`: only lo), so the container can talk to
    /// itself at a non-loopback address.
    pub fn add_loopback_address(&self, addr: &str) {
        let pid = self.pid.to_string();
        super::run_ok(Command::new("nsenter").args(["-t", &pid, "-n", BUSYBOX_BIN, "ip", "addr", "add"]).args([
            &format!("{addr}/32"),
            "dev",
            "lo",
        ]));
    }
}

/// Whether `a` is an alert from `c`.
pub fn from(c: &Container) -> impl Fn(&serde_json::Value) -> bool + '_ {
    move |a| super::field(a, "container.id").as_str() == Some(c.short_id())
}
