use super::*;
use crate::kernel::syscall_table;
use sensor_common::{EXIT_BODY_SIZE, FORK_BODY_SIZE, MAX_STRS};

fn bytes_of<T: Pod>(v: &T) -> Vec<u8> {
    // SAFETY: Pod types are plain bytes.
    unsafe { std::slice::from_raw_parts(std::ptr::from_ref(v).cast::<u8>(), std::mem::size_of::<T>()) }.to_vec()
}

fn header(kind: u16, size: usize) -> EventHeader {
    let mut comm = [0u8; 16];
    comm[..4].copy_from_slice(b"test");
    EventHeader {
        kind,
        flags: 0,
        size: size as u32,
        ts_ns: 1_000,
        pid: 10,
        tid: 11,
        uid: 1,
        gid: 2,
        cgroup_id: 3,
        comm,
    }
}

fn syscall_record(nr: u32, ret: i64, args: [u64; 6], strs: &[&[u8]], addr: &[u8]) -> Vec<u8> {
    syscall_record_with_data(nr, ret, args, strs, addr, &[])
}

fn syscall_record_with_data(nr: u32, ret: i64, args: [u64; 6], strs: &[&[u8]], addr: &[u8], data: &[u8]) -> Vec<u8> {
    let mut str_lens = [0u16; MAX_STRS];
    for (i, s) in strs.iter().enumerate() {
        str_lens[i] = s.len() as u16;
    }
    let mut a = [0u8; sensor_common::MAX_SOCKADDR];
    a[..addr.len()].copy_from_slice(addr);
    let body = SyscallBody {
        nr,
        addr_len: addr.len() as u16,
        str_lens,
        reserved: 0,
        ret,
        args,
        extra: [0; 3],
        addr: a,
        local: [0; 28],
        data_len: data.len() as u16,
        pad: 0,
    };
    let mut tail: Vec<u8> = strs.concat();
    tail.extend_from_slice(data);
    let size = HEADER_SIZE + SYSCALL_BODY_SIZE + tail.len();
    let mut out = bytes_of(&header(kind::SYSCALL, size));
    out.extend(bytes_of(&body));
    out.extend(tail);
    out
}

fn name128(s: &[u8]) -> [u8; 128] {
    let mut a = [0u8; 128];
    a[..s.len()].copy_from_slice(s);
    a
}

fn nr(name: &str) -> u32 {
    syscall_table::by_name(name).unwrap().nr
}

fn dec(b: &[u8]) -> Result<Decoded, DecodeError> {
    decode(b, 0, &syscall_table::index())
}

#[test]
fn decodes_openat() {
    let rec = syscall_record(nr("openat"), 3, [(-100i64) as u64, 0, 0o1101, 0o644, 0, 0], &[b"/tmp/x"], &[]);
    let d = dec(&rec).unwrap();
    let e = d.event;
    assert_eq!(e.kind, "openat");
    assert_eq!((e.pid, e.tid, e.uid, e.gid, e.cgroup_id), (10, 11, 1, 2, 3));
    assert_eq!(e.comm, "test");
    assert_eq!(e.args.str("name"), Some("/tmp/x"));
    assert_eq!(e.args.int("dirfd"), Some(-100));
    assert_eq!(e.args.int("flags"), Some(0o1101));
    assert_eq!(e.args.int("fd"), Some(3));
    assert_eq!(e.ts, 1_000);
}

#[test]
fn recvfrom_carries_the_data_it_moved() {
    let class = [0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 0x34, b'x'];
    let rec = syscall_record_with_data(nr("recvfrom"), 9, [5, 0x1000, 4096, 0, 0, 0], &[], &[], &class);
    let e = dec(&rec).unwrap().event;
    assert_eq!(e.args.get("data"), Some(&Arg::Bytes(class.to_vec())));
    // A record whose data length runs past its end is an error.
    let mut short = rec.clone();
    short.truncate(rec.len() - 1);
    let size = short.len() as u32;
    short[4..8].copy_from_slice(&size.to_ne_bytes());
    assert!(dec(&short).is_err());
    // The JSON form keeps every byte (replay reads it back).
    let json = serde_json::to_string(&e).unwrap();
    let back: crate::event::Event = serde_json::from_str(&json).unwrap();
    assert_eq!(back.args.get("data"), Some(&Arg::Bytes(class.to_vec())));
}

#[test]
fn every_truncation_of_a_valid_record_is_an_error_not_a_panic() {
    let rec = syscall_record(nr("renameat2"), 0, [0; 6], &[b"/a/b", b"/c/d"], &[]);
    assert!(dec(&rec).is_ok());
    for cut in 0..rec.len() {
        let mut r = rec[..cut].to_vec();
        // Keep the header's size honest where a header exists, so the
        // decoder must find the short part by itself.
        if cut >= HEADER_SIZE {
            r[4..8].copy_from_slice(&(cut as u32).to_ne_bytes());
        }
        assert!(dec(&r).is_err(), "cut at {cut} decoded");
    }
}

#[test]
fn lengths_past_the_end_are_rejected() {
    let mut rec = syscall_record(nr("openat"), 3, [0; 6], &[b"/tmp/x"], &[]);
    // Claim a 4000-byte string in a 6-byte tail.
    let off = HEADER_SIZE + 6;
    rec[off..off + 2].copy_from_slice(&4000u16.to_ne_bytes());
    assert_eq!(dec(&rec).unwrap_err(), DecodeError::PastEnd { what: "string", len: 4000 });

    let mut rec = syscall_record(nr("connect"), 0, [0; 6], &[], &[2, 0, 0, 80, 127, 0, 0, 1]);
    // addr_len larger than the addr array is clamped, never read past.
    rec[HEADER_SIZE + 4..HEADER_SIZE + 6].copy_from_slice(&u16::MAX.to_ne_bytes());
    assert!(dec(&rec).is_ok());
}

#[test]
fn size_field_must_match() {
    let mut rec = syscall_record(nr("unlink"), 0, [0; 6], &[b"/x"], &[]);
    rec[4..8].copy_from_slice(&10_000u32.to_ne_bytes());
    assert!(matches!(dec(&rec), Err(DecodeError::SizeMismatch { .. })));
    // Ring padding (up to 7 bytes) is tolerated.
    let mut rec = syscall_record(nr("unlink"), 0, [0; 6], &[b"/x"], &[]);
    rec.extend([0u8; 6]);
    assert!(dec(&rec).is_ok());
}

#[test]
fn unknown_kind_and_syscall() {
    let mut rec = syscall_record(nr("unlink"), 0, [0; 6], &[b"/x"], &[]);
    rec[0..2].copy_from_slice(&99u16.to_ne_bytes());
    assert_eq!(dec(&rec).unwrap_err(), DecodeError::UnknownKind { kind: 99 });
    let rec = syscall_record(511, 0, [0; 6], &[], &[]);
    assert_eq!(dec(&rec).unwrap_err(), DecodeError::UnknownSyscall { nr: 511 });
    let rec = syscall_record(u32::MAX, 0, [0; 6], &[], &[]);
    assert!(dec(&rec).is_err());
}

#[test]
fn non_utf8_and_control_bytes_survive() {
    let rec = syscall_record(nr("unlink"), -2, [0; 6], &[b"/tmp/\xff\xfe\n\x07"], &[]);
    let e = dec(&rec).unwrap().event;
    assert_eq!(e.args.str("path"), Some("/tmp/\u{fffd}\u{fffd}\n\u{7}"));
    assert_eq!(e.errno.as_deref(), Some("ENOENT"));
    // And it serializes to one valid JSON line.
    let line = serde_json::to_string(&e).unwrap();
    assert!(!line.contains('\n'));
    let back: Event = serde_json::from_str(&line).unwrap();
    assert_eq!(back, e);
}

#[test]
fn hostile_comm_without_nul() {
    let mut rec = syscall_record(nr("unlink"), 0, [0; 6], &[b"/x"], &[]);
    rec[40..56].copy_from_slice(&[0xffu8; 16]);
    let e = dec(&rec).unwrap().event;
    assert_eq!(e.comm.chars().count(), 16);
}

fn exec_body(fname: &[u8], argv: &[u8], env: &[u8], exepath: &[u8], cwd: &[u8]) -> ExecBody {
    ExecBody {
        ppid: 1,
        old_tid: 10,
        start_boottime_ns: 5,
        euid: 0,
        egid: 0,
        filename_len: fname.len() as u16,
        argv_len: argv.len() as u16,
        argv_full_len: argv.len() as u32,
        env_len: env.len() as u16,
        exepath_len: exepath.len() as u16,
        cwd_len: cwd.len() as u16,
        exe_flags: exe_flags::INODE_KNOWN | exe_flags::CREDS_KNOWN,
        env_full_len: env.len() as u32,
        tty: 34816,
        loginuid: u32::MAX,
        fsuid: 1000,
        fsgid: 1000,
        exe_mode: 0o100_755,
        exe_uid: 0,
        exe_gid: 0,
        cap_inheritable: 0,
        cap_permitted: 1 << 21,
        cap_effective: 1 << 21,
        cgroup_leaf: name128(b"3ad7b26ded6d8e7e0e6a3b4f1f2f5a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f"),
        cgroup_parent: name128(b"docker"),
        kill_rule: 0,
        kill_ret: 0,
    }
}

fn exec_record(body: &ExecBody, parts: &[&[u8]]) -> Vec<u8> {
    let tail: Vec<u8> = parts.concat();
    let mut rec = bytes_of(&header(kind::EXEC, HEADER_SIZE + EXEC_BODY_SIZE + tail.len()));
    rec.extend(bytes_of(body));
    rec.extend(tail);
    rec
}

#[test]
fn exec_record_carries_argv_env_paths_and_kernel_facts() {
    let (fname, argv, env, exepath, cwd) = (
        &b"./ls"[..],
        &b"ls\0-l\0\0with space\0"[..],
        &b"PATH=/bin\0LD_PRELOAD=/x.so\0"[..],
        &b"/usr/bin/ls"[..],
        &b"/srv"[..],
    );
    let mut body = exec_body(fname, argv, env, exepath, cwd);
    body.argv_full_len = 9999;
    let rec = exec_record(&body, &[fname, argv, env, exepath, cwd]);
    let d = dec(&rec).unwrap();
    assert_eq!(d.event.kind, "execve");
    assert!(d.event.truncated);
    assert_eq!(d.event.args.str("trusted_exepath"), Some("/usr/bin/ls"));
    assert_eq!(d.event.args.str("cwd"), Some("/srv"));
    assert_eq!(d.event.args.int("loginuid"), Some(-1));
    match d.lifecycle.unwrap() {
        Lifecycle::Exec(x) => {
            let c = x.container.clone().unwrap();
            assert_eq!(c.short_id(), "3ad7b26ded6d");
            assert_eq!(c.runtime, crate::event::cgroup::Runtime::Docker);
            assert_eq!(x.exe, "./ls");
            assert_eq!(x.args, ["ls", "-l", "", "with space"]);
            assert_eq!(x.env, ["PATH=/bin", "LD_PRELOAD=/x.so"]);
            assert_eq!(x.exepath.as_deref(), Some("/usr/bin/ls"));
            assert_eq!(x.cwd.as_deref(), Some("/srv"));
            assert_eq!((x.ppid, x.start_ns, x.tty, x.loginuid), (1, 5, 34816, -1));
            assert_eq!(x.cap_effective, 1 << 21);
            // Owned by root, mode 755, run by uid 1000 without CAP_DAC_OVERRIDE.
            assert!(!x.exe_writable);
            assert!(!x.exe_upper_layer && !x.exe_from_memfd);
        }
        other => panic!("{other:?}"),
    }
    // Each length is checked against the record: argv, then cwd past the end.
    for field_off in [26usize, 36] {
        let mut bad = rec.clone();
        let off = HEADER_SIZE + field_off;
        bad[off..off + 2].copy_from_slice(&60_000u16.to_ne_bytes());
        assert!(dec(&bad).is_err(), "length at body offset {field_off}");
    }
}

#[test]
fn exec_killed_in_the_kernel_names_its_rule() {
    let (fname, argv) = (&b"/tmp/x"[..], &b"x\0"[..]);
    let plain = exec_record(&exec_body(fname, argv, b"", b"", b""), &[fname, argv]);
    assert_eq!(dec(&plain).unwrap().event.args.get(super::KILL_RULE_ARG), None);
    let mut body = exec_body(fname, argv, b"", b"", b"");
    body.kill_rule = 3;
    body.kill_ret = 0;
    let d = dec(&exec_record(&body, &[fname, argv])).unwrap();
    assert_eq!(d.event.args.int(super::KILL_RULE_ARG), Some(3));
    assert_eq!(d.event.args.int(super::KILL_RET_ARG), Some(0));
}

#[test]
fn exec_memfd_and_overlay_upper_layer() {
    let (fname, exepath) = (&b"/proc/self/fd/3"[..], &b"/memfd:payload"[..]);
    let mut body = exec_body(fname, b"", b"", exepath, b"");
    body.exe_flags |= exe_flags::MEMFD;
    let Lifecycle::Exec(x) = dec(&exec_record(&body, &[fname, exepath])).unwrap().lifecycle.unwrap() else {
        panic!("not an exec")
    };
    assert!(x.exe_from_memfd);
    assert_eq!(x.exepath.as_deref(), Some("memfd:payload"), "Falco's spelling");
    assert_eq!(x.cwd, None);

    let mut body = exec_body(fname, b"", b"", b"", b"");
    body.exe_flags |= exe_flags::OVERLAY | exe_flags::UPPER_LAYER;
    let Lifecycle::Exec(x) = dec(&exec_record(&body, &[fname])).unwrap().lifecycle.unwrap() else {
        panic!("not an exec")
    };
    assert!(x.exe_upper_layer);
    assert_eq!(x.exepath, None);
}

#[test]
fn exe_writable_follows_owner_group_other_caps_and_readonly() {
    let base = ExeAccess {
        mode: 0o100_755,
        uid: 0,
        gid: 0,
        fsuid: 1000,
        fsgid: 1000,
        cap_effective: 0,
        read_only_fs: false,
        immutable: false,
    };
    assert!(!base.writable());
    assert!(ExeAccess { uid: 1000, ..base }.writable(), "owner");
    assert!(ExeAccess { gid: 1000, mode: 0o100_775, ..base }.writable(), "group write");
    assert!(!ExeAccess { gid: 5, mode: 0o100_775, ..base }.writable(), "another group's write bit");
    assert!(ExeAccess { mode: 0o100_757, ..base }.writable(), "world write");
    assert!(ExeAccess { cap_effective: 1 << 1, ..base }.writable(), "CAP_DAC_OVERRIDE");
    assert!(!ExeAccess { uid: 1000, read_only_fs: true, ..base }.writable(), "read-only fs");
    assert!(!ExeAccess { uid: 1000, immutable: true, ..base }.writable(), "immutable");
    // Root without caps is an ordinary user; with them (the usual case) it may write.
    assert!(ExeAccess { fsuid: 0, fsgid: 0, ..base }.writable(), "owner root");
}

#[test]
fn compat_flag_is_carried() {
    let mut rec = syscall_record(nr("openat"), 3, [u64::from(-100i32 as u32), 0, 0, 0, 0, 0], &[b"/etc/x"], &[]);
    rec[2..4].copy_from_slice(&sensor_common::flags::COMPAT.to_ne_bytes());
    let e = dec(&rec).unwrap().event;
    assert!(e.compat);
    // A 32-bit AT_FDCWD, zero-extended by the kernel, still reads as -100.
    assert_eq!(e.args.int("dirfd"), Some(-100));
}

#[test]
fn fork_and_exit_records() {
    let body = ForkBody {
        parent_pid: 10,
        parent_tid: 11,
        child_pid: 20,
        child_tid: 20,
        child_start_boottime_ns: 7,
        clone_flags: 17,
        syscall_nr: nr("clone") as i32,
        reserved: 0,
    };
    let mut rec = bytes_of(&header(kind::FORK, HEADER_SIZE + FORK_BODY_SIZE));
    rec.extend(bytes_of(&body));
    let d = dec(&rec).unwrap();
    assert_eq!(d.event.args.int("child_pid"), Some(20));
    assert_eq!(d.event.args.str("syscall"), Some("clone"));
    assert_eq!(d.lifecycle, Some(Lifecycle::Fork { child_pid: 20, child_start_ns: 7 }));

    let body = ExitBody { exit_code: 9, reserved: 0, start_boottime_ns: 7 };
    let mut rec = bytes_of(&header(kind::EXIT, HEADER_SIZE + EXIT_BODY_SIZE));
    rec.extend(bytes_of(&body));
    let e = dec(&rec).unwrap().event;
    assert_eq!(e.kind, "procexit");
    assert_eq!(e.args.int("sig"), Some(9));
}

#[test]
fn sockaddr_families() {
    let mut v6 = vec![10u8, 0, 0x1f, 0x90, 0, 0, 0, 0];
    v6.extend(std::net::Ipv6Addr::LOCALHOST.octets());
    assert_eq!(sockaddr(&v6), SockAddr::Inet6 { ip: "::1".parse().unwrap(), port: 8080 });
    assert_eq!(sockaddr(&[2, 0, 0, 80, 10, 0, 0, 1]), SockAddr::Inet { ip: "10.0.0.1".parse().unwrap(), port: 80 });
    assert_eq!(sockaddr(&[2, 0, 0, 80]), SockAddr::Other { num: 2 });
    assert_eq!(sockaddr(&[1, 0, b'/', b'x', 0, b'y']), SockAddr::Unix { path: "/x".into() });
    assert_eq!(sockaddr(&[1, 0, 0, b'a', b'b']), SockAddr::Unix { path: "@ab".into() });
    assert_eq!(sockaddr(&[]), SockAddr::Other { num: 0 });
    assert_eq!(sockaddr(&[16, 0]), SockAddr::Other { num: 16 });
}

#[test]
fn random_bytes_never_panic() {
    // A cheap deterministic fuzz: xorshift bytes, with valid-looking headers.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let idx = syscall_table::index();
    for i in 0..20_000 {
        let len = (i % 600) + 1;
        let mut b = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.push(x as u8);
        }
        if len >= 8 {
            b[0..2].copy_from_slice(&((i % 5) as u16).to_ne_bytes());
            b[4..8].copy_from_slice(&(len as u32).to_ne_bytes());
        }
        let _ = decode(&b, 0, &idx);
    }
}
