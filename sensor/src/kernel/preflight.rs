//! Start-up checks: before loading anything, perform once each operation a
//! capability guards, and turn a refusal into an error that names the
//! capability and what needs it. The kernel's own answer decides (the
//! operation is really tried), not the capability bits: an LSM or a seccomp
//! profile that refuses the same operation fails the same check.
//!
//! | check | operation | capability |
//! |---|---|---|
//! | `bpf_maps` | `bpf(BPF_MAP_CREATE)` of a ring buffer | `CAP_BPF` |
//! | `tracing_programs` | `bpf(BPF_PROG_LOAD)` of a raw-tracepoint program | `CAP_PERFMON` |
//! | `proc_of_protected_processes` | `readlink /proc/<pid>/exe` of a non-dumpable child | `CAP_SYS_PTRACE` |
//! | `proc_fds_of_other_users` | list `/proc/<pid>/fd` of a process of another user | `CAP_DAC_READ_SEARCH` |

use std::fmt;
use std::path::Path;

/// One capability the sensor needs, with what it needs it for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Bpf,
    Perfmon,
    SysPtrace,
    DacReadSearch,
}

impl Capability {
    /// The kernel's name (`CAP_BPF`).
    pub fn name(self) -> &'static str {
        match self {
            Capability::Bpf => "CAP_BPF",
            Capability::Perfmon => "CAP_PERFMON",
            Capability::SysPtrace => "CAP_SYS_PTRACE",
            Capability::DacReadSearch => "CAP_DAC_READ_SEARCH",
        }
    }

    /// What the sensor does with it.
    pub fn needed_for(self) -> &'static str {
        match self {
            Capability::Bpf => "creating the ring buffer and maps and loading the eBPF programs",
            Capability::Perfmon => "loading and attaching tracing programs (syscall and scheduler tracepoints)",
            Capability::SysPtrace => "reading /proc/<pid>/exe, cwd, root and environ of the node's processes",
            Capability::DacReadSearch => {
                "listing /proc/<pid>/fd and reading /proc/<pid>/environ of other users' processes"
            }
        }
    }
}

/// One check that failed.
#[derive(Debug)]
pub struct Failure {
    /// The check's name (`bpf_maps`).
    pub check: &'static str,
    pub capability: Capability,
    /// The operation tried, as the error shows it.
    pub operation: String,
    pub source: std::io::Error,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "check {}: {} failed: {}: missing {} (needed for {}), or a security profile (seccomp, AppArmor, SELinux) forbids it",
            self.check,
            self.operation,
            self.source,
            self.capability.name(),
            self.capability.needed_for()
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("start-up checks failed:\n{}", render(.0))]
    Failed(Vec<Failure>),
}

fn render(failures: &[Failure]) -> String {
    failures.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n")
}

/// What ran and what could not be checked.
#[derive(Debug, Default)]
pub struct Report {
    pub passed: Vec<&'static str>,
    /// Checks that could not run, with why (another check failed first, no
    /// process of another user exists).
    pub not_checked: Vec<(&'static str, String)>,
}

/// Runs every check; every failure is reported, not only the first.
pub fn run() -> Result<Report, PreflightError> {
    let mut report = Report::default();
    let mut failures = Vec::new();
    let mut record = |check: &'static str, capability, operation: String, r: std::io::Result<()>| match r {
        Ok(()) => {
            report.passed.push(check);
            true
        }
        Err(source) => {
            failures.push(Failure { check, capability, operation, source });
            false
        }
    };
    let maps = record("bpf_maps", Capability::Bpf, "bpf(BPF_MAP_CREATE, ringbuf)".into(), bpf::create_ringbuf());
    if maps {
        record(
            "tracing_programs",
            Capability::Perfmon,
            "bpf(BPF_PROG_LOAD, raw_tracepoint)".into(),
            bpf::load_raw_tracepoint(),
        );
    } else {
        report.not_checked.push(("tracing_programs", "needs bpf() to work (check bpf_maps)".into()));
    }
    let (pid, r) = read_exe_of_a_protected_process();
    record(
        "proc_of_protected_processes",
        Capability::SysPtrace,
        format!("readlink /proc/{pid}/exe (a non-dumpable process)"),
        r,
    );
    match other_users_process(Path::new("/proc")) {
        Some(pid) => {
            let dir = format!("/proc/{pid}/fd");
            let r = std::fs::read_dir(&dir).and_then(|mut d| d.next().transpose().map(drop));
            record("proc_fds_of_other_users", Capability::DacReadSearch, format!("listing {dir}"), r);
        }
        None => report.not_checked.push(("proc_fds_of_other_users", "no process of another user is running".into())),
    }
    if failures.is_empty() { Ok(report) } else { Err(PreflightError::Failed(failures)) }
}

/// Whether the kernel lets tracing programs call `bpf_send_signal` (5.3+;
/// the in-kernel kill at exec needs it). Not a start-up failure: without
/// it kills fall back to user space (pidfd), said once.
pub fn send_signal() -> std::io::Result<()> {
    bpf::load_send_signal()
}

/// Whether signals reach another user's processes: `kill(pid, 0)` of one
/// (user-space `kill_process` goes through a pidfd, which the kernel
/// checks the same way, and wants `CAP_KILL` for such a target). `None`:
/// no process of another user runs, nothing to check yet.
#[must_use]
pub fn signal_other_users() -> Option<(u32, std::io::Result<()>)> {
    let pid = other_users_process(Path::new("/proc"))?;
    let target = nix::unistd::Pid::from_raw(i32::try_from(pid).ok()?);
    Some((pid, nix::sys::signal::kill(target, None).map_err(std::io::Error::from)))
}

/// Whether the cgroup v2 hierarchy at `root` is mounted writable
/// (`kill_container` writes a container's `cgroup.kill`).
pub fn cgroup_writable(root: &Path) -> std::io::Result<()> {
    let st = nix::sys::statvfs::statvfs(root).map_err(std::io::Error::from)?;
    if st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Err(std::io::Error::from(std::io::ErrorKind::ReadOnlyFilesystem));
    }
    Ok(())
}

/// `readlink /proc/<child>/exe` of a forked child that made itself
/// non-dumpable (`PR_SET_DUMPABLE` 0), as setuid programs and processes
/// holding secrets are: the kernel's ptrace access check then wants
/// `CAP_SYS_PTRACE`, as it does for the node's processes that hold
/// capabilities the sensor lacks (containerd, kubelet, systemd). Returns
/// the child's pid with the result.
fn read_exe_of_a_protected_process() -> (u32, std::io::Result<()>) {
    use std::io::Read as _;
    use std::os::fd::AsRawFd as _;
    let (mut ready_rx, ready_tx) = match std::io::pipe() {
        Ok(p) => p,
        Err(e) => return (0, Err(e)),
    };
    // SAFETY: the child only makes async-signal-safe calls (prctl, write,
    // pause) before it is killed; it never returns into Rust code.
    match unsafe { nix::unistd::fork() } {
        Err(e) => (0, Err(e.into())),
        Ok(nix::unistd::ForkResult::Child) => {
            // SAFETY: plain syscalls on values owned by this process.
            unsafe {
                libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
                libc::write(ready_tx.as_raw_fd(), [1u8].as_ptr().cast(), 1);
                loop {
                    libc::pause();
                }
            }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(ready_tx);
            let mut byte = [0u8; 1];
            let r = match ready_rx.read(&mut byte) {
                Ok(1) => std::fs::read_link(format!("/proc/{child}/exe")).map(drop),
                Ok(_) => Err(std::io::Error::other("the check's child process exited early")),
                Err(e) => Err(e),
            };
            let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
            (child.as_raw() as u32, r)
        }
    }
}

/// A live process whose `/proc/<pid>/fd` belongs to another user than our
/// filesystem uid (so listing it needs `CAP_DAC_READ_SEARCH`).
fn other_users_process(proc: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    // Permission checks use the filesystem uid, which follows the euid.
    let me = nix::unistd::geteuid().as_raw();
    std::fs::read_dir(proc).ok()?.filter_map(Result::ok).find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let meta = std::fs::metadata(e.path().join("fd")).ok()?;
        (meta.uid() != me).then_some(pid)
    })
}

/// The two `bpf()` calls, with the smallest attribute structs the kernel
/// accepts (it zero-fills the rest of `union bpf_attr`).
mod bpf {
    use std::os::fd::{FromRawFd as _, OwnedFd};

    const BPF_MAP_CREATE: libc::c_long = 0;
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_MAP_TYPE_RINGBUF: u32 = 27;
    const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;

    #[repr(C)]
    struct MapCreate {
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        map_flags: u32,
    }

    #[repr(C)]
    struct ProgLoad {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
    }

    fn sys_bpf<T>(cmd: libc::c_long, attr: &T) -> std::io::Result<OwnedFd> {
        let size = std::mem::size_of::<T>() as libc::c_uint;
        // SAFETY: `attr` is a live, initialised `#[repr(C)]` prefix of
        // `union bpf_attr` of `size` bytes; the kernel only reads it.
        let fd = unsafe { libc::syscall(libc::SYS_bpf, cmd, std::ptr::from_ref(attr), size) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: on success bpf() returns a new file descriptor we own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    /// A one-page ring buffer, closed at once.
    pub fn create_ringbuf() -> std::io::Result<()> {
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE).ok().flatten().unwrap_or(4096);
        let attr = MapCreate {
            map_type: BPF_MAP_TYPE_RINGBUF,
            key_size: 0,
            value_size: 0,
            max_entries: page as u32,
            map_flags: 0,
        };
        sys_bpf(BPF_MAP_CREATE, &attr).map(drop)
    }

    /// `r1 = 0; call bpf_send_signal; r0 = 0; exit` as a raw-tracepoint
    /// program, closed at once: whether this kernel lets tracing programs
    /// send signals (signal 0 is never delivered; the program never runs).
    pub fn load_send_signal() -> std::io::Result<()> {
        const BPF_FUNC_SEND_SIGNAL: u64 = 109;
        // mov64 r1, 0; call imm; mov64 r0, 0; exit.
        load_raw_tracepoint_program(&[0x1b7, 0x85 | (BPF_FUNC_SEND_SIGNAL << 32), 0xb7, 0x95])
    }

    /// `r0 = 0; exit` as a raw-tracepoint program, closed at once.
    pub fn load_raw_tracepoint() -> std::io::Result<()> {
        // mov64 r0, 0 (opcode 0xb7); exit (0x95).
        load_raw_tracepoint_program(&[0xb7, 0x95])
    }

    /// Loads `insns` as a GPL raw-tracepoint program and closes it.
    fn load_raw_tracepoint_program(insns: &[u64]) -> std::io::Result<()> {
        let license = c"GPL";
        let attr = ProgLoad {
            prog_type: BPF_PROG_TYPE_RAW_TRACEPOINT,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: 0,
            log_size: 0,
            log_buf: 0,
        };
        sys_bpf(BPF_PROG_LOAD, &attr).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::{Capability, Failure, PreflightError, other_users_process};

    #[test]
    fn a_failure_names_the_capability_and_its_use() {
        let e = PreflightError::Failed(vec![Failure {
            check: "proc_of_protected_processes",
            capability: Capability::SysPtrace,
            operation: "readlink /proc/1/exe".into(),
            source: std::io::Error::from_raw_os_error(libc::EACCES),
        }]);
        let s = e.to_string();
        assert!(s.contains("check proc_of_protected_processes: readlink /proc/1/exe failed"), "{s}");
        assert!(s.contains("missing CAP_SYS_PTRACE (needed for reading /proc/<pid>/exe"), "{s}");
        assert!(s.contains("Permission denied"), "{s}");
    }

    #[test]
    fn finds_a_process_of_another_user_in_a_proc_tree() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let me = nix::unistd::geteuid().as_raw();
        std::fs::create_dir_all(dir.path().join("12/fd")).unwrap();
        std::fs::create_dir_all(dir.path().join("self/fd")).unwrap();
        assert_eq!(other_users_process(dir.path()), None, "only our own uid here");
        if me == 0 {
            std::fs::create_dir_all(dir.path().join("34/fd")).unwrap();
            nix::unistd::chown(&dir.path().join("34/fd"), Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
            assert_eq!(std::fs::metadata(dir.path().join("34/fd")).unwrap().uid(), 65534);
            assert_eq!(other_users_process(dir.path()), Some(34));
        }
    }
}
