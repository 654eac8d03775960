//! Parsed (uncompiled) condition syntax tree.
//!
//! Strings are kept as written; typing against fields happens in `compile`.

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
    /// Operators spelled as words, longest first where one prefixes another.
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

    /// Parses an operator as written in an exception's `comps`.
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

    #[must_use]
    pub fn is_list_op(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }
}

/// `op oneof|anyof|allof (list)` modifiers on string operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListModifier {
    OneOf,
    AnyOf,
    AllOf,
}

/// Value transformers (`tolower(proc.name)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transformer {
    ToLower,
    ToUpper,
    B64,
    Basename,
    Len,
    Concat,
}

impl Transformer {
    pub const ALL: &'static [(&'static str, Transformer)] = &[
        ("tolower", Transformer::ToLower),
        ("toupper", Transformer::ToUpper),
        ("b64", Transformer::B64),
        ("basename", Transformer::Basename),
        ("len", Transformer::Len),
        ("concat", Transformer::Concat),
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        Transformer::ALL.iter().find(|(_, t)| *t == self).map_or("?", |(n, _)| n)
    }
}

/// A field reference, possibly wrapped in transformers.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldExpr {
    Field { name: String, arg: Option<String>, pos: usize },
    Transform { tr: Transformer, args: Vec<FieldExpr>, pos: usize },
}

impl FieldExpr {
    #[must_use]
    pub fn pos(&self) -> usize {
        match self {
            FieldExpr::Field { pos, .. } | FieldExpr::Transform { pos, .. } => *pos,
        }
    }
}

/// Right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    /// `exists` has none.
    None,
    Value(String),
    List(Vec<String>),
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
