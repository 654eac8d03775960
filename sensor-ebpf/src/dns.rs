//! DNS on the packet path: cgroup_skb programs on the cgroup v2 root see
//! every packet of every socket on the node. Anything that is not UDP or
//! TCP to or from port 53 is let through after two in-place reads; DNS messages
//! are copied (bounded) into the ring with the socket's cookie and cgroup.
//! The programs never drop a packet.

use aya_ebpf::{
    helpers::{
        bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
        generated::{bpf_get_socket_cookie, bpf_ktime_get_boot_ns, bpf_skb_cgroup_id, bpf_skb_load_bytes},
    },
    macros::cgroup_skb,
    programs::SkBuffContext,
};
use sensor_common::{DNS_RECORD_SIZE, DnsBody, EventHeader, HEADER_SIZE, MAX_DNS, dns_dir, flags, kind, loss};

use crate::maps::{EVENTS, count_loss};

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const DNS_PORT: u16 = 53;
/// Let the packet through.
const PASS: i32 = 1;

#[cgroup_skb(egress)]
pub fn dns_egress(ctx: SkBuffContext) -> i32 {
    capture(&ctx, dns_dir::EGRESS);
    PASS
}

#[cgroup_skb(ingress)]
pub fn dns_ingress(ctx: SkBuffContext) -> i32 {
    capture(&ctx, dns_dir::INGRESS);
    PASS
}

#[inline(always)]
fn capture(ctx: &SkBuffContext, direction: u8) -> Option<()> {
    // `protocol` is in network byte order; the packet starts at the IP header.
    let proto = u16::from_be(ctx.skb.protocol() as u16);
    let (family, l4proto, l4off) = if proto == ETH_P_IP {
        let ip: [u8; 10] = read(ctx, 0)?;
        (4u8, ip[9], usize::from(ip[0] & 0x0f) * 4)
    } else if proto == ETH_P_IPV6 {
        // Extension headers before the transport header are not followed.
        let ip: [u8; 7] = read(ctx, 0)?;
        (6u8, ip[6], 40usize)
    } else {
        return None;
    };
    if l4proto != IPPROTO_UDP && l4proto != IPPROTO_TCP {
        return None;
    }
    let ports: [u8; 4] = read(ctx, l4off)?;
    let sport = u16::from_be_bytes([ports[0], ports[1]]);
    let dport = u16::from_be_bytes([ports[2], ports[3]]);
    if sport != DNS_PORT && dport != DNS_PORT {
        return None;
    }
    // Where the DNS message starts: after UDP's 8 bytes, or after TCP's
    // header (data offset) and the two-byte message length.
    let msg_off = if l4proto == IPPROTO_UDP {
        l4off + 8
    } else {
        let doff: u8 = ctx.load(l4off + 12).ok()?;
        l4off + usize::from(doff >> 4) * 4 + 2
    };
    let total = ctx.len() as usize;
    if msg_off >= total {
        // A bare TCP segment (handshake, ACK): no message.
        return None;
    }
    let msg_len = total - msg_off;
    emit(ctx, direction, family, l4proto, l4off, msg_off, msg_len, sport, dport)
}

/// `N` bytes at `off` of the packet: read in place when the linear part
/// holds them (direct packet access, no helper call: the cheap path every
/// non-DNS packet takes), else copied by `bpf_skb_load_bytes`.
#[inline(always)]
fn read<const N: usize>(ctx: &SkBuffContext, off: usize) -> Option<[u8; N]> {
    // SAFETY: the context pointer is the kernel's __sk_buff for this run.
    let (start, end) = unsafe { ((*ctx.skb.skb).data as usize, (*ctx.skb.skb).data_end as usize) };
    if start + off + N <= end {
        // SAFETY: [start + off, start + off + N) lies inside the linear
        // packet data, checked just above (the verifier checks it too).
        Some(unsafe { core::ptr::read_unaligned((start + off) as *const [u8; N]) })
    } else {
        ctx.load(off).ok()
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn emit(
    ctx: &SkBuffContext,
    direction: u8,
    family: u8,
    l4proto: u8,
    _l4off: usize,
    msg_off: usize,
    msg_len: usize,
    sport: u16,
    dport: u16,
) -> Option<()> {
    let Some(mut entry) = EVENTS.reserve::<[u8; DNS_RECORD_SIZE]>(0) else {
        count_loss(loss::DNS_RINGBUF_FULL);
        return None;
    };
    let base = entry.as_mut_ptr().cast::<u8>();
    // SAFETY: the reservation holds DNS_RECORD_SIZE bytes, 8-aligned
    // (ring samples are); header, body and data lie inside it.
    unsafe {
        // Zero first: no byte of an earlier record may reach user space.
        // Word stores (volatile: not turned into a byte-wise memset call).
        let words = base.cast::<u64>();
        for i in 0..DNS_RECORD_SIZE / 8 {
            core::ptr::write_volatile(words.add(i), 0);
        }
        let hdr = base.cast::<EventHeader>();
        (*hdr).kind = kind::DNS;
        (*hdr).size = DNS_RECORD_SIZE as u32;
        (*hdr).ts_ns = bpf_ktime_get_boot_ns();
        (*hdr).cgroup_id = bpf_skb_cgroup_id(ctx.skb.skb);
        if direction == dns_dir::EGRESS {
            let pid_tgid = bpf_get_current_pid_tgid();
            let uid_gid = bpf_get_current_uid_gid();
            (*hdr).pid = (pid_tgid >> 32) as u32;
            (*hdr).tid = pid_tgid as u32;
            (*hdr).uid = uid_gid as u32;
            (*hdr).gid = (uid_gid >> 32) as u32;
            (*hdr).comm = bpf_get_current_comm().unwrap_or([0; 16]);
        }
        let body = base.add(HEADER_SIZE).cast::<DnsBody>();
        (*body).cookie = bpf_get_socket_cookie(ctx.skb.skb.cast());
        (*body).sport = sport;
        (*body).dport = dport;
        (*body).family = family;
        (*body).l4proto = l4proto;
        (*body).direction = direction;
        (*body).msg_len = msg_len.min(usize::from(u16::MAX)) as u16;
        let (saddr_off, alen) = if family == 4 { (12usize, 4u32) } else { (8usize, 16u32) };
        let skb = ctx.skb.skb.cast();
        let s = bpf_skb_load_bytes(skb, saddr_off as u32, (*body).saddr.as_mut_ptr().cast(), alen);
        let d = bpf_skb_load_bytes(skb, (saddr_off as u32) + alen, (*body).daddr.as_mut_ptr().cast(), alen);
        let data = base.add(HEADER_SIZE + core::mem::size_of::<DnsBody>());
        // The verifier needs the length provably in 1..=MAX_DNS at the call:
        // `1 + min(len - 1, MAX - 1)` is, where a two-sided check is folded
        // by the compiler into one unsigned compare the verifier cannot
        // follow. `msg_len` is at least 1 (checked by the caller).
        let n = 1 + (msg_len as u32).wrapping_sub(1).min(MAX_DNS as u32 - 1);
        let mut copied = 0u16;
        if bpf_skb_load_bytes(skb, msg_off as u32, data.cast(), n) == 0 {
            copied = n as u16;
        }
        (*body).data_len = copied;
        if msg_len > MAX_DNS {
            (*hdr).flags |= flags::TRUNCATED;
        }
        if s != 0 || d != 0 || copied == 0 {
            (*hdr).flags |= flags::READ_FAULT;
        }
    }
    entry.submit(0);
    Some(())
}
