//! Falco's text renderings of flag and enum parameters, which rules match
//! as strings (`evt.arg.flags contains O_TRUNC`, `evt.arg.request contains
//! PTRACE_ATTACH`, `evt.arg.domain contains AF_PACKET`).

// Values from `libc`, which has them for every architecture.

/// `O_RDONLY|O_CREAT|...` as Falco prints open flags.
pub fn open_flags(f: u64) -> String {
    const BITS: &[(u64, &str)] = &[
        (libc::O_CREAT as u64, "O_CREAT"),
        (libc::O_EXCL as u64, "O_EXCL"),
        (libc::O_NOCTTY as u64, "O_NOCTTY"),
        (libc::O_TRUNC as u64, "O_TRUNC"),
        (libc::O_APPEND as u64, "O_APPEND"),
        (libc::O_NONBLOCK as u64, "O_NONBLOCK"),
        (libc::O_DSYNC as u64, "O_DSYNC"),
        (libc::O_ASYNC as u64, "O_ASYNC"),
        (libc::O_DIRECT as u64, "O_DIRECT"),
        (libc::O_DIRECTORY as u64, "O_DIRECTORY"),
        (libc::O_NOFOLLOW as u64, "O_NOFOLLOW"),
        (libc::O_NOATIME as u64, "O_NOATIME"),
        (libc::O_CLOEXEC as u64, "O_CLOEXEC"),
        (libc::O_PATH as u64, "O_PATH"),
        (libc::O_TMPFILE as u64, "O_TMPFILE"),
    ];
    const TMPFILE: u64 = libc::O_TMPFILE as u64;
    // Sized once: the common sets (`O_RDONLY|O_CLOEXEC`, a write with
    // `O_CREAT|O_TRUNC`) fit, so the string does not grow in steps.
    let mut out = String::with_capacity(64);
    out.push_str(match f & libc::O_ACCMODE as u64 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        _ => "O_RDWR",
    });
    for (bit, name) in BITS {
        // O_TMPFILE includes O_DIRECTORY's bit; print it once.
        if f & bit == *bit && !(*name == "O_DIRECTORY" && f & TMPFILE == TMPFILE) {
            out.push('|');
            out.push_str(name);
        }
    }
    out
}

/// A chmod mode as Falco resolves it (`S_IXOTH|...|S_ISUID`, the bits in
/// the order of libs' `chmod_mode` table); a mode without any of those bits
/// prints as its octal number.
pub fn chmod_mode(m: u64) -> String {
    const BITS: &[(u64, &str)] = &[
        (libc::S_IXOTH as u64, "S_IXOTH"),
        (libc::S_IWOTH as u64, "S_IWOTH"),
        (libc::S_IROTH as u64, "S_IROTH"),
        (libc::S_IXGRP as u64, "S_IXGRP"),
        (libc::S_IWGRP as u64, "S_IWGRP"),
        (libc::S_IRGRP as u64, "S_IRGRP"),
        (libc::S_IXUSR as u64, "S_IXUSR"),
        (libc::S_IWUSR as u64, "S_IWUSR"),
        (libc::S_IRUSR as u64, "S_IRUSR"),
        (libc::S_ISVTX as u64, "S_ISVTX"),
        (libc::S_ISGID as u64, "S_ISGID"),
        (libc::S_ISUID as u64, "S_ISUID"),
    ];
    let names: Vec<&str> = BITS.iter().filter(|(bit, _)| m & bit != 0).map(|(_, n)| *n).collect();
    if names.is_empty() { format!("{m:o}") } else { names.join("|") }
}

pub fn ptrace_request(r: u64) -> Option<&'static str> {
    const REQUESTS: &[(u64, &str)] = &[
        (libc::PTRACE_TRACEME as u64, "PTRACE_TRACEME"),
        (libc::PTRACE_PEEKTEXT as u64, "PTRACE_PEEKTEXT"),
        (libc::PTRACE_PEEKDATA as u64, "PTRACE_PEEKDATA"),
        (libc::PTRACE_PEEKUSER as u64, "PTRACE_PEEKUSR"),
        (libc::PTRACE_POKETEXT as u64, "PTRACE_POKETEXT"),
        (libc::PTRACE_POKEDATA as u64, "PTRACE_POKEDATA"),
        (libc::PTRACE_POKEUSER as u64, "PTRACE_POKEUSR"),
        (libc::PTRACE_CONT as u64, "PTRACE_CONT"),
        (libc::PTRACE_KILL as u64, "PTRACE_KILL"),
        (libc::PTRACE_SINGLESTEP as u64, "PTRACE_SINGLESTEP"),
        (libc::PTRACE_GETREGS as u64, "PTRACE_GETREGS"),
        (libc::PTRACE_SETREGS as u64, "PTRACE_SETREGS"),
        (libc::PTRACE_GETFPREGS as u64, "PTRACE_GETFPREGS"),
        (libc::PTRACE_SETFPREGS as u64, "PTRACE_SETFPREGS"),
        (libc::PTRACE_ATTACH as u64, "PTRACE_ATTACH"),
        (libc::PTRACE_DETACH as u64, "PTRACE_DETACH"),
        (libc::PTRACE_SYSCALL as u64, "PTRACE_SYSCALL"),
        (libc::PTRACE_SETOPTIONS as u64, "PTRACE_SETOPTIONS"),
        (libc::PTRACE_GETEVENTMSG as u64, "PTRACE_GETEVENTMSG"),
        (libc::PTRACE_GETSIGINFO as u64, "PTRACE_GETSIGINFO"),
        (libc::PTRACE_SETSIGINFO as u64, "PTRACE_SETSIGINFO"),
        (libc::PTRACE_GETREGSET as u64, "PTRACE_GETREGSET"),
        (libc::PTRACE_SETREGSET as u64, "PTRACE_SETREGSET"),
        (libc::PTRACE_SEIZE as u64, "PTRACE_SEIZE"),
        (libc::PTRACE_INTERRUPT as u64, "PTRACE_INTERRUPT"),
        (libc::PTRACE_LISTEN as u64, "PTRACE_LISTEN"),
    ];
    REQUESTS.iter().find(|(v, _)| *v == r).map(|(_, n)| *n)
}

pub fn socket_domain(d: u64) -> Option<&'static str> {
    const DOMAINS: &[(u64, &str)] = &[
        (libc::AF_UNSPEC as u64, "AF_UNSPEC"),
        (libc::AF_UNIX as u64, "AF_UNIX"),
        (libc::AF_INET as u64, "AF_INET"),
        (libc::AF_INET6 as u64, "AF_INET6"),
        (libc::AF_NETLINK as u64, "AF_NETLINK"),
        (libc::AF_PACKET as u64, "AF_PACKET"),
    ];
    DOMAINS.iter().find(|(v, _)| *v == d).map(|(_, n)| *n)
}

/// Capability names of a mask, space-separated as Falco prints
/// `thread.cap_effective`.
pub fn caps(mask: u64) -> String {
    const NAMES: [&str; 41] = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    NAMES.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, n)| *n).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
// Octal flag values as written in the kernel headers.
#[allow(clippy::unreadable_literal)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_falco() {
        assert_eq!(open_flags(0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(open_flags(0o2000002), "O_RDWR|O_CLOEXEC");
        assert_eq!(open_flags(0o20200000 | 2), "O_RDWR|O_TMPFILE");
        assert_eq!(ptrace_request(16), Some("PTRACE_ATTACH"));
        assert_eq!(ptrace_request(0x4206), Some("PTRACE_SEIZE"));
        assert_eq!(socket_domain(17), Some("AF_PACKET"));
        assert_eq!(chmod_mode(0o4755), "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID");
        assert_eq!(chmod_mode(0o2600), "S_IWUSR|S_IRUSR|S_ISGID");
        assert_eq!(chmod_mode(0), "0");
        assert_eq!(caps(0b11), "CAP_CHOWN CAP_DAC_OVERRIDE");
        assert_eq!(caps(1 << 21), "CAP_SYS_ADMIN");
    }
}
