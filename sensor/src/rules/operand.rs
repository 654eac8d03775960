//! Value producers of a condition (fields, transformers, literals), resolved
//! and type-checked the way libsinsp builds its filterchecks:
//!
//! - single-value transformers (`tolower`, `toupper`, `b64`, `basename`,
//!   `len`) check the type they are applied to and refuse fields flagged
//!   `EPF_NO_TRANSFORMER` (`sinsp_filter_check::add_transformer`);
//! - `join`, `concat` and `getopt` check their arguments' *untransformed*
//!   types and list-ness (`sinsp_filtercheck_multivalue_transformer.cpp`);
//! - literals and `( ... )` lists are only transformer arguments, typed as
//!   a string and a list of strings (`rawstring_check`, `list_check`).

use std::sync::Arc;

use super::ast::{FieldExpr, Transformer};
use super::compile::CompileError;
use super::fields::{self, FieldId, FieldRef, FieldType};

/// A value producer.
#[derive(Debug, Clone)]
pub enum Operand {
    Field(FieldRef),
    /// `evt.type` read through [`super::eval::FieldSource::evt_type`].
    EvtTypeName,
    /// Fields with a fixed value (`evt.dir` is always `<` since Falco 0.42).
    Const(&'static str),
    /// A quoted string or number given to a transformer.
    Literal(Box<str>),
    /// A `( ... )` list given to a transformer.
    List(Box<[Operand]>),
    /// A single-value transformer over one operand.
    Transform(Transformer, Box<Operand>),
    /// `join(separator, list)`.
    Join(Box<(Operand, Operand)>),
    /// `concat(a, b, ...)`.
    Concat(Box<[Operand]>),
    Getopt(Box<Getopt>),
}

/// `getopt(args, optstring)[selector]`.
#[derive(Debug, Clone)]
pub struct Getopt {
    pub args: Operand,
    pub optstring: OptString,
    pub selector: Option<u8>,
}

#[derive(Debug, Clone)]
pub enum OptString {
    /// A literal optstring (as written), decoded once.
    Const(Box<OptInfo>, Box<str>),
    Field(Operand),
}

/// A decoded getopt(3) optstring.
#[derive(Debug, Clone)]
pub struct OptInfo {
    pub valid: [bool; 256],
    pub with_arg: [bool; 256],
}

impl OptInfo {
    /// Decodes `optstring`: option characters, each followed by `:` when it
    /// takes an argument; a leading `:` and extra colons are ignored.
    #[must_use]
    pub fn parse(optstring: &[u8]) -> OptInfo {
        let mut info = OptInfo { valid: [false; 256], with_arg: [false; 256] };
        let mut i = usize::from(optstring.first() == Some(&b':'));
        while i < optstring.len() {
            let opt = optstring[i];
            if opt != b':' {
                info.valid[usize::from(opt)] = true;
                if optstring.get(i + 1) == Some(&b':') {
                    info.with_arg[usize::from(opt)] = true;
                    i += 1;
                }
            }
            i += 1;
        }
        info
    }
}

/// A value type and whether it is a list (libsinsp `EPF_IS_LIST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub ty: FieldType,
    pub list: bool,
}

/// The type libsinsp sees: event parameters (`evt.arg.*`) are strings.
fn libs_ty(ty: FieldType) -> FieldType {
    if ty == FieldType::Dynamic { FieldType::Str } else { ty }
}

impl Operand {
    /// The type of the produced value, after transformers.
    #[must_use]
    pub fn kind(&self) -> Kind {
        let str_kind = |list| Kind { ty: FieldType::Str, list };
        match self {
            Operand::Field(f) => Kind { ty: f.ty(), list: f.id.is_list() },
            Operand::EvtTypeName | Operand::Const(_) | Operand::Literal(_) | Operand::Join(_) | Operand::Concat(_) => {
                str_kind(false)
            }
            Operand::List(_) => str_kind(true),
            Operand::Getopt(g) => str_kind(g.selector.is_none()),
            Operand::Transform(Transformer::Len, _) => Kind { ty: FieldType::U64, list: false },
            Operand::Transform(_, inner) => inner.kind(),
        }
    }

    #[must_use]
    pub fn ty(&self) -> FieldType {
        self.kind().ty
    }

    /// The type of the underlying check before transformers, which is what
    /// libsinsp's multivalue transformers validate (`get_field_info()`).
    fn base_kind(&self) -> Kind {
        match self {
            Operand::Transform(_, inner) => inner.base_kind(),
            Operand::Join(_) | Operand::Concat(_) | Operand::Getopt(_) => Kind { ty: FieldType::Str, list: false },
            other => other.kind(),
        }
    }

    /// `EPF_NO_RHS` on the (transformed) field.
    #[must_use]
    pub fn no_rhs(&self) -> bool {
        match self {
            Operand::Field(f) => f.id.no_rhs(),
            Operand::Transform(_, inner) => inner.no_rhs(),
            _ => false,
        }
    }

    /// An ancestor field without a level: compared against every ancestor.
    #[must_use]
    pub fn is_any_list(&self) -> bool {
        matches!(self, Operand::Field(f) if f.is_any_ancestor())
    }

    /// `evt.type` or `syscall.type` without an argument.
    #[must_use]
    pub fn is_evttype_field(&self) -> bool {
        match self {
            Operand::EvtTypeName => true,
            Operand::Field(f) => f.id == FieldId::SyscallType && f.arg.is_none(),
            _ => false,
        }
    }
}

fn invalid(pos: usize, origin: Option<&Arc<str>>, message: String) -> CompileError {
    CompileError::Invalid { offset: pos, origin: origin.cloned(), message }
}

/// The type a single-value transformer produces from `k`, if it accepts it
/// (`transform_type` of each libsinsp transformer).
fn transformed(tr: Transformer, k: Kind) -> Option<Kind> {
    let ty = libs_ty(k.ty);
    match tr {
        Transformer::ToLower | Transformer::ToUpper | Transformer::Basename => (ty == FieldType::Str).then_some(k),
        Transformer::B64 => matches!(ty, FieldType::Str | FieldType::Bytes).then_some(k),
        Transformer::Len => (k.list || matches!(ty, FieldType::Str | FieldType::Bytes))
            .then_some(Kind { ty: FieldType::U64, list: false }),
        Transformer::Join | Transformer::Concat | Transformer::Getopt => None,
    }
}

/// Resolves a field or transformer expression.
///
/// # Errors
/// Unknown fields, and every transformer misuse libsinsp rejects.
pub fn resolve(fe: &FieldExpr, origin: &Option<Arc<str>>) -> Result<Operand, CompileError> {
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
        FieldExpr::Literal { value, .. } => Ok(Operand::Literal(value.text.as_str().into())),
        FieldExpr::List { items, .. } => {
            Ok(Operand::List(items.iter().map(|i| resolve(i, origin)).collect::<Result<_, _>>()?))
        }
        FieldExpr::Transform { tr, args, arg, pos } => {
            let mut ops = args.iter().map(|a| resolve(a, origin)).collect::<Result<Vec<_>, _>>()?;
            if tr.is_multivalue() {
                return multivalue(*tr, ops, arg.as_deref(), *pos, origin.as_ref());
            }
            let name = tr.as_str();
            if ops.len() != 1 {
                return Err(invalid(*pos, origin.as_ref(), format!("transformer '{name}' takes exactly one argument")));
            }
            if arg.is_some() {
                return Err(invalid(
                    *pos,
                    origin.as_ref(),
                    format!("transformer '{name}' does not support field arguments"),
                ));
            }
            let inner = ops.remove(0);
            if let Operand::Field(f) = &inner
                && f.id.no_transformer()
            {
                return Err(invalid(
                    *pos,
                    origin.as_ref(),
                    format!("field '{}' does not support transformers", f.id.name()),
                ));
            }
            let k = inner.kind();
            if transformed(*tr, k).is_none() {
                return Err(invalid(
                    *pos,
                    origin.as_ref(),
                    format!(
                        "can't add field transformer: type '{}' is not supported by '{name}' transformer applied on {}field '{}'",
                        k.ty.name(),
                        if k.list { "list " } else { "" },
                        describe(&inner)
                    ),
                ));
            }
            Ok(Operand::Transform(*tr, Box::new(inner)))
        }
    }
}

fn multivalue(
    tr: Transformer,
    mut ops: Vec<Operand>,
    arg: Option<&str>,
    pos: usize,
    origin: Option<&Arc<str>>,
) -> Result<Operand, CompileError> {
    let err = |m: &str| Err(invalid(pos, origin, m.to_string()));
    let kinds: Vec<Kind> = ops.iter().map(Operand::base_kind).collect();
    let is_str = |k: &Kind| libs_ty(k.ty) == FieldType::Str;
    if tr != Transformer::Getopt && arg.is_some() {
        return Err(invalid(pos, origin, format!("transformer '{}' does not support field arguments", tr.as_str())));
    }
    match tr {
        Transformer::Join => {
            if ops.len() != 2 {
                return err("join() requires exactly 2 arguments: separator and list");
            }
            if kinds[0].list {
                return err("join() first argument (separator) must be a single value, not a list");
            }
            if !kinds[1].list {
                return err("join() second argument must be a list");
            }
            let list = ops.pop();
            let sep = ops.pop();
            match (sep, list) {
                (Some(s), Some(l)) => Ok(Operand::Join(Box::new((s, l)))),
                _ => err("join() requires exactly 2 arguments: separator and list"),
            }
        }
        Transformer::Concat => {
            if ops.len() < 2 {
                return err("concat() requires at least 2 arguments");
            }
            if kinds.iter().any(|k| k.list || !is_str(k)) {
                return err("concat() arguments must be strings");
            }
            Ok(Operand::Concat(ops.into()))
        }
        _ => {
            if ops.len() != 2 {
                return err("getopt() requires exactly 2 arguments: args list and optstring");
            }
            if !kinds[0].list {
                return err("getopt() first argument must be a list");
            }
            if kinds[1].list {
                return err("getopt() second argument (optstring) must be a single value");
            }
            if !is_str(&kinds[0]) || !is_str(&kinds[1]) {
                return err("getopt() arguments must be strings");
            }
            let selector = match arg {
                None => None,
                Some(a) if a.len() == 1 => a.bytes().next(),
                Some(_) => return err("getopt() field argument must be a single option character"),
            };
            let opt = ops.pop();
            let args = ops.pop();
            let (Some(args), Some(opt)) = (args, opt) else {
                return err("getopt() requires exactly 2 arguments: args list and optstring");
            };
            let optstring = match opt {
                Operand::Literal(s) => OptString::Const(Box::new(OptInfo::parse(s.as_bytes())), s),
                other => OptString::Field(other),
            };
            Ok(Operand::Getopt(Box::new(Getopt { args, optstring, selector })))
        }
    }
}

/// The operand as written, for messages and output-field keys.
#[must_use]
pub fn describe(o: &Operand) -> String {
    let join = |ops: &[Operand]| ops.iter().map(describe).collect::<Vec<_>>().join(", ");
    match o {
        Operand::Field(f) => f.to_string(),
        Operand::EvtTypeName => "evt.type".to_string(),
        Operand::Const(_) => "evt.dir".to_string(),
        Operand::Literal(s) => format!("{s:?}"),
        Operand::List(items) => format!("({})", join(items)),
        Operand::Transform(t, inner) => format!("{}({})", t.as_str(), describe(inner)),
        Operand::Join(j) => format!("join({}, {})", describe(&j.0), describe(&j.1)),
        Operand::Concat(args) => format!("concat({})", join(args)),
        Operand::Getopt(g) => {
            let opt = match &g.optstring {
                OptString::Const(_, text) => format!("{text:?}"),
                OptString::Field(f) => describe(f),
            };
            let sel = g.selector.map(|s| format!("[{}]", char::from(s))).unwrap_or_default();
            format!("getopt({}, {opt}){sel}", describe(&g.args))
        }
    }
}
