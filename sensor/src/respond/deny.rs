//! Which `deny_connect` rules the kernel enforces: a rule on `connect`
//! whose condition is exactly a destination (`fd.sip`/`fd.rip` = or in
//! addresses, `fd.snet`/`fd.rnet` = or in networks) and optionally a
//! server port (`fd.sport`/`fd.rport` = or in ports). The cgroup
//! `connect4`/`connect6` programs refuse such connects with EPERM before
//! any packet leaves; other conditions cannot be decided before the
//! connect, so their `deny_connect` is reported, not done.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::rules::ast::Op;
use crate::rules::compile::{Cmp, Filter, Mode as CmpMode, Operand, Rhs};
use crate::rules::fields::FieldId;
use crate::rules::values::IpNet;
use crate::rules::{Action, CompiledRule, RuleSet};

pub use crate::kernel::deny_hook::Denied;

/// Where a rule's `deny_connect` is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DenySite {
    Kernel(Vec<Denied>),
    /// Not before the connect; why.
    NotBefore(&'static str),
}

#[derive(Default)]
struct Parts {
    nets: Option<Vec<(IpAddr, u8)>>,
    ports: Option<Vec<u16>>,
}

fn net(n: &IpNet) -> (IpAddr, u8) {
    (n.addr, n.prefix)
}

fn host(a: IpAddr) -> (IpAddr, u8) {
    (a, if a.is_ipv4() { 32 } else { 128 })
}

fn port(v: i128) -> Option<u16> {
    u16::try_from(v).ok()
}

/// Adds one check to `parts`; false when it is not a destination check.
fn add(c: &Cmp, parts: &mut Parts) -> bool {
    let Cmp { lhs: Operand::Field(field), op, rhs, mode: CmpMode::Single, .. } = c else { return false };
    if field.arg.is_some() {
        return false;
    }
    let nets = match (field.id, op, rhs) {
        (FieldId::FdSip | FieldId::FdRip, Op::Eq, Rhs::Ip(a)) => Some(vec![host(*a)]),
        (FieldId::FdSip | FieldId::FdRip, Op::In | Op::Intersects, Rhs::IpSet(s)) => {
            Some(s.iter().copied().map(host).collect())
        }
        (FieldId::FdSnet | FieldId::FdRnet, Op::Eq, Rhs::Net(n)) => Some(vec![net(n)]),
        (FieldId::FdSnet | FieldId::FdRnet, Op::In | Op::Intersects, Rhs::NetSet(s)) => {
            Some(s.iter().map(net).collect())
        }
        _ => None,
    };
    if let Some(n) = nets {
        return parts.nets.replace(n).is_none();
    }
    let ports = match (field.id, op, rhs) {
        (FieldId::FdSport | FieldId::FdRport, Op::Eq, Rhs::Int(v)) => port(*v).map(|p| vec![p]),
        (FieldId::FdSport | FieldId::FdRport, Op::In | Op::Intersects, Rhs::IntSet(s)) => {
            s.iter().map(|v| port(*v)).collect()
        }
        _ => None,
    };
    match ports {
        Some(p) => parts.ports.replace(p).is_none(),
        None => false,
    }
}

/// Where `rule`'s `deny_connect` is decided (`None`: it has none).
#[must_use]
pub fn deny_site(set: &RuleSet, rule: &CompiledRule) -> Option<DenySite> {
    if !rule.actions.contains(&Action::DenyConnect) {
        return None;
    }
    let Some(connect) = set.event_types().id("connect") else {
        return Some(DenySite::NotBefore("the rule does not match connect"));
    };
    let t = &rule.evttypes;
    if t.is_complement() || !t.contains(Some(connect)) || t.count() != 1 {
        return Some(DenySite::NotBefore("the rule matches events other than connect"));
    }
    let f = crate::rules::specialize::for_type(&rule.filter, Some(connect));
    let mut parts = Parts::default();
    let ok = match &f {
        Filter::Cmp(c) => add(c, &mut parts),
        Filter::And(cs) => cs.iter().all(|c| matches!(c, Filter::Cmp(c) if add(c, &mut parts))),
        _ => false,
    };
    if !ok || (parts.nets.is_none() && parts.ports.is_none()) {
        return Some(DenySite::NotBefore("the condition tests more than the destination address and port"));
    }
    let nets = parts
        .nets
        .unwrap_or_else(|| vec![(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0), (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)]);
    let ports: Vec<Option<u16>> = match parts.ports {
        Some(p) => p.into_iter().map(Some).collect(),
        None => vec![None],
    };
    let mut out: Vec<Denied> = nets
        .iter()
        .flat_map(|(addr, prefix)| ports.iter().map(|p| Denied { addr: *addr, prefix: *prefix, port: *p }))
        .collect();
    out.sort();
    out.dedup();
    Some(DenySite::Kernel(out))
}

/// The kernel's denied destinations of the enabled rules → rule id (from
/// 1, by position in the returned rule names).
#[must_use]
pub fn deny_plan(set: &RuleSet) -> (Vec<(Denied, u32)>, Vec<String>) {
    let mut entries = Vec::new();
    let mut rules = Vec::new();
    for r in set.rules().iter().filter(|r| r.enabled) {
        let Some(DenySite::Kernel(d)) = deny_site(set, r) else { continue };
        rules.push(r.name.clone());
        let id = u32::try_from(rules.len()).unwrap_or(u32::MAX);
        entries.extend(d.into_iter().map(|d| (d, id)));
    }
    (entries, rules)
}
