//! DNS records from the packet path → `dns` events. The message is decoded
//! by hickory-proto; a message that does not decode still makes an event
//! (with `error`), so that a malformed packet is counted and visible.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Message, MessageType, Query};
use hickory_proto::rr::RData;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use sensor_common::{DNS_BODY_SIZE, DnsBody, HEADER_SIZE, MAX_DNS, dns_dir};

use super::decode::DecodeError;
use super::{Arg, Event, Kind, SockAddr};
use crate::kernel::syscall_table::Category;

/// The mnemonic `dig` prints for a response code.
fn rcode_name(code: u16) -> std::borrow::Cow<'static, str> {
    let name = match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        other => return format!("RCODE{other}").into(),
    };
    name.into()
}

/// A name as rules compare it: lower case, without the root's dot.
fn name_text(n: &hickory_proto::rr::Name) -> String {
    let mut s = n.to_lowercase().to_ascii();
    if s.len() > 1 && s.ends_with('.') {
        s.pop();
    }
    s
}

fn ip(family: u8, raw: &[u8; 16]) -> IpAddr {
    if family == 4 {
        IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(*raw))
    }
}

fn addr(family: u8, raw: &[u8; 16], port: u16) -> Arg {
    let ip = ip(family, raw);
    Arg::Addr(if family == 4 { SockAddr::Inet { ip, port } } else { SockAddr::Inet6 { ip, port } })
}

/// What a message says, for the event's arguments.
struct Parsed {
    id: u16,
    response: bool,
    query: Option<Query>,
    rcode: u16,
    answers: Vec<String>,
    ttl: Option<u32>,
    cnames: Vec<String>,
}

fn parse(msg: &[u8]) -> Result<Parsed, String> {
    let m = Message::from_vec(msg).map_err(|e| e.to_string())?;
    let mut answers = Vec::new();
    let mut cnames = Vec::new();
    let mut ttl: Option<u32> = None;
    for r in &m.answers {
        match &r.data {
            RData::A(a) => answers.push(a.0.to_string()),
            RData::AAAA(a) => answers.push(a.0.to_string()),
            RData::CNAME(c) => {
                cnames.push(name_text(&c.0));
                continue;
            }
            _ => continue,
        }
        ttl = Some(ttl.map_or(r.ttl, |t| t.min(r.ttl)));
    }
    Ok(Parsed {
        id: m.metadata.id,
        response: m.metadata.message_type == MessageType::Response,
        query: m.queries.into_iter().next(),
        rcode: u16::from(m.metadata.response_code),
        answers,
        ttl,
        cnames,
    })
}

/// A message cut at the copy's bound: its header and first question are
/// usually whole, the answers are not.
fn parse_head(msg: &[u8]) -> Option<Parsed> {
    let mut d = BinDecoder::new(msg);
    let h = hickory_proto::op::Header::read(&mut d).ok()?;
    // A question that does not decode even in the part copied: malformed.
    let q = if h.counts.queries > 0 { Some(Query::read(&mut d).ok()?) } else { None };
    Some(Parsed {
        id: h.metadata.id,
        response: h.metadata.message_type == MessageType::Response,
        query: q,
        rcode: u16::from(h.metadata.response_code),
        answers: Vec::new(),
        ttl: None,
        cnames: Vec::new(),
    })
}

/// Fills `ev` from a [`sensor_common::kind::DNS`] record.
pub fn decode_dns(buf: &[u8], ev: &mut Event) -> Result<(), DecodeError> {
    let b: DnsBody = super::decode::read(buf, HEADER_SIZE, "dns body")?;
    let data_len = usize::from(b.data_len).min(MAX_DNS);
    let start = HEADER_SIZE + DNS_BODY_SIZE;
    let msg = buf.get(start..start + data_len).ok_or(DecodeError::PastEnd { what: "dns message", len: data_len })?;
    ev.kind = Kind::DNS;
    ev.category = Category::Network;
    let egress = b.direction == dns_dir::EGRESS;
    let a = &mut ev.args;
    a.push("direction", Arg::Str(if egress { "egress" } else { "ingress" }.into()));
    a.push("proto", Arg::Str(if b.l4proto == 6 { "tcp" } else { "udp" }.into()));
    a.push("cookie", Arg::UInt(b.cookie));
    // The client asks from its port to the server's 53 (a query) and the
    // answer comes back the other way.
    let (src, dst) = (addr(b.family, &b.saddr, b.sport), addr(b.family, &b.daddr, b.dport));
    let query_packet = b.dport == 53 && b.sport != 53;
    let (client, server) = if query_packet { (src, dst) } else { (dst, src) };
    a.push("server", server);
    a.push("client", client);
    a.push("len", Arg::UInt(u64::from(b.msg_len)));
    let parsed = match parse(msg) {
        Ok(p) => Ok(p),
        Err(e) if ev.truncated => parse_head(msg).ok_or(e),
        Err(e) => Err(e),
    };
    match parsed {
        Ok(p) => {
            a.push("id", Arg::UInt(u64::from(p.id)));
            a.push("qr", Arg::Str(if p.response { "response" } else { "query" }.into()));
            if let Some(q) = &p.query {
                a.push("query", Arg::Str(name_text(&q.name)));
                a.push("qtype", Arg::Str(q.query_type.to_string()));
            }
            if p.response {
                a.push("rcode", Arg::Str(rcode_name(p.rcode).into_owned()));
                a.push("answers", Arg::List(p.answers));
                if !p.cnames.is_empty() {
                    a.push("cnames", Arg::List(p.cnames));
                }
                if let Some(t) = p.ttl {
                    a.push("ttl", Arg::UInt(u64::from(t)));
                }
            }
        }
        Err(e) => a.push("error", Arg::Str(e)),
    }
    Ok(())
}

/// Whether a `dns` event's message failed to decode.
pub fn malformed(ev: &Event) -> bool {
    ev.kind == Kind::DNS && ev.args.get("error").is_some()
}

#[cfg(test)]
pub(crate) mod tests;
