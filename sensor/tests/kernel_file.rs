//! File events from the real kernel: each test performs the action and
//! asserts on the event the sensor prints.
// A failed step should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::many_single_char_names, clippy::items_after_statements)]

mod common;

use std::ffi::CString;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use common::{arg, is, me, sensor, tid, unique};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[test]
fn open_creat_wronly_reports_path_flags_fd_pid() {
    let Some(s) = sensor() else { return };
    let dir = tmp();
    let path = dir.path().join(unique("open"));
    let f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o640).open(&path).unwrap();
    let fd = f.as_raw_fd();
    let p = path.to_str().unwrap().to_owned();
    let ev = s.wait_for("openat of the new file", |e| is(e, "openat") && arg(e, "name") == p.as_str());
    assert_eq!(ev["pid"], me());
    assert_eq!(ev["category"], "file");
    let flags = arg(&ev, "flags").as_u64().unwrap();
    assert_eq!(flags & libc::O_ACCMODE as u64, libc::O_WRONLY as u64, "{ev}");
    assert_ne!(flags & libc::O_CREAT as u64, 0, "{ev}");
    assert_eq!(arg(&ev, "mode"), 0o640);
    assert_eq!(arg(&ev, "fd"), i64::from(fd));
    assert_eq!(ev["ret"], i64::from(fd));
    assert_eq!(arg(&ev, "dirfd"), libc::AT_FDCWD);
    // The process table knows the test binary.
    assert_eq!(ev["proc"]["exe"], std::env::current_exe().unwrap().to_str().unwrap());
}

#[test]
fn failed_open_reports_errno() {
    let Some(s) = sensor() else { return };
    let p = format!("/nonexistent/{}", unique("enoent"));
    assert!(fs::File::open(&p).is_err());
    let ev = s.wait_for("failed openat", |e| is(e, "openat") && arg(e, "name") == p.as_str());
    assert_eq!(ev["ret"], -libc::ENOENT);
    assert_eq!(ev["errno"], "ENOENT");
    assert!(ev["args"].get("fd").is_none());
}

#[test]
fn creat_and_legacy_open_and_openat2() {
    let Some(s) = sensor() else { return };
    let dir = tmp();
    let c = dir.path().join(unique("creat"));
    let cs = CString::new(c.as_os_str().as_bytes()).unwrap();
    // SAFETY: plain syscalls on a path we own.
    let fd = unsafe { libc::creat(cs.as_ptr(), 0o600) };
    assert!(fd >= 0);
    let ev = s.wait_for("creat", |e| is(e, "creat") && arg(e, "name") == c.to_str().unwrap());
    assert_eq!(arg(&ev, "mode"), 0o600);
    assert_eq!(arg(&ev, "fd"), fd);

    // SAFETY: as above.
    let fd2 = unsafe { libc::syscall(libc::SYS_open, cs.as_ptr(), libc::O_RDONLY) };
    assert!(fd2 >= 0);
    let ev = s.wait_for("open", |e| is(e, "open") && arg(e, "name") == c.to_str().unwrap());
    assert_eq!(arg(&ev, "flags").as_u64().unwrap() & 3, 0);
    assert_eq!(arg(&ev, "fd"), fd2);

    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: 0x04, /* RESOLVE_NO_SYMLINKS */
    };
    // SAFETY: openat2 with a valid struct and its size.
    let fd3 = unsafe {
        libc::syscall(libc::SYS_openat2, libc::AT_FDCWD, cs.as_ptr(), &raw const how, std::mem::size_of::<OpenHow>())
    };
    assert!(fd3 >= 0, "openat2: {}", std::io::Error::last_os_error());
    let ev = s.wait_for("openat2", |e| is(e, "openat2") && arg(e, "name") == c.to_str().unwrap());
    assert_eq!(arg(&ev, "flags"), how.flags);
    assert_eq!(arg(&ev, "resolve"), 0x04);
    assert_eq!(arg(&ev, "fd"), fd3);
    // SAFETY: closing fds we opened.
    unsafe {
        libc::close(fd);
        libc::close(fd2 as i32);
        libc::close(fd3 as i32);
    }
}

#[test]
fn unlink_rename_chmod_mkdir_rmdir() {
    let Some(s) = sensor() else { return };
    let dir = tmp();
    let a = dir.path().join(unique("a"));
    let b = dir.path().join(unique("b"));
    fs::write(&a, b"x").unwrap();
    fs::rename(&a, &b).unwrap();
    let (a_s, b_s) = (a.to_str().unwrap().to_owned(), b.to_str().unwrap().to_owned());
    let ev = s.wait_for("rename", |e| {
        e["type"].as_str().is_some_and(|t| t.starts_with("rename")) && arg(e, "oldpath") == a_s.as_str()
    });
    assert_eq!(arg(&ev, "newpath"), b_s.as_str());
    assert_eq!(ev["ret"], 0);

    fs::set_permissions(&b, fs::Permissions::from_mode(0o751)).unwrap();
    let ev = s.wait_for("chmod", |e| {
        matches!(e["type"].as_str(), Some("chmod" | "fchmodat" | "fchmodat2")) && arg(e, "filename") == b_s.as_str()
    });
    assert_eq!(arg(&ev, "mode"), 0o751);

    let f = fs::File::open(&b).unwrap();
    f.set_permissions(fs::Permissions::from_mode(0o600)).unwrap();
    let fd = f.as_raw_fd();
    let ev =
        s.wait_for("fchmod", |e| is(e, "fchmod") && e["tid"] == tid() && arg(e, "fd") == fd && arg(e, "mode") == 0o600);
    assert_eq!(ev["ret"], 0);

    fs::remove_file(&b).unwrap();
    s.wait_for("unlink", |e| {
        (is(e, "unlink") && arg(e, "path") == b_s.as_str()) || (is(e, "unlinkat") && arg(e, "name") == b_s.as_str())
    });

    let d = dir.path().join(unique("dir"));
    let d_s = d.to_str().unwrap().to_owned();
    fs::create_dir(&d).unwrap();
    s.wait_for("mkdir", |e| matches!(e["type"].as_str(), Some("mkdir" | "mkdirat")) && arg(e, "path") == d_s.as_str());
    fs::remove_dir(&d).unwrap();
    s.wait_for("rmdir", |e| {
        (is(e, "rmdir") && arg(e, "path") == d_s.as_str())
            || (is(e, "unlinkat") && arg(e, "name") == d_s.as_str() && arg(e, "flags") == libc::AT_REMOVEDIR)
    });
}

#[test]
fn link_and_symlink() {
    let Some(s) = sensor() else { return };
    let dir = tmp();
    let target = dir.path().join(unique("target"));
    fs::write(&target, b"x").unwrap();
    let hard = dir.path().join(unique("hard"));
    let soft = dir.path().join(unique("soft"));
    fs::hard_link(&target, &hard).unwrap();
    std::os::unix::fs::symlink(&target, &soft).unwrap();
    let t = target.to_str().unwrap().to_owned();
    let ev = s
        .wait_for("link", |e| matches!(e["type"].as_str(), Some("link" | "linkat")) && arg(e, "oldpath") == t.as_str());
    assert_eq!(arg(&ev, "newpath"), hard.to_str().unwrap());
    let ev = s.wait_for("symlink", |e| {
        matches!(e["type"].as_str(), Some("symlink" | "symlinkat")) && arg(e, "target") == t.as_str()
    });
    assert_eq!(arg(&ev, "linkpath"), soft.to_str().unwrap());
    assert_eq!(ev["ret"], 0);
}

#[test]
fn dup_family_and_memfd() {
    let Some(s) = sensor() else { return };
    let f = fs::File::open("/dev/null").unwrap();
    let fd = f.as_raw_fd();
    // SAFETY: duplicating and closing our own fd.
    let (d1, d2, d3) = unsafe { (libc::dup(fd), libc::dup2(fd, 200), libc::dup3(fd, 201, libc::O_CLOEXEC)) };
    assert!(d1 >= 0 && d2 == 200 && d3 == 201);
    s.wait_for("dup", |e| is(e, "dup") && e["tid"] == tid() && arg(e, "fd") == fd && e["ret"] == d1);
    s.wait_for("dup2", |e| is(e, "dup2") && e["tid"] == tid() && arg(e, "oldfd") == fd && arg(e, "newfd") == 200);
    let ev = s.wait_for("dup3", |e| is(e, "dup3") && e["tid"] == tid() && arg(e, "newfd") == 201);
    assert_eq!(arg(&ev, "flags"), libc::O_CLOEXEC);
    // SAFETY: as above.
    unsafe {
        libc::close(d1);
        libc::close(d2);
        libc::close(d3);
    }

    let name = unique("memfd");
    let cname = CString::new(name.clone()).unwrap();
    // SAFETY: memfd_create with a valid name.
    let mfd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    assert!(mfd >= 0);
    let ev = s.wait_for("memfd_create", |e| is(e, "memfd_create") && arg(e, "name") == name.as_str());
    assert_eq!(ev["ret"], mfd);
    assert_eq!(arg(&ev, "flags"), libc::MFD_CLOEXEC);
    // SAFETY: closing our fd.
    unsafe { libc::close(mfd) };
}

#[test]
fn hostile_names_do_not_break_the_stream() {
    let Some(s) = sensor() else { return };
    let dir = tmp();
    // Invalid UTF-8, a newline, a quote and a control character in one name.
    let mut raw = dir.path().as_os_str().as_bytes().to_vec();
    raw.extend_from_slice(b"/bad-\xff\xfe-\n-\"-\x07-");
    raw.extend_from_slice(unique("hostile").as_bytes());
    let path = std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&raw));
    fs::write(&path, b"x").unwrap();
    let tag = unique("x"); // proves the stream still flows afterwards
    let _ = fs::File::open(format!("/nonexistent/{tag}"));
    let lossy = String::from_utf8_lossy(&raw).into_owned();
    s.wait_for("open of a non-UTF-8 name", |e| is(e, "openat") && arg(e, "name") == lossy.as_str());
    s.wait_for("later event", |e| is(e, "openat") && arg(e, "name").as_str().is_some_and(|n| n.ends_with(&tag)));
}

#[test]
fn long_path_is_truncated_and_flagged() {
    let Some(s) = sensor() else { return };
    // Longer than the 4096-byte bound: the kernel copies 4095 bytes and flags it.
    let long = format!("/nonexistent/{}/{}", unique("long"), "a".repeat(5000));
    let _ = fs::File::open(&long);
    let prefix = long[..200].to_owned();
    let ev = s.wait_for("truncated open", |e| {
        is(e, "openat") && arg(e, "name").as_str().is_some_and(|n| n.starts_with(&prefix))
    });
    assert_eq!(ev["truncated"], true);
    assert_eq!(arg(&ev, "name").as_str().unwrap().len(), 4095);
    assert_eq!(ev["errno"], "ENAMETOOLONG");
}

#[test]
fn close_is_traced() {
    let Some(s) = sensor() else { return };
    let dir = tmp();
    let path = dir.path().join(unique("close"));
    let f = fs::File::create(&path).unwrap();
    let fd = i64::from(f.as_raw_fd());
    drop(f);
    let ev = s.wait_for("close of the file", |e| is(e, "close") && e["tid"] == tid() && arg(e, "fd") == fd);
    assert_eq!(ev["ret"], 0);
    assert_eq!(ev["category"], "file");
}

#[test]
fn chdir_moves_the_processes_cwd() {
    use std::os::unix::process::CommandExt as _;
    let Some(s) = sensor() else { return };
    let dir = tmp();
    let target = CString::new(dir.path().as_os_str().as_bytes()).unwrap();
    let marker = unique("after-chdir");
    let rel = CString::new(marker.clone()).unwrap();
    let mut cmd = std::process::Command::new("/bin/true");
    // SAFETY: chdir and open between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::chdir(target.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::open(rel.as_ptr(), libc::O_RDONLY);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let pid = u64::from(child.id());
    child.wait().unwrap();
    let d = dir.path().to_str().unwrap();
    let ev = s.wait_for("chdir", |e| is(e, "chdir") && e["pid"] == pid);
    assert_eq!(arg(&ev, "path"), d);
    let ev = s.wait_for("the relative open", |e| is(e, "openat") && arg(e, "name") == marker.as_str());
    assert_eq!(ev["proc"]["cwd"], d, "{ev}");
}
