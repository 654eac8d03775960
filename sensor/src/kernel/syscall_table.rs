//! Which syscalls are traced and how, per architecture. The kernel side is
//! syscall-agnostic: this table, written into the `SYSCALLS` map at load,
//! tells it which arguments are strings and where socket addresses live.

#[cfg(target_arch = "x86_64")]
pub mod ia32;
mod kind;

pub use kind::{Kind, Op};

use sensor_common::{SyscallConf, addr_mode, clone_mode, sock_fd, sysflags};

/// Broad family of an event, also usable as a `--type` filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Process,
    File,
    Network,
    Privilege,
    /// The sensor's own notices (losses).
    Sensor,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Process => "process",
            Category::File => "file",
            Category::Network => "network",
            Category::Privilege => "privilege",
            Category::Sensor => "sensor",
        }
    }
}

/// How the agent decodes a syscall record into named arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `(path)` / `(dirfd, path)` opens with flags and mode.
    Open { dirfd: bool, flags_arg: Option<u8>, mode_arg: Option<u8>, how: bool },
    /// Names of the integer arguments, in argument order; `None` skips one.
    /// Strings are named separately, in slot order.
    Generic { ints: &'static [Option<&'static str>], strs: &'static [&'static str] },
    /// A socket address plus named integers.
    Net { ints: &'static [Option<&'static str>] },
    /// Not emitted on its own (clone family feeds the fork record).
    None,
}

#[derive(Clone, Copy, Debug)]
pub struct Syscall {
    pub nr: u32,
    /// Falco's `evt.type` name.
    pub name: &'static str,
    pub kind: Kind,
    pub category: Category,
    pub conf: SyscallConf,
    pub shape: Shape,
}

const fn conf(flags: u8, strs: [u8; 3]) -> SyscallConf {
    SyscallConf {
        flags,
        str_args: strs,
        addr_mode: addr_mode::NONE,
        addr_arg: 0,
        len_arg: 0,
        clone_mode: clone_mode::NONE,
        extra_arg: 0,
        extra_len: 0,
        sock_fd: sock_fd::NONE,
        data_arg: 0,
    }
}

const EMIT: u8 = sysflags::EMIT;

const fn plain(strs: [u8; 3]) -> SyscallConf {
    conf(EMIT, strs)
}

const fn net(mode: u8, addr_arg: u8, len_arg: u8) -> SyscallConf {
    let mut c = conf(EMIT, [0; 3]);
    c.addr_mode = mode;
    c.addr_arg = addr_arg;
    c.len_arg = len_arg;
    // The socket is the first argument, except for accept's new one.
    c.sock_fd = if mode == addr_mode::PTR_LENPTR && addr_arg == 1 { sock_fd::RET } else { sock_fd::ARG0 };
    c
}

const fn clone(mode: u8) -> SyscallConf {
    let mut c = conf(0, [0; 3]);
    c.clone_mode = mode;
    c
}

const fn with_extra(mut c: SyscallConf, arg: u8, len: u8) -> SyscallConf {
    c.extra_arg = arg + 1;
    c.extra_len = len;
    c
}

/// Copies the data buffer at `args[arg]` (what the syscall moved).
const fn with_data(mut c: SyscallConf, arg: u8) -> SyscallConf {
    c.data_arg = arg + 1;
    c
}

const fn generic(ints: &'static [Option<&'static str>], strs: &'static [&'static str]) -> Shape {
    Shape::Generic { ints, strs }
}

use Category::{File, Network, Privilege, Process};

macro_rules! sc {
    ($nr:expr, $name:literal, $cat:expr, $conf:expr, $shape:expr) => {
        Syscall { nr: $nr as u32, name: $name, kind: Kind::new($name), category: $cat, conf: $conf, shape: $shape }
    };
}

/// x86-64 syscall numbers (`arch/x86/entry/syscalls/syscall_64.tbl`).
#[cfg(target_arch = "x86_64")]
pub const TABLE: &[Syscall] = &[
    // Strings are indexed by argument number + 1.
    sc!(
        libc::SYS_open,
        "open",
        File,
        plain([1, 0, 0]),
        Shape::Open { dirfd: false, flags_arg: Some(1), mode_arg: Some(2), how: false }
    ),
    sc!(
        libc::SYS_openat,
        "openat",
        File,
        plain([2, 0, 0]),
        Shape::Open { dirfd: true, flags_arg: Some(2), mode_arg: Some(3), how: false }
    ),
    sc!(
        libc::SYS_openat2,
        "openat2",
        File,
        with_extra(plain([2, 0, 0]), 2, 24),
        Shape::Open { dirfd: true, flags_arg: None, mode_arg: None, how: true }
    ),
    sc!(
        libc::SYS_creat,
        "creat",
        File,
        plain([1, 0, 0]),
        Shape::Open { dirfd: false, flags_arg: None, mode_arg: Some(1), how: false }
    ),
    sc!(libc::SYS_unlink, "unlink", File, plain([1, 0, 0]), generic(&[], &["path"])),
    sc!(
        libc::SYS_unlinkat,
        "unlinkat",
        File,
        plain([2, 0, 0]),
        generic(&[Some("dirfd"), None, Some("flags")], &["name"])
    ),
    sc!(libc::SYS_rename, "rename", File, plain([1, 2, 0]), generic(&[], &["oldpath", "newpath"])),
    sc!(
        libc::SYS_renameat,
        "renameat",
        File,
        plain([2, 4, 0]),
        generic(&[Some("olddirfd"), None, Some("newdirfd")], &["oldpath", "newpath"])
    ),
    sc!(
        libc::SYS_renameat2,
        "renameat2",
        File,
        plain([2, 4, 0]),
        generic(&[Some("olddirfd"), None, Some("newdirfd"), None, Some("flags")], &["oldpath", "newpath"])
    ),
    sc!(libc::SYS_chmod, "chmod", File, plain([1, 0, 0]), generic(&[None, Some("mode")], &["filename"])),
    sc!(libc::SYS_fchmod, "fchmod", File, plain([0, 0, 0]), generic(&[Some("fd"), Some("mode")], &[])),
    sc!(
        libc::SYS_fchmodat,
        "fchmodat",
        File,
        plain([2, 0, 0]),
        generic(&[Some("dirfd"), None, Some("mode")], &["filename"])
    ),
    sc!(
        libc::SYS_fchmodat2,
        "fchmodat2",
        File,
        plain([2, 0, 0]),
        generic(&[Some("dirfd"), None, Some("mode"), Some("flags")], &["filename"])
    ),
    sc!(libc::SYS_link, "link", File, plain([1, 2, 0]), generic(&[], &["oldpath", "newpath"])),
    sc!(
        libc::SYS_linkat,
        "linkat",
        File,
        plain([2, 4, 0]),
        generic(&[Some("olddir"), None, Some("newdir"), None, Some("flags")], &["oldpath", "newpath"])
    ),
    sc!(libc::SYS_symlink, "symlink", File, plain([1, 2, 0]), generic(&[], &["target", "linkpath"])),
    sc!(
        libc::SYS_symlinkat,
        "symlinkat",
        File,
        plain([1, 3, 0]),
        generic(&[None, Some("linkdirfd")], &["target", "linkpath"])
    ),
    sc!(libc::SYS_mkdir, "mkdir", File, plain([1, 0, 0]), generic(&[None, Some("mode")], &["path"])),
    sc!(libc::SYS_mkdirat, "mkdirat", File, plain([2, 0, 0]), generic(&[Some("dirfd"), None, Some("mode")], &["path"])),
    sc!(libc::SYS_rmdir, "rmdir", File, plain([1, 0, 0]), generic(&[], &["path"])),
    sc!(libc::SYS_dup, "dup", File, plain([0, 0, 0]), generic(&[Some("fd")], &[])),
    sc!(libc::SYS_dup2, "dup2", File, plain([0, 0, 0]), generic(&[Some("oldfd"), Some("newfd")], &[])),
    sc!(libc::SYS_dup3, "dup3", File, plain([0, 0, 0]), generic(&[Some("oldfd"), Some("newfd"), Some("flags")], &[])),
    sc!(libc::SYS_memfd_create, "memfd_create", File, plain([1, 0, 0]), generic(&[None, Some("flags")], &["name"])),
    sc!(libc::SYS_close, "close", File, plain([0, 0, 0]), generic(&[Some("fd")], &[])),
    sc!(libc::SYS_chdir, "chdir", File, plain([1, 0, 0]), generic(&[], &["path"])),
    sc!(libc::SYS_fchdir, "fchdir", File, plain([0, 0, 0]), generic(&[Some("fd")], &[])),
    sc!(
        libc::SYS_socket,
        "socket",
        Network,
        plain([0, 0, 0]),
        generic(&[Some("domain"), Some("type"), Some("proto")], &[])
    ),
    sc!(libc::SYS_connect, "connect", Network, net(addr_mode::PTR_LEN, 1, 2), Shape::Net { ints: &[Some("fd")] }),
    sc!(libc::SYS_bind, "bind", Network, net(addr_mode::PTR_LEN, 1, 2), Shape::Net { ints: &[Some("fd")] }),
    sc!(libc::SYS_listen, "listen", Network, plain([0, 0, 0]), generic(&[Some("fd"), Some("backlog")], &[])),
    sc!(libc::SYS_accept, "accept", Network, net(addr_mode::PTR_LENPTR, 1, 2), Shape::Net { ints: &[Some("fd")] }),
    sc!(
        libc::SYS_accept4,
        "accept4",
        Network,
        net(addr_mode::PTR_LENPTR, 1, 2),
        Shape::Net { ints: &[Some("fd"), None, None, Some("flags")] }
    ),
    sc!(
        libc::SYS_sendto,
        "sendto",
        Network,
        with_data(net(addr_mode::PTR_LEN, 4, 5), 1),
        Shape::Net { ints: &[Some("fd"), None, Some("size"), Some("flags")] }
    ),
    sc!(
        libc::SYS_sendmsg,
        "sendmsg",
        Network,
        net(addr_mode::MSGHDR, 1, 0),
        Shape::Net { ints: &[Some("fd"), None, Some("flags")] }
    ),
    sc!(
        libc::SYS_recvfrom,
        "recvfrom",
        Network,
        with_data(net(addr_mode::PTR_LENPTR, 4, 5), 1),
        Shape::Net { ints: &[Some("fd"), None, Some("size"), Some("flags")] }
    ),
    sc!(
        libc::SYS_recvmsg,
        "recvmsg",
        Network,
        net(addr_mode::MSGHDR, 1, 0),
        Shape::Net { ints: &[Some("fd"), None, Some("flags")] }
    ),
    sc!(libc::SYS_setuid, "setuid", Privilege, plain([0, 0, 0]), generic(&[Some("uid")], &[])),
    sc!(libc::SYS_setgid, "setgid", Privilege, plain([0, 0, 0]), generic(&[Some("gid")], &[])),
    sc!(libc::SYS_setreuid, "setreuid", Privilege, plain([0, 0, 0]), generic(&[Some("ruid"), Some("euid")], &[])),
    sc!(libc::SYS_setregid, "setregid", Privilege, plain([0, 0, 0]), generic(&[Some("rgid"), Some("egid")], &[])),
    sc!(
        libc::SYS_setresuid,
        "setresuid",
        Privilege,
        plain([0, 0, 0]),
        generic(&[Some("ruid"), Some("euid"), Some("suid")], &[])
    ),
    sc!(
        libc::SYS_setresgid,
        "setresgid",
        Privilege,
        plain([0, 0, 0]),
        generic(&[Some("rgid"), Some("egid"), Some("sgid")], &[])
    ),
    // The capabilities the kernel applied, read from the task at exit.
    sc!(libc::SYS_capset, "capset", Privilege, conf(EMIT | sysflags::CREDS, [0; 3]), generic(&[], &[])),
    sc!(libc::SYS_ptrace, "ptrace", Privilege, plain([0, 0, 0]), generic(&[Some("request"), Some("pid")], &[])),
    sc!(
        libc::SYS_mount,
        "mount",
        Privilege,
        plain([1, 2, 3]),
        generic(&[None, None, None, Some("flags")], &["dev", "dir", "type"])
    ),
    sc!(libc::SYS_umount2, "umount2", Privilege, plain([1, 0, 0]), generic(&[None, Some("flags")], &["name"])),
    sc!(libc::SYS_unshare, "unshare", Privilege, plain([0, 0, 0]), generic(&[Some("flags")], &[])),
    sc!(libc::SYS_setns, "setns", Privilege, plain([0, 0, 0]), generic(&[Some("fd"), Some("nstype")], &[])),
    sc!(libc::SYS_bpf, "bpf", Privilege, plain([0, 0, 0]), generic(&[Some("cmd")], &[])),
    sc!(
        libc::SYS_init_module,
        "init_module",
        Privilege,
        plain([3, 0, 0]),
        generic(&[None, Some("length")], &["uargs"])
    ),
    sc!(
        libc::SYS_finit_module,
        "finit_module",
        Privilege,
        plain([2, 0, 0]),
        generic(&[Some("fd"), None, Some("flags")], &["uargs"])
    ),
    sc!(libc::SYS_userfaultfd, "userfaultfd", Privilege, plain([0, 0, 0]), generic(&[Some("flags")], &[])),
    // Success is reported by sched_process_exec; failures only here.
    sc!(
        libc::SYS_execve,
        "execve",
        Process,
        conf(EMIT | sysflags::EMIT_ON_ERROR_ONLY, [1, 0, 0]),
        generic(&[], &["filename"])
    ),
    sc!(
        libc::SYS_execveat,
        "execveat",
        Process,
        conf(EMIT | sysflags::EMIT_ON_ERROR_ONLY, [2, 0, 0]),
        generic(&[Some("dirfd"), None, None, None, Some("flags")], &["filename"])
    ),
    sc!(libc::SYS_clone, "clone", Process, clone(clone_mode::ARG0), Shape::None),
    sc!(libc::SYS_clone3, "clone3", Process, clone(clone_mode::CLONE3), Shape::None),
    sc!(libc::SYS_fork, "fork", Process, clone(clone_mode::FORK), Shape::None),
    sc!(libc::SYS_vfork, "vfork", Process, clone(clone_mode::VFORK), Shape::None),
];

/// arm64 uses the generic table (include/uapi/asm-generic/unistd.h), which
/// has no legacy path syscalls (open, unlink, ...): their *at forms cover them.
#[cfg(target_arch = "aarch64")]
pub const TABLE: &[Syscall] = &[];

pub fn by_nr(nr: u32) -> Option<&'static Syscall> {
    TABLE.iter().find(|s| s.nr == nr)
}

pub fn by_name(name: &str) -> Option<&'static Syscall> {
    TABLE.iter().find(|s| s.name == name)
}

/// Dense lookup for the decoder's hot path.
pub fn index() -> Vec<Option<&'static Syscall>> {
    let mut v = vec![None; sensor_common::MAX_SYSCALLS as usize];
    for s in TABLE {
        if let Some(slot) = v.get_mut(s.nr as usize) {
            *slot = Some(s);
        }
    }
    v
}

/// Event type names the sensor can produce, for `--type` validation.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    ["execve", "clone", "procexit"].into_iter().chain(TABLE.iter().filter(|s| s.shape != Shape::None).map(|s| s.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_unique_and_in_range() {
        let mut nrs = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for s in TABLE {
            assert!(s.nr < sensor_common::MAX_SYSCALLS, "{}", s.name);
            assert!(nrs.insert(s.nr), "duplicate nr {}", s.nr);
            assert!(names.insert(s.name), "duplicate name {}", s.name);
            for a in s.conf.str_args {
                assert!(a <= 6, "{}: string arg {a}", s.name);
            }
            if let Shape::Generic { strs, .. } = s.shape {
                let used = s.conf.str_args.iter().filter(|a| **a != 0).count();
                assert_eq!(used, strs.len(), "{}: string names vs slots", s.name);
            }
        }
    }
}
