//! Evaluation of compiled filters against an event.
//!
//! The event side implements [`FieldSource`]; values may borrow from the
//! event so the hot path does not allocate.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;

use super::ast::Op;
use super::compile::{Cmp, Filter, Mode, Operand, Rhs};
use super::fields::{FieldArg, FieldId};
pub use super::transform::extract;

/// A value extracted from an event.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    Str(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
    U64(u64),
    I64(i64),
    Bool(bool),
    Ip(IpAddr),
    /// Multi-valued fields (`proc.aname` without a level: all ancestors).
    List(Vec<FieldValue<'a>>),
}

impl<'a> FieldValue<'a> {
    #[must_use]
    pub fn str(s: &'a str) -> Self {
        FieldValue::Str(Cow::Borrowed(s))
    }

    fn as_int(&self) -> Option<i128> {
        match self {
            FieldValue::U64(v) => Some(i128::from(*v)),
            FieldValue::I64(v) => Some(i128::from(*v)),
            FieldValue::Bool(b) => Some(i128::from(*b)),
            FieldValue::Str(s) => super::values::parse_int(s),
            _ => None,
        }
    }

    /// Text form (numbers in decimal, lists space-separated).
    #[must_use]
    pub fn to_text(&self) -> Cow<'_, str> {
        match self {
            FieldValue::Str(s) => Cow::Borrowed(s.as_ref()),
            FieldValue::Bytes(b) => String::from_utf8_lossy(b),
            FieldValue::U64(v) => Cow::Owned(v.to_string()),
            FieldValue::I64(v) => Cow::Owned(v.to_string()),
            FieldValue::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            FieldValue::Ip(ip) => Cow::Owned(ip.to_string()),
            FieldValue::List(vs) => Cow::Owned(vs.iter().map(|v| v.to_text()).collect::<Vec<_>>().join(" ")),
        }
    }
}

/// What the event side implements. `get` returns `None` when the field
/// cannot be extracted for this event (then comparisons are false).
pub trait FieldSource {
    /// The event type name (`open`, `execve`...).
    fn evt_type(&self) -> &str;
    fn get(&self, field: FieldId, arg: Option<&FieldArg>) -> Option<FieldValue<'_>>;
}

/// Per-event evaluation context.
pub struct Ctx<'e, E: FieldSource + ?Sized> {
    pub src: &'e E,
    /// Interned id of the event type, `None` if no rule names it.
    pub type_id: Option<u16>,
}

impl<E: FieldSource + ?Sized> Ctx<'_, E> {
    #[must_use]
    pub fn eval(&self, f: &Filter) -> bool {
        match f {
            Filter::And(cs) => cs.iter().all(|c| self.eval(c)),
            Filter::Or(cs) => cs.iter().any(|c| self.eval(c)),
            Filter::Not(c) => !self.eval(c),
            Filter::Const(b) => *b,
            Filter::EvtType(s) => s.contains(self.type_id),
            Filter::Cmp(c) => self.compare(c),
        }
    }

    /// One comparison against the event.
    #[must_use]
    pub fn compare(&self, c: &Cmp) -> bool {
        // Plain fields, the common case, skip the operand dispatch.
        let v = match &c.lhs {
            Operand::Field(f) => self.src.get(f.id, f.arg.as_ref()),
            o => extract(self.src, o),
        };
        if c.op == Op::Exists {
            // An ancestor field exists when the process has an ancestor.
            return match (&v, c.mode) {
                (Some(FieldValue::List(items)), Mode::AnyAncestor) => !items.is_empty(),
                (v, _) => v.is_some(),
            };
        }
        // Compared in place: moving the value out costs more than the check.
        let Some(v) = v.as_ref() else { return false };
        let rhs_val;
        let rhs = match &c.rhs {
            Rhs::Operand(o) => match extract(self.src, o) {
                Some(r) => {
                    rhs_val = r;
                    RhsRef::Value(&rhs_val)
                }
                None => return false,
            },
            r => RhsRef::Compiled(r),
        };
        match (v, c.mode) {
            (FieldValue::List(items), Mode::List) if c.op == Op::In => items.iter().all(|i| compare(i, c.op, &rhs)),
            (FieldValue::List(items), _) => items.iter().any(|i| compare(i, c.op, &rhs)),
            _ => compare(v, c.op, &rhs),
        }
    }
}

enum RhsRef<'r, 'v> {
    Compiled(&'r Rhs),
    Value(&'r FieldValue<'v>),
}

fn icontains(hay: &str, needle_lower: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle_lower.as_bytes());
    if n.is_empty() {
        return true;
    }
    h.windows(n.len()).any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

fn ord_matches(op: Op, o: Ordering) -> bool {
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        _ => false,
    }
}

fn str_op(s: &str, op: Op, t: &str) -> bool {
    match op {
        Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => ord_matches(op, s.cmp(t)),
        Op::Contains => s.contains(t),
        Op::IContains => icontains(s, &t.to_ascii_lowercase()),
        Op::StartsWith | Op::BStartsWith => s.starts_with(t),
        Op::EndsWith => s.ends_with(t),
        Op::BContains => memchr::memmem::find(s.as_bytes(), t.as_bytes()).is_some(),
        Op::In | Op::Intersects => s == t,
        Op::Pmatch => s == t || (s.starts_with(t) && (t.ends_with('/') || s.as_bytes().get(t.len()) == Some(&b'/'))),
        _ => false,
    }
}

fn bytes_of<'v>(v: &'v FieldValue<'_>) -> Option<&'v [u8]> {
    match v {
        FieldValue::Str(s) => Some(s.as_bytes()),
        FieldValue::Bytes(b) => Some(b),
        _ => None,
    }
}

#[inline]
fn compare(v: &FieldValue<'_>, op: Op, rhs: &RhsRef<'_, '_>) -> bool {
    match rhs {
        RhsRef::Compiled(r) => compare_compiled(v, op, r),
        RhsRef::Value(r) => compare_values(v, op, r),
    }
}

/// `val(field)` comparisons: decided on the runtime types of both sides.
fn compare_values(v: &FieldValue<'_>, op: Op, r: &FieldValue<'_>) -> bool {
    if let FieldValue::List(items) = r {
        return items.iter().any(|i| compare_values(v, op, i));
    }
    match (v, r) {
        (FieldValue::Ip(a), FieldValue::Ip(b)) => ord_matches(op, a.cmp(b)),
        (FieldValue::Bool(a), FieldValue::Bool(b)) => ord_matches(op, a.cmp(b)),
        (FieldValue::U64(_) | FieldValue::I64(_), FieldValue::U64(_) | FieldValue::I64(_)) => {
            match (v.as_int(), r.as_int()) {
                (Some(a), Some(b)) => ord_matches(if op.is_list_op() { Op::Eq } else { op }, a.cmp(&b)),
                _ => false,
            }
        }
        _ => str_op(&v.to_text(), op, &r.to_text()),
    }
}

fn compare_compiled(v: &FieldValue<'_>, op: Op, rhs: &Rhs) -> bool {
    match rhs {
        Rhs::None | Rhs::Operand(_) => false,
        Rhs::AnyOf(parts) => parts.iter().any(|p| compare_compiled(v, op, p)),
        Rhs::AllOf(parts) => !parts.is_empty() && parts.iter().all(|p| compare_compiled(v, op, p)),
        Rhs::OneOf(parts) => {
            let mut n = 0;
            for p in parts {
                if compare_compiled(v, op, p) {
                    n += 1;
                    if n > 1 {
                        return false;
                    }
                }
            }
            n == 1
        }
        Rhs::Str(t) => match v {
            FieldValue::Str(s) => str_op(s, op, t),
            other => str_op(&other.to_text(), op, t),
        },
        Rhs::Contains(f) => bytes_of(v).is_some_and(|b| f.find(b).is_some()),
        Rhs::IContains(t) => match v {
            FieldValue::Str(s) => icontains(s, t),
            other => icontains(&other.to_text(), t),
        },
        Rhs::Glob(g) => match v {
            FieldValue::Str(s) => g.matches(s),
            other => g.matches(&other.to_text()),
        },
        Rhs::Regex(re) => match v {
            FieldValue::Str(s) => re.is_match(s),
            other => re.is_match(&other.to_text()),
        },
        Rhs::Pmatch(t) => match v {
            FieldValue::Str(s) => t.matches(s),
            other => t.matches(&other.to_text()),
        },
        Rhs::StrSet(set) => match v {
            FieldValue::Str(s) => set.contains(s.as_ref()),
            other => set.contains(other.to_text().as_ref()),
        },
        Rhs::Bytes(t) => bytes_of(v).is_some_and(|b| match op {
            Op::BContains | Op::Contains => memchr::memmem::find(b, t).is_some(),
            Op::BStartsWith | Op::StartsWith => b.starts_with(t),
            Op::EndsWith => b.ends_with(t),
            Op::Eq => b == t.as_ref(),
            Op::Ne => b != t.as_ref(),
            _ => false,
        }),
        Rhs::Int(n) => v.as_int().is_some_and(|x| ord_matches(op, x.cmp(n))),
        Rhs::IntSet(set) => v.as_int().is_some_and(|x| set.contains(&x)),
        Rhs::Bool(b) => match v {
            FieldValue::Bool(x) => ord_matches(op, x.cmp(b)),
            _ => false,
        },
        Rhs::BoolSet(set) => matches!(v, FieldValue::Bool(x) if set.contains(x)),
        Rhs::Ip(ip) => match v {
            FieldValue::Ip(x) => ord_matches(op, x.cmp(ip)),
            _ => false,
        },
        Rhs::Net(net) => match v {
            FieldValue::Ip(x) => match op {
                Op::Eq => net.contains(x),
                Op::Ne => !net.contains(x),
                _ => false,
            },
            _ => false,
        },
        Rhs::IpSet(ips) => matches!(v, FieldValue::Ip(x) if ips.contains(x)),
        Rhs::NetSet(nets) => matches!(v, FieldValue::Ip(x) if nets.iter().any(|n| n.contains(x))),
        Rhs::Dyn(text, num) => match (v.as_int(), num, v) {
            (Some(x), Some(n), FieldValue::U64(_) | FieldValue::I64(_)) => ord_matches(op, x.cmp(n)),
            _ => str_op(&v.to_text(), op, text),
        },
        Rhs::DynSet(strs, ints) => match v {
            FieldValue::U64(_) | FieldValue::I64(_) => v.as_int().is_some_and(|x| ints.contains(&x)),
            other => strs.contains(other.to_text().as_ref()),
        },
    }
}
