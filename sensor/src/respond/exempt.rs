//! The kernel's namespace allow-list: the cgroup v2 ids of containers (and
//! their pods) in namespaces no action may touch, learned at their execs
//! once their pod's namespace is known, so the exec program skips them.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// The cgroup v2 path of `/proc/PID/cgroup`'s `0::` line.
#[must_use]
pub fn v2_path(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup.lines().find_map(|l| l.strip_prefix("0::")).map(str::trim).filter(|p| p.starts_with('/'))
}

/// The pod cgroup above a container's (`.../pod<uid>/<id>`,
/// `...-pod<uid>.slice/cri-...scope`); never a runtime's shared parent
/// (`/docker`), which would exempt every container.
#[must_use]
pub fn pod_parent(path: &str) -> Option<&str> {
    let (parent, _) = path.rsplit_once('/')?;
    let last = parent.rsplit('/').next()?;
    let is_pod = last.starts_with("pod") || (last.contains("-pod") && last.strip_suffix(".slice").is_some());
    is_pod.then_some(parent)
}

/// cgroup v2 ids to exempt for a process of `cgroup_id`: its own, and its
/// pod's when its cgroup sits in one (future containers of the pod are
/// then covered from their first exec).
#[must_use]
pub fn ids(root: Option<&Path>, pid: u32, cgroup_id: u64) -> Vec<u64> {
    let mut out = vec![cgroup_id];
    let Some(root) = root else { return out };
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else { return out };
    let Some(parent) = v2_path(&text).and_then(pod_parent) else { return out };
    if let Ok(m) = std::fs::metadata(root.join(parent.trim_start_matches('/'))) {
        out.push(m.ino());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{pod_parent, v2_path};

    #[test]
    fn the_pod_above_a_container_never_the_runtimes_parent() {
        let c = "12:pids:/kubepods/besteffort/podab-12/0123\n0::/kubepods/besteffort/podab-12/0123\n";
        assert_eq!(v2_path(c), Some("/kubepods/besteffort/podab-12/0123"));
        assert_eq!(pod_parent("/kubepods/besteffort/podab-12/0123"), Some("/kubepods/besteffort/podab-12"));
        let systemd =
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podab_12.slice/cri-containerd-01.scope";
        assert_eq!(
            pod_parent(systemd),
            Some("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podab_12.slice")
        );
        assert_eq!(pod_parent("/docker/0123"), None);
        assert_eq!(pod_parent("/system.slice/docker-0123.scope"), None);
        assert_eq!(v2_path("1:name=systemd:/x\n"), None);
    }
}
