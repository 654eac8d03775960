use std::net::Ipv4Addr;

use sensor_common::dns_dir;

use super::*;
use crate::event::dns::tests::{CLIENT, Packet, SERVER, answer_msg, decode_one, query_msg, record};

const S: u64 = 1_000_000_000;

fn pkt(direction: u8, msg: &[u8], cookie: u64, cgroup: u64, ts_ns: u64) -> Event {
    decode_one(&record(&Packet { direction, cookie, pid: 4242, cgroup, client: CLIENT, server: SERVER, msg, ts_ns }))
}

fn connect(cgroup: u64, ip: Ipv4Addr, ts: u64) -> Event {
    let mut ev = pkt(dns_dir::EGRESS, &query_msg(1, "x.test."), 1, cgroup, 0);
    ev.kind = crate::event::Kind::from_name("connect").unwrap();
    ev.args = crate::event::Args::default();
    ev.args.push("fd", Arg::Int(3));
    ev.args.push("addr", Arg::Addr(SockAddr::Inet { ip: ip.into(), port: 443 }));
    ev.ts = ts;
    ev
}

/// Query out, answer in: the answer gets the querying task, and a connect
/// from the same cgroup to an answered address gets the name.
fn resolve(dns: &mut Dns, cgroup: u64, cookie: u64, name: &str, ip: Ipv4Addr, ttl: u32, ts: u64) -> Event {
    let mut q = pkt(dns_dir::EGRESS, &query_msg(5, name), cookie, cgroup, 0);
    dns.observe(&mut q, |_| Vec::new());
    let mut a = pkt(dns_dir::INGRESS, &answer_msg(5, name, &[(ip, ttl)], None), cookie, cgroup, 0);
    a.ts = ts;
    dns.observe(&mut a, |_| Vec::new());
    a
}

#[test]
fn an_answer_is_attributed_to_the_task_that_asked() {
    let mut dns = Dns::default();
    let a = resolve(&mut dns, 9, 77, "api.example.test.", Ipv4Addr::new(127, 0, 0, 7), 300, 10 * S);
    assert_eq!((a.pid, a.tid, a.comm.as_str()), (4242, 4242, "dig"));
    assert_eq!(dns.stats.unattributed, 0);
    // An answer on a socket whose query the agent never saw.
    let mut lone = pkt(dns_dir::INGRESS, &answer_msg(6, "y.test.", &[], None), 78, 9, 0);
    dns.observe(&mut lone, |_| Vec::new());
    assert_eq!(lone.pid, 0);
    assert_eq!(dns.stats.unattributed, 1);
    assert_eq!((dns.stats.queries, dns.stats.responses), (1, 2));
}

#[test]
fn a_connect_carries_the_name_its_cgroup_resolved() {
    let mut dns = Dns::default();
    let ip = Ipv4Addr::new(127, 0, 0, 7);
    resolve(&mut dns, 9, 77, "api.example.test.", ip, 300, 10 * S);
    let mut c = connect(9, ip, 11 * S);
    dns.observe(&mut c, |_| Vec::new());
    assert_eq!(c.args.str("addr_name"), Some("api.example.test"));
    // Another container resolved nothing: no name for the same address.
    let mut other = connect(10, ip, 11 * S);
    dns.observe(&mut other, |_| Vec::new());
    assert_eq!(other.args.str("addr_name"), None);
    // Nor for an address nobody resolved.
    let mut unknown = connect(9, Ipv4Addr::new(127, 0, 0, 9), 11 * S);
    dns.observe(&mut unknown, |_| Vec::new());
    assert_eq!(unknown.args.str("addr_name"), None);
    assert_eq!(dns.stats.named, 1);
}

#[test]
fn the_local_end_is_named_too() {
    let mut dns = Dns::default();
    let own = Ipv4Addr::new(127, 0, 0, 8);
    resolve(&mut dns, 9, 77, "web.shop.test.", own, 300, 10 * S);
    let mut c = connect(9, Ipv4Addr::new(127, 0, 0, 9), 11 * S);
    c.args.push("local", Arg::Addr(SockAddr::Inet { ip: own.into(), port: 8080 }));
    dns.observe(&mut c, |_| Vec::new());
    assert_eq!(c.args.str("local_name"), Some("web.shop.test"));
    assert_eq!(c.args.str("addr_name"), None);
}

#[test]
fn names_expire_after_their_ttl_but_not_before_the_floor() {
    let mut dns = Dns::default();
    let ip = Ipv4Addr::new(127, 0, 0, 7);
    resolve(&mut dns, 9, 77, "short.example.test.", ip, 5, 100 * S);
    // A 5 s TTL is kept for the 60 s floor...
    let mut c = connect(9, ip, 150 * S);
    dns.observe(&mut c, |_| Vec::new());
    assert_eq!(c.args.str("addr_name"), Some("short.example.test"));
    // ...and then forgotten.
    let mut late = connect(9, ip, 161 * S);
    dns.observe(&mut late, |_| Vec::new());
    assert_eq!(late.args.str("addr_name"), None);
    assert_eq!(dns.stats.expired, 1);
    // A long TTL outlives the floor.
    resolve(&mut dns, 9, 78, "long.example.test.", ip, 3600, 200 * S);
    let mut c = connect(9, ip, 2000 * S);
    dns.observe(&mut c, |_| Vec::new());
    assert_eq!(c.args.str("addr_name"), Some("long.example.test"));
}

#[test]
fn the_name_map_is_bounded_and_counts_what_it_forgets() {
    let mut dns = Dns::new(4, 3);
    for i in 0..5u8 {
        resolve(&mut dns, 9, 100 + u64::from(i), "n.example.test.", Ipv4Addr::new(127, 0, 1, i), 300, S);
    }
    assert_eq!(dns.names_len(), 3);
    assert_eq!(dns.stats.evicted, 2);
    let mut oldest = connect(9, Ipv4Addr::new(127, 0, 1, 0), 2 * S);
    dns.observe(&mut oldest, |_| Vec::new());
    assert_eq!(oldest.args.str("addr_name"), None);
    let mut newest = connect(9, Ipv4Addr::new(127, 0, 1, 4), 2 * S);
    dns.observe(&mut newest, |_| Vec::new());
    assert_eq!(newest.args.str("addr_name"), Some("n.example.test"));
}

#[test]
fn failed_answers_teach_nothing_and_malformed_ones_are_counted() {
    let mut dns = Dns::default();
    let mut q = pkt(dns_dir::EGRESS, &[1, 2, 3], 5, 9, 0);
    dns.observe(&mut q, |_| Vec::new());
    assert_eq!(dns.stats.malformed, 1);
    // A response without addresses (NXDOMAIN-like): nothing learned.
    let mut a = pkt(dns_dir::INGRESS, &answer_msg(1, "gone.test.", &[], None), 5, 9, 0);
    dns.observe(&mut a, |_| Vec::new());
    assert_eq!(dns.stats.learned, 0);
    assert_eq!(dns.names_len(), 0);
}

#[test]
fn a_query_says_whether_its_server_is_the_configured_one() {
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("4242/root/etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(etc.join("resolv.conf"), "search svc.cluster.local\nnameserver 127.0.0.53\noptions ndots:5\n")
        .unwrap();
    let mut dns = Dns::default().with_proc_root(root.path().to_owned());
    let mut q = pkt(dns_dir::EGRESS, &query_msg(1, "a.test."), 1, 9, S);
    dns.observe(&mut q, |_| Vec::new());
    assert_eq!(q.args.str("resolver"), Some("configured"), "SERVER is 127.0.0.53");
    // The same cgroup asking another server (the file is cached: removing
    // it changes nothing until the re-read).
    std::fs::remove_file(etc.join("resolv.conf")).unwrap();
    let mut other = decode_one(&record(&Packet {
        direction: dns_dir::EGRESS,
        cookie: 2,
        pid: 4242,
        cgroup: 9,
        client: CLIENT,
        server: (Ipv4Addr::new(8, 8, 8, 8), 53),
        msg: &query_msg(2, "b.test."),
        ts_ns: 2 * S,
    }));
    dns.observe(&mut other, |_| Vec::new());
    assert_eq!(other.args.str("resolver"), Some("other"));
    // A cgroup whose process cannot be read: unknown, no argument.
    let mut gone = pkt(dns_dir::EGRESS, &query_msg(3, "c.test."), 3, 10, S);
    dns.observe(&mut gone, |_| Vec::new());
    assert_eq!(gone.args.str("resolver"), None);
}

#[test]
fn resolv_conf_nameservers_are_parsed_like_the_resolver_does() {
    let t = "# comment\nnameserver 10.96.0.10\nnameserver fe80::1%eth0\n nameserver  ::1 \nnameserverx 1.1.1.1\n";
    let got = resolvers::parse(t);
    assert_eq!(
        got,
        vec!["10.96.0.10".parse::<std::net::IpAddr>().unwrap(), "fe80::1".parse().unwrap(), "::1".parse().unwrap()]
    );
}
