//! Compiles a macro-expanded AST into an evaluation tree: fields resolved
//! to ids, values parsed to the field's type as libsinsp parses them, lists
//! turned into hash sets, `pmatch` into a path tree, regexes and globs
//! compiled once. Every check libsinsp's filter compiler refuses (operator
//! not valid for the type, bad value, field-to-field type mismatch, ...) is
//! refused here with the offset of the check.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;

use memchr::memmem;
use regex::Regex;
use thiserror::Error;

use super::ast::{Check, Expr, ListModifier, Op, Rhs as AstRhs, Value};
use super::evttype::{EventTypes, TypeSet};
use super::fields::{FieldError, FieldId, FieldType};
use super::glob::Glob;
pub use super::operand::{Kind, Operand, describe};
use super::pmatch::PathTree;
use super::values::{IpNet, parse_bool, parse_c_int, parse_hex_bytes, parse_int, parse_ipaddr, parse_port};

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
    #[error("{}at offset {offset}: operator '{op}' is not supported on field '{field}' of type {ty}{}", origin_prefix(.origin), if *.list { " (list)" } else { "" })]
    BadOperator { offset: usize, origin: Option<Arc<str>>, op: String, field: String, ty: &'static str, list: bool },
    #[error("{}at offset {offset}: '{value}' is not a valid {ty} value for field '{field}'", origin_prefix(.origin))]
    BadValue { offset: usize, origin: Option<Arc<str>>, value: String, ty: &'static str, field: String },
    #[error("{}at offset {offset}: invalid regex pattern '{pattern}': {message}", origin_prefix(.origin))]
    Regex { offset: usize, origin: Option<Arc<str>>, pattern: String, message: String },
    /// Any other construct libsinsp's compiler refuses, with its message.
    #[error("{}at offset {offset}: {message}", origin_prefix(.origin))]
    Invalid { offset: usize, origin: Option<Arc<str>>, message: String },
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

/// foldhash: strings in rule sets are short, and `SipHash`'s `DoS`
/// resistance buys nothing for keys that come from the rules file itself.
pub type StrSet = HashSet<Box<str>, foldhash::fast::RandomState>;

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
    IpSet(Box<[IpAddr]>),
    NetSet(Box<[IpNet]>),
    DynSet(StrSet, Box<[i128]>),
    Pmatch(PathTree),
    /// `op oneof (...)`: exactly one value matches.
    OneOf(Box<[Rhs]>),
    /// `op anyof (...)`: at least one value matches.
    AnyOf(Box<[Rhs]>),
    /// `op allof (...)`: every value matches.
    AllOf(Box<[Rhs]>),
    /// `val(field)` or a transformer.
    Operand(Operand),
}

/// How the left-hand value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Single,
    /// An ancestor field without a level: true when any ancestor matches.
    AnyAncestor,
    /// A list-typed value (`EPF_IS_LIST`): `in` needs every value in the
    /// set (an empty list is), `intersects` one of them.
    List,
}

#[derive(Debug, Clone)]
pub struct Cmp {
    pub lhs: Operand,
    pub op: Op,
    pub rhs: Rhs,
    pub mode: Mode,
    /// The comparison's identity ([`LeafIds`]): comparisons written alike
    /// share it, so evaluation decides each of them once per event.
    pub leaf: u32,
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
    /// Identities of the comparisons compiled so far, shared by the rules
    /// of one load.
    pub leaves: &'a mut LeafIds,
}

/// Identities of comparisons. Two checks written alike after macro
/// expansion (same field expression, operator, modifier and values;
/// positions and the macro they came from aside) compile to the same
/// comparison, so they get the same id. Falco's macros repeat checks
/// across rules (`container`, `open_write`'s `fd.typechar = f`, ...).
#[derive(Debug, Default)]
pub struct LeafIds {
    ids: std::collections::HashMap<String, u32, foldhash::fast::RandomState>,
}

impl LeafIds {
    /// The id of `c`, a new one if no check like it was seen.
    fn id(&mut self, c: &Check) -> u32 {
        let mut key = String::new();
        leaf_key(&c.lhs, &mut key);
        let _ = write!(key, "\u{1}{:?}\u{1}{:?}\u{1}", c.op, c.modifier);
        match &c.rhs {
            AstRhs::None => {}
            AstRhs::Value(v) => {
                let _ = write!(key, "{v:?}");
            }
            AstRhs::List(vs) => {
                let _ = write!(key, "{vs:?}");
            }
            AstRhs::Field(fe) => {
                key.push_str("val ");
                leaf_key(fe, &mut key);
            }
        }
        let next = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        *self.ids.entry(key).or_insert(next)
    }

    /// Number of distinct comparisons.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// `fe` without positions, literals with their exact bytes.
fn leaf_key(fe: &super::ast::FieldExpr, out: &mut String) {
    use super::ast::FieldExpr;
    match fe {
        FieldExpr::Field { name, arg, .. } => {
            let _ = write!(out, "{name}[{arg:?}]");
        }
        FieldExpr::Transform { tr, args, arg, .. } => {
            let _ = write!(out, "{tr:?}(");
            for a in args {
                leaf_key(a, out);
                out.push(',');
            }
            let _ = write!(out, ")[{arg:?}]");
        }
        FieldExpr::Literal { value, .. } => {
            let _ = write!(out, "{value:?}");
        }
        FieldExpr::List { items, .. } => {
            out.push('(');
            for a in items {
                leaf_key(a, out);
                out.push(',');
            }
            out.push(')');
        }
    }
}

/// libsinsp's `flt_is_comparable`: which operators a value type supports.
fn op_allowed(k: Kind, op: Op) -> bool {
    use Op::{BContains, BStartsWith, Contains, EndsWith, Eq, Exists, Ge, Gt, In, Intersects, Le, Lt, Ne, StartsWith};
    if op == Exists {
        return true;
    }
    if k.list {
        return matches!(
            k.ty,
            FieldType::Str
                | FieldType::U64
                | FieldType::RelTime
                | FieldType::AbsTime
                | FieldType::Bool
                | FieldType::IpAddr
                | FieldType::IpNet
        ) && matches!(op, In | Intersects);
    }
    match k.ty {
        FieldType::Str | FieldType::Dynamic => !matches!(op, BContains | BStartsWith),
        FieldType::Bytes => {
            matches!(op, Eq | Ne | Contains | In | StartsWith | EndsWith | Intersects | BContains | BStartsWith)
        }
        FieldType::Bool | FieldType::IpAddr | FieldType::IpNet => matches!(op, Eq | Ne | In | Intersects),
        FieldType::U64 | FieldType::I64 | FieldType::Port | FieldType::RelTime | FieldType::AbsTime => {
            matches!(op, Eq | Ne | Lt | Le | Gt | Ge | In | Intersects)
        }
    }
}

/// A number for a numeric field: unsigned fields read a negative number as
/// `sscanf("%lu")` does, wrapped around modulo 2^64.
fn number(ty: FieldType, s: &str) -> Option<i128> {
    let v = parse_c_int(s)?;
    Some(if v < 0 && ty != FieldType::I64 { v.rem_euclid(1 << 64) } else { v })
}

/// The value libsinsp's event-number invariant gives `evt.num op value`
/// (`ppm_codes.cpp` `evaluate_field_invariant`; event numbers start at 1).
fn evt_num_invariant(op: Op, rhs: &AstRhs) -> Option<bool> {
    // `sscanf("%lu")`: a negative number wraps around to a huge one.
    let n = |v: &Value| parse_c_int(&v.text).map(|n| if n < 0 { u128::MAX } else { n.unsigned_abs() });
    match (op, rhs) {
        (Op::In, AstRhs::List(vs)) => (vs.is_empty() || vs.iter().all(|v| n(v) == Some(0))).then_some(false),
        (_, AstRhs::Value(v)) => {
            let n = n(v)?;
            match op {
                Op::Eq | Op::Le if n == 0 => Some(false),
                Op::Ne | Op::Gt if n == 0 => Some(true),
                Op::Lt if n <= 1 => Some(false),
                Op::Ge if n <= 1 => Some(true),
                _ => None,
            }
        }
        _ => None,
    }
}

impl Compiler<'_> {
    /// Compiles `e`. Recursion is bounded by the caller's depth checks
    /// (parser nesting limit and expansion depth limit).
    ///
    /// # Errors
    /// Unknown fields, unsupported operators, values of the wrong type,
    /// invalid regexes, and the other constructs libsinsp refuses.
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
    /// Unknown field or a transformer misuse.
    pub fn operand(fe: &super::ast::FieldExpr, origin: &Option<Arc<str>>) -> Result<Operand, CompileError> {
        super::operand::resolve(fe, origin)
    }

    fn invalid(c: &Check, message: impl Into<String>) -> CompileError {
        CompileError::Invalid { offset: c.pos, origin: c.origin.clone(), message: message.into() }
    }

    fn check(&mut self, c: &Check) -> Result<Filter, CompileError> {
        let f = self.check_fields(c)?;
        // Falco computes event types after compiling the filter.
        super::evttype::check_usage(c).map_err(|m| Self::invalid(c, m))?;
        Ok(f)
    }

    fn check_fields(&mut self, c: &Check) -> Result<Filter, CompileError> {
        let lhs = Self::operand(&c.lhs, &c.origin)?;
        let kind = lhs.kind();
        if !op_allowed(kind, c.op) {
            return Err(CompileError::BadOperator {
                offset: c.pos,
                origin: c.origin.clone(),
                op: c
                    .modifier
                    .map_or_else(|| c.op.as_str().to_string(), |m| format!("{} {}", c.op.as_str(), m.as_str())),
                field: describe(&lhs),
                ty: kind.ty.name(),
                list: kind.list,
            });
        }
        if let Some(f) = self.evttype_leaf(c, &lhs)? {
            return Ok(f);
        }
        if let Operand::Field(f) = &lhs
            && f.id == FieldId::EvtNum
            && f.arg.is_none()
            && c.modifier.is_none()
            && let Some(b) = evt_num_invariant(c.op, &c.rhs)
        {
            return Ok(Filter::Const(b));
        }
        let mode = if lhs.is_any_list() {
            Mode::AnyAncestor
        } else if kind.list {
            Mode::List
        } else {
            Mode::Single
        };
        let rhs = match (&c.rhs, c.modifier) {
            (AstRhs::None, _) => Rhs::None,
            (AstRhs::Field(fe), _) => Rhs::Operand(Self::rhs_field(c, &lhs, fe)?),
            (AstRhs::Value(v), _) => Self::scalar(c, &lhs, v)?,
            // libsinsp compares ancestor fields without a level through a
            // path that ignores modifiers: only the first value is used.
            (AstRhs::List(items), Some(_)) if mode == Mode::AnyAncestor => match items.first() {
                Some(v) => Self::scalar(c, &lhs, v)?,
                None => return Ok(Filter::Const(false)),
            },
            (AstRhs::List(items), Some(m)) => {
                if m == ListModifier::AnyOf && c.op == Op::Eq && matches!(kind.ty, FieldType::Str) {
                    Rhs::StrSet(Self::str_set(c, &lhs, items)?)
                } else {
                    let parts = items.iter().map(|v| Self::scalar(c, &lhs, v)).collect::<Result<Box<[_]>, _>>()?;
                    match m {
                        ListModifier::OneOf => Rhs::OneOf(parts),
                        ListModifier::AnyOf => Rhs::AnyOf(parts),
                        ListModifier::AllOf => Rhs::AllOf(parts),
                    }
                }
            }
            (AstRhs::List(items), None) => Self::list_rhs(c, &lhs, items)?,
        };
        let leaf = self.leaves.id(c);
        Ok(Filter::Cmp(Box::new(Cmp { lhs, op: c.op, rhs, mode, leaf })))
    }

    /// `evt.type =|==|!= name` and `evt.type in (names)` become event-type
    /// sets (the operators libsinsp's event-code search understands).
    fn evttype_leaf(&mut self, c: &Check, lhs: &Operand) -> Result<Option<Filter>, CompileError> {
        if !matches!(lhs, Operand::EvtTypeName) || c.modifier.is_some() {
            return Ok(None);
        }
        if c.op == Op::Exists {
            return Ok(Some(Filter::Const(true)));
        }
        let names: Vec<&Value> = match (&c.rhs, c.op) {
            (AstRhs::Value(v), Op::Eq | Op::Ne) => vec![v],
            (AstRhs::List(vs), Op::In) => vs.iter().collect(),
            _ => return Ok(None),
        };
        let mut ids = Vec::with_capacity(names.len());
        for n in names {
            let n = &n.text;
            if !super::event_names::is_known(n) && !self.unknown_types.contains(n) {
                self.unknown_types.push(n.clone());
            }
            ids.push(self.types.intern(n).ok_or(CompileError::TooManyEventTypes)?);
        }
        let set = Filter::EvtType(TypeSet::of(ids));
        Ok(Some(if c.op == Op::Ne { Filter::Not(Box::new(set)) } else { set }))
    }

    /// A right-hand field (`val(f)` or a transformer), checked like
    /// libsinsp's `add_filter_value(rhs_chk)`.
    fn rhs_field(c: &Check, lhs: &Operand, fe: &super::ast::FieldExpr) -> Result<Operand, CompileError> {
        let rhs = Self::operand(fe, &c.origin)?;
        if matches!(c.op, Op::Pmatch | Op::Regex) {
            return Err(Self::invalid(
                c,
                format!("operator '{}' doesn't support right-hand side fields", c.op.as_str()),
            ));
        }
        let (lk, rk) = (lhs.kind(), rhs.kind());
        if lk.ty == FieldType::IpNet {
            return Err(Self::invalid(c, "field type 'IPNET' doesn't support right-hand side fields"));
        }
        if lhs.no_rhs() {
            return Err(Self::invalid(c, format!("field '{}' doesn't support right-hand side fields", describe(lhs))));
        }
        if rhs.no_rhs() {
            return Err(Self::invalid(
                c,
                format!("field '{}' can't be used as a right-hand side field", describe(&rhs)),
            ));
        }
        let same = |a: FieldType, b: FieldType| {
            let norm = |t| if t == FieldType::Dynamic { FieldType::Str } else { t };
            norm(a) == norm(b)
        };
        if !same(lk.ty, rk.ty) || lk.list != rk.list {
            let list = |l: bool| if l { " (list)" } else { "" };
            return Err(Self::invalid(
                c,
                format!(
                    "field '{}' has type '{}{}' while the right-hand side field '{}' has incompatible type '{}{}'",
                    describe(lhs),
                    lk.ty.name(),
                    list(lk.list),
                    describe(&rhs),
                    rk.ty.name(),
                    list(rk.list)
                ),
            ));
        }
        Ok(rhs)
    }

    fn bad_value(c: &Check, lhs: &Operand, v: &str) -> CompileError {
        CompileError::BadValue {
            offset: c.pos,
            origin: c.origin.clone(),
            value: v.to_string(),
            ty: lhs.ty().name(),
            field: describe(lhs),
        }
    }

    /// libsinsp refuses NUL bytes in every parsed (non-buffer) value.
    fn no_nul(c: &Check, v: &Value) -> Result<(), CompileError> {
        if v.bytes().contains(&0) {
            return Err(Self::invalid(c, "filter value cannot contain a NUL byte (\\x00)"));
        }
        Ok(())
    }

    /// One value for a non-list operator.
    fn scalar(c: &Check, lhs: &Operand, v: &Value) -> Result<Rhs, CompileError> {
        let ty = lhs.ty();
        let op = c.op;
        if matches!(op, Op::BContains | Op::BStartsWith) {
            let bytes = parse_hex_bytes(&v.text)
                .filter(|_| v.raw.is_none())
                .ok_or_else(|| Self::invalid(c, "bcontains and bstartswith operator support hex strings only"))?;
            return Ok(Rhs::Bytes(bytes.into()));
        }
        if ty == FieldType::Bytes {
            return Ok(Rhs::Bytes(v.bytes().into()));
        }
        Self::no_nul(c, v)?;
        let s = v.text.as_str();
        let bad = || Self::bad_value(c, lhs, s);
        Ok(match op {
            Op::Contains => Rhs::Contains(Box::new(memmem::Finder::new(s.as_bytes()).into_owned())),
            Op::IContains => Rhs::IContains(s.to_ascii_lowercase().into()),
            Op::Glob => Rhs::Glob(Glob::new(s, false)),
            Op::IGlob => Rhs::Glob(Glob::new(s, true)),
            Op::Regex => Rhs::Regex(super::re2posix::compile(s).map_err(|message| CompileError::Regex {
                offset: c.pos,
                origin: c.origin.clone(),
                pattern: s.to_string(),
                message,
            })?),
            _ => match ty {
                FieldType::Str | FieldType::Bytes => Rhs::Str(s.into()),
                FieldType::Dynamic => Rhs::Dyn(s.into(), parse_int(s)),
                FieldType::Bool => Rhs::Bool(parse_bool(s).ok_or_else(bad)?),
                FieldType::IpAddr => Rhs::Ip(parse_ipaddr(s).ok_or_else(bad)?),
                FieldType::IpNet => Rhs::Net(IpNet::parse(s).ok_or_else(bad)?),
                FieldType::Port => Rhs::Int(i128::from(parse_port(s).ok_or_else(bad)?)),
                FieldType::U64 | FieldType::I64 | FieldType::RelTime | FieldType::AbsTime => {
                    Rhs::Int(number(ty, s).ok_or_else(bad)?)
                }
            },
        })
    }

    fn str_set(c: &Check, lhs: &Operand, items: &[Value]) -> Result<StrSet, CompileError> {
        items
            .iter()
            .map(|v| {
                if lhs.ty() != FieldType::Bytes {
                    Self::no_nul(c, v)?;
                }
                Ok(v.text.as_str().into())
            })
            .collect()
    }

    /// The set form of a list operator's right-hand side.
    fn list_rhs(c: &Check, lhs: &Operand, items: &[Value]) -> Result<Rhs, CompileError> {
        let ty = lhs.ty();
        if c.op == Op::Pmatch {
            for v in items {
                Self::no_nul(c, v)?;
            }
            return Ok(Rhs::Pmatch(PathTree::new(items.iter().map(|v| v.text.as_str()))));
        }
        let each = |f: &dyn Fn(&str) -> Option<()>| -> Result<(), CompileError> {
            for v in items {
                Self::no_nul(c, v)?;
                f(&v.text).ok_or_else(|| Self::bad_value(c, lhs, &v.text))?;
            }
            Ok(())
        };
        Ok(match ty {
            FieldType::Str | FieldType::Bytes => Rhs::StrSet(Self::str_set(c, lhs, items)?),
            FieldType::Dynamic => {
                each(&|_| Some(()))?;
                Rhs::DynSet(
                    items.iter().map(|v| v.text.as_str().into()).collect(),
                    items.iter().filter_map(|v| parse_int(&v.text)).collect(),
                )
            }
            FieldType::Bool => {
                each(&|s| parse_bool(s).map(|_| ()))?;
                Rhs::BoolSet(items.iter().filter_map(|v| parse_bool(&v.text)).collect())
            }
            FieldType::IpAddr => {
                each(&|s| parse_ipaddr(s).map(|_| ()))?;
                Rhs::IpSet(items.iter().filter_map(|v| parse_ipaddr(&v.text)).collect())
            }
            FieldType::IpNet => {
                each(&|s| IpNet::parse(s).map(|_| ()))?;
                Rhs::NetSet(items.iter().filter_map(|v| IpNet::parse(&v.text)).collect())
            }
            FieldType::Port => {
                each(&|s| parse_port(s).map(|_| ()))?;
                Rhs::IntSet(items.iter().filter_map(|v| parse_port(&v.text)).map(i128::from).collect())
            }
            FieldType::U64 | FieldType::I64 | FieldType::RelTime | FieldType::AbsTime => {
                each(&|s| number(ty, s).map(|_| ()))?;
                Rhs::IntSet(items.iter().filter_map(|v| number(ty, &v.text)).collect())
            }
        })
    }
}
