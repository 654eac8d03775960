//! The container image, run the way the DaemonSet runs it. No registry is
//! reachable here, so the image is deploy/Dockerfile's runtime stage built
//! by a private dockerd from the root filesystem deploy/image/rootfs.sh
//! makes of the test's sensor binary (`COPY rootfs/ /` in place of the
//! build stage's output). It runs under that dockerd's containerd with the
//! DaemonSet's settings, all read from `kubectl kustomize deploy/`: its
//! arguments, exactly its capabilities (every other one dropped), the host
//! PID namespace, a read-only root, the runtime's default seccomp profile,
//! its mounts and its ConfigMap. Debian's Docker 20.10 rejects
//! `--cap-add BPF` ("unknown capability"), so `ctr run` on Docker's own
//! containerd starts the container, as kubelet's CRI does on a node.
//! A container of the same dockerd then reads /etc/shadow: the alert must
//! come out with the container's name, and /metrics must count events.
#![allow(clippy::unwrap_used, clippy::doc_markdown)] // Kubernetes kinds are prose here.

mod common;
mod deploy;
#[path = "support/runtime.rs"]
mod runtime_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runtime_support::{DOCKER_BIN, DockerEnv, skip_or_fail};

const CTR: &str = "/usr/bin/ctr";
const NS: &str = "sensor-image-test";
const IMAGE: &str = "docker.io/library/sensor-image-test:1";
const BUSYBOX: &str = "sensortest-image-bb:1";

fn run(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The runtime stage of deploy/Dockerfile, fed from a local root filesystem.
fn runtime_stage_dockerfile() -> String {
    let text = std::fs::read_to_string(deploy::root().join("deploy/Dockerfile")).unwrap();
    let start = text.rfind("\nFROM scratch").expect("deploy/Dockerfile ends with a FROM scratch stage");
    let stage = &text[start + 1..];
    let from_build = "COPY --from=build /rootfs/ /";
    assert!(stage.contains(from_build), "the runtime stage copies the build stage's /rootfs: {stage}");
    stage.replace(from_build, "COPY rootfs/ /")
}

/// The sensor's container under containerd; killed and removed on drop,
/// with its image.
struct Task {
    ctr: Vec<String>,
    id: String,
}

impl Task {
    fn ctr(&self) -> Command {
        let mut c = Command::new(CTR);
        c.args(&self.ctr);
        c
    }

    fn pid(&self) -> Option<u32> {
        let out = self.ctr().args(["task", "ls"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
            let mut f = l.split_whitespace();
            (f.next() == Some(self.id.as_str())).then(|| f.next()?.parse().ok())?
        })
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        let _ = self.ctr().args(["task", "kill", "-s", "SIGKILL", &self.id]).output();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.pid().is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.ctr().args(["task", "rm", "-f", &self.id]).output();
        let _ = self.ctr().args(["container", "rm", &self.id]).output();
        let _ = self.ctr().args(["images", "rm", IMAGE]).output();
    }
}

fn nsenter_get(pid: u32, path: &str) -> String {
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-n", "/bin/busybox", "wget", "-qO-"])
        .arg(format!("http://127.0.0.1:8765{path}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the runtime stage from a root filesystem of the test's binary and
/// imports it into containerd; returns the image's entrypoint.
fn build_and_import(docker: &DockerEnv, dir: &Path, ctr_base: &[String]) -> Vec<String> {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    run(Command::new(deploy::root().join("deploy/image/rootfs.sh"))
        .arg(env!("CARGO_BIN_EXE_sensor"))
        .arg(ctx.join("rootfs")));
    std::fs::write(ctx.join("Dockerfile"), runtime_stage_dockerfile()).unwrap();
    run(docker.docker().args(["build", "-q", "-t", IMAGE]).arg(&ctx));
    let entrypoint: Vec<String> = serde_json::from_str(&run(docker.docker().args([
        "image",
        "inspect",
        "-f",
        "{{json .Config.Entrypoint}}",
        IMAGE,
    ])))
    .unwrap();
    let archive = dir.join("image.tar");
    run(docker.docker().args(["save", "-o"]).arg(&archive).arg(IMAGE));
    run(Command::new(CTR).args(ctr_base).args(["images", "import"]).arg(&archive));
    let _ = std::fs::remove_file(&archive);
    let _ = docker.docker().args(["rmi", IMAGE]).output();
    entrypoint
}

/// The DaemonSet's settings as `ctr run` flags (host paths that are the
/// node's state or runtime mapped to the test's).
fn daemonset_flags(objs: &[serde_json::Value], dir: &Path, docker: &DockerEnv) -> Vec<String> {
    let c = deploy::container(objs);
    let pod = &deploy::find(objs, "DaemonSet")["spec"]["template"]["spec"];
    let sc = &c["securityContext"];
    let caps = deploy::capabilities(objs);
    let mut flags: Vec<String> = vec!["-d".into(), format!("--log-uri=file://{}", dir.join("sensor.log").display())];
    assert_eq!(pod["hostPID"], true);
    flags.push("--with-ns=pid:/proc/self/ns/pid".into());
    if sc["readOnlyRootFilesystem"] == true {
        flags.push("--read-only".into());
    }
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    flags.push("--seccomp".into());
    for cap in deploy::all_capabilities() {
        let up = cap.to_uppercase();
        let flag = if caps.contains(&up) { "--cap-add" } else { "--cap-drop" };
        flags.push(format!("{flag}=CAP_{up}"));
    }
    for e in c["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let value = match e["value"].as_str() {
            Some(v) => v.to_owned(),
            None if e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName" => "image-test-node".to_owned(),
            None if e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace" => "sensor".to_owned(),
            None => panic!("env {e} not mapped"),
        };
        flags.push(format!("--env={name}={value}"));
    }
    let m = deploy::mounts(objs);
    let config = dir.join("config");
    std::fs::create_dir_all(&config).unwrap();
    deploy::write_config_map(objs, &config);
    let bind = |src: &Path, dst: &str, ro: bool| {
        format!("--mount=type=bind,src={},dst={dst},options=rbind:{}", src.display(), if ro { "ro" } else { "rw" })
    };
    flags.push(bind(&config, &m.config_dir, true));
    for (dst, src, ro, ty) in &m.host {
        let src: PathBuf = match dst.as_str() {
            // The node's state directory: the test's own, not this machine's.
            "/var/lib/sensor" => {
                let p = dir.join("state");
                std::fs::create_dir_all(&p).unwrap();
                p
            }
            // This dockerd stands for the node's runtime.
            "/var/run/docker.sock" => docker.socket.clone(),
            _ => PathBuf::from(src),
        };
        if !src.exists() {
            assert_eq!(ty, "", "{} must exist (hostPath type {ty})", src.display());
            eprintln!("hostPath {} absent on this machine (type \"\"): not mounted", src.display());
            continue;
        }
        flags.push(bind(&src, dst, *ro));
    }
    flags
}

/// The container's process has exactly `caps` and a seccomp filter.
fn assert_capabilities_and_seccomp(pid: u32, caps: &[String]) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap().trim().to_owned();
    let decoded = run(Command::new("/usr/sbin/capsh").arg(format!("--decode={eff}")));
    let mut got: Vec<String> = decoded
        .trim()
        .split_once('=')
        .unwrap()
        .1
        .split(',')
        .map(|c| c.trim_start_matches("cap_").to_uppercase())
        .collect();
    got.sort();
    let mut want = caps.to_vec();
    want.sort();
    assert_eq!(got, want, "the container's effective capabilities");
    assert!(status.lines().any(|l| l.starts_with("Seccomp:") && l.ends_with('2')), "seccomp filter on: {status}");
}

#[test]
fn image_runs_with_the_daemonsets_settings_and_alerts() {
    if !common::kernel_tests_can_run() {
        return;
    }
    for tool in [CTR, "/usr/bin/nsenter", "/usr/sbin/capsh", "/bin/busybox"] {
        if !Path::new(tool).exists() {
            skip_or_fail(&format!("{tool} missing"));
            return;
        }
    }
    let Some(objs) = deploy::render("deploy") else { return };
    let started = Instant::now();
    let mut docker = match DockerEnv::start() {
        Ok(d) => d,
        Err(why) => {
            skip_or_fail(&format!("Docker cannot run: {why}"));
            return;
        }
    };
    docker.import_busybox(BUSYBOX).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Docker's own containerd (started by the private dockerd).
    let ctr_sock = docker.dir().join("exec/containerd/containerd.sock");
    let ctr_base = vec!["--address".to_owned(), ctr_sock.display().to_string(), "-n".to_owned(), NS.to_owned()];
    let entrypoint = build_and_import(&docker, dir.path(), &ctr_base);
    let caps = deploy::capabilities(&objs);
    let flags = daemonset_flags(&objs, dir.path(), &docker);
    let task = Task { ctr: ctr_base.clone(), id: common::unique("img") };
    let mut argv = entrypoint.clone();
    argv.extend(deploy::args(&objs));
    run(Command::new(CTR).args(&ctr_base).arg("run").args(&flags).arg(IMAGE).arg(&task.id).args(&argv));
    let log = dir.path().join("sensor.log");
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read_log().contains("sensor: ready") {
        assert!(Instant::now() < deadline, "the image's sensor is not ready:\n{}", read_log());
        assert!(task.pid().is_some() || Instant::now() < started + Duration::from_secs(5), "exited:\n{}", read_log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let pid = task.pid().unwrap();
    assert_capabilities_and_seccomp(pid, &caps);
    // A container of the node reads /etc/shadow.
    let shadow = dir.path().join("shadow");
    std::fs::write(&shadow, "root:*:1::::::\n").unwrap();
    let name = common::unique("reader");
    let id = docker
        .run_detached(
            &name,
            &[
                "--network",
                "none",
                "-v",
                &format!("{}:/etc/shadow:ro", shadow.display()),
                BUSYBOX,
                "/bin/cat",
                "/etc/shadow",
            ],
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let alert = loop {
        if let Some(a) = read_log()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|a| a["output_fields"]["container.id"] == id[..12])
        {
            break a;
        }
        assert!(Instant::now() < deadline, "no alert for container {id}:\n{}", read_log());
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(alert["output_fields"]["container.name"], name.as_str(), "{alert}");
    assert_eq!(alert["output_fields"]["fd.name"], "/etc/shadow", "{alert}");
    assert_eq!(alert["priority"], "Warning", "{alert}");
    // The probes' endpoints and the events, in the container's own network.
    assert_eq!(nsenter_get(pid, "/readyz").trim(), "ready");
    assert_eq!(nsenter_get(pid, "/healthz").trim(), "ok");
    // Event counts reach the registry on the reader's next tick (500 ms).
    let deadline = Instant::now() + Duration::from_secs(10);
    let execs: f64 = loop {
        let metrics = nsenter_get(pid, "/metrics");
        if let Some(n) = metrics.lines().find_map(|l| l.strip_prefix("sensor_events_total{type=\"execve\"} ")) {
            break n.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "no execve counted:\n{metrics}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(execs >= 1.0);
    drop(task);
    drop(docker);
    let _ = Command::new(DOCKER_BIN).arg("--version").output();
    eprintln!("image test took {:?}", started.elapsed());
}
