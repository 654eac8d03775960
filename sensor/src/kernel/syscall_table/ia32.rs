//! 32-bit (ia32) programs on x86-64: their syscalls arrive with i386
//! numbers. The kernel translates each to the native number through the
//! maps this module fills, so that a 32-bit `open` is decoded as an `open`
//! and not as whatever x86-64 syscall shares its number.

use syscalls::x86::Sysno as I386;

use super::by_name;

/// `socketcall(2)` call numbers (`include/uapi/linux/net.h`), with the
/// native syscall each one is. `SYS_SEND`/`SYS_RECV` (9, 10) are left out:
/// they pass four arguments where `sendto`/`recvfrom` read six.
pub const SOCKETCALLS: &[(u32, &str)] = &[
    (1, "socket"),
    (2, "bind"),
    (3, "connect"),
    (4, "listen"),
    (5, "accept"),
    (11, "sendto"),
    (12, "recvfrom"),
    (16, "sendmsg"),
    (17, "recvmsg"),
    (18, "accept4"),
];

/// The native name of an i386 syscall: i386 kept the 16-bit uid calls
/// under the plain names and added `*32` versions, which are the ones that
/// match the native calls' arguments.
fn native_name(i386: &str) -> &str {
    match i386 {
        "setuid32" | "setgid32" | "setreuid32" | "setregid32" | "setresuid32" | "setresgid32" => {
            i386.strip_suffix("32").unwrap_or(i386)
        }
        other => other,
    }
}

/// `(i386 number, native number)` for every traced syscall a 32-bit
/// program can make.
pub fn table() -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut nr = I386::first();
    loop {
        if let Some(sc) = by_name(native_name(nr.name())) {
            out.push((nr.id() as u32, sc.nr));
        }
        match nr.next() {
            Some(n) => nr = n,
            None => break,
        }
    }
    out
}

/// `(socketcall call, native number)` pairs.
pub fn socketcalls() -> Vec<(u32, u32)> {
    SOCKETCALLS.iter().filter_map(|(call, name)| Some((*call, by_name(name)?.nr))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i386_numbers_map_to_native_ones() {
        let t: std::collections::HashMap<u32, u32> = table().into_iter().collect();
        let native = |n: &str| by_name(n).map(|s| s.nr);
        // open is 5 on i386, 2 on x86-64; 5 is fstat there.
        assert_eq!(t.get(&5).copied(), native("open"));
        assert_eq!(t.get(&11).copied(), native("execve"));
        assert_eq!(t.get(&295).copied(), native("openat"));
        assert_eq!(t.get(&362).copied(), native("connect"));
        // setuid32 (213) is the native setuid; the 16-bit setuid (23) too.
        assert_eq!(t.get(&213).copied(), native("setuid"));
        assert_eq!(t.get(&23).copied(), native("setuid"));
        // socketcall itself is unpacked in the kernel, never mapped.
        assert!(!t.contains_key(&sensor_common::IA32_SOCKETCALL));
        for (i386, nat) in &t {
            assert!(*i386 < sensor_common::MAX_IA32_SYSCALLS, "{i386}");
            assert!(crate::kernel::syscall_table::TABLE.iter().any(|s| s.nr == *nat));
        }
        let sc: std::collections::HashMap<u32, u32> = socketcalls().into_iter().collect();
        assert_eq!(sc.get(&3).copied(), native("connect"));
        assert!(sc.keys().all(|c| *c < sensor_common::MAX_SOCKETCALLS));
    }
}
