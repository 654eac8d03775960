//! Response: `deny_connect`. `connect4`/`connect6` programs on the cgroup
//! v2 root refuse (EPERM) a connect to a denied destination, an address
//! in a denied network on any port or on a denied port, before any packet
//! leaves: no iptables. Only in enforce mode, never from an exempt cgroup
//! (an allow-listed namespace's containers). Maps are written by the agent
//! from the compiled rules.

use aya_ebpf::{
    macros::{cgroup_sock_addr, map},
    maps::{LpmTrie, lpm_trie::Key},
    programs::SockAddrContext,
};
use sensor_common::MAX_DENY_NETS;

use crate::maps::{RESPONSE, in_scope};

const ALLOW: i32 = 1;
const DENY: i32 = 0;

/// Denied IPv4 networks, any port: address bytes (network order) → rule id.
#[map]
pub static DENY4: LpmTrie<[u8; 4], u32> = LpmTrie::with_max_entries(MAX_DENY_NETS, 0);
/// Denied IPv4 networks on one port: port (big-endian) then address.
#[map]
pub static DENY4_PORT: LpmTrie<[u8; 6], u32> = LpmTrie::with_max_entries(MAX_DENY_NETS, 0);
#[map]
pub static DENY6: LpmTrie<[u8; 16], u32> = LpmTrie::with_max_entries(MAX_DENY_NETS, 0);
#[map]
pub static DENY6_PORT: LpmTrie<[u8; 18], u32> = LpmTrie::with_max_entries(MAX_DENY_NETS, 0);

#[inline(always)]
fn armed() -> bool {
    RESPONSE.get(0).is_some_and(|r| r.enforce != 0)
}

#[inline(always)]
fn acts_here() -> bool {
    RESPONSE.get(0).is_some_and(in_scope)
}

#[inline(always)]
fn denied4(addr: [u8; 4], port: [u8; 2]) -> bool {
    let p = [port[0], port[1], addr[0], addr[1], addr[2], addr[3]];
    DENY4_PORT.get(Key::new(48, p)).is_some() || DENY4.get(Key::new(32, addr)).is_some()
}

#[cgroup_sock_addr(connect4)]
pub fn deny_connect4(ctx: SockAddrContext) -> i32 {
    if !armed() {
        return ALLOW;
    }
    // SAFETY: the context is the kernel's bpf_sock_addr; 4-byte loads.
    let (ip, port) = unsafe { ((*ctx.sock_addr).user_ip4, (*ctx.sock_addr).user_port) };
    // Both in network byte order in memory: their bytes are the wire's.
    let addr = ip.to_ne_bytes();
    let pb = (port as u16).to_ne_bytes();
    if denied4(addr, pb) && acts_here() { DENY } else { ALLOW }
}

#[cgroup_sock_addr(connect6)]
pub fn deny_connect6(ctx: SockAddrContext) -> i32 {
    if !armed() {
        return ALLOW;
    }
    // SAFETY: as above; user_ip6 is read as four 4-byte words.
    let (w, port) = unsafe {
        let s = &*ctx.sock_addr;
        ([s.user_ip6[0], s.user_ip6[1], s.user_ip6[2], s.user_ip6[3]], s.user_port)
    };
    let pb = (port as u16).to_ne_bytes();
    let mut a = [0u8; 16];
    let (b0, b1, b2, b3) = (w[0].to_ne_bytes(), w[1].to_ne_bytes(), w[2].to_ne_bytes(), w[3].to_ne_bytes());
    a[..4].copy_from_slice(&b0);
    a[4..8].copy_from_slice(&b1);
    a[8..12].copy_from_slice(&b2);
    a[12..].copy_from_slice(&b3);
    // An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 destination.
    let mapped = w[0] == 0 && w[1] == 0 && b2 == [0, 0, 0xff, 0xff];
    let hit = if mapped {
        denied4(b3, pb)
    } else {
        let mut p = [0u8; 18];
        p[0] = pb[0];
        p[1] = pb[1];
        p[2..].copy_from_slice(&a);
        DENY6_PORT.get(Key::new(144, p)).is_some() || DENY6.get(Key::new(128, a)).is_some()
    };
    if hit && acts_here() { DENY } else { ALLOW }
}
