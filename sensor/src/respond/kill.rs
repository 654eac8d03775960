//! The user-space kill: `pidfd_open` then `pidfd_send_signal(SIGKILL)`. The
//! pidfd pins the process, so a pid reused between the check and the
//! signal cannot be hit: the start time read after opening it must be the
//! event's process's.

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};

#[derive(Debug, thiserror::Error)]
pub enum KillError {
    #[error("pidfd_open({pid})")]
    Open {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
    #[error("pid {pid} is another process now (started at {now_ns} ns, the event's at {want_ns} ns)")]
    Reused { pid: u32, now_ns: u64, want_ns: u64 },
    #[error("pidfd_send_signal({pid}, SIGKILL)")]
    Signal {
        pid: u32,
        #[source]
        source: std::io::Error,
    },
}

impl KillError {
    /// The process was gone before the signal: nothing left to stop.
    #[must_use]
    pub fn is_gone(&self) -> bool {
        match self {
            KillError::Open { source, .. } | KillError::Signal { source, .. } => {
                source.raw_os_error() == Some(libc::ESRCH)
            }
            KillError::Reused { .. } => true,
        }
    }
}

fn pidfd_open(pid: u32) -> std::io::Result<OwnedFd> {
    // SAFETY: a plain syscall with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::pid_t::try_from(pid).unwrap_or(-1), 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| std::io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: pidfd_open returned a new descriptor that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The start time of `pid` (ns since boot, /proc's clock-tick resolution).
fn start_ns(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, _, ticks) = crate::process::procfs::parse_stat(&stat)?;
    Some(ticks * crate::process::procfs::tick_ns())
}

/// SIGKILLs `pid` if it is still the process that started at `start_ns`
/// (ns since boot; 0: unknown, not checked).
pub fn kill(pid: u32, want_start_ns: u64) -> Result<(), KillError> {
    let fd = pidfd_open(pid).map_err(|source| KillError::Open { pid, source })?;
    if want_start_ns != 0
        && let Some(now_ns) = start_ns(pid)
    {
        // /proc counts in clock ticks; the kernel's record in ns.
        let tick = crate::process::procfs::tick_ns();
        if now_ns / tick != want_start_ns / tick {
            return Err(KillError::Reused { pid, now_ns, want_ns: want_start_ns });
        }
    }
    // SAFETY: a plain syscall; a null siginfo means "as kill(2) would".
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(KillError::Signal { pid, source: std::io::Error::last_os_error() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;

    use super::kill;

    #[test]
    fn kills_a_real_child_and_refuses_a_reused_pid() {
        let mut child = std::process::Command::new("/bin/sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        // A start time that is not the child's: refused, the child lives.
        let e = kill(pid, 1).unwrap_err();
        assert!(e.is_gone(), "{e}");
        assert!(child.try_wait().unwrap().is_none());
        kill(pid, 0).unwrap();
        let st = child.wait().unwrap();
        assert_eq!(st.signal(), Some(libc::SIGKILL));
    }
}
