//! Privilege and escape signals for real. Actions that would change the
//! test process run in a child between fork and exec (`pre_exec`).
// A failed step should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::many_single_char_names, clippy::items_after_statements)]

mod common;

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use common::{arg, is, me, sensor, unique};

/// Runs `/bin/true` after `f` ran in the child; returns the child's pid.
fn in_child(f: impl FnMut() -> std::io::Result<()> + Send + Sync + 'static) -> u64 {
    let mut cmd = Command::new("/bin/true");
    // SAFETY: the closures below only make raw syscalls.
    unsafe { cmd.pre_exec(f) };
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    assert!(child.wait().expect("wait").success(), "child failed");
    u64::from(pid)
}

fn check(r: libc::c_long) -> std::io::Result<()> {
    if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

#[test]
fn setuid_family_in_a_child() {
    let Some(s) = sensor() else { return };
    // SAFETY: raw id syscalls in the forked child.
    let pid = in_child(|| unsafe {
        check(libc::syscall(libc::SYS_setresgid, 1234, 1234, 1234))?;
        check(libc::syscall(libc::SYS_setgid, 1234))?;
        check(libc::syscall(libc::SYS_setresuid, 4321, 4321, 4321))?;
        check(libc::syscall(libc::SYS_setuid, 4321))
    });
    let ev = s.wait_for("setresgid", |e| is(e, "setresgid") && e["pid"] == pid);
    assert_eq!((arg(&ev, "rgid"), arg(&ev, "egid"), arg(&ev, "sgid")), (&1234.into(), &1234.into(), &1234.into()));
    s.wait_for("setgid", |e| is(e, "setgid") && e["pid"] == pid && arg(e, "gid") == 1234);
    let ev = s.wait_for("setresuid", |e| is(e, "setresuid") && e["pid"] == pid);
    assert_eq!(arg(&ev, "euid"), 4321);
    let ev = s.wait_for("setuid", |e| is(e, "setuid") && e["pid"] == pid && arg(e, "uid") == 4321);
    assert_eq!(ev["ret"], 0);
    // The uid in the header follows the change.
    assert_eq!(ev["uid"], 4321);
    assert_eq!(ev["category"], "privilege");
}

#[test]
fn unshare_setns_mount_umount() {
    let Some(s) = sensor() else { return };
    let dir = tempfile::tempdir().unwrap();
    let target = CString::new(dir.path().to_str().unwrap()).unwrap();
    let src = CString::new(unique("tmpfs")).unwrap();
    let src_s = src.to_str().unwrap().to_owned();
    let fstype = CString::new("tmpfs").unwrap();
    let root = CString::new("/").unwrap();
    let ns = CString::new("/proc/self/ns/uts").unwrap();
    let t2 = target.clone();
    // SAFETY: namespace and mount syscalls in the forked child only.
    let pid = in_child(move || unsafe {
        let fd = libc::open(ns.as_ptr(), libc::O_RDONLY);
        check(fd.into())?;
        check(libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWUTS).into())?;
        check(libc::setns(fd, libc::CLONE_NEWUTS).into())?;
        check(
            libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            )
            .into(),
        )?;
        check(libc::mount(src.as_ptr(), t2.as_ptr(), fstype.as_ptr(), libc::MS_NOSUID, std::ptr::null()).into())?;
        check(libc::umount2(t2.as_ptr(), libc::MNT_DETACH).into())
    });
    let ev = s.wait_for("unshare", |e| is(e, "unshare") && e["pid"] == pid);
    assert_eq!(arg(&ev, "flags"), (libc::CLONE_NEWNS | libc::CLONE_NEWUTS) as u64);
    let ev = s.wait_for("setns", |e| is(e, "setns") && e["pid"] == pid);
    assert_eq!(arg(&ev, "nstype"), libc::CLONE_NEWUTS as u64);
    let ev = s.wait_for("mount", |e| is(e, "mount") && e["pid"] == pid && arg(e, "dev") == src_s.as_str());
    assert_eq!(arg(&ev, "dir"), target.to_str().unwrap());
    assert_eq!(arg(&ev, "type"), "tmpfs");
    assert_eq!(arg(&ev, "flags"), libc::MS_NOSUID);
    let ev = s.wait_for("umount2", |e| is(e, "umount2") && e["pid"] == pid);
    assert_eq!(arg(&ev, "name"), target.to_str().unwrap());
    assert_eq!(arg(&ev, "flags"), libc::MNT_DETACH);
}

#[test]
fn ptrace_attach_reports_request_and_target() {
    let Some(s) = sensor() else { return };
    let vpid = common::ptrace_attach_a_sleeper();
    let ev = s.wait_for("ptrace attach", |e| is(e, "ptrace") && e["pid"] == me() && arg(e, "pid") == i64::from(vpid));
    assert_eq!(arg(&ev, "request"), libc::PTRACE_ATTACH);
    assert_eq!(ev["ret"], 0);
}

#[test]
fn capset_in_a_child() {
    let Some(s) = sensor() else { return };
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    // SAFETY: capget/capset on the child itself, dropping CAP_NET_RAW (13).
    let pid = in_child(|| unsafe {
        let mut h = Header { version: 0x2008_0522, pid: 0 };
        let mut d = [Data::default(); 2];
        check(libc::syscall(libc::SYS_capget, &raw mut h, d.as_mut_ptr()))?;
        d[0].effective &= !(1 << 13);
        check(libc::syscall(libc::SYS_capset, &raw mut h, d.as_ptr()))
    });
    let ev = s.wait_for("capset", |e| is(e, "capset") && e["pid"] == pid);
    assert_eq!(ev["ret"], 0);
    // The sets the kernel applied, all 64 bits, read from the task at exit.
    let eff = arg(&ev, "cap_effective").as_u64().unwrap();
    assert_eq!(eff & (1 << 13), 0);
    assert_ne!(eff & (1 << 39), 0, "CAP_BPF (bit 39) is kept: {ev}");
    assert_ne!(arg(&ev, "cap_permitted").as_u64().unwrap() & (1 << 13), 0, "permitted keeps CAP_NET_RAW");
}

#[test]
fn bpf_modules_userfaultfd() {
    let Some(s) = sensor() else { return };
    // An invalid bpf command: fails, but the attempt is the signal.
    // SAFETY: the kernel rejects the command without touching memory.
    let r = unsafe { libc::syscall(libc::SYS_bpf, 9999, std::ptr::null::<u8>(), 0) };
    assert_eq!(r, -1);
    let ev = s.wait_for("bpf", |e| is(e, "bpf") && e["pid"] == me() && arg(e, "cmd") == 9999);
    assert!(ev["ret"].as_i64().unwrap() < 0);

    // finit_module on /dev/null fails (no module there; modules are off here).
    let params = unique("param");
    let cparams = CString::new(format!("{params}=1")).unwrap();
    let f = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: as above: rejected by the kernel.
    let r = unsafe { libc::syscall(libc::SYS_finit_module, std::os::fd::AsRawFd::as_raw_fd(&f), cparams.as_ptr(), 0) };
    assert_eq!(r, -1);
    let ev = s.wait_for("finit_module", |e| is(e, "finit_module") && e["pid"] == me());
    assert_eq!(arg(&ev, "uargs"), format!("{params}=1").as_str());
    // SAFETY: a zero-length image is rejected.
    let r = unsafe { libc::syscall(libc::SYS_init_module, std::ptr::null::<u8>(), 0, cparams.as_ptr()) };
    assert_eq!(r, -1);
    s.wait_for("init_module", |e| {
        is(e, "init_module") && e["pid"] == me() && arg(e, "uargs") == format!("{params}=1").as_str()
    });

    // SAFETY: userfaultfd returns an fd or an error; the fd is closed.
    let r = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if r >= 0 {
        // SAFETY: closing our fd.
        unsafe { libc::close(r as i32) };
    }
    let ev = s.wait_for("userfaultfd", |e| is(e, "userfaultfd") && e["pid"] == me());
    assert_eq!(arg(&ev, "flags"), (libc::O_CLOEXEC | libc::O_NONBLOCK) as u64);
    assert_eq!(ev["ret"], r);
}

/// Installs a seccomp filter that fails `unshare` with EPERM, as Docker's
/// and Kubernetes' `RuntimeDefault` profiles do inside containers.
fn deny_unshare() -> std::io::Result<()> {
    const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
    let nr_off = std::mem::offset_of!(libc::seccomp_data, nr) as u32;
    let arch_off = std::mem::offset_of!(libc::seccomp_data, arch) as u32;
    let stmt = |code: u32, k: u32| libc::sock_filter { code: code as u16, jt: 0, jf: 0, k };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let ld = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    let mut prog = [
        stmt(ld, arch_off),
        jeq(AUDIT_ARCH_X86_64, 0, 3),
        stmt(ld, nr_off),
        jeq(libc::SYS_unshare as u32, 0, 1),
        stmt(ret, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        stmt(ret, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_mut_ptr() };
    // SAFETY: prctl with a filter that lives until the call returns.
    unsafe {
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).into())?;
        check(libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &raw const fprog).into())?;
        // Denied before sys_enter: only sys_exit sees it.
        if libc::unshare(libc::CLONE_NEWUTS) == 0 {
            return Err(std::io::Error::other("unshare was not denied"));
        }
    }
    Ok(())
}

#[test]
fn seccomp_denied_syscall_is_an_attempt_not_a_loss() {
    let Some(s) = sensor() else { return };
    let pid = in_child(deny_unshare);
    let ev = s.wait_for("the denied unshare", |e| is(e, "unshare") && e["pid"] == pid);
    assert_eq!(ev["ret"], -i64::from(libc::EPERM), "{ev}");
    assert_eq!(ev["errno"], "EPERM");
    assert_eq!(arg(&ev, "flags"), u64::try_from(libc::CLONE_NEWUTS).unwrap());
    // Its exit had no entry: that must not read as a lost event.
    s.wait_for("the child's exec after the filter", |e| is(e, "execve") && e["pid"] == pid);
    std::thread::sleep(std::time::Duration::from_millis(700));
    let losses = s.all(|e| is(e, "sensor_loss"));
    assert!(losses.is_empty(), "false loss reports: {losses:?}");
}
