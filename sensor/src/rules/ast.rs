//! Parsed (uncompiled) condition syntax tree, shaped like libsinsp's
//! `filter/ast.h`: checks, field/transformer expressions, values and lists.
//!
//! Strings are kept as written (after unescaping); typing against fields
//! happens in `compile`.

use std::borrow::Cow;

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    Pmatch,
    Exists,
}

impl Op {
    /// Operators spelled as words; each needs a blank after it.
    pub const WORD_STR_OPS: &'static [(&'static str, Op)] = &[
        ("glob", Op::Glob),
        ("iglob", Op::IGlob),
        ("contains", Op::Contains),
        ("icontains", Op::IContains),
        ("bcontains", Op::BContains),
        ("startswith", Op::StartsWith),
        ("bstartswith", Op::BStartsWith),
        ("endswith", Op::EndsWith),
        ("regex", Op::Regex),
    ];
    /// List operators, in libsinsp's matching order (prefix match, no blank needed).
    pub const LIST_OPS: &'static [(&'static str, Op)] =
        &[("intersects", Op::Intersects), ("in", Op::In), ("pmatch", Op::Pmatch)];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
            Op::Exists => "exists",
        }
    }

    /// Parses a plain operator (libsinsp `str_to_cmpop`).
    #[must_use]
    pub fn from_name(s: &str) -> Option<Op> {
        Some(match s {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "exists" => Op::Exists,
            _ => {
                return Op::WORD_STR_OPS.iter().chain(Op::LIST_OPS).find(|(n, _)| *n == s).map(|(_, o)| *o);
            }
        })
    }

    /// Parses `op` or `op modifier` (libsinsp `str_to_cmpop_with_modifier`:
    /// split at the first space). `None` when either part is unknown.
    #[must_use]
    pub fn with_modifier_from_name(s: &str) -> Option<(Op, Option<ListModifier>)> {
        match s.split_once(' ') {
            None => Some((Op::from_name(s)?, None)),
            Some((op, m)) => Some((Op::from_name(op)?, Some(ListModifier::from_name(m)?))),
        }
    }

    #[must_use]
    pub fn is_list_op(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }

    /// The string operators that accept `oneof`/`anyof`/`allof`
    /// (Falco's `cmpop_supports_modifier`, the parser's string operators).
    #[must_use]
    pub fn supports_modifier(self) -> bool {
        matches!(
            self,
            Op::Eq
                | Op::Ne
                | Op::Contains
                | Op::IContains
                | Op::BContains
                | Op::StartsWith
                | Op::BStartsWith
                | Op::EndsWith
                | Op::Glob
                | Op::IGlob
                | Op::Regex
        )
    }
}

/// `op oneof|anyof|allof (list)` modifiers on string operators:
/// exactly one, at least one, or every right-hand value must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListModifier {
    OneOf,
    AnyOf,
    AllOf,
}

impl ListModifier {
    pub const ALL: &'static [(&'static str, ListModifier)] =
        &[("oneof", ListModifier::OneOf), ("anyof", ListModifier::AnyOf), ("allof", ListModifier::AllOf)];

    #[must_use]
    pub fn from_name(s: &str) -> Option<ListModifier> {
        ListModifier::ALL.iter().find(|(n, _)| *n == s).map(|(_, m)| *m)
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        ListModifier::ALL.iter().find(|(_, m)| *m == self).map_or("?", |(n, _)| n)
    }
}

/// Field transformers (`tolower(proc.name)`, `join("-", (a.b, c.d))`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformer {
    ToLower,
    ToUpper,
    B64,
    Basename,
    Len,
    Join,
    Concat,
    Getopt,
}

impl Transformer {
    /// In libsinsp's lexing order.
    pub const ALL: &'static [(&'static str, Transformer)] = &[
        ("tolower", Transformer::ToLower),
        ("toupper", Transformer::ToUpper),
        ("b64", Transformer::B64),
        ("basename", Transformer::Basename),
        ("len", Transformer::Len),
        ("join", Transformer::Join),
        ("concat", Transformer::Concat),
        ("getopt", Transformer::Getopt),
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        Transformer::ALL.iter().find(|(_, t)| *t == self).map_or("?", |(n, _)| n)
    }

    /// Transformers over several arguments (libsinsp's multivalue ones).
    #[must_use]
    pub fn is_multivalue(self) -> bool {
        matches!(self, Transformer::Join | Transformer::Concat | Transformer::Getopt)
    }
}

/// A literal value. `text` is the value as a string; `raw` keeps the exact
/// bytes when `\xHH` escapes produced invalid UTF-8 (then `text` is the
/// lossy form). Byte-buffer fields compare against the exact bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Value {
    pub text: String,
    pub raw: Option<Box<[u8]>>,
}

impl Value {
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Value {
        match String::from_utf8(bytes) {
            Ok(text) => Value { text, raw: None },
            Err(e) => {
                let raw = e.into_bytes().into_boxed_slice();
                Value { text: String::from_utf8_lossy(&raw).into_owned(), raw: Some(raw) }
            }
        }
    }

    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        self.raw.as_deref().unwrap_or(self.text.as_bytes())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value { text: s.to_string(), raw: None }
    }
}

/// A value producer: a field, a transformer, or (only inside a transformer)
/// a literal or a literal list.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldExpr {
    Field {
        name: String,
        arg: Option<String>,
        pos: usize,
    },
    Transform {
        tr: Transformer,
        args: Vec<FieldExpr>,
        /// `getopt(...)[t]`.
        arg: Option<String>,
        pos: usize,
    },
    /// A quoted string or a number given as a transformer argument.
    Literal {
        value: Value,
        pos: usize,
    },
    /// `( ... )` given as a transformer argument.
    List {
        items: Vec<FieldExpr>,
        pos: usize,
    },
}

impl FieldExpr {
    #[must_use]
    pub fn pos(&self) -> usize {
        match self {
            FieldExpr::Field { pos, .. }
            | FieldExpr::Transform { pos, .. }
            | FieldExpr::Literal { pos, .. }
            | FieldExpr::List { pos, .. } => *pos,
        }
    }

    /// The expression as written (canonical form), for messages.
    #[must_use]
    pub fn display(&self) -> Cow<'_, str> {
        match self {
            FieldExpr::Field { name, arg: None, .. } => Cow::Borrowed(name),
            FieldExpr::Field { name, arg: Some(a), .. } => Cow::Owned(format!("{name}[{a}]")),
            FieldExpr::Transform { tr, args, arg, .. } => {
                let inner = args.iter().map(|a| a.display().into_owned()).collect::<Vec<_>>().join(", ");
                let arg = arg.as_ref().map(|a| format!("[{a}]")).unwrap_or_default();
                Cow::Owned(format!("{}({inner}){arg}", tr.as_str()))
            }
            FieldExpr::Literal { value, .. } => Cow::Owned(format!("{:?}", value.text)),
            FieldExpr::List { items, .. } => Cow::Owned(format!(
                "({})",
                items.iter().map(|a| a.display().into_owned()).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

/// Right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    /// `exists` has none.
    None,
    Value(Value),
    /// `(a, b)`, or a bare identifier (one value) after a list operator.
    List(Vec<Value>),
    /// `val(field)` or a transformer.
    Field(FieldExpr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub lhs: FieldExpr,
    pub op: Op,
    pub modifier: Option<ListModifier>,
    pub rhs: Rhs,
    /// Byte offset of the check in the condition, for diagnostics.
    pub pos: usize,
    /// The macro whose condition this check was written in, if any.
    pub origin: Option<std::sync::Arc<str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Macro { name: String, pos: usize },
    Check(Box<Check>),
}
