#![allow(clippy::many_single_char_names)]
use std::borrow::Cow;

use super::*;
use crate::event::{Args, Event};
use crate::syscall_table::Category;

fn ev(kind: &'static str, pid: u32, ret: i64, args: Vec<(&'static str, Arg)>) -> Event {
    let mut a = Args::default();
    for (n, v) in args {
        a.push(n, v);
    }
    Event {
        ts: 0,
        kind: Cow::Borrowed(kind),
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
