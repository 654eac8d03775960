//! Test scaffolding (not in the shipped library: the lib's unit tests and
//! the integration tests include this file by path). Private dockerd / containerd daemons under a temp dir, local busybox images.
//! Every daemon and container is stopped by PID in `Drop`, so cleanup also runs on panic.
//!
//! Needs the Debian packages `docker.io containerd runc busybox-static` (`scripts/setup.sh` installs them).

// Each test binary uses a part of it.
#![allow(dead_code, clippy::missing_panics_doc, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const DOCKER_BIN: &str = "/usr/bin/docker";
pub const DOCKERD_BIN: &str = "/usr/sbin/dockerd";
pub const CONTAINERD_BIN: &str = "/usr/bin/containerd";
pub const CTR_BIN: &str = "/usr/bin/ctr";
pub const BUSYBOX_BIN: &str = "/bin/busybox";
pub const APT_PACKAGES: &str = "docker.io containerd runc busybox-static";

/// True under CI (`CI=true`): a daemon that cannot start fails the test instead of skipping it.
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Under CI: panic. Otherwise print why the test is skipped; the caller returns.
pub fn skip_or_fail(why: &str) {
    assert!(!ci(), "CI=true and the real-runtime test cannot run: {why}");
    eprintln!("SKIPPED (set CI=true to make this fatal): {why}");
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.stdin(Stdio::null()).output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?}: {}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// A short temp dir (unix socket paths must stay < 108 bytes). On drop: unmount anything
/// left mounted below it, then remove it.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = PathBuf::from(format!("/tmp/rt-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

/// Mount points at or below `dir`, deepest first.
fn mounts_below(dir: &Path) -> Vec<String> {
    let prefix = dir.to_string_lossy().into_owned();
    let mut v: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| m.replace("\\040", " "))
        .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.len()));
    v
}

impl Drop for TempDir {
    fn drop(&mut self) {
        for m in mounts_below(&self.0) {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A child daemon: SIGTERM by PID on drop, SIGKILL after a grace period.
pub struct Daemon {
    name: &'static str,
    child: Child,
}

impl Daemon {
    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.alive() {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("{} (pid {pid}) ignored SIGTERM, killing", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_daemon(name: &'static str, cmd: &mut Command, log: &Path) -> Result<Daemon, String> {
    let log = fs::File::create(log).map_err(|e| e.to_string())?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let child = cmd.stdin(Stdio::null()).stdout(log).stderr(err).spawn().map_err(|e| format!("spawn {name}: {e}"))?;
    Ok(Daemon { name, child })
}

fn wait_until(
    what: &str,
    daemon: &mut Daemon,
    log: &Path,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return Ok(());
        }
        let tail = || {
            let s = fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        };
        if !daemon.alive() {
            return Err(format!("{what} exited early:\n{}", tail()));
        }
        if Instant::now() > deadline {
            return Err(format!("{what} not ready after {timeout:?}:\n{}", tail()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Writes a minimal busybox root filesystem (`/bin/busybox` + applet links).
pub fn busybox_rootfs(dir: &Path) -> Result<(), String> {
    if !Path::new(BUSYBOX_BIN).exists() {
        return Err(format!("{BUSYBOX_BIN} missing (apt package busybox-static)"));
    }
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp"] {
        fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
    }
    fs::copy(BUSYBOX_BIN, dir.join("bin/busybox")).map_err(|e| e.to_string())?;
    for a in ["sh", "cat", "ls", "sleep", "id", "ps"] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(a)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

// ---------------------------------------------------------------- Docker

/// A private dockerd (own data-root, exec-root, pidfile, socket; no bridge, no iptables).
/// Field order matters: the daemon stops before the temp dir is removed.
pub struct DockerEnv {
    containers: Vec<String>,
    daemon: Option<Daemon>,
    pub socket: PathBuf,
    dir: TempDir,
}

impl DockerEnv {
    pub fn start() -> Result<Self, String> {
        for bin in [DOCKERD_BIN, DOCKER_BIN] {
            if !Path::new(bin).exists() {
                return Err(format!("{bin} missing (apt packages: {APT_PACKAGES})"));
            }
        }
        let dir = TempDir::new("dk");
        let d = dir.path();
        let socket = d.join("docker.sock");
        let log = d.join("dockerd.log");
        let mut daemon = spawn_daemon(
            "dockerd",
            Command::new(DOCKERD_BIN)
                .arg("--data-root")
                .arg(d.join("data"))
                .arg("--exec-root")
                .arg(d.join("exec"))
                .arg("--pidfile")
                .arg(d.join("dockerd.pid"))
                .arg("-H")
                .arg(format!("unix://{}", socket.display()))
                .args(["--bridge", "none", "--iptables=false", "--ip6tables=false"])
                .args(["--ip-masq=false", "--userland-proxy=false"]),
            &log,
        )?;
        let env_sock = socket.clone();
        wait_until("dockerd", &mut daemon, &log, Duration::from_secs(30), move || {
            Command::new(DOCKER_BIN)
                .arg("-H")
                .arg(format!("unix://{}", env_sock.display()))
                .arg("info")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })?;
        Ok(Self { containers: Vec::new(), daemon: Some(daemon), socket, dir })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn docker(&self) -> Command {
        let mut c = Command::new(DOCKER_BIN);
        c.arg("-H").arg(format!("unix://{}", self.socket.display()));
        c
    }

    /// `docker import` of a busybox rootfs as `tag`.
    pub fn import_busybox(&self, tag: &str) -> Result<(), String> {
        let rootfs = self.dir.path().join("rootfs");
        busybox_rootfs(&rootfs)?;
        let tar = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let out = self
            .docker()
            .args(["import", "-", tag])
            .stdin(tar.stdout.ok_or("tar stdout")?)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("docker import: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// `docker run -d --name NAME ARGS`; the container is removed on drop (by name, so also
    /// when `run` created it but failed to start it). Returns the full id.
    pub fn run_detached(&mut self, name: &str, args: &[&str]) -> Result<String, String> {
        self.containers.push(name.to_owned());
        let out = run(self.docker().args(["run", "-d", "--name", name]).args(args))?;
        Ok(out.trim().to_owned())
    }

    /// Waits for a container to exit (`docker wait`).
    pub fn cli_wait(&self, name: &str) {
        let _ = run(self.docker().args(["wait", name]));
    }

    /// `docker commit CONTAINER IMAGE`.
    pub fn commit(&self, container: &str, image: &str) -> Result<(), String> {
        run(self.docker().args(["commit", container, image])).map(|_| ())
    }

    /// `docker create --name NAME ARGS` (created, not started); removed on drop.
    pub fn create(&mut self, name: &str, args: &[&str]) -> Result<String, String> {
        self.containers.push(name.to_owned());
        let out = run(self.docker().args(["create", "--name", name]).args(args))?;
        Ok(out.trim().to_owned())
    }
}

impl Drop for DockerEnv {
    fn drop(&mut self) {
        for id in std::mem::take(&mut self.containers) {
            let _ = run(self.docker().args(["rm", "-f", "-v", &id]));
        }
        // dockerd stops its managed containerd on SIGTERM.
        self.daemon.take();
    }
}

// ---------------------------------------------------------------- containerd + CRI

pub const CRI_BUSYBOX: &str = "docker.io/library/localbusybox:1";
pub const CRI_PAUSE: &str = "docker.io/library/localpause:1";
const CRI_NS: &str = "k8s.io";

/// A private containerd with the CRI plugin (own root, state, sockets).
pub struct ContainerdEnv {
    daemon: Option<Daemon>,
    pub socket: PathBuf,
    dir: TempDir,
}

impl ContainerdEnv {
    pub fn start() -> Result<Self, String> {
        for bin in [CONTAINERD_BIN, CTR_BIN, "/usr/bin/containerd-shim-runc-v2", "/usr/sbin/runc"] {
            if !Path::new(bin).exists() {
                return Err(format!("{bin} missing (apt packages: {APT_PACKAGES})"));
            }
        }
        let dir = TempDir::new("cd");
        let d = dir.path();
        let socket = d.join("containerd.sock");
        let cni = d.join("cni");
        fs::create_dir_all(&cni).map_err(|e| e.to_string())?;
        let config = d.join("containerd.toml");
        let toml = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  restrict_oom_score_adj = true
  sandbox_image = "{CRI_PAUSE}"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
"#,
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = socket.display(),
            cni = cni.display(),
        );
        fs::write(&config, toml).map_err(|e| e.to_string())?;
        let log = d.join("containerd.log");
        let mut daemon = spawn_daemon("containerd", Command::new(CONTAINERD_BIN).arg("--config").arg(&config), &log)?;
        let env_sock = socket.clone();
        wait_until("containerd", &mut daemon, &log, Duration::from_secs(30), move || {
            Command::new(CTR_BIN)
                .arg("--address")
                .arg(&env_sock)
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })?;
        Ok(Self { daemon: Some(daemon), socket, dir })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn ctr(&self) -> Command {
        let mut c = Command::new(CTR_BIN);
        c.arg("--address").arg(&self.socket).args(["-n", CRI_NS]);
        c
    }

    /// Imports `CRI_BUSYBOX` (default cmd sleep) and `CRI_PAUSE` (sleeps "forever") from one
    /// OCI archive built by hand from the busybox rootfs.
    pub fn import_images(&self) -> Result<(), String> {
        let d = self.dir.path().join("img");
        let rootfs = d.join("rootfs");
        busybox_rootfs(&rootfs)?;
        let layout = d.join("layout");
        let blobs = layout.join("blobs/sha256");
        fs::create_dir_all(&blobs).map_err(|e| e.to_string())?;
        let layer = d.join("layer.tar");
        run(Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&layer).arg("."))?;
        let layer_bytes = fs::read(&layer).map_err(|e| e.to_string())?;
        let layer_digest = put_blob(&blobs, &layer_bytes)?;
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        };
        let mut index_manifests = Vec::new();
        for (name, cmd) in [(CRI_BUSYBOX, r#"["/bin/sleep","3600"]"#), (CRI_PAUSE, r#"["/bin/sleep","999999"]"#)] {
            let config = format!(
                r#"{{"architecture":"{arch}","os":"linux","config":{{"Cmd":{cmd}}},"rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
            );
            let config_digest = put_blob(&blobs, config.as_bytes())?;
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_digest}","size":{}}}]}}"#,
                config.len(),
                layer_bytes.len()
            );
            let manifest_digest = put_blob(&blobs, manifest.as_bytes())?;
            let tag = name.rsplit_once(':').map_or("latest", |(_, t)| t);
            index_manifests.push(format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{},"annotations":{{"io.containerd.image.name":"{name}","org.opencontainers.image.ref.name":"{tag}"}}}}"#,
                manifest.len()
            ));
        }
        fs::write(
            layout.join("index.json"),
            format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, index_manifests.join(",")),
        )
        .map_err(|e| e.to_string())?;
        fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).map_err(|e| e.to_string())?;
        let archive = d.join("images.tar");
        run(Command::new("tar").arg("-C").arg(&layout).arg("-cf").arg(&archive).args([
            "oci-layout",
            "index.json",
            "blobs",
        ]))?;
        run(self.ctr().args(["images", "import"]).arg(&archive))?;
        Ok(())
    }

    /// Kills and deletes every task in the k8s.io namespace (containers and sandboxes), so no
    /// shim or container process outlives the test.
    fn kill_tasks(&self) {
        let Ok(list) = run(self.ctr().args(["tasks", "ls", "-q"])) else {
            return;
        };
        for id in list.split_whitespace() {
            let _ = run(self.ctr().args(["tasks", "kill", "-a", "-s", "SIGKILL", id]));
        }
        for id in list.split_whitespace() {
            for _ in 0..50 {
                if run(self.ctr().args(["tasks", "delete", "-f", id])).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for ContainerdEnv {
    fn drop(&mut self) {
        self.kill_tasks();
        self.daemon.take();
    }
}

fn put_blob(blobs: &Path, bytes: &[u8]) -> Result<String, String> {
    let tmp = blobs.join("tmp");
    fs::File::create(&tmp).and_then(|mut f| f.write_all(bytes)).map_err(|e| e.to_string())?;
    let out = run(Command::new("sha256sum").arg(&tmp))?;
    let hex = out.split_whitespace().next().ok_or("sha256sum output")?.to_owned();
    fs::rename(&tmp, blobs.join(&hex)).map_err(|e| e.to_string())?;
    let mut s = String::from("sha256:");
    let _ = write!(s, "{hex}");
    Ok(s)
}

/// Reads `/proc/<pid>/cgroup` (for asserting the id appears in the process's cgroup path).
pub fn proc_cgroup(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default()
}

/// A pod as kubelet would create it over CRI: host network (test traffic
/// stays on loopback), `cgroup_parent=/kubepods/besteffort/pod<uid>`, the
/// `io.kubernetes.*` labels plus `labels`, and one container running
/// `command` from `CRI_BUSYBOX`. Returns `(sandbox id, container id)`.
pub async fn start_cri_pod(
    env: &ContainerdEnv,
    pod: (&str, &str, &str),
    labels: &[(&str, &str)],
    container: &str,
    command: &[&str],
) -> Result<(String, String), String> {
    Box::pin(start_cri_pod_with(env, pod, labels, container, command, &CriPodOptions::default())).await
}

/// What a test pod asks for beyond `start_cri_pod`'s defaults.
#[derive(Debug, Default)]
pub struct CriPodOptions<'a> {
    /// A privileged sandbox and container (`securityContext.privileged`):
    /// containerd grants every capability the machine has, so it starts
    /// where Docker's `--privileged` cannot.
    pub privileged: bool,
    /// `(host path, container path)` bind mounts, read-only.
    pub mounts: &'a [(&'a str, &'a str)],
}

/// `start_cri_pod` with `opts`.
pub async fn start_cri_pod_with(
    env: &ContainerdEnv,
    pod: (&str, &str, &str),
    labels: &[(&str, &str)],
    container: &str,
    command: &[&str],
    opts: &CriPodOptions<'_>,
) -> Result<(String, String), String> {
    use sensor::enrich::runtime::cri_v1 as v1;
    let (name, namespace, uid) = pod;
    let mut pod_labels: std::collections::HashMap<String, String> = [
        (sensor::enrich::runtime::LABEL_POD_NAME, name),
        (sensor::enrich::runtime::LABEL_POD_NAMESPACE, namespace),
        (sensor::enrich::runtime::LABEL_POD_UID, uid),
    ]
    .into_iter()
    .chain(labels.iter().copied())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let logs = env.dir().join(format!("logs-{uid}"));
    fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let host_net = || Some(v1::NamespaceOption { network: v1::NamespaceMode::Node as i32, ..Default::default() });
    let sb = v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: name.into(),
            uid: uid.into(),
            namespace: namespace.into(),
            attempt: 0,
        }),
        hostname: String::new(),
        log_directory: logs.display().to_string(),
        labels: pod_labels.clone(),
        linux: Some(v1::LinuxPodSandboxConfig {
            cgroup_parent: format!("/kubepods/besteffort/pod{uid}"),
            security_context: Some(v1::LinuxSandboxSecurityContext {
                namespace_options: host_net(),
                privileged: opts.privileged,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let client = sensor::enrich::runtime::CriClient::connect(&env.socket).await.map_err(|e| e.to_string())?;
    let mut rs = client.runtime_service();
    let sandbox = rs
        .run_pod_sandbox(v1::RunPodSandboxRequest { config: Some(sb.clone()), runtime_handler: String::new() })
        .await
        .map_err(|e| format!("RunPodSandbox: {e}"))?
        .into_inner()
        .pod_sandbox_id;
    pod_labels.insert(sensor::enrich::runtime::LABEL_CONTAINER_NAME.into(), container.into());
    let id = rs
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: sandbox.clone(),
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata { name: container.into(), attempt: 0 }),
                image: Some(v1::ImageSpec { image: CRI_BUSYBOX.into(), ..Default::default() }),
                command: command.iter().map(|c| (*c).to_owned()).collect(),
                labels: pod_labels,
                log_path: format!("{container}.log"),
                mounts: opts
                    .mounts
                    .iter()
                    .map(|(host, ctr)| v1::Mount {
                        container_path: (*ctr).to_owned(),
                        host_path: (*host).to_owned(),
                        readonly: true,
                        ..Default::default()
                    })
                    .collect(),
                linux: Some(v1::LinuxContainerConfig {
                    security_context: Some(v1::LinuxContainerSecurityContext {
                        // Its own pid namespace, kubelet's default (no
                        // shareProcessNamespace): its init is pid 1 inside.
                        namespace_options: Some(v1::NamespaceOption {
                            pid: v1::NamespaceMode::Container as i32,
                            ..host_net().unwrap_or_default()
                        }),
                        privileged: opts.privileged,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            sandbox_config: Some(sb),
        })
        .await
        .map_err(|e| format!("CreateContainer: {e}"))?
        .into_inner()
        .container_id;
    rs.start_container(v1::StartContainerRequest { container_id: id.clone() })
        .await
        .map_err(|e| format!("StartContainer: {e}"))?;
    Ok((sandbox, id))
}
