//! The DNS programs on the packet path: `cgroup_skb` egress and ingress on the
//! cgroup v2 root, which every socket of the node passes through. Optional:
//! a node without cgroup v2, or an agent without `CAP_NET_ADMIN`, runs
//! without DNS names and says why.

use std::path::{Path, PathBuf};

use aya::Ebpf;
use aya::programs::{CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, ProgramError};

#[derive(Debug, thiserror::Error)]
pub enum DnsHookError {
    #[error("no cgroup v2 hierarchy found (looked at {looked}); pass --cgroup-root")]
    NoCgroup2 { looked: String },
    #[error("{path} is not a cgroup v2 mount")]
    NotCgroup2 { path: PathBuf },
    #[error("opening the cgroup {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("program {name} missing from the eBPF object")]
    Missing { name: &'static str },
    #[error("program {name}: {action} failed{hint}")]
    Program {
        name: &'static str,
        action: &'static str,
        hint: &'static str,
        #[source]
        source: Box<ProgramError>,
    },
}

fn is_cgroup2(p: &Path) -> bool {
    nix::sys::statfs::statfs(p).is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// The cgroup v2 root: `/sys/fs/cgroup` on pure v2 nodes, its `unified`
/// directory in hybrid mode. In a `DaemonSet` it must be the host's
/// (`deploy/` mounts it by hostPath): a container's own cgroup mount can be
/// its cgroup namespace, which would hide every other socket.
pub fn cgroup2_root(explicit: Option<&Path>) -> Result<PathBuf, DnsHookError> {
    if let Some(p) = explicit {
        return if is_cgroup2(p) { Ok(p.to_owned()) } else { Err(DnsHookError::NotCgroup2 { path: p.to_owned() }) };
    }
    let candidates = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"];
    let mut looked = Vec::new();
    for c in candidates {
        let p = PathBuf::from(c);
        looked.push(p.display().to_string());
        if is_cgroup2(&p) {
            return Ok(p);
        }
    }
    Err(DnsHookError::NoCgroup2 { looked: looked.join(", ") })
}

/// Loads both programs and attaches them to `root` as BPF links, which sit
/// beside any other program there (a link takes no attach flags: `Single`
/// is flags 0). The links live as long as `ebpf`, and go with the process.
pub fn attach(ebpf: &mut Ebpf, root: &Path) -> Result<(), DnsHookError> {
    let dir = std::fs::File::open(root).map_err(|source| DnsHookError::Open { path: root.to_owned(), source })?;
    for (name, kind) in [("dns_egress", CgroupSkbAttachType::Egress), ("dns_ingress", CgroupSkbAttachType::Ingress)] {
        let err = |action: &'static str| {
            move |source: ProgramError| {
                let perm = match &source {
                    ProgramError::SyscallError(e) => e.io_error.raw_os_error() == Some(libc::EPERM),
                    ProgramError::LoadError { io_error, .. } => io_error.raw_os_error() == Some(libc::EPERM),
                    _ => false,
                };
                let hint = if perm { " (cgroup_skb programs need CAP_NET_ADMIN)" } else { "" };
                DnsHookError::Program { name, action, hint, source: Box::new(source) }
            }
        };
        let p: &mut CgroupSkb =
            ebpf.program_mut(name).ok_or(DnsHookError::Missing { name })?.try_into().map_err(err("cast"))?;
        p.load().map_err(err("load"))?;
        p.attach(&dir, kind, CgroupAttachMode::Single).map_err(err("attach"))?;
    }
    Ok(())
}
