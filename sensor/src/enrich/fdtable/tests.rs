#![allow(clippy::many_single_char_names)]

use super::*;
use crate::event::{Args, Event};
use crate::kernel::syscall_table::Category;

fn ev(kind: &'static str, pid: u32, ret: i64, args: Vec<(&'static str, Arg)>) -> Event {
    let mut a = Args::default();
    for (n, v) in args {
        a.push(n, v);
    }
    Event {
        num: 0,
        ts: 0,
        kind: crate::event::Kind::from_name(kind).unwrap(),
        category: Category::File,
        pid,
        tid: pid,
        uid: 0,
        gid: 0,
        cgroup_id: 0,
        comm: "t".into(),
        ret: Some(ret),
        errno: None,
        truncated: false,
        read_fault: false,
        compat: false,
        args: a,
        proc: None,
    }
}

fn inet(ip: &str, port: u16) -> Arg {
    Arg::Addr(SockAddr::Inet { ip: ip.parse().unwrap(), port })
}

#[test]
fn open_resolves_relative_paths_and_failed_opens_have_fd_minus_one() {
    let mut t = FdTable::new(16, 16);
    let i = t
        .observe(&ev("openat", 1, 3, vec![("dirfd", Arg::Int(-100)), ("name", Arg::Str("a/b".into()))]), Some("/w"))
        .unwrap();
    assert_eq!(i.name().as_deref(), Some("/w/a/b"));
    assert_eq!(i.nameraw.as_deref(), Some("a/b"));
    assert_eq!(t.get(1, 3).unwrap().num, 3);
    // Relative to a directory fd we know.
    t.observe(&ev("openat", 1, 4, vec![("dirfd", Arg::Int(-100)), ("name", Arg::Str("/etc".into()))]), None);
    let i = t
        .observe(&ev("openat", 1, 5, vec![("dirfd", Arg::Int(4)), ("name", Arg::Str("passwd".into()))]), None)
        .unwrap();
    assert_eq!(i.name().as_deref(), Some("/etc/passwd"));
    let i = t.observe(&ev("open", 1, -2, vec![("name", Arg::Str("/nope".into()))]), None).unwrap();
    assert_eq!(i.num, -1);
    assert!(t.get(1, -1).is_none());
}

#[test]
fn socket_connect_sendto_tracks_peers() {
    let mut t = FdTable::new(16, 16);
    t.observe(
        &ev("socket", 7, 3, vec![("domain", Arg::UInt(2)), ("type", Arg::UInt(2)), ("proto", Arg::UInt(0))]),
        None,
    );
    let c = t.observe(&ev("connect", 7, 0, vec![("fd", Arg::Int(3)), ("addr", inet("10.0.0.1", 53))]), None).unwrap();
    assert_eq!(c.kind, FdKind::Ipv4);
    assert_eq!(c.l4proto, Some("udp"));
    assert!(c.connected);
    assert!(!c.name_changed);
    assert_eq!(c.name().as_deref(), Some("0.0.0.0:0->10.0.0.1:53"));
    let s = t.observe(&ev("sendto", 7, 5, vec![("fd", Arg::Int(3)), ("addr", inet("10.0.0.2", 53))]), None).unwrap();
    assert!(s.name_changed);
    assert_eq!(s.remote.as_ref().unwrap().ip.to_string(), "10.0.0.2");
    let s = t.observe(&ev("sendto", 7, 5, vec![("fd", Arg::Int(3))]), None).unwrap();
    assert!(!s.name_changed);
}

#[test]
fn accept_dup_and_fork_inherit() {
    let mut t = FdTable::new(16, 16);
    t.observe(&ev("socket", 9, 3, vec![("domain", Arg::UInt(10)), ("type", Arg::UInt(1))]), None);
    t.observe(
        &ev(
            "bind",
            9,
            0,
            vec![("fd", Arg::Int(3)), ("addr", Arg::Addr(SockAddr::Inet6 { ip: "::1".parse().unwrap(), port: 22 }))],
        ),
        None,
    );
    let a = t
        .observe(
            &ev(
                "accept4",
                9,
                4,
                vec![
                    ("fd", Arg::Int(3)),
                    ("addr", Arg::Addr(SockAddr::Inet6 { ip: "::2".parse().unwrap(), port: 5555 })),
                ],
            ),
            None,
        )
        .unwrap();
    assert!(a.is_server);
    assert_eq!(a.num, 4);
    let (c, s) = a.client_server();
    assert_eq!((c.unwrap().port, s.unwrap().port), (5555, 22));
    // The bound socket itself is the server end, as libsinsp makes it on
    // bind: a `listen` on it names its own address as the server.
    let l = t.observe(&ev("listen", 9, 0, vec![("fd", Arg::Int(3)), ("backlog", Arg::Int(4))]), None).unwrap();
    assert!(l.is_server);
    assert_eq!(l.client_server().1.unwrap().port, 22);
    assert_eq!(l.name().as_deref(), Some(":::0->::1:22"));
    let d = t.observe(&ev("dup2", 9, 1, vec![("oldfd", Arg::Int(4)), ("newfd", Arg::Int(1))]), None).unwrap();
    assert_eq!(d.num, 1);
    assert_eq!(t.get(9, 1).unwrap().kind, FdKind::Ipv6);
    t.observe(&ev("clone", 9, 10, vec![("child_pid", Arg::UInt(10))]), None);
    assert_eq!(t.get(10, 1).unwrap().kind, FdKind::Ipv6);
    t.observe(&ev("procexit", 10, 0, vec![]), None);
    assert!(t.get(10, 1).is_none());
}

#[test]
fn bounds_are_enforced_and_counted() {
    let mut t = FdTable::new(4, 2);
    for fd in 0..10 {
        t.observe(&ev("openat", 1, fd, vec![("dirfd", Arg::Int(-100)), ("name", Arg::Str(format!("/f{fd}")))]), None);
    }
    assert_eq!(t.stats().evicted, 6);
    for pid in 2..5 {
        t.observe(&ev("openat", pid, 3, vec![("dirfd", Arg::Int(-100)), ("name", Arg::Str("/x".into()))]), None);
    }
    assert!(t.stats().processes <= 2);
    assert_eq!(t.stats().evicted, 8);
}

#[test]
fn connect_with_the_kernel_read_local_end_names_both_ends() {
    let mut t = FdTable::new(16, 16);
    t.observe(&ev("socket", 7, 3, vec![("domain", Arg::UInt(2)), ("type", Arg::UInt(1))]), None);
    let c = t
        .observe(
            &ev(
                "connect",
                7,
                0,
                vec![("fd", Arg::Int(3)), ("addr", inet("10.0.0.1", 443)), ("local", inet("10.1.1.1", 5555))],
            ),
            None,
        )
        .unwrap();
    assert_eq!(c.name().as_deref(), Some("10.1.1.1:5555->10.0.0.1:443"));
    let (client, server) = c.client_server();
    assert_eq!((client.unwrap().port, server.unwrap().port), (5555, 443));
}

#[test]
fn close_drops_the_entry_and_reports_what_it_closed() {
    let mut t = FdTable::new(16, 16);
    t.observe(&ev("openat", 1, 7, vec![("dirfd", Arg::Int(-100)), ("name", Arg::Str("/etc/passwd".into()))]), None);
    let closed = t.observe(&ev("close", 1, 0, vec![("fd", Arg::Int(7))]), None).unwrap();
    assert_eq!(closed.name().as_deref(), Some("/etc/passwd"));
    assert!(t.get(1, 7).is_none());
    // A failed close (EBADF) changes nothing.
    t.observe(&ev("openat", 1, 8, vec![("dirfd", Arg::Int(-100)), ("name", Arg::Str("/x".into()))]), None);
    t.observe(&ev("close", 1, -9, vec![("fd", Arg::Int(8))]), None);
    assert!(t.get(1, 8).is_some());
}

#[test]
fn descriptors_opened_before_start_come_from_proc() {
    let root = tempfile::tempdir().unwrap();
    let fds = root.path().join("42/fd");
    std::fs::create_dir_all(&fds).unwrap();
    std::os::unix::fs::symlink("/var/log/app.log", fds.join("5")).unwrap();
    std::os::unix::fs::symlink("socket:[12345]", fds.join("6")).unwrap();
    std::os::unix::fs::symlink("pipe:[999]", fds.join("7")).unwrap();
    let mut t = FdTable::with_proc_root(16, 16, root.path().to_owned());
    // dup2 of a descriptor the stream never saw opened.
    let i = t.observe(&ev("dup2", 42, 1, vec![("oldfd", Arg::Int(5)), ("newfd", Arg::Int(1))]), None).unwrap();
    assert_eq!(i.name().as_deref(), Some("/var/log/app.log"));
    assert_eq!(t.get(42, 1).unwrap().kind, FdKind::File);
    // A bare socket learns its family from the address it connects to.
    let i = t.observe(&ev("connect", 42, 0, vec![("fd", Arg::Int(6)), ("addr", inet("127.0.0.1", 80))]), None).unwrap();
    assert_eq!(i.kind, FdKind::Ipv4);
    assert_eq!(i.remote.unwrap().port, 80);
    // Pipes carry nothing a rule asks about; unknown processes stay unknown.
    assert!(t.observe(&ev("dup", 42, 9, vec![("fd", Arg::Int(7))]), None).is_none());
    assert!(t.observe(&ev("dup", 43, 9, vec![("fd", Arg::Int(5))]), None).is_none());
    assert_eq!(t.stats().from_proc, 2);
}

#[test]
fn file_names_are_normalized_and_raw_names_kept() {
    let mut t = FdTable::new(16, 16);
    let args = |name: &str| vec![("dirfd", Arg::Int(-100)), ("name", Arg::Str(name.into()))];
    let f = t.observe(&ev("openat", 3, 5, args("/var/www/../../etc/./passwd")), None).unwrap();
    assert_eq!(f.name().as_deref(), Some("/etc/passwd"));
    assert_eq!(f.nameraw.as_deref(), Some("/var/www/../../etc/./passwd"));
    let f = t.observe(&ev("openat", 3, 6, args("../../etc/shadow")), Some("/srv/app")).unwrap();
    assert_eq!(f.name().as_deref(), Some("/etc/shadow"));
}

#[test]
fn directory_opens_and_port_zero_binds() {
    let mut t = FdTable::new(16, 16);
    let open = |name: &str, flags: u64| {
        vec![("dirfd", Arg::Int(-100)), ("name", Arg::Str(name.into())), ("flags", Arg::UInt(flags))]
    };
    // O_RDONLY|O_DIRECTORY|O_CLOEXEC: Falco's typechar 'd'.
    let d = t.observe(&ev("openat", 3, 5, open("/root/.ssh", 0o2_200_000)), None).unwrap();
    assert_eq!((d.kind.typechar(), d.kind.type_name()), ("d", "directory"));
    let f = t.observe(&ev("openat", 3, 6, open("/root/.ssh/id", 0)), None).unwrap();
    assert_eq!(f.kind.typechar(), "f");
    // bind to port 0 (an ephemeral port for a client) keeps the client role.
    t.observe(&ev("socket", 3, 7, vec![("domain", Arg::UInt(2)), ("type", Arg::UInt(2))]), None);
    let b = t.observe(&ev("bind", 3, 0, vec![("fd", Arg::Int(7)), ("addr", inet("10.0.0.3", 0))]), None).unwrap();
    assert!(!b.is_server);
}

#[test]
fn ipv4_mapped_ipv6_ends_are_ipv4() {
    let mut t = FdTable::new(16, 16);
    let v6 = |ip: &str, port| Arg::Addr(SockAddr::Inet6 { ip: ip.parse().unwrap(), port });
    // A dual-stack listener (busybox nc -l) bound to [::]:4444 accepts
    // 127.0.0.1: libsinsp sees IPv4 on both, so loopback rules apply.
    t.observe(&ev("socket", 5, 3, vec![("domain", Arg::UInt(10)), ("type", Arg::UInt(1))]), None);
    let b = t.observe(&ev("bind", 5, 0, vec![("fd", Arg::Int(3)), ("addr", v6("::", 4444))]), None).unwrap();
    assert_eq!(b.kind, FdKind::Ipv4);
    assert_eq!(b.local.as_ref().unwrap().ip.to_string(), "0.0.0.0");
    let a = t
        .observe(
            &ev(
                "accept",
                5,
                4,
                vec![
                    ("fd", Arg::Int(3)),
                    ("addr", v6("::ffff:127.0.0.1", 5000)),
                    ("local", v6("::ffff:127.0.0.1", 4444)),
                ],
            ),
            None,
        )
        .unwrap();
    assert_eq!((a.kind, a.name().as_deref()), (FdKind::Ipv4, Some("127.0.0.1:5000->127.0.0.1:4444")));
    // A real IPv6 peer stays IPv6.
    t.observe(&ev("socket", 5, 6, vec![("domain", Arg::UInt(10)), ("type", Arg::UInt(1))]), None);
    let c = t.observe(&ev("connect", 5, 0, vec![("fd", Arg::Int(6)), ("addr", v6("2001:db8::1", 443))]), None).unwrap();
    assert_eq!(c.kind, FdKind::Ipv6);
}
