//! Event-type sets: which event types a rule can match (Falco's
//! `ppm_codes.cpp` computation), used to dispatch events only to the
//! rules that can fire on them.

use std::collections::HashMap;

use super::ast::{Check, FieldExpr, Op, Rhs};

const TRANSFORMED: &str = "event code search does not support `evt.type` checks with transformers";
const RHS_FIELD: &str =
    "right-hand field comparisons on `evt.type`/`syscall.type` checks are not supported by event code search";

fn is_evttype_field(fe: &FieldExpr) -> bool {
    matches!(fe, FieldExpr::Field { name, arg: None, .. } if name == "evt.type" || name == "syscall.type")
}

/// Walks an operand like libsinsp's event-code visitor: returns whether the
/// last field seen is `evt.type`/`syscall.type`, failing when one is the
/// (last) argument of a transformer.
fn visit(fe: &FieldExpr) -> Result<bool, &'static str> {
    match fe {
        FieldExpr::Field { .. } => Ok(is_evttype_field(fe)),
        FieldExpr::Literal { .. } => Ok(false),
        FieldExpr::List { items, .. } => {
            let mut last = false;
            for i in items {
                last = visit(i)?;
            }
            Ok(last)
        }
        FieldExpr::Transform { args, .. } => {
            for a in args {
                if visit(a)? {
                    return Err(TRANSFORMED);
                }
            }
            Ok(false)
        }
    }
}

/// The checks libsinsp's event-type computation (`ppm_codes.cpp`) refuses,
/// which makes Falco fail to load the rule: `evt.type` under a transformer
/// in an `exists` check or an `=`/`!=`/`in` check, and `evt.type` compared
/// with a right-hand field or transformer.
///
/// # Errors
/// libsinsp's message for the refused construct.
pub fn check_usage(c: &Check) -> Result<(), &'static str> {
    if c.op == Op::Exists {
        visit(&c.lhs)?;
        return Ok(());
    }
    let evttype_op = c.modifier.is_none() && matches!(c.op, Op::Eq | Op::Ne | Op::In);
    if evttype_op
        && visit(&c.lhs)?
        && let Rhs::Field(fe) = &c.rhs
    {
        visit(fe)?;
        return Err(RHS_FIELD);
    }
    Ok(())
}

/// Interned event-type names seen in rules. Ids are dense from 0.
#[derive(Debug, Default, Clone)]
pub struct EventTypes {
    names: Vec<String>,
    ids: HashMap<String, u16, foldhash::fast::RandomState>,
}

impl EventTypes {
    /// Interns `name`; `None` once 65 535 distinct names exist.
    pub fn intern(&mut self, name: &str) -> Option<u16> {
        if let Some(&id) = self.ids.get(name) {
            return Some(id);
        }
        let id = u16::try_from(self.names.len()).ok().filter(|&i| i < u16::MAX)?;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        Some(id)
    }

    #[must_use]
    pub fn id(&self, name: &str) -> Option<u16> {
        self.ids.get(name).copied()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    #[must_use]
    pub fn name(&self, id: u16) -> Option<&str> {
        self.names.get(usize::from(id)).map(String::as_str)
    }
}

/// Either "these types" or "every type except these" (so unknown types,
/// never named by any rule, are handled by the complement form).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TypeSet {
    complement: bool,
    bits: Vec<u64>,
}

impl TypeSet {
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn all() -> Self {
        Self { complement: true, bits: Vec::new() }
    }

    #[must_use]
    pub fn of(ids: impl IntoIterator<Item = u16>) -> Self {
        let mut s = Self::empty();
        for id in ids {
            let (w, b) = (usize::from(id) / 64, id % 64);
            if s.bits.len() <= w {
                s.bits.resize(w + 1, 0);
            }
            s.bits[w] |= 1 << b;
        }
        s
    }

    fn has_bit(&self, id: u16) -> bool {
        self.bits.get(usize::from(id) / 64).is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Membership; `None` stands for an event type no rule names.
    #[must_use]
    pub fn contains(&self, id: Option<u16>) -> bool {
        match id {
            Some(id) => self.has_bit(id) != self.complement,
            None => self.complement,
        }
    }

    /// True when the set matches every event type.
    #[must_use]
    pub fn is_all(&self) -> bool {
        self.complement && self.bits.iter().all(|w| *w == 0)
    }

    /// True when the set is co-finite (matches types no rule names).
    #[must_use]
    pub fn is_complement(&self) -> bool {
        self.complement
    }

    #[must_use]
    pub fn complemented(&self) -> Self {
        Self { complement: !self.complement, bits: self.bits.clone() }
    }

    fn zip(a: &[u64], b: &[u64], f: impl Fn(u64, u64) -> u64) -> Vec<u64> {
        let n = a.len().max(b.len());
        (0..n).map(|i| f(a.get(i).copied().unwrap_or(0), b.get(i).copied().unwrap_or(0))).collect()
    }

    #[must_use]
    pub fn union(&self, o: &Self) -> Self {
        match (self.complement, o.complement) {
            (false, false) => Self { complement: false, bits: Self::zip(&self.bits, &o.bits, |a, b| a | b) },
            (true, true) => Self { complement: true, bits: Self::zip(&self.bits, &o.bits, |a, b| a & b) },
            (false, true) => Self { complement: true, bits: Self::zip(&o.bits, &self.bits, |c, p| c & !p) },
            (true, false) => o.union(self),
        }
    }

    #[must_use]
    pub fn intersect(&self, o: &Self) -> Self {
        match (self.complement, o.complement) {
            (false, false) => Self { complement: false, bits: Self::zip(&self.bits, &o.bits, |a, b| a & b) },
            (true, true) => Self { complement: true, bits: Self::zip(&self.bits, &o.bits, |a, b| a | b) },
            (false, true) => Self { complement: false, bits: Self::zip(&self.bits, &o.bits, |p, c| p & !c) },
            (true, false) => o.intersect(self),
        }
    }

    /// Number of named types in the set (for a complement set: excluded).
    #[must_use]
    pub fn count(&self) -> u32 {
        self.bits.iter().map(|w| w.count_ones()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::TypeSet;

    #[test]
    fn algebra() {
        let a = TypeSet::of([1, 2]);
        let b = TypeSet::of([2, 3]);
        assert_eq!(a.intersect(&b), TypeSet::of([2]));
        assert!(a.union(&b).contains(Some(3)));
        let na = a.complemented();
        assert!(!na.contains(Some(1)) && na.contains(Some(3)) && na.contains(None));
        assert_eq!(na.intersect(&b), TypeSet::of([3]));
        assert!(na.union(&a).is_all());
        assert!(!TypeSet::empty().contains(None));
    }
}
