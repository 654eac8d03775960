//! Recursive-descent parser for Falco conditions, following libsinsp's
//! grammar (`filter/parser.h`) production by production, so that exactly the
//! conditions libsinsp accepts parse here, with the same tree:
//!
//! - `and`/`or` must be followed by a blank or `(`; `x or(y) and z` is
//!   rejected because `or(` takes only the parenthesised operand.
//! - word operators (`contains`, `glob`...) need a blank after them; `exists`
//!   and the list operators do not (`x.y existsand m`, `x.y in(a)`).
//! - `oneof`/`anyof`/`allof` are modifiers only when a blank and a list (or a
//!   list name) follow, and that name is not `and`/`or`/`not`.
//! - recursion is bounded like libsinsp's `depth_guard` (each production
//!   counts one level; Falco sets the limit to 1000), and `and`/`or` chains
//!   and `not` runs are loops, so they have no length limit.

use std::cell::Cell;
use std::fmt;

use thiserror::Error;

use super::ast::{Check, Expr, FieldExpr, ListModifier, Op, Rhs, Transformer, Value};
use super::lexer::{Cursor, QuoteError, line_col};

/// Falco's parser depth limit (`rule_loader_compiler.cpp`: `set_max_depth(1000)`).
pub const MAX_DEPTH: u32 = 1000;

const OPERATORS: &str = "'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', \
     'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'";
const TRANSFORMERS: &str = "'val', 'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message} at offset {offset} (line {line}, column {column}){near}")]
pub struct ParseError {
    /// Byte offset of the parser's cursor when the error was detected.
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    pub message: String,
    near: Near,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Near(String);

impl fmt::Display for Near {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() { f.write_str(" (end of condition)") } else { write!(f, " near '{}'", self.0) }
    }
}

/// Parses a whole condition.
///
/// # Errors
/// Any input libsinsp rejects, with the position where it was detected.
pub fn parse(cond: &str) -> Result<Expr, ParseError> {
    parse_with_depth(cond, MAX_DEPTH)
}

/// [`parse`] with another recursion limit (libsinsp's own default is 100).
///
/// # Errors
/// As [`parse`].
pub fn parse_with_depth(cond: &str, max_depth: u32) -> Result<Expr, ParseError> {
    let depth = Cell::new(0);
    let mut p = Parser { c: Cursor::new(cond), depth: &depth, max_depth, last: (0, 0) };
    if cond.is_empty() {
        return Err(p.err("filter input string is empty"));
    }
    let e = p.parse_or()?;
    if !p.c.at_end() {
        let last = cond.get(p.last.0..p.last.1).unwrap_or_default();
        return Err(p.err(format!("unexpected token after '{last}', expecting 'or', 'and'")));
    }
    Ok(e)
}

/// Parses a field or a transformer at the start of `text` and returns it
/// with the number of bytes it spans (libsinsp `parse_field_or_transformer`,
/// used for output formats such as `%getopt(proc.args, "t:")[t]`).
///
/// # Errors
/// No field or transformer starts `text`, or it is malformed.
pub fn parse_field_or_transformer(text: &str) -> Result<(FieldExpr, usize), ParseError> {
    let depth = Cell::new(0);
    let mut p = Parser { c: Cursor::new(text), depth: &depth, max_depth: MAX_DEPTH, last: (0, 0) };
    let _g = p.guard()?;
    if let Some(name) = p.lex_with(Cursor::field_name) {
        let f = p.parse_field_remainder(name, 0)?;
        return Ok((f, p.c.pos()));
    }
    if let Some(tr) = p.lex_transformer_type() {
        p.c.blank();
        let f = p.parse_transformer_remainder(tr, 0)?;
        return Ok((f, p.c.pos()));
    }
    Err(p.err("expected a field or a transformer"))
}

/// One recursion level; released on drop.
struct Guard<'d>(&'d Cell<u32>);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

/// What a string-operator right-hand side turned out to be.
enum StrRhs {
    Value(Value),
    Field(FieldExpr),
}

struct Parser<'a> {
    c: Cursor<'a>,
    depth: &'a Cell<u32>,
    max_depth: u32,
    /// Span of the last token read, for "unexpected token after" messages.
    last: (usize, usize),
}

type R<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    fn err(&self, message: impl Into<String>) -> ParseError {
        let mut message = message.into();
        // Name the likely cause: a quote that never closes.
        if matches!(self.c.peek(), Some(b'"' | b'\'')) {
            let mut probe = Cursor::new(self.c.src());
            probe.reset(self.c.pos());
            if probe.quoted() == Ok(None) {
                message = format!("unterminated quoted string: {message}");
            }
        }
        let offset = self.c.pos();
        let (line, column) = line_col(self.c.src(), offset);
        let near = self.c.src().get(offset..).map(|s| s.chars().take(24).collect()).unwrap_or_default();
        ParseError { offset, line, column, message, near: Near(near) }
    }

    fn quote_err(&self, e: &QuoteError) -> ParseError {
        self.err(e.0.to_string())
    }

    fn guard(&self) -> R<Guard<'a>> {
        let v = self.depth.get() + 1;
        self.depth.set(v);
        let g = Guard(self.depth);
        if v >= self.max_depth {
            return Err(self.err(format!("exceeded max depth limit of {}", self.max_depth)));
        }
        Ok(g)
    }

    /// Records the token that ended at the cursor and started at `start`.
    fn token(&mut self, start: usize) {
        self.last = (start, self.c.pos());
    }

    fn lex(&mut self, s: &str) -> bool {
        let start = self.c.pos();
        let ok = self.c.eat(s);
        if ok {
            self.token(start);
        }
        ok
    }

    fn lex_word(&mut self, s: &str) -> bool {
        let start = self.c.pos();
        let ok = self.c.eat_word(s);
        if ok {
            self.last = (start, start + s.len());
        }
        ok
    }

    fn lex_with(&mut self, f: impl FnOnce(&mut Cursor<'a>) -> Option<&'a str>) -> Option<&'a str> {
        let start = self.c.pos();
        let s = f(&mut self.c)?;
        self.token(start);
        Some(s)
    }

    fn lex_quoted(&mut self) -> R<Option<Value>> {
        let start = self.c.pos();
        match self.c.quoted() {
            Ok(Some(bytes)) => {
                self.token(start);
                Ok(Some(Value::from_bytes(bytes)))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(self.quote_err(&e)),
        }
    }

    fn lex_number(&mut self) -> Option<&'a str> {
        self.lex_with(Cursor::hex_num).or_else(|| self.lex_with(Cursor::num))
    }

    fn lex_transformer_type(&mut self) -> Option<Transformer> {
        let rest = self.c.rest();
        let &(name, tr) = Transformer::ALL
            .iter()
            .find(|(n, _)| rest.starts_with(n) && rest.as_bytes().get(n.len()) == Some(&b'('))?;
        let start = self.c.pos();
        self.c.reset(start + name.len() + 1);
        self.token(start);
        Some(tr)
    }

    fn parse_or(&mut self) -> R<Expr> {
        let _g = self.guard()?;
        self.c.blank();
        let mut children = vec![self.parse_and()?];
        self.c.blank();
        while self.lex("or") {
            let child = if self.c.blank() {
                self.parse_and()?
            } else if self.lex("(") {
                self.parse_embedded_remainder()?
            } else {
                return Err(self.err("expected blank or '(' after 'or'"));
            };
            children.push(child);
            self.c.blank();
        }
        Ok(one_or(children, Expr::Or))
    }

    fn parse_and(&mut self) -> R<Expr> {
        let _g = self.guard()?;
        self.c.blank();
        let mut children = vec![self.parse_not()?];
        self.c.blank();
        while self.lex("and") {
            let child = if self.c.blank() {
                self.parse_not()?
            } else if self.lex("(") {
                self.parse_embedded_remainder()?
            } else {
                return Err(self.err("expected blank or '(' after 'and'"));
            };
            children.push(child);
            self.c.blank();
        }
        Ok(one_or(children, Expr::And))
    }

    fn parse_not(&mut self) -> R<Expr> {
        let _g = self.guard()?;
        self.c.blank();
        let mut negated = false;
        loop {
            let start = self.c.pos();
            if !self.c.not_blank() {
                break;
            }
            self.token(start);
            negated = !negated;
        }
        let child = if self.lex("not(") {
            negated = !negated;
            self.parse_embedded_remainder()?
        } else {
            self.parse_check()?
        };
        Ok(if negated { Expr::Not(Box::new(child)) } else { child })
    }

    /// The rest of a parenthesised expression, after its `(`.
    fn parse_embedded_remainder(&mut self) -> R<Expr> {
        let _g = self.guard()?;
        self.c.blank();
        let child = self.parse_or()?;
        self.c.blank();
        if !self.lex(")") {
            return Err(self.err("expected a ')' token"));
        }
        Ok(child)
    }

    fn parse_check(&mut self) -> R<Expr> {
        let _g = self.guard()?;
        self.c.blank();
        let pos = self.c.pos();
        if self.lex("(") {
            return self.parse_embedded_remainder();
        }
        if let Some(name) = self.lex_with(Cursor::field_name) {
            let left = self.parse_field_remainder(name, pos)?;
            return self.parse_condition(left, pos);
        }
        if let Some(tr) = self.lex_transformer_type() {
            self.c.blank();
            let left = self.parse_transformer_remainder(tr, pos)?;
            return self.parse_condition(left, pos);
        }
        if let Some(name) = self.lex_with(Cursor::identifier) {
            return Ok(Expr::Macro { name: name.to_string(), pos });
        }
        Err(self.err("expected a '(' token, a field check, or an identifier"))
    }

    fn parse_field_remainder(&mut self, name: &str, pos: usize) -> R<FieldExpr> {
        let _g = self.guard()?;
        let arg = self.parse_optional_field_arg()?;
        Ok(FieldExpr::Field { name: name.to_string(), arg, pos })
    }

    fn parse_optional_field_arg(&mut self) -> R<Option<String>> {
        if !self.lex("[") {
            return Ok(None);
        }
        let arg = match self.lex_quoted()? {
            Some(v) => v.text,
            None => match self.lex_with(Cursor::field_arg_bare) {
                Some(s) => s.to_string(),
                None => return Err(self.err("expected a valid field argument: a quoted string or a bare string")),
            },
        };
        if !self.lex("]") {
            return Err(self.err("expected a ']' token"));
        }
        Ok(Some(arg))
    }

    /// `arg (',' arg)* ')' ('[' FieldArg ']')?` after `name(`.
    fn parse_transformer_remainder(&mut self, tr: Transformer, pos: usize) -> R<FieldExpr> {
        let _g = self.guard()?;
        self.c.blank();
        let mut args = Vec::new();
        loop {
            args.push(self.parse_transformer_arg()?);
            self.c.blank();
            if !self.lex(",") {
                break;
            }
        }
        self.c.blank();
        if !self.lex(")") {
            return Err(self.err("expected a ')' token closing the transformer"));
        }
        let arg = self.parse_optional_field_arg()?;
        Ok(FieldExpr::Transform { tr, args, arg, pos })
    }

    /// A transformer, field, quoted string, number or `( ... )` list.
    fn parse_transformer_arg(&mut self) -> R<FieldExpr> {
        let _g = self.guard()?;
        self.c.blank();
        let pos = self.c.pos();
        if let Some(n) = self.lex_number() {
            return Ok(FieldExpr::Literal { value: n.into(), pos });
        }
        if let Some(value) = self.lex_quoted()? {
            return Ok(FieldExpr::Literal { value, pos });
        }
        if self.lex("(") {
            return self.parse_transformer_list(pos);
        }
        if let Some(tr) = self.lex_transformer_type() {
            return self.parse_transformer_remainder(tr, pos);
        }
        if let Some(name) = self.lex_with(Cursor::field_name) {
            return self.parse_field_remainder(name, pos);
        }
        Err(self
            .err("expected field transformer argument: field, transformer, quoted string, number, or transformer list"))
    }

    /// The rest of a transformer list argument, after its `(`.
    fn parse_transformer_list(&mut self, pos: usize) -> R<FieldExpr> {
        let mut items = Vec::new();
        self.c.blank();
        if self.lex(")") {
            return Ok(FieldExpr::List { items, pos });
        }
        items.push(self.parse_transformer_list_arg()?);
        self.c.blank();
        while self.lex(",") {
            self.c.blank();
            items.push(self.parse_transformer_list_arg()?);
            self.c.blank();
        }
        if !self.lex(")") {
            return Err(self.err("expected ')'"));
        }
        Ok(FieldExpr::List { items, pos })
    }

    fn parse_transformer_list_arg(&mut self) -> R<FieldExpr> {
        let pos = self.c.pos();
        if let Some(name) = self.lex_with(Cursor::field_name) {
            return self.parse_field_remainder(name, pos);
        }
        if let Some(tr) = self.lex_transformer_type() {
            self.c.blank();
            return self.parse_transformer_remainder(tr, pos);
        }
        if let Some(value) = self.lex_quoted()? {
            return Ok(FieldExpr::Literal { value, pos });
        }
        if let Some(n) = self.lex_number() {
            return Ok(FieldExpr::Literal { value: n.into(), pos });
        }
        Err(self.err("expected transformer list argument: field, transformer, quoted string, or number"))
    }

    fn lex_num_op(&mut self) -> Option<Op> {
        [("<=", Op::Le), ("<", Op::Lt), (">=", Op::Ge), (">", Op::Gt)]
            .into_iter()
            .find(|(s, _)| self.lex(s))
            .map(|x| x.1)
    }

    /// Returns the operator and whether it is spelled as a word.
    fn lex_str_op(&mut self) -> Option<(Op, bool)> {
        if let Some((_, op)) = [("==", Op::Eq), ("=", Op::Eq), ("!=", Op::Ne)].into_iter().find(|(s, _)| self.lex(s)) {
            return Some((op, false));
        }
        Op::WORD_STR_OPS.iter().find(|(s, _)| self.lex_word(s)).map(|(_, op)| (*op, true))
    }

    fn lex_modifier(&mut self) -> Option<ListModifier> {
        ListModifier::ALL.iter().find(|(s, _)| self.lex_word(s)).map(|(_, m)| *m)
    }

    /// `and`, `or` or `not` follows as a whole word.
    fn bool_keyword_follows(&self) -> bool {
        let b = self.c.rest().as_bytes();
        ["and", "or", "not"]
            .iter()
            .any(|kw| b.starts_with(kw.as_bytes()) && b.get(kw.len()).is_none_or(|c| !c.is_ascii_alphanumeric()))
    }

    fn parse_condition(&mut self, lhs: FieldExpr, pos: usize) -> R<Expr> {
        let _g = self.guard()?;
        let mk = |op, modifier, rhs| Ok(Expr::Check(Box::new(Check { lhs, op, modifier, rhs, pos, origin: None })));
        self.c.blank();
        if self.lex("exists") {
            return mk(Op::Exists, None, Rhs::None);
        }
        self.c.blank();
        if let Some(op) = self.lex_num_op() {
            return mk(op, None, self.parse_num_value_or_transformer()?);
        }
        if let Some((op, word)) = self.lex_str_op() {
            let had_blank = word || self.c.blank();
            let (save, last) = (self.c.pos(), self.last);
            if had_blank
                && let Some(m) = self.lex_modifier()
                && (self.c.peek() == Some(b'(') || self.c.identifier_follows())
                && !self.bool_keyword_follows()
            {
                return mk(op, Some(m), Rhs::List(self.parse_list_value()?));
            }
            self.c.reset(save);
            self.last = last;
            return mk(
                op,
                None,
                match self.parse_str_value_or_transformer(false)? {
                    StrRhs::Value(v) => Rhs::Value(v),
                    StrRhs::Field(f) => Rhs::Field(f),
                },
            );
        }
        if let Some(&(_, op)) = Op::LIST_OPS.iter().find(|(s, _)| self.lex(s)) {
            return mk(op, None, self.parse_list_value_or_transformer()?);
        }
        Err(self.err(format!("expected a valid check operator: one of {OPERATORS}")))
    }

    fn parse_num_value_or_transformer(&mut self) -> R<Rhs> {
        let _g = self.guard()?;
        self.c.blank();
        if let Some(f) = self.try_parse_transformer_or_val()? {
            return Ok(Rhs::Field(f));
        }
        if let Some(n) = self.lex_number() {
            return Ok(Rhs::Value(n.into()));
        }
        Err(self.err(format!("expected a number value or a field with a valid transformer: {TRANSFORMERS}")))
    }

    fn parse_str_value_or_transformer(&mut self, no_transformer: bool) -> R<StrRhs> {
        let _g = self.guard()?;
        self.c.blank();
        if !no_transformer && let Some(f) = self.try_parse_transformer_or_val()? {
            return Ok(StrRhs::Field(f));
        }
        if let Some(v) = self.lex_quoted()? {
            return Ok(StrRhs::Value(v));
        }
        if let Some(s) = self.lex_with(Cursor::bare_str) {
            return Ok(StrRhs::Value(s.into()));
        }
        Err(self.err(if no_transformer {
            "expected a string value".to_string()
        } else {
            format!("expected a string value or a field with a valid transformer: {TRANSFORMERS}")
        }))
    }

    fn str_value(&mut self) -> R<Value> {
        match self.parse_str_value_or_transformer(true)? {
            StrRhs::Value(v) => Ok(v),
            StrRhs::Field(_) => Err(self.err("expected a string value")),
        }
    }

    /// `( value, ... )`. As in libsinsp, a first element that fails to parse
    /// (including a quoted string with a bad escape) leaves the list empty and
    /// only a `)` may follow.
    fn try_parse_list_expr(&mut self) -> R<Option<Vec<Value>>> {
        if !self.lex("(") {
            return Ok(None);
        }
        let mut values = Vec::new();
        self.c.blank();
        if let Ok(v) = self.str_value() {
            values.push(v);
            self.c.blank();
            while self.lex(",") {
                values.push(self.str_value()?);
                self.c.blank();
            }
        }
        if !self.lex(")") {
            return Err(self.err("expected a ')' token"));
        }
        Ok(Some(values))
    }

    /// After a modifier: a list, or a list name (kept as a single value).
    fn parse_list_value(&mut self) -> R<Vec<Value>> {
        let _g = self.guard()?;
        self.c.blank();
        if let Some(l) = self.try_parse_list_expr()? {
            return Ok(l);
        }
        if let Some(id) = self.lex_with(Cursor::identifier) {
            return Ok(vec![id.into()]);
        }
        Err(self.err("expected a list or an identifier"))
    }

    fn parse_list_value_or_transformer(&mut self) -> R<Rhs> {
        let _g = self.guard()?;
        self.c.blank();
        if let Some(l) = self.try_parse_list_expr()? {
            return Ok(Rhs::List(l));
        }
        if let Some(f) = self.try_parse_transformer_or_val()? {
            return Ok(Rhs::Field(f));
        }
        if let Some(id) = self.lex_with(Cursor::identifier) {
            return Ok(Rhs::List(vec![id.into()]));
        }
        Err(self.err(format!("expected a list, an identifier, or a field with a valid transformer: {TRANSFORMERS}")))
    }

    /// `val(field)` or a transformer, if one starts here.
    fn try_parse_transformer_or_val(&mut self) -> R<Option<FieldExpr>> {
        let _g = self.guard()?;
        self.c.blank();
        let pos = self.c.pos();
        if self.lex("val(") {
            self.c.blank();
            let field_pos = self.c.pos();
            let Some(name) = self.lex_with(Cursor::field_name) else {
                return Err(self.err("expected a field within 'val' transformer"));
            };
            let field = self.parse_field_remainder(name, field_pos)?;
            self.c.blank();
            if !self.lex(")") {
                return Err(self.err("expected a ')' token closing the transformer"));
            }
            if self.parse_optional_field_arg()?.is_some() {
                return Err(self.err("transformer 'val' does not support field arguments"));
            }
            return Ok(Some(field));
        }
        if let Some(tr) = self.lex_transformer_type() {
            self.c.blank();
            return self.parse_transformer_remainder(tr, pos).map(Some);
        }
        Ok(None)
    }
}

fn one_or(mut children: Vec<Expr>, mk: fn(Vec<Expr>) -> Expr) -> Expr {
    if children.len() == 1 { children.pop().unwrap_or_else(|| mk(Vec::new())) } else { mk(children) }
}
