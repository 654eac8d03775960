//! Compiles a macro-expanded AST into an evaluation tree: fields resolved
//! to ids, values pre-parsed to the field's type, lists turned into hash
//! sets, `pmatch` into a path tree, regexes and globs compiled once.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::net::IpAddr;
use std::sync::Arc;

use memchr::memmem;
use regex::Regex;
use thiserror::Error;

use super::ast::{Check, Expr, FieldExpr, ListModifier, Op, Rhs as AstRhs, Transformer};
use super::evttype::{EventTypes, TypeSet};
use super::fields::{self, FieldError, FieldId, FieldRef, FieldType};
use super::glob::Glob;
use super::pmatch::PathTree;
use super::values::{IpNet, parse_bool, parse_hex_bytes, parse_int};

/// FNV-1a: strings in rule sets are short, and `SipHash`'s `DoS` resistance
/// buys nothing for keys that come from the rules file itself.
#[derive(Default, Clone, Copy)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub type FnvBuild = BuildHasherDefault<Fnv>;

#[derive(Debug, Error)]
pub enum CompileError {
    #[error("Undefined macro '{name}' used in filter")]
    UndefinedMacro { name: String },
    #[error("macro '{name}' used in filter has errors")]
    BrokenMacro { name: String },
    #[error("macro cycle detected: {path}")]
    MacroCycle { path: String },
    #[error("condition too large after expansion: {what}")]
    TooLarge { what: String },
    #[error("{}at offset {offset}: {source}", origin_prefix(.origin))]
    Field {
        offset: usize,
        origin: Option<Arc<str>>,
        #[source]
        source: FieldError,
    },
    #[error("{}at offset {offset}: operator '{op}' is not supported on field '{field}' of type {ty}", origin_prefix(.origin))]
    BadOperator { offset: usize, origin: Option<Arc<str>>, op: &'static str, field: String, ty: &'static str },
    #[error("{}at offset {offset}: '{value}' is not a valid {ty} value for field '{field}'", origin_prefix(.origin))]
    BadValue { offset: usize, origin: Option<Arc<str>>, value: String, ty: &'static str, field: String },
    #[error("{}at offset {offset}: invalid regular expression", origin_prefix(.origin))]
    Regex {
        offset: usize,
        origin: Option<Arc<str>>,
        #[source]
        source: regex::Error,
    },
    #[error("too many distinct event types")]
    TooManyEventTypes,
}

#[allow(clippy::ref_option)] // called by thiserror with a reference to the field
fn origin_prefix(o: &Option<Arc<str>>) -> String {
    o.as_ref().map(|m| format!("in macro '{m}' ")).unwrap_or_default()
}

impl CompileError {
    /// Unknown-field errors are what `skip-if-unknown-filter` tolerates.
    #[must_use]
    pub fn is_unknown_field(&self) -> bool {
        matches!(self, CompileError::Field { source: FieldError::Unknown { .. }, .. })
    }
}

/// A value producer: a field, a transformer over fields, or a constant.
#[derive(Debug, Clone)]
pub enum Operand {
    Field(FieldRef),
    /// `evt.type` read through [`super::eval::FieldSource::evt_type`].
    EvtTypeName,
    /// Fields with a fixed value (`evt.dir` is always `<` since Falco 0.42).
    Const(&'static str),
    Transform(Transformer, Box<[Operand]>),
}

impl Operand {
    #[must_use]
    pub fn ty(&self) -> FieldType {
        match self {
            Operand::Field(f) => f.ty(),
            Operand::Transform(Transformer::Len, _) => FieldType::U64,
            Operand::EvtTypeName | Operand::Const(_) | Operand::Transform(_, _) => FieldType::Str,
        }
    }

    /// List-valued with "any element" semantics (ancestor fields).
    #[must_use]
    pub fn is_any_list(&self) -> bool {
        match self {
            Operand::Field(f) => f.is_any_ancestor(),
            Operand::Transform(t, args) => *t != Transformer::Len && args.iter().any(Operand::is_any_list),
            _ => false,
        }
    }
}

pub type StrSet = HashSet<Box<str>, FnvBuild>;

/// Right-hand side, pre-parsed for the operator and field type.
#[derive(Debug, Clone)]
pub enum Rhs {
    None,
    Str(Box<str>),
    Contains(Box<memmem::Finder<'static>>),
    /// Needle already lower-cased (ASCII, like strcasestr).
    IContains(Box<str>),
    Int(i128),
    Bool(bool),
    Ip(IpAddr),
    Net(IpNet),
    Bytes(Box<[u8]>),
    /// Event parameters: compared numerically when both sides are numbers.
    Dyn(Box<str>, Option<i128>),
    Glob(Glob),
    Regex(Regex),
    StrSet(StrSet),
    IntSet(Box<[i128]>),
    BoolSet(Box<[bool]>),
    NetSet(Box<[IpNet]>),
    DynSet(StrSet, Box<[i128]>),
    Pmatch(PathTree),
    /// `op oneof/anyof (...)`.
    AnyOf(Box<[Rhs]>),
    /// `op allof (...)`.
    AllOf(Box<[Rhs]>),
    /// `val(field)` or a transformer.
    Operand(Operand),
}

#[derive(Debug, Clone)]
pub struct Cmp {
    pub lhs: Operand,
    pub op: Op,
    pub rhs: Rhs,
    /// For list ops on list-valued fields: every value must match (`in`)
    /// unless the field has "any ancestor" semantics.
    pub any_list: bool,
}

#[derive(Debug, Clone)]
pub enum Filter {
    And(Box<[Filter]>),
    Or(Box<[Filter]>),
    Not(Box<Filter>),
    Const(bool),
    EvtType(TypeSet),
    Cmp(Box<Cmp>),
}

impl Filter {
    /// Event types on which this filter can be true (De Morgan push-down;
    /// non-evttype leaves are "all" and are not complemented).
    #[must_use]
    pub fn evttypes(&self) -> TypeSet {
        self.types(false)
    }

    #[allow(clippy::only_used_in_recursion)]
    fn types(&self, neg: bool) -> TypeSet {
        match self {
            Filter::Const(b) => {
                if *b == neg {
                    TypeSet::empty()
                } else {
                    TypeSet::all()
                }
            }
            Filter::EvtType(s) => {
                if neg {
                    s.complemented()
                } else {
                    s.clone()
                }
            }
            Filter::Cmp(_) => TypeSet::all(),
            Filter::Not(c) => c.types(!neg),
            Filter::And(cs) | Filter::Or(cs) => {
                let union = matches!(self, Filter::Or(_)) != neg;
                let mut it = cs.iter().map(|c| c.types(neg));
                let first = it.next().unwrap_or_else(TypeSet::all);
                it.fold(first, |acc, s| if union { acc.union(&s) } else { acc.intersect(&s) })
            }
        }
    }
}

pub struct Compiler<'a> {
    pub types: &'a mut EventTypes,
    /// Event-type names used in rules that are not known syscalls/events.
    pub unknown_types: Vec<String>,
}

fn op_allowed(ty: FieldType, op: Op) -> bool {
    use Op::{BContains, BStartsWith, Contains, EndsWith, Eq, Exists, Ge, Gt, In, Intersects, Le, Lt, Ne, StartsWith};
    match ty {
        FieldType::Str | FieldType::Dynamic => true,
        FieldType::Bytes => {
            matches!(
                op,
                Eq | Ne | Contains | BContains | BStartsWith | StartsWith | EndsWith | Exists | In | Intersects
            )
        }
        FieldType::Bool | FieldType::IpAddr | FieldType::IpNet => matches!(op, Eq | Ne | In | Intersects | Exists),
        FieldType::U64 | FieldType::I64 | FieldType::Port | FieldType::RelTime | FieldType::AbsTime => {
            matches!(op, Eq | Ne | Lt | Le | Gt | Ge | In | Intersects | Exists)
        }
    }
}

impl Compiler<'_> {
    /// Compiles `e`. Recursion is bounded by the caller's depth checks
    /// (parser nesting limit and expansion depth limit).
    ///
    /// # Errors
    /// Unknown fields, unsupported operators, values of the wrong type,
    /// invalid regexes.
    pub fn compile(&mut self, e: &Expr) -> Result<Filter, CompileError> {
        Ok(match e {
            Expr::And(cs) => Filter::And(cs.iter().map(|c| self.compile(c)).collect::<Result<_, _>>()?),
            Expr::Or(cs) => Filter::Or(cs.iter().map(|c| self.compile(c)).collect::<Result<_, _>>()?),
            Expr::Not(c) => match self.compile(c)? {
                Filter::Const(b) => Filter::Const(!b),
                f => Filter::Not(Box::new(f)),
            },
            Expr::Macro { name, .. } => return Err(CompileError::UndefinedMacro { name: name.clone() }),
            Expr::Check(c) => self.check(c)?,
        })
    }

    /// Resolves a field or transformer expression.
    ///
    /// # Errors
    /// Unknown field or a transformer applied to a non-string value.
    pub fn operand(fe: &FieldExpr, origin: &Option<Arc<str>>) -> Result<Operand, CompileError> {
        match fe {
            FieldExpr::Field { name, arg, pos } => {
                let f = fields::resolve(name, arg.as_deref()).map_err(|source| CompileError::Field {
                    offset: *pos,
                    origin: origin.clone(),
                    source,
                })?;
                Ok(match f.id {
                    FieldId::EvtType => Operand::EvtTypeName,
                    FieldId::EvtDir => Operand::Const("<"),
                    _ => Operand::Field(f),
                })
            }
            FieldExpr::Transform { tr, args, pos } => {
                let ops = args.iter().map(|a| Self::operand(a, origin)).collect::<Result<Box<[_]>, _>>()?;
                for o in &ops {
                    let ty = o.ty();
                    if *tr != Transformer::Len && !matches!(ty, FieldType::Str | FieldType::Dynamic | FieldType::Bytes)
                    {
                        return Err(CompileError::BadOperator {
                            offset: *pos,
                            origin: origin.clone(),
                            op: tr.as_str(),
                            field: describe(o),
                            ty: ty.name(),
                        });
                    }
                }
                Ok(Operand::Transform(*tr, ops))
            }
        }
    }

    fn check(&mut self, c: &Check) -> Result<Filter, CompileError> {
        let lhs = Self::operand(&c.lhs, &c.origin)?;
        let ty = lhs.ty();
        if !op_allowed(ty, c.op) {
            return Err(CompileError::BadOperator {
                offset: c.pos,
                origin: c.origin.clone(),
                op: c.op.as_str(),
                field: describe(&lhs),
                ty: ty.name(),
            });
        }
        if let Operand::EvtTypeName = lhs
            && c.modifier.is_none()
        {
            let names: Option<Vec<&String>> = match (&c.rhs, c.op) {
                (AstRhs::Value(v), Op::Eq | Op::Ne) => Some(vec![v]),
                (AstRhs::List(vs), Op::In | Op::Intersects) => Some(vs.iter().collect()),
                _ => None,
            };
            if let Some(names) = names {
                let mut ids = Vec::with_capacity(names.len());
                for n in names {
                    if !super::event_names::is_known(n) && !self.unknown_types.contains(n) {
                        self.unknown_types.push(n.clone());
                    }
                    ids.push(self.types.intern(n).ok_or(CompileError::TooManyEventTypes)?);
                }
                let set = Filter::EvtType(TypeSet::of(ids));
                return Ok(if c.op == Op::Ne { Filter::Not(Box::new(set)) } else { set });
            }
        }
        if let (Operand::Field(f), Op::Eq, AstRhs::Value(v)) = (&lhs, c.op, &c.rhs)
            && f.id == FieldId::EvtNum
            && parse_int(v) == Some(0)
        {
            // Falco's `never_true` idiom: event numbers start at 1.
            return Ok(Filter::Const(false));
        }
        let bad_value = |value: &str| CompileError::BadValue {
            offset: c.pos,
            origin: c.origin.clone(),
            value: value.to_string(),
            ty: ty.name(),
            field: describe(&lhs),
        };
        let rhs = match (&c.rhs, c.modifier) {
            (AstRhs::None, _) => Rhs::None,
            (AstRhs::Field(fe), _) => Rhs::Operand(Self::operand(fe, &c.origin)?),
            (AstRhs::Value(v), _) => self.scalar(ty, c.op, v, c).ok_or_else(|| bad_value(v))??,
            (AstRhs::List(items), Some(m)) => {
                let parts = items
                    .iter()
                    .map(|v| self.scalar(ty, c.op, v, c).ok_or_else(|| bad_value(v))?)
                    .collect::<Result<Box<[_]>, _>>()?;
                if m == ListModifier::AllOf { Rhs::AllOf(parts) } else { Rhs::AnyOf(parts) }
            }
            (AstRhs::List(items), None) => list_rhs(ty, c.op, items).map_err(|v| bad_value(&v))?,
        };
        let any_list = lhs.is_any_list();
        Ok(Filter::Cmp(Box::new(Cmp { lhs, op: c.op, rhs, any_list })))
    }

    /// `None` = value not parseable for the type; inner error = regex.
    #[allow(clippy::unused_self)] // kept a method for symmetry with `operand`
    fn scalar(&self, ty: FieldType, op: Op, v: &str, c: &Check) -> Option<Result<Rhs, CompileError>> {
        let rhs = match op {
            Op::BContains | Op::BStartsWith => Rhs::Bytes(parse_hex_bytes(v)?.into()),
            Op::Contains if ty != FieldType::Bytes => {
                Rhs::Contains(Box::new(memmem::Finder::new(v.as_bytes()).into_owned()))
            }
            Op::IContains => Rhs::IContains(v.to_ascii_lowercase().into()),
            Op::Glob => Rhs::Glob(Glob::new(v, false)),
            Op::IGlob => Rhs::Glob(Glob::new(v, true)),
            Op::Regex => {
                let re = regex::RegexBuilder::new(&format!("^(?:{v})$")).size_limit(1 << 22).build();
                return Some(re.map(Rhs::Regex).map_err(|source| CompileError::Regex {
                    offset: c.pos,
                    origin: c.origin.clone(),
                    source,
                }));
            }
            _ => match ty {
                FieldType::Str => Rhs::Str(v.into()),
                FieldType::Bytes => Rhs::Bytes(v.as_bytes().into()),
                FieldType::Dynamic => Rhs::Dyn(v.into(), parse_int(v)),
                FieldType::Bool => Rhs::Bool(parse_bool(v)?),
                FieldType::IpAddr if v.contains('/') => Rhs::Net(IpNet::parse(v)?),
                FieldType::IpAddr => Rhs::Ip(v.trim().parse().ok()?),
                FieldType::IpNet => Rhs::Net(IpNet::parse(v)?),
                FieldType::Port => Rhs::Int(parse_int(v).filter(|p| (0..=65535).contains(p))?),
                FieldType::U64 | FieldType::I64 | FieldType::RelTime | FieldType::AbsTime => Rhs::Int(parse_int(v)?),
            },
        };
        Some(Ok(rhs))
    }
}

/// Builds the set form of a list operator's right-hand side; the error is
/// the offending item.
fn list_rhs(ty: FieldType, op: Op, items: &[String]) -> Result<Rhs, String> {
    if op == Op::Pmatch {
        return Ok(Rhs::Pmatch(PathTree::new(items.iter().map(String::as_str))));
    }
    Ok(match ty {
        FieldType::Str | FieldType::Bytes => Rhs::StrSet(items.iter().map(|s| s.as_str().into()).collect()),
        FieldType::Dynamic => Rhs::DynSet(
            items.iter().map(|s| s.as_str().into()).collect(),
            items.iter().filter_map(|s| parse_int(s)).collect(),
        ),
        FieldType::Bool => {
            Rhs::BoolSet(items.iter().map(|s| parse_bool(s).ok_or_else(|| s.clone())).collect::<Result<_, _>>()?)
        }
        FieldType::IpAddr | FieldType::IpNet => {
            Rhs::NetSet(items.iter().map(|s| IpNet::parse(s).ok_or_else(|| s.clone())).collect::<Result<_, _>>()?)
        }
        FieldType::Port | FieldType::U64 | FieldType::I64 | FieldType::RelTime | FieldType::AbsTime => {
            Rhs::IntSet(items.iter().map(|s| parse_int(s).ok_or_else(|| s.clone())).collect::<Result<_, _>>()?)
        }
    })
}

/// The operand as written, for messages and output-field keys.
#[must_use]
pub fn describe(o: &Operand) -> String {
    match o {
        Operand::Field(f) => f.to_string(),
        Operand::EvtTypeName => "evt.type".to_string(),
        Operand::Const(_) => "evt.dir".to_string(),
        Operand::Transform(t, args) => {
            format!("{}({})", t.as_str(), args.iter().map(describe).collect::<Vec<_>>().join(", "))
        }
    }
}
