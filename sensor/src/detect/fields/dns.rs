//! `dns.*` fields, from the arguments of a `dns` event (event/dns.rs).

use super::{EventFields, s};
use crate::event::{Arg, Op, SockAddr};
use crate::rules::{FieldId, FieldValue};

impl EventFields<'_> {
    pub(super) fn dns_field(&self, id: FieldId) -> Option<FieldValue<'_>> {
        let ev = self.ev;
        if ev.kind.op() != Op::Dns {
            return None;
        }
        let a = &ev.args;
        let server = || match a.get("server") {
            Some(Arg::Addr(SockAddr::Inet { ip, port } | SockAddr::Inet6 { ip, port })) => Some((*ip, *port)),
            _ => None,
        };
        match id {
            FieldId::DnsQuery => a.str("query").map(s),
            FieldId::DnsQueryLen => a.str("query").map(|q| FieldValue::U64(q.chars().count() as u64)),
            FieldId::DnsQueryLongestLabel => a
                .str("query")
                .map(|q| FieldValue::U64(q.split('.').map(|l| l.chars().count()).max().unwrap_or(0) as u64)),
            FieldId::DnsType => a.str("qtype").map(s),
            FieldId::DnsQr => a.str("qr").map(s),
            FieldId::DnsRcode => a.str("rcode").map(s),
            FieldId::DnsAnswers => match a.get("answers") {
                Some(Arg::List(l)) => {
                    Some(FieldValue::List(l.iter().filter_map(|x| x.parse().ok()).map(FieldValue::Ip).collect()))
                }
                _ => None,
            },
            FieldId::DnsServer => server().map(|(ip, _)| FieldValue::Ip(ip)),
            FieldId::DnsServerPort => server().map(|(_, p)| FieldValue::U64(p.into())),
            FieldId::DnsMalformed => Some(FieldValue::Bool(a.get("error").is_some())),
            FieldId::DnsServerConfigured => match a.str("resolver") {
                Some("configured") => Some(FieldValue::Bool(true)),
                Some("other") => Some(FieldValue::Bool(false)),
                _ => None,
            },
            _ => None,
        }
    }
}
