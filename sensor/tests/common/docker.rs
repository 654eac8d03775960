//! A private Docker daemon for tests: its own data root, exec root and
//! socket under a temp dir, no bridge (test traffic stays on loopback), a
//! busybox image imported from the host's busybox-static. Killed on drop.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Docker {
    pub dir: tempfile::TempDir,
    pub sock: PathBuf,
    daemon: Child,
}

pub const IMAGE: &str = "sensortest-busybox:1";

fn docker_bin() -> &'static str {
    // /usr/local/bin/docker on these machines is a client without a daemon
    // package; Debian's client is the one that matches dockerd.
    if Path::new("/usr/bin/docker").exists() { "/usr/bin/docker" } else { "docker" }
}

impl Docker {
    /// `Err(reason)` when Docker cannot run here.
    pub fn start() -> Result<Docker, String> {
        if !Path::new("/usr/sbin/dockerd").exists() {
            return Err("dockerd is not installed (scripts/setup.sh installs docker.io)".into());
        }
        let dir = tempfile::Builder::new().prefix("sensor-docker").tempdir().map_err(|e| e.to_string())?;
        let sock = dir.path().join("docker.sock");
        let log = std::fs::File::create(dir.path().join("dockerd.log")).map_err(|e| e.to_string())?;
        let daemon = Command::new("/usr/sbin/dockerd")
            .args(["--bridge", "none", "--iptables=false", "--ip6tables=false"])
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("dockerd: {e}"))?;
        let d = Docker { dir, sock, daemon };
        let t0 = Instant::now();
        while d.cli(&["info"]).is_err() {
            if t0.elapsed() > Duration::from_secs(30) {
                let log = std::fs::read_to_string(d.dir.path().join("dockerd.log")).unwrap_or_default();
                return Err(format!("dockerd did not come up:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        d.import_busybox()?;
        Ok(d)
    }

    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(docker_bin())
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(format!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    fn import_busybox(&self) -> Result<(), String> {
        let root = self.dir.path().join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "etc", "tmp"] {
            std::fs::create_dir_all(root.join(d)).map_err(|e| e.to_string())?;
        }
        std::fs::copy("/bin/busybox", root.join("bin/busybox")).map_err(|e| format!("busybox: {e}"))?;
        for a in ["sh", "cat", "ls", "sleep", "id", "true"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).map_err(|e| e.to_string())?;
        }
        let tar = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let out = Command::new(docker_bin())
            .arg("-H")
            .arg(format!("unix://{}", self.sock.display()))
            .args(["import", "-", IMAGE])
            .stdin(tar.stdout.ok_or("tar stdout")?)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("docker import: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(())
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        if let Ok(ids) = self.cli(&["ps", "-aq"]) {
            for id in ids.lines() {
                let _ = self.cli(&["rm", "-f", id]);
            }
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.daemon.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.daemon.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
