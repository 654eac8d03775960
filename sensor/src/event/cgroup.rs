//! Container identity from cgroup paths, for every layout real nodes use:
//! Docker, containerd, CRI-O and podman; kubelet's cgroupfs
//! (`/kubepods/<qos>/pod<uid>/<id>`) and systemd
//! (`kubepods-<qos>-pod<uid>.slice/cri-containerd-<id>.scope`) drivers;
//! cgroup v1, v2 and hybrid `/proc/PID/cgroup` files.

use serde::{Deserialize, Serialize};

/// Which runtime the path names, when it names one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Docker,
    Containerd,
    Crio,
    Podman,
    /// A kubelet cgroupfs path (`/kubepods/.../pod<uid>/<id>`): any CRI runtime.
    Cri,
}

impl Runtime {
    /// Falco's `container.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Cri => "cri",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContainerRef {
    /// Full 64-hex id.
    pub id: String,
    pub runtime: Runtime,
    /// Kubernetes pod uid (dashes restored), when the path has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
}

impl ContainerRef {
    /// Falco's `container.id`: the first 12 characters.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container id in one path component, with the runtime its form names.
fn component(c: &str) -> Option<(String, Option<Runtime>)> {
    if is_id(c) {
        return Some((c.to_owned(), None));
    }
    let c = c.strip_suffix(".scope").unwrap_or(c);
    // conmon (CRI-O's monitor) runs beside the container, not in it.
    if c.starts_with("crio-conmon-") {
        return None;
    }
    for (prefix, rt) in [
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::Crio),
        ("docker-", Runtime::Docker),
        ("libpod-", Runtime::Podman),
        ("nerdctl-", Runtime::Containerd),
    ] {
        if let Some(id) = c.strip_prefix(prefix)
            && is_id(id)
        {
            return Some((id.to_owned(), Some(rt)));
        }
    }
    None
}

/// `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid_with_underscores>.slice`
/// (systemd) → the uid with dashes.
fn pod_uid(c: &str) -> Option<String> {
    let c = c.strip_suffix(".slice").unwrap_or(c);
    let uid = c.rsplit_once("pod").map(|(_, u)| u)?;
    let uid = uid.replace('_', "-");
    let ok = uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok.then_some(uid)
}

/// Parses one cgroup path (`/kubepods/besteffort/pod<uid>/<id>`).
pub fn parse_path(path: &str) -> Option<ContainerRef> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    // The innermost container component wins: nested runtimes (docker in a
    // pod) put the inner one last.
    let (idx, (id, named)) = parts.iter().enumerate().rev().find_map(|(i, c)| component(c).map(|x| (i, x)))?;
    let pod = parts[..idx].iter().rev().find_map(|c| pod_uid(c));
    let in_kubepods = parts.iter().any(|p| p.starts_with("kubepods"));
    let runtime = match named {
        Some(rt) => rt,
        None if parts[..idx].contains(&"docker") => Runtime::Docker,
        None if parts[..idx].iter().any(|p| p.starts_with("libpod")) => Runtime::Podman,
        None if in_kubepods || pod.is_some() => Runtime::Cri,
        // A bare id under a namespace directory: containerd (`ctr`, nerdctl).
        None => Runtime::Containerd,
    };
    Some(ContainerRef { id, runtime, pod_uid: pod })
}

/// Parses `/proc/PID/cgroup` (v1 `N:controllers:/path`, v2 `0::/path`, or
/// both in hybrid mode). `None` means a host process.
pub fn parse_proc_cgroup(text: &str) -> Option<ContainerRef> {
    // Prefer the v2 line, then any v1 line that names a container.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_by_key(|l| !l.starts_with("0::"));
    lines.iter().filter_map(|l| l.splitn(3, ':').nth(2)).find_map(parse_path)
}

/// From the two innermost cgroup names the kernel recorded at exec.
pub fn parse_leaf(parent: &str, leaf: &str) -> Option<ContainerRef> {
    parse_path(&format!("/{parent}/{leaf}"))
}

/// The systemd service a cgroup name is (`ssh.service`,
/// `user@1000.service`); scopes (sessions, containers) and slices are not
/// services.
pub fn unit_of_leaf(leaf: &str) -> Option<String> {
    (leaf.len() > ".service".len() && leaf.ends_with(".service")).then(|| leaf.to_owned())
}

/// The systemd service of a process from `/proc/PID/cgroup`: the v2 path's
/// last name, else the v1 `name=systemd` hierarchy's.
pub fn parse_proc_unit(text: &str) -> Option<String> {
    let path = |l: &str| l.splitn(3, ':').nth(2).map(|p| p.rsplit('/').next().unwrap_or(p).to_owned());
    let v2 = text.lines().find(|l| l.starts_with("0::")).and_then(path);
    let v1 = text.lines().find(|l| l.split(':').nth(1) == Some("name=systemd")).and_then(path);
    v2.and_then(|l| unit_of_leaf(&l)).or_else(|| v1.and_then(|l| unit_of_leaf(&l)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3ad7b26ded6d8e7e0e6a3b4f1f2f5a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f";
    const UID: &str = "0f4b1c6e-2a3d-4e5f-8a9b-0c1d2e3f4a5b";

    fn p(path: &str) -> Option<(String, Runtime, Option<String>)> {
        parse_path(path).map(|c| (c.id, c.runtime, c.pod_uid))
    }

    #[test]
    fn systemd_services_are_units_and_scopes_are_not() {
        assert_eq!(unit_of_leaf("ssh.service").as_deref(), Some("ssh.service"));
        assert_eq!(unit_of_leaf("user@1000.service").as_deref(), Some("user@1000.service"));
        for leaf in ["session-3.scope", "system.slice", "docker-abc.scope", ".service", "", "init.scope"] {
            assert_eq!(unit_of_leaf(leaf), None, "{leaf}");
        }
        let hybrid = "12:cpu,cpuacct:/system.slice/nginx.service\n1:name=systemd:/system.slice/nginx.service\n0::/system.slice/nginx.service\n";
        assert_eq!(parse_proc_unit(hybrid).as_deref(), Some("nginx.service"));
        let v1 = "3:memory:/user.slice\n1:name=systemd:/system.slice/cron.service\n";
        assert_eq!(parse_proc_unit(v1).as_deref(), Some("cron.service"));
        assert_eq!(parse_proc_unit("0::/user.slice/user-0.slice/session-1.scope\n"), None);
        assert_eq!(parse_proc_unit(&format!("0::/system.slice/docker-{ID}.scope\n")), None);
    }

    #[test]
    fn every_runtime_and_driver() {
        let us = UID.replace('-', "_");
        let cases: Vec<(String, Runtime, Option<&str>)> = vec![
            // Docker, cgroupfs and systemd drivers.
            (format!("/docker/{ID}"), Runtime::Docker, None),
            (format!("/system.slice/docker-{ID}.scope"), Runtime::Docker, None),
            // kubelet cgroupfs (any CRI runtime), all QoS classes.
            (format!("/kubepods/besteffort/pod{UID}/{ID}"), Runtime::Cri, Some(UID)),
            (format!("/kubepods/burstable/pod{UID}/{ID}"), Runtime::Cri, Some(UID)),
            (format!("/kubepods/pod{UID}/{ID}"), Runtime::Cri, Some(UID)),
            // kubelet systemd driver: containerd, CRI-O, docker (cri-dockerd).
            (
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{us}.slice/cri-containerd-{ID}.scope"
                ),
                Runtime::Containerd,
                Some(UID),
            ),
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{us}.slice/crio-{ID}.scope"),
                Runtime::Crio,
                Some(UID),
            ),
            (format!("/kubepods.slice/kubepods-pod{us}.slice/crio-{ID}.scope"), Runtime::Crio, Some(UID)),
            (format!("/kubepods.slice/kubepods-pod{us}.slice/docker-{ID}.scope"), Runtime::Docker, Some(UID)),
            // CRI-O with cgroupfs.
            (format!("/kubepods/besteffort/pod{UID}/crio-{ID}"), Runtime::Crio, Some(UID)),
            // podman: root, rootless, cgroupfs.
            (format!("/machine.slice/libpod-{ID}.scope"), Runtime::Podman, None),
            (
                format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"),
                Runtime::Podman,
                None,
            ),
            (format!("/libpod_parent/libpod-{ID}"), Runtime::Podman, None),
            // containerd without Kubernetes (ctr namespace, nerdctl).
            (format!("/default/{ID}"), Runtime::Containerd, None),
            (format!("/system.slice/nerdctl-{ID}.scope"), Runtime::Containerd, None),
            // k3s / RKE2 keep kubelet's layout.
            (format!("/kubepods/besteffort/pod{UID}/{ID}/"), Runtime::Cri, Some(UID)),
        ];
        for (path, rt, uid) in cases {
            assert_eq!(p(&path), Some((ID.to_owned(), rt, uid.map(str::to_owned))), "{path}");
        }
    }

    #[test]
    fn host_and_lookalikes_are_not_containers() {
        for path in [
            "/",
            "/init.scope",
            "/system.slice/sshd.service",
            "/user.slice/user-0.slice/session-1.scope",
            "/kubepods/besteffort",
            &format!("/kubepods/besteffort/pod{UID}"),
            "/docker/notanid",
            &format!("/docker/{}", &ID[..63]),
            &format!("/system.slice/crio-conmon-{ID}.scope"),
            &format!("/docker/{}g", &ID[..63]),
        ] {
            assert_eq!(p(path), None, "{path}");
        }
    }

    #[test]
    fn proc_cgroup_files_v1_v2_hybrid() {
        let v2 = format!("0::/kubepods/besteffort/pod{UID}/{ID}\n");
        assert_eq!(parse_proc_cgroup(&v2).unwrap().id, ID);
        let v1 = format!("12:memory:/docker/{ID}\n11:cpu,cpuacct:/docker/{ID}\n1:name=systemd:/docker/{ID}\n");
        assert_eq!(parse_proc_cgroup(&v1).unwrap().runtime, Runtime::Docker);
        // Hybrid with the container only on v1 lines (v2 at the root).
        let hybrid = format!("12:memory:/docker/{ID}\n0::/\n");
        assert_eq!(parse_proc_cgroup(&hybrid).unwrap().id, ID);
        assert_eq!(parse_proc_cgroup("0::/init.scope\n1:name=systemd:/init.scope\n"), None);
        assert_eq!(parse_proc_cgroup(""), None);
        assert_eq!(parse_proc_cgroup("garbage\n::\n0:"), None);
    }

    #[test]
    fn leaf_names_from_the_kernel() {
        let c = parse_leaf(&format!("pod{UID}"), ID).unwrap();
        assert_eq!((c.runtime, c.pod_uid.as_deref()), (Runtime::Cri, Some(UID)));
        let c = parse_leaf("docker", ID).unwrap();
        assert_eq!(c.runtime, Runtime::Docker);
        assert_eq!(c.short_id(), &ID[..12]);
        assert!(parse_leaf("", "").is_none());
        assert!(parse_leaf("system.slice", "cron.service").is_none());
    }
}
