//! The flat programs ([`crate::rules::program`]) decide exactly what the
//! filter trees decide: every rule of Falco's three files, all enabled,
//! against generated events whose field values are drawn from the values
//! the rules themselves compare with (so that rules do fire), compared
//! with the reference evaluation of each rule's original filter
//! ([`Ctx::eval`], `evt.type` leaves included).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::upstream::{INCUBATING, SANDBOX, STABLE, require_upstream};
use crate::rules::compile::{Cmp, Filter, Rhs};
use crate::rules::eval::Ctx;
use crate::rules::fields::FieldType;
use crate::rules::operand::Operand;
use crate::rules::{EngineConfig, FieldArg, FieldId, FieldSource, FieldValue, RuleMatching, RuleSet};

/// Values a field is compared with somewhere in the rules, shaped so that
/// the comparison holds (`startswith x` gives `x` plus a tail, ...).
#[derive(Default)]
struct Pools {
    strs: BTreeMap<FieldId, BTreeSet<String>>,
    ints: BTreeMap<FieldId, BTreeSet<i64>>,
}

impl Pools {
    fn add_rhs(&mut self, id: FieldId, op: crate::rules::ast::Op, rhs: &Rhs) {
        use crate::rules::ast::Op;
        let s = self.strs.entry(id).or_default();
        match rhs {
            Rhs::Str(t) | Rhs::Dyn(t, _) => {
                let t = t.to_string();
                s.insert(match op {
                    Op::StartsWith | Op::Pmatch => format!("{t}/x"),
                    Op::EndsWith => format!("x{t}"),
                    Op::Contains | Op::IContains => format!("a {t} b"),
                    _ => t,
                });
            }
            Rhs::IContains(t) => {
                s.insert(format!("a {t} b"));
            }
            Rhs::Contains(f) => {
                s.insert(format!("a {} b", String::from_utf8_lossy(f.needle())));
            }
            Rhs::StrSet(set) | Rhs::DynSet(set, _) => s.extend(set.iter().take(6).map(ToString::to_string)),
            Rhs::Int(n) => {
                self.ints.entry(id).or_default().extend([*n as i64, *n as i64 + 1, *n as i64 - 1]);
            }
            Rhs::IntSet(ns) => self.ints.entry(id).or_default().extend(ns.iter().take(6).map(|n| *n as i64)),
            Rhs::AnyOf(ps) | Rhs::AllOf(ps) | Rhs::OneOf(ps) => ps.iter().for_each(|p| self.add_rhs(id, op, p)),
            _ => {}
        }
    }

    fn walk(&mut self, f: &Filter) {
        match f {
            Filter::And(cs) | Filter::Or(cs) => cs.iter().for_each(|c| self.walk(c)),
            Filter::Not(c) => self.walk(c),
            Filter::Cmp(c) => self.cmp(c),
            Filter::Const(_) | Filter::EvtType(_) => {}
        }
    }

    fn cmp(&mut self, c: &Cmp) {
        if let Operand::Field(f) = &c.lhs {
            self.add_rhs(f.id, c.op, &c.rhs);
        }
    }
}

/// An event whose every field value follows from its seed and the field,
/// so repeated reads agree (as on a real event).
struct Generated<'p> {
    ty: &'static str,
    seed: u64,
    pools: &'p Pools,
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

impl Generated<'_> {
    fn pick_str(&self, id: FieldId, h: u64) -> String {
        let pool: Vec<&String> = self.pools.strs.get(&id).map(|s| s.iter().collect()).unwrap_or_default();
        if h.is_multiple_of(4) || pool.is_empty() {
            return ["", "/tmp/x", "bash", "host", "nginx"][(h >> 8) as usize % 5].to_string();
        }
        pool[(h >> 8) as usize % pool.len()].clone()
    }

    fn pick_int(&self, id: FieldId, h: u64) -> i64 {
        let pool: Vec<i64> = self.pools.ints.get(&id).map(|s| s.iter().copied().collect()).unwrap_or_default();
        if h.is_multiple_of(4) || pool.is_empty() {
            return [0, 1, -1, 2, 1000][(h >> 8) as usize % 5];
        }
        pool[(h >> 8) as usize % pool.len()]
    }
}

impl FieldSource for Generated<'_> {
    fn evt_type(&self) -> &str {
        self.ty
    }

    fn get(&self, id: FieldId, arg: Option<&FieldArg>) -> Option<FieldValue<'_>> {
        let arg_h = match arg {
            None => 0,
            Some(FieldArg::Index(i)) => u64::from(*i) + 1,
            Some(FieldArg::Key(k)) => k.bytes().fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b))),
        };
        let h = mix(self.seed ^ mix((id as u64) << 20 ^ arg_h));
        if h.is_multiple_of(13) {
            return None;
        }
        let info = id.info();
        let one = |h: u64| -> FieldValue<'static> {
            match info.ty {
                FieldType::Str => FieldValue::Str(Cow::Owned(self.pick_str(id, h))),
                FieldType::Bytes => FieldValue::Bytes(Cow::Owned(self.pick_str(id, h).into_bytes())),
                FieldType::Dynamic => {
                    if h.is_multiple_of(3) {
                        FieldValue::I64(self.pick_int(id, h))
                    } else {
                        FieldValue::Str(Cow::Owned(self.pick_str(id, h)))
                    }
                }
                FieldType::I64 => FieldValue::I64(self.pick_int(id, h)),
                FieldType::U64 | FieldType::Port | FieldType::RelTime | FieldType::AbsTime => {
                    FieldValue::U64(self.pick_int(id, h).unsigned_abs())
                }
                FieldType::Bool => FieldValue::Bool(h.is_multiple_of(2)),
                FieldType::IpAddr | FieldType::IpNet => {
                    let ips = ["127.0.0.1", "10.1.2.3", "8.8.8.8", "0.0.0.0", "::1", "192.168.1.9"];
                    FieldValue::Ip(ips[(h >> 8) as usize % ips.len()].parse::<IpAddr>().unwrap_or(IpAddr::from([0; 4])))
                }
            }
        };
        // Ancestor fields without a level are lists of every ancestor.
        let listed = matches!(info.arg, crate::rules::fields::ArgSpec::Ancestor) && arg.is_none();
        if listed || (info.name.ends_with('s') && h.is_multiple_of(5)) {
            return Some(FieldValue::List((0..(h % 4)).map(|i| one(mix(h + i))).collect()));
        }
        Some(one(h))
    }
}

fn load_all(matching: RuleMatching) -> Option<RuleSet> {
    let dir = require_upstream()?;
    let paths: Vec<_> = [STABLE, INCUBATING, SANDBOX].iter().map(|f| dir.join(f)).collect();
    let cfg = EngineConfig { rule_matching: matching, ..EngineConfig::default() };
    let (set, report) = RuleSet::load_paths(&paths, &cfg);
    let mut set = set.unwrap_or_else(|| panic!("{:?}", report.errors));
    let names: Vec<String> = set.rules().iter().map(|r| r.name.clone()).collect();
    for n in &names {
        set.set_enabled(n, true);
    }
    assert_eq!(set.rules().iter().filter(|r| r.enabled).count(), 93);
    Some(set)
}

#[test]
fn programs_decide_as_the_filter_trees_on_every_upstream_rule() {
    let (Some(all), Some(first)) = (load_all(RuleMatching::All), load_all(RuleMatching::First)) else { return };
    let mut pools = Pools::default();
    for r in all.rules() {
        pools.walk(&r.filter);
    }
    let mut types: Vec<&'static str> = crate::rules::event_names::all().to_vec();
    types.push("no_rule_names_this_type");
    let (mut matches, mut fired) = (0usize, BTreeSet::new());
    let (mut out, mut out_first) = (Vec::new(), Vec::new());
    for (ti, ty) in types.iter().enumerate() {
        for i in 0..400u64 {
            let ev = Generated { ty, seed: mix((ti as u64) << 32 | i), pools: &pools };
            out.clear();
            all.evaluate(&ev, &mut out);
            let got: Vec<&str> = out.iter().map(|r| r.name.as_str()).collect();
            let ctx = Ctx { src: &ev, type_id: all.type_id(ty) };
            let want: Vec<&str> =
                all.rules().iter().filter(|r| r.enabled && ctx.eval(&r.filter)).map(|r| r.name.as_str()).collect();
            assert_eq!(got, want, "event type {ty}, seed {i}");
            // `rule_matching: first`: the first of them only.
            out_first.clear();
            first.evaluate(&ev, &mut out_first);
            let got_first: Vec<&str> = out_first.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(got_first, want.first().copied().into_iter().collect::<Vec<_>>(), "first: {ty}, seed {i}");
            matches += got.len();
            fired.extend(got.iter().map(|s| (*s).to_string()));
        }
    }
    eprintln!("{matches} matches, {} distinct rules fired", fired.len());
    // The comparison means something only if many rules fire.
    assert!(matches > 1000 && fired.len() > 40, "{matches} matches of {} rules: {fired:?}", fired.len());
}
