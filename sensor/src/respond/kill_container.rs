//! `kill_container`: SIGKILL every process of the container, at once,
//! through its cgroup v2 `cgroup.kill` (Linux 5.14+); where that file is
//! missing, each process of `cgroup.procs` through a pidfd. Only a cgroup
//! whose path names the container's id is ever written: never a pod's, a
//! runtime's shared parent, or the root.

use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum KillContainerError {
    #[error("no cgroup v2 hierarchy")]
    NoCgroup2,
    #[error("reading /proc/{pid}/cgroup")]
    ProcCgroup {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("the cgroup of pid {pid} ({path}) is not container {id}'s")]
    NotTheContainers { pid: u32, path: String, id: String },
    #[error("writing {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Kills container `id`, found through the cgroup of its process `pid`.
/// Returns how: `cgroup.kill`, or the number of processes signalled.
pub fn kill_container(root: Option<&Path>, pid: u32, id: &str) -> Result<String, KillContainerError> {
    let root = root.ok_or(KillContainerError::NoCgroup2)?;
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map_err(|source| KillContainerError::ProcCgroup { pid, source })?;
    let path = super::exempt::v2_path(&text).unwrap_or("/").to_owned();
    let leaf = path.rsplit('/').next().unwrap_or("");
    if id.len() < 12 || !leaf.contains(id) {
        return Err(KillContainerError::NotTheContainers { pid, path, id: id.to_owned() });
    }
    let dir = root.join(path.trim_start_matches('/'));
    let kill = dir.join("cgroup.kill");
    if kill.exists() {
        std::fs::write(&kill, "1")
            .map_err(|source| KillContainerError::Write { path: kill.display().to_string(), source })?;
        return Ok("cgroup.kill".to_owned());
    }
    let procs = dir.join("cgroup.procs");
    let list = std::fs::read_to_string(&procs)
        .map_err(|source| KillContainerError::Write { path: procs.display().to_string(), source })?;
    let n =
        list.lines().filter_map(|l| l.trim().parse::<u32>().ok()).filter(|p| super::kill::kill(*p, 0).is_ok()).count();
    Ok(format!("{n} processes"))
}
