//! `dns` records → events, with messages built by hickory-proto; the record
//! builder is shared with the DNS enrichment's tests.

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::{A, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use sensor_common::{DNS_RECORD_SIZE, DnsBody, EventHeader, MAX_DNS, dns_dir, flags, kind};

use crate::event::decode::{self, Decoded};
use crate::event::{Arg, Event};

pub(crate) struct Packet<'a> {
    pub direction: u8,
    pub cookie: u64,
    pub pid: u32,
    pub cgroup: u64,
    pub client: (Ipv4Addr, u16),
    pub server: (Ipv4Addr, u16),
    pub msg: &'a [u8],
    pub ts_ns: u64,
}

fn bytes_of<T: aya::Pod>(v: &T) -> Vec<u8> {
    // SAFETY: Pod types are plain bytes.
    unsafe { std::slice::from_raw_parts(std::ptr::from_ref(v).cast::<u8>(), std::mem::size_of::<T>()) }.to_vec()
}

fn v4(ip: Ipv4Addr) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&ip.octets());
    a
}

/// The record the kernel writes for this packet.
pub(crate) fn record(p: &Packet<'_>) -> Vec<u8> {
    let egress = p.direction == dns_dir::EGRESS;
    let query = p.msg.get(2).is_some_and(|b| b & 0x80 == 0);
    // A query goes client → server, an answer server → client.
    let (src, dst) = if query { (p.client, p.server) } else { (p.server, p.client) };
    let mut comm = [0u8; 16];
    comm[..3].copy_from_slice(b"dig");
    let hdr = EventHeader {
        kind: kind::DNS,
        flags: if p.msg.len() > MAX_DNS { flags::TRUNCATED } else { 0 },
        size: DNS_RECORD_SIZE as u32,
        ts_ns: p.ts_ns,
        pid: if egress { p.pid } else { 0 },
        tid: if egress { p.pid } else { 0 },
        uid: 0,
        gid: 0,
        cgroup_id: p.cgroup,
        comm: if egress { comm } else { [0; 16] },
    };
    let n = p.msg.len().min(MAX_DNS);
    let body = DnsBody {
        cookie: p.cookie,
        saddr: v4(src.0),
        daddr: v4(dst.0),
        sport: src.1,
        dport: dst.1,
        msg_len: p.msg.len() as u16,
        data_len: n as u16,
        family: 4,
        l4proto: 17,
        direction: p.direction,
        pad: [0; 5],
    };
    let mut out = bytes_of(&hdr);
    out.extend(bytes_of(&body));
    out.extend_from_slice(&p.msg[..n]);
    out.resize(DNS_RECORD_SIZE, 0);
    out
}

pub(crate) fn query_msg(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

pub(crate) fn answer_msg(id: u16, name: &str, answers: &[(Ipv4Addr, u32)], cname: Option<&str>) -> Vec<u8> {
    let qname = Name::from_ascii(name).unwrap();
    let mut m = Message::response(id, OpCode::Query);
    m.add_query(Query::query(qname.clone(), RecordType::A));
    let mut owner = qname.clone();
    if let Some(c) = cname {
        let target = Name::from_ascii(c).unwrap();
        m.add_answer(Record::from_rdata(qname, 300, RData::CNAME(CNAME(target.clone()))));
        owner = target;
    }
    for (ip, ttl) in answers {
        m.add_answer(Record::from_rdata(owner.clone(), *ttl, RData::A(A(*ip))));
    }
    m.to_vec().unwrap()
}

pub(crate) fn decode_one(bytes: &[u8]) -> Event {
    let Decoded { event, lifecycle } = decode::decode(bytes, 0, &[]).unwrap();
    assert!(lifecycle.is_none());
    event
}

pub(crate) const CLIENT: (Ipv4Addr, u16) = (Ipv4Addr::LOCALHOST, 40_000);
pub(crate) const SERVER: (Ipv4Addr, u16) = (Ipv4Addr::new(127, 0, 0, 53), 53);

fn packet(direction: u8, msg: &[u8]) -> Packet<'_> {
    Packet { direction, cookie: 7, pid: 42, cgroup: 9, client: CLIENT, server: SERVER, msg, ts_ns: 5 }
}

#[test]
fn a_query_names_its_question_server_and_client() {
    let msg = query_msg(0x1234, "Api.Example.TEST.");
    let ev = decode_one(&record(&packet(dns_dir::EGRESS, &msg)));
    assert_eq!(ev.kind.name(), "dns");
    assert_eq!(ev.pid, 42);
    assert_eq!(ev.cgroup_id, 9);
    assert_eq!(ev.args.str("qr"), Some("query"));
    assert_eq!(ev.args.str("query"), Some("api.example.test"), "lower case, no root dot");
    assert_eq!(ev.args.str("qtype"), Some("A"));
    assert_eq!(ev.args.int("id"), Some(0x1234));
    assert_eq!(ev.args.str("direction"), Some("egress"));
    let Some(Arg::Addr(crate::event::SockAddr::Inet { ip, port })) = ev.args.get("server") else { panic!() };
    assert_eq!((*ip, *port), (IpAddr::V4(SERVER.0), 53));
    assert!(ev.args.get("rcode").is_none(), "a query has no response code");
    assert!(!super::malformed(&ev));
}

#[test]
fn an_answer_carries_rcode_addresses_min_ttl_and_cnames() {
    let msg = answer_msg(
        9,
        "www.example.test.",
        &[(Ipv4Addr::new(127, 0, 0, 7), 300), (Ipv4Addr::new(127, 0, 0, 8), 30)],
        Some("edge.example.test."),
    );
    let ev = decode_one(&record(&packet(dns_dir::INGRESS, &msg)));
    assert_eq!(ev.pid, 0, "ingress: no task in the kernel record");
    assert_eq!(ev.args.str("qr"), Some("response"));
    assert_eq!(ev.args.str("rcode"), Some("NOERROR"));
    assert_eq!(ev.args.get("answers"), Some(&Arg::List(vec!["127.0.0.7".into(), "127.0.0.8".into()])));
    assert_eq!(ev.args.get("cnames"), Some(&Arg::List(vec!["edge.example.test".into()])));
    assert_eq!(ev.args.int("ttl"), Some(30));
    let Some(Arg::Addr(crate::event::SockAddr::Inet { port, .. })) = ev.args.get("client") else { panic!() };
    assert_eq!(*port, CLIENT.1);
}

#[test]
fn malformed_messages_become_events_with_an_error_never_a_panic() {
    // Truncated header, a compression pointer to itself, a label running
    // past the end, random bytes, and an empty payload.
    let mut looped = query_msg(1, "a.test.");
    looped.truncate(12);
    looped.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    let cases: Vec<Vec<u8>> = vec![
        vec![0x12, 0x34, 0x01],
        looped,
        {
            let mut m = query_msg(2, "b.test.");
            m.truncate(12);
            m.extend_from_slice(&[60, b'x', b'y']);
            m
        },
        (0u8..=255).rev().cycle().take(700).collect(),
    ];
    for (i, msg) in cases.iter().enumerate() {
        let ev = decode_one(&record(&packet(dns_dir::EGRESS, msg)));
        assert!(super::malformed(&ev), "case {i}: {:?}", ev.args);
        assert!(ev.args.get("query").is_none(), "case {i}");
    }
}

#[test]
fn an_oversized_message_keeps_its_question() {
    // More answers than the copy's bound holds: the head still decodes.
    let answers: Vec<(Ipv4Addr, u32)> = (0..120).map(|i| (Ipv4Addr::new(10, 0, 0, i), 60)).collect();
    let msg = answer_msg(3, "big.example.test.", &answers, None);
    assert!(msg.len() > MAX_DNS);
    let ev = decode_one(&record(&packet(dns_dir::INGRESS, &msg)));
    assert!(ev.truncated);
    assert_eq!(ev.args.str("query"), Some("big.example.test"));
    assert!(!super::malformed(&ev));
    assert_eq!(ev.args.int("len"), Some(msg.len() as i64));
}

#[test]
fn a_short_dns_record_is_a_decode_error() {
    let msg = query_msg(1, "a.test.");
    let mut bytes = record(&packet(dns_dir::EGRESS, &msg));
    bytes.truncate(60);
    let hdr_size = (bytes.len() as u32).to_ne_bytes();
    bytes[4..8].copy_from_slice(&hdr_size);
    assert!(decode::decode(&bytes, 0, &[]).is_err());
}
