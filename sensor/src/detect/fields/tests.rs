#![allow(clippy::many_single_char_names)]
use std::sync::Arc;

use super::*;
use crate::enrich::fdtable::FdTable;
use crate::event::process_view::{Ancestor, ProcessView};
use crate::event::{Args, Event};
use crate::kernel::syscall_table::Category;

fn view() -> Arc<SharedView> {
    let anc = |pid, name: &str, exe: &str, cmd: &str| Ancestor {
        pid,
        name: name.into(),
        exe: exe.into(),
        exepath: Some(exe.into()),
        cmdline: cmd.into(),
        env: Arc::from(vec![format!("ANC={name}"), "HOME=/root".to_owned()]),
    };
    Arc::new(SharedView::new(ProcessView {
        exec_id: "42:1000".into(),
        ppid: 41,
        name: "curl".into(),
        exe: "/usr/bin/curl".into(),
        exepath: Some("/usr/bin/curl".into()),
        args: vec!["curl".into(), "-s".into(), "http://x".into()],
        cwd: Some("/srv".into()),
        euid: 0,
        loginuid: 1000,
        tty: 34816,
        sid: 40,
        pgid: 41,
        vpid: Some(7),
        vpgid: Some(7),
        cap_effective: (1 << 21) | 1,
        cap_permitted: (1 << 21) | 1 | (1 << 12),
        cap_inheritable: 0,
        exe_writable: true,
        exe_upper_layer: false,
        exe_from_memfd: false,
        env: Arc::from(vec!["PATH=/bin".to_owned(), "LD_PRELOAD=/tmp/x.so".to_owned()]),
        start_ns: 1_000,
        container: None,
        unit: None,
        ancestors: vec![anc(41, "bash", "/bin/bash", "bash -i"), anc(40, "sshd", "/usr/sbin/sshd", "sshd: u")],
    }))
}

fn event(kind: &'static str, ret: i64, args: Vec<(&'static str, Arg)>) -> Event {
    let mut a = Args::default();
    for (n, v) in args {
        a.push(n, v);
    }
    Event {
        num: 0,
        ts: 5_000_000_000,
        kind: crate::event::Kind::from_name(kind).unwrap(),
        category: Category::File,
        pid: 42,
        tid: 43,
        uid: 0,
        gid: 0,
        cgroup_id: 1,
        comm: "curl".into(),
        ret: Some(ret),
        errno: (ret < 0).then(|| crate::event::decode::errno_name(ret)),
        truncated: false,
        read_fault: false,
        compat: false,
        args: a,
        proc: Some(view()),
    }
}

fn users() -> Users {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("passwd"),
        "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/zsh\n",
    )
    .unwrap();
    std::fs::write(d.path().join("group"), "root:x:0:\n").unwrap();
    Users::load(&d.path().join("passwd"), &d.path().join("group"))
}

fn get(ev: &Event, fd: Option<&FdInfo>, u: &Users, f: &str) -> Option<String> {
    let fields = EventFields { ev, meta: None, fd, users: u, hostname: "node-1", boot_to_unix_ns: 0, baseline: None };
    let r = crate::rules::fields::resolve(f, None).ok().or_else(|| {
        let (name, arg) = f.split_once('[')?;
        crate::rules::fields::resolve(name, Some(arg.trim_end_matches(']'))).ok()
    })?;
    fields.get(r.id, r.arg.as_ref()).map(|v| match v {
        FieldValue::Str(s) => s.into_owned(),
        FieldValue::U64(n) => n.to_string(),
        FieldValue::I64(n) => n.to_string(),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Ip(ip) => ip.to_string(),
        FieldValue::List(l) => format!("{} items", l.len()),
        FieldValue::Bytes(b) => format!("{} bytes", b.len()),
    })
}

#[test]
fn process_user_and_event_fields() {
    let u = users();
    let e = event(
        "openat",
        3,
        vec![
            ("dirfd", Arg::Int(-100)),
            ("name", Arg::Str("data".into())),
            ("flags", Arg::UInt(0o1101)),
            ("mode", Arg::UInt(0o755)),
        ],
    );
    let g = |f: &str| get(&e, None, &u, f);
    assert_eq!(g("evt.type").as_deref(), Some("openat"));
    assert_eq!(g("evt.res").as_deref(), Some("SUCCESS"));
    assert_eq!(g("evt.rawres").as_deref(), Some("3"));
    assert_eq!(g("evt.arg.flags").as_deref(), Some("O_WRONLY|O_CREAT|O_TRUNC"));
    assert_eq!(g("evt.is_open_write").as_deref(), Some("true"));
    assert_eq!(g("evt.is_open_read").as_deref(), Some("false"));
    assert_eq!(g("evt.is_open_exec").as_deref(), Some("true"));
    assert_eq!(g("evt.hostname").as_deref(), Some("node-1"));
    assert_eq!(g("proc.name").as_deref(), Some("curl"));
    assert_eq!(g("proc.cmdline").as_deref(), Some("curl -s http://x"));
    assert_eq!(g("proc.args").as_deref(), Some("-s http://x"));
    assert_eq!(g("proc.pname").as_deref(), Some("bash"));
    assert_eq!(g("proc.pcmdline").as_deref(), Some("bash -i"));
    assert_eq!(g("proc.aname[2]").as_deref(), Some("sshd"));
    assert_eq!(g("proc.aname[0]").as_deref(), Some("curl"));
    assert_eq!(g("proc.aname[3]"), None);
    assert_eq!(g("proc.aname").as_deref(), Some("2 items"));
    assert_eq!(g("proc.tty").as_deref(), Some("34816"));
    assert_eq!(g("proc.cwd").as_deref(), Some("/srv"));
    assert_eq!(g("proc.duration").as_deref(), Some("4999999000"));
    assert_eq!(g("user.name").as_deref(), Some("root"));
    assert_eq!(g("user.loginuid").as_deref(), Some("1000"));
    assert_eq!(g("user.loginname").as_deref(), Some("alice"));
    assert_eq!(g("thread.cap_effective").as_deref(), Some("CAP_CHOWN CAP_SYS_ADMIN"));
    assert_eq!(g("thread.cap_permitted").as_deref(), Some("CAP_CHOWN CAP_NET_ADMIN CAP_SYS_ADMIN"));
    assert_eq!(g("thread.cap_inheritable").as_deref(), Some(""));
    assert_eq!(g("thread.tid").as_deref(), Some("43"));
    assert_eq!(g("proc.is_exe_writable").as_deref(), Some("true"));
    // Namespace ids and the session / process group leaders' names.
    assert_eq!(g("proc.vpid").as_deref(), Some("7"));
    assert_eq!(g("proc.vpgid").as_deref(), Some("7"));
    assert_eq!(g("proc.is_vpgid_leader").as_deref(), Some("true"));
    assert_eq!(g("proc.sname").as_deref(), Some("sshd"));
    assert_eq!(g("proc.vpgid.name").as_deref(), Some("bash"));
    assert_eq!(g("proc.is_exe_upper_layer").as_deref(), Some("false"));
    assert_eq!(g("proc.env").as_deref(), Some("PATH=/bin LD_PRELOAD=/tmp/x.so"));
    assert_eq!(g("proc.env[LD_PRELOAD]").as_deref(), Some("/tmp/x.so"));
    assert_eq!(g("proc.env[NOPE]").as_deref(), Some(""));
    // proc.aenv: own env bare, ancestors by level or first match upwards.
    assert_eq!(g("proc.aenv").as_deref(), Some("PATH=/bin LD_PRELOAD=/tmp/x.so"));
    assert_eq!(g("proc.aenv[2]").as_deref(), Some("ANC=sshd HOME=/root"));
    assert_eq!(g("proc.aenv[ANC]").as_deref(), Some("bash"));
    assert_eq!(g("proc.aenv[LD_PRELOAD]").as_deref(), Some(""));
    // A host process: Falco's "host"; pod fields missing.
    assert_eq!(g("container.id").as_deref(), Some("host"));
    assert_eq!(g("container.full_id").as_deref(), Some("host"));
    assert_eq!(g("container.type"), None);
    assert_eq!(g("k8s.ns.name"), None);
}

#[test]
fn fd_fields_for_files_and_sockets() {
    let u = users();
    let mut t = FdTable::new(16, 16);
    let e = event(
        "openat",
        3,
        vec![("dirfd", Arg::Int(-100)), ("name", Arg::Str("conf/app.yaml".into())), ("flags", Arg::UInt(0))],
    );
    let fd = t.observe(&e, Some("/srv"));
    let g = |f: &str| get(&e, fd.as_ref(), &u, f);
    assert_eq!(g("fd.name").as_deref(), Some("/srv/conf/app.yaml"));
    assert_eq!(g("fd.nameraw").as_deref(), Some("conf/app.yaml"));
    assert_eq!(g("fd.directory").as_deref(), Some("/srv/conf"));
    assert_eq!(g("fd.filename").as_deref(), Some("app.yaml"));
    assert_eq!(g("fd.typechar").as_deref(), Some("f"));
    assert_eq!(g("fd.num").as_deref(), Some("3"));
    assert_eq!(g("fd.sip"), None);

    let s = event("socket", 4, vec![("domain", Arg::UInt(2)), ("type", Arg::UInt(1)), ("proto", Arg::UInt(0))]);
    t.observe(&s, None);
    let c = event(
        "connect",
        0,
        vec![
            ("fd", Arg::Int(4)),
            ("addr", Arg::Addr(crate::event::SockAddr::Inet { ip: "10.96.0.1".parse().unwrap(), port: 443 })),
        ],
    );
    let fd = t.observe(&c, None);
    let g = |f: &str| get(&c, fd.as_ref(), &u, f);
    assert_eq!(g("fd.typechar").as_deref(), Some("4"));
    assert_eq!(g("fd.type").as_deref(), Some("ipv4"));
    assert_eq!(g("fd.l4proto").as_deref(), Some("tcp"));
    assert_eq!(g("fd.sip").as_deref(), Some("10.96.0.1"));
    assert_eq!(g("fd.sport").as_deref(), Some("443"));
    assert_eq!(g("fd.rport").as_deref(), Some("443"));
    assert_eq!(g("fd.connected").as_deref(), Some("true"));
    assert_eq!(g("fd.name").as_deref(), Some("0.0.0.0:0->10.96.0.1:443"));
}

/// Names enrich/dns attached (`addr_name`, `local_name`) follow the
/// descriptor, and the server end is ours on an accepted socket.
#[test]
fn resolved_names_of_either_end() {
    use crate::event::SockAddr;
    let u = users();
    let inet = |ip: &str, port| Arg::Addr(SockAddr::Inet { ip: ip.parse().unwrap(), port });
    let mut t = FdTable::new(16, 16);
    let mut tcp_socket = |fd| {
        let s = event("socket", fd, vec![("domain", Arg::UInt(2)), ("type", Arg::UInt(1)), ("proto", Arg::UInt(0))]);
        t.observe(&s, None);
    };
    tcp_socket(4);
    tcp_socket(5);
    let c = event(
        "connect",
        0,
        vec![
            ("fd", Arg::Int(4)),
            ("addr", inet("10.96.0.1", 443)),
            ("local", inet("10.0.0.5", 40000)),
            ("addr_name", Arg::Str("kubernetes.default.svc.cluster.local".into())),
        ],
    );
    let fd = t.observe(&c, None);
    let g = |f: &str| get(&c, fd.as_ref(), &u, f);
    assert_eq!(g("fd.sip.name").as_deref(), Some("kubernetes.default.svc.cluster.local"));
    assert_eq!(g("fd.rip.name").as_deref(), Some("kubernetes.default.svc.cluster.local"));
    assert_eq!(g("fd.cip.name"), None, "nobody resolved the client's own address");
    assert_eq!(g("fd.lip.name"), None);

    let a = event(
        "accept4",
        6,
        vec![
            ("fd", Arg::Int(5)),
            ("addr", inet("10.0.0.9", 51000)),
            ("local", inet("10.0.0.5", 8080)),
            ("local_name", Arg::Str("web.shop.svc.cluster.local".into())),
        ],
    );
    let fd = t.observe(&a, None);
    let g = |f: &str| get(&a, fd.as_ref(), &u, f);
    assert_eq!(g("fd.lip.name").as_deref(), Some("web.shop.svc.cluster.local"));
    assert_eq!(g("fd.sip.name").as_deref(), Some("web.shop.svc.cluster.local"), "the server end is local");
    assert_eq!(g("fd.cip.name"), None);
    assert_eq!(g("fd.rip.name"), None);
}

#[test]
fn ptrace_and_socket_args_render_as_falco_names() {
    let u = users();
    let p = event("ptrace", 0, vec![("request", Arg::UInt(16)), ("pid", Arg::Int(7))]);
    assert_eq!(get(&p, None, &u, "evt.arg.request").as_deref(), Some("PTRACE_ATTACH"));
    assert_eq!(get(&p, None, &u, "evt.arg.pid").as_deref(), Some("7"));
    let s = event("socket", 3, vec![("domain", Arg::UInt(17))]);
    assert_eq!(get(&s, None, &u, "evt.arg.domain").as_deref(), Some("AF_PACKET"));
    // evt.args shows the number and, as libsinsp, its name in parentheses.
    let s = event("socket", 3, vec![("domain", Arg::UInt(17)), ("type", Arg::UInt(3)), ("proto", Arg::UInt(768))]);
    assert_eq!(get(&s, None, &u, "evt.args").as_deref(), Some("domain=17(AF_PACKET) type=3 proto=768"));
    let s = event("socket", 3, vec![("domain", Arg::UInt(99))]);
    assert_eq!(get(&s, None, &u, "evt.args").as_deref(), Some("domain=99"));
    let f = event("openat", -13, vec![("name", Arg::Str("/etc/shadow".into())), ("flags", Arg::UInt(0))]);
    assert_eq!(get(&f, None, &u, "evt.res").as_deref(), Some("EACCES"));
    // chmod modes resolve as libs' chmod_mode table (what `evt.arg.mode
    // contains "S_ISUID"` matches); open's mode stays a number.
    let c = event("fchmodat", 0, vec![("filename", Arg::Str("/x".into())), ("mode", Arg::UInt(0o4755))]);
    assert_eq!(
        get(&c, None, &u, "evt.arg.mode").as_deref(),
        Some("S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID")
    );
    let c = event("chmod", 0, vec![("mode", Arg::UInt(0))]);
    assert_eq!(get(&c, None, &u, "evt.arg.mode").as_deref(), Some("0"));
    let o = event("openat", 3, vec![("mode", Arg::UInt(0o644))]);
    assert_eq!(get(&o, None, &u, "evt.arg.mode").as_deref(), Some("420"));
}

#[test]
fn vpgid_leader_needs_both_namespace_ids() {
    let u = users();
    let mut e = event("execve", 0, vec![]);
    let mut pv = view().view.clone();
    pv.vpgid = Some(5);
    e.proc = Some(Arc::new(SharedView::new(pv.clone())));
    assert_eq!(get(&e, None, &u, "proc.is_vpgid_leader").as_deref(), Some("false"));
    // A process gone before /proc was read: unknown, so comparisons are false.
    pv.vpid = None;
    e.proc = Some(Arc::new(SharedView::new(pv)));
    assert_eq!(get(&e, None, &u, "proc.is_vpgid_leader"), None);
    assert_eq!(get(&e, None, &u, "proc.vpid"), None);
}

#[test]
fn container_mounts_are_looked_up_by_source_glob_or_index() {
    use crate::enrich::container::meta::ContainerMeta;
    use crate::enrich::runtime::Mount;
    let u = users();
    let e = event("execve", 0, vec![]);
    let mount = |src: &str, dst: &str, ro: bool| Mount {
        source: src.into(),
        destination: dst.into(),
        mode: Some(if ro { "ro" } else { "" }.into()),
        read_only: ro,
        propagation: Some("rprivate".into()),
    };
    let meta = ContainerMeta {
        container: crate::enrich::runtime::ContainerMeta {
            mounts: vec![mount("/var/lib/docker/x/hosts", "/etc/hosts", false), mount("/proc", "/host/proc", true)],
            ..Default::default()
        },
        pod: None,
    };
    let fields = EventFields {
        ev: &e,
        meta: Some(&meta),
        fd: None,
        users: &u,
        hostname: "n",
        boot_to_unix_ns: 0,
        baseline: None,
    };
    let g = |f: &str, arg: &str| {
        let r = crate::rules::fields::resolve(f, Some(arg)).unwrap();
        fields.get(r.id, r.arg.as_ref()).map(|v| match v {
            FieldValue::Str(s) => s.into_owned(),
            other => format!("{other:?}"),
        })
    };
    // By source, with globs (the sensitive_mount macro's `[/proc*]`).
    assert_eq!(g("container.mount.dest", "/proc*").as_deref(), Some("/host/proc"));
    // A destination is no source: /etc is mounted nowhere from the host.
    assert_eq!(g("container.mount.dest", "/etc"), None);
    assert_eq!(g("container.mount.source", "/etc/hosts").as_deref(), Some("/var/lib/docker/x/hosts"));
    assert_eq!(g("container.mount.dest", "1").as_deref(), Some("/host/proc"));
    assert_eq!(g("container.mount", "/proc").as_deref(), Some("/proc:/host/proc:ro:false:rprivate"));
}

#[test]
fn chmod_mode_renders_as_falco_names_and_rawarg_stays_numeric() {
    let u = users();
    let e = event(
        "fchmodat",
        0,
        vec![("dirfd", Arg::Int(-100)), ("filename", Arg::Str("x".into())), ("mode", Arg::UInt(0o4755))],
    );
    let mode = get(&e, None, &u, "evt.arg.mode").unwrap();
    assert!(mode.contains("S_ISUID") && mode.contains("S_IXUSR") && !mode.contains("S_ISGID"), "{mode}");
    assert_eq!(get(&e, None, &u, "evt.rawarg.mode").as_deref(), Some("2541"));
    // Only chmod's mode is a PT_MODE: an open's stays a number.
    let o = event(
        "openat",
        3,
        vec![
            ("dirfd", Arg::Int(-100)),
            ("name", Arg::Str("x".into())),
            ("flags", Arg::UInt(0o101)),
            ("mode", Arg::UInt(0o4755)),
        ],
    );
    assert_eq!(get(&o, None, &u, "evt.arg.mode").as_deref(), Some("2541"));
}
