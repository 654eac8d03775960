//! Recursive-descent parser for Falco conditions (libsinsp `parser.h` EBNF).
//!
//! Nesting is bounded by [`MAX_DEPTH`] so hostile input errors out instead
//! of overflowing the stack; `and`/`or` chains and `not` runs are parsed
//! iteratively and therefore have no length limit besides input size.

use std::fmt;

use thiserror::Error;

use super::ast::{Check, Expr, FieldExpr, ListModifier, Op, Rhs, Transformer};
use super::lexer::{Cursor, QuoteError};

/// Maximum nesting of parentheses / transformers in one condition.
pub const MAX_DEPTH: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message} at offset {offset}{near}")]
pub struct ParseError {
    pub offset: usize,
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
/// Any syntax error, with the byte offset where it was detected.
pub fn parse(cond: &str) -> Result<Expr, ParseError> {
    let mut p = Parser { c: Cursor::new(cond) };
    p.c.skip_blanks();
    if p.c.at_end() {
        return Err(p.err("empty condition"));
    }
    let e = p.or_expr(0)?;
    p.c.skip_blanks();
    if !p.c.at_end() {
        return Err(p.err("unexpected token after expression, expecting 'and', 'or' or end of condition"));
    }
    Ok(e)
}

struct Parser<'a> {
    c: Cursor<'a>,
}

impl Parser<'_> {
    fn err(&self, message: impl Into<String>) -> ParseError {
        self.err_at(self.c.pos(), message)
    }

    fn err_at(&self, offset: usize, message: impl Into<String>) -> ParseError {
        let near = self.c.src().get(offset..).map(|s| s.chars().take(24).collect()).unwrap_or_default();
        ParseError { offset, message: message.into(), near: Near(near) }
    }

    fn quote_err(&self, e: &QuoteError) -> ParseError {
        match e {
            QuoteError::Unterminated => self.err("unterminated quoted string"),
            QuoteError::BadEscape(c) => self.err(format!("invalid escape sequence '\\{c}' in quoted string")),
        }
    }

    fn binary(&mut self, depth: usize, kw: &str, or: bool) -> Result<Expr, ParseError> {
        let first = if or { self.and_expr(depth)? } else { self.not_expr(depth)? };
        let mut children = vec![first];
        loop {
            let save = self.c.pos();
            self.c.skip_blanks();
            if self.c.eat_keyword(kw, b"(") {
                children.push(if or { self.and_expr(depth)? } else { self.not_expr(depth)? });
            } else {
                self.c.reset(save);
                break;
            }
        }
        Ok(if children.len() == 1 {
            children.pop().unwrap_or(Expr::And(Vec::new()))
        } else if or {
            Expr::Or(children)
        } else {
            Expr::And(children)
        })
    }

    fn or_expr(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("expression nested deeper than {MAX_DEPTH} levels")));
        }
        self.binary(depth, "or", true)
    }

    fn and_expr(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.binary(depth, "and", false)
    }

    fn not_expr(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut negations = 0usize;
        loop {
            self.c.skip_blanks();
            if self.c.eat_keyword("not", b"(") {
                negations += 1;
            } else {
                break;
            }
        }
        let e = self.check(depth)?;
        // `not not x` cancels out.
        Ok(if negations % 2 == 1 { Expr::Not(Box::new(e)) } else { e })
    }

    fn check(&mut self, depth: usize) -> Result<Expr, ParseError> {
        self.c.skip_blanks();
        let pos = self.c.pos();
        if self.c.eat("(") {
            let e = self.or_expr(depth + 1)?;
            self.c.skip_blanks();
            if !self.c.eat(")") {
                return Err(self.err("expected ')'"));
            }
            return Ok(e);
        }
        if let Some(lhs) = self.transformer(depth, false)? {
            return self.condition(depth, lhs, pos);
        }
        if let Some(lhs) = self.field()? {
            return self.condition(depth, lhs, pos);
        }
        if let Some(name) = self.c.identifier() {
            return Ok(Expr::Macro { name: name.to_string(), pos });
        }
        if self.c.at_end() {
            return Err(self.err("unexpected end of condition, expecting a field, a macro or '('"));
        }
        Err(self.err("expected a field, a macro, 'not' or '('"))
    }

    fn field(&mut self) -> Result<Option<FieldExpr>, ParseError> {
        let pos = self.c.pos();
        let Some(name) = self.c.field_name() else { return Ok(None) };
        let mut arg = None;
        if self.c.eat("[") {
            arg = Some(
                self.c
                    .field_arg()
                    .map_err(|e| self.quote_err(&e))?
                    .ok_or_else(|| self.err("expected a field argument"))?,
            );
            if !self.c.eat("]") {
                return Err(self.err("expected ']' after field argument"));
            }
        }
        Ok(Some(FieldExpr::Field { name: name.to_string(), arg, pos }))
    }

    /// `tolower(...)` etc.; with `allow_val` also `val(field)`.
    fn transformer(&mut self, depth: usize, allow_val: bool) -> Result<Option<FieldExpr>, ParseError> {
        let pos = self.c.pos();
        if allow_val && self.c.eat("val(") {
            self.c.skip_blanks();
            let f = self.field()?.ok_or_else(|| self.err("expected a field inside val()"))?;
            self.c.skip_blanks();
            if !self.c.eat(")") {
                return Err(self.err("expected ')' after val() argument"));
            }
            return Ok(Some(f));
        }
        for (name, unsupported) in [("join(", true), ("getopt(", true)] {
            if unsupported && self.c.rest().starts_with(name) {
                return Err(self.err(format!("transformer '{}' is not supported", &name[..name.len() - 1])));
            }
        }
        let Some(&(name, tr)) = Transformer::ALL.iter().find(|(n, _)| {
            let r = self.c.rest();
            r.starts_with(n) && r.as_bytes().get(n.len()) == Some(&b'(')
        }) else {
            return Ok(None);
        };
        if depth > MAX_DEPTH {
            return Err(self.err(format!("transformers nested deeper than {MAX_DEPTH} levels")));
        }
        self.c.reset(pos + name.len() + 1);
        let mut args = Vec::new();
        loop {
            self.c.skip_blanks();
            let a = match self.transformer(depth + 1, false)? {
                Some(a) => a,
                None => self.field()?.ok_or_else(|| self.err(format!("expected a field inside {name}()")))?,
            };
            args.push(a);
            self.c.skip_blanks();
            if self.c.eat(",") {
                continue;
            }
            if self.c.eat(")") {
                break;
            }
            return Err(self.err(format!("expected ',' or ')' in {name}()")));
        }
        if tr != Transformer::Concat && args.len() != 1 {
            return Err(self.err_at(pos, format!("transformer '{name}' takes exactly one argument")));
        }
        Ok(Some(FieldExpr::Transform { tr, args, pos }))
    }

    fn condition(&mut self, depth: usize, lhs: FieldExpr, pos: usize) -> Result<Expr, ParseError> {
        self.c.skip_blanks();
        let mk = |op, modifier, rhs| Ok(Expr::Check(Box::new(Check { lhs, op, modifier, rhs, pos, origin: None })));
        if self.c.eat_keyword("exists", b"()\0") {
            return mk(Op::Exists, None, Rhs::None);
        }
        for (s, op) in [("<=", Op::Le), ("<", Op::Lt), (">=", Op::Ge), (">", Op::Gt)] {
            if self.c.eat(s) {
                self.c.skip_blanks();
                if let Some(f) = self.transformer(depth, true)? {
                    return mk(op, None, Rhs::Field(f));
                }
                let n = self.c.number().ok_or_else(|| self.err("expected a number value"))?;
                return mk(op, None, Rhs::Value(n.to_string()));
            }
        }
        let sym = [("==", Op::Eq), ("=", Op::Eq), ("!=", Op::Ne)].into_iter().find(|(s, _)| self.c.eat(s));
        let str_op = match sym {
            Some((_, op)) => Some(op),
            None => Op::WORD_STR_OPS
                .iter()
                .rev() // longer spellings (icontains, bcontains...) are distinct prefixes anyway
                .find(|(s, _)| self.c.eat_keyword(s, b""))
                .map(|(_, op)| *op),
        };
        if let Some(op) = str_op {
            self.c.skip_blanks();
            for (m, modifier) in
                [("oneof", ListModifier::OneOf), ("anyof", ListModifier::AnyOf), ("allof", ListModifier::AllOf)]
            {
                if self.c.eat_keyword(m, b"(") {
                    self.c.skip_blanks();
                    let items = self.list_value()?;
                    return mk(op, Some(modifier), Rhs::List(items));
                }
            }
            if let Some(f) = self.transformer(depth, true)? {
                return mk(op, None, Rhs::Field(f));
            }
            return mk(op, None, Rhs::Value(self.str_value()?));
        }
        for &(s, op) in Op::LIST_OPS {
            if self.c.eat_keyword(s, b"(") {
                self.c.skip_blanks();
                if let Some(f) = self.transformer(depth, true)? {
                    return mk(op, None, Rhs::Field(f));
                }
                return mk(op, None, Rhs::List(self.list_value()?));
            }
        }
        if self.c.at_end() {
            return Err(self.err("unexpected end of condition, expecting an operator"));
        }
        Err(self.err("expected a valid operator"))
    }

    fn str_value(&mut self) -> Result<String, ParseError> {
        if let Some(q) = self.c.quoted().map_err(|e| self.quote_err(&e))? {
            return Ok(q);
        }
        self.c.bare_str().map(str::to_string).ok_or_else(|| self.err("expected a string value"))
    }

    fn list_value(&mut self) -> Result<Vec<String>, ParseError> {
        if !self.c.eat("(") {
            if self.c.identifier().is_some() {
                return Err(self.err("expected '(': list names must be defined lists"));
            }
            return Err(self.err("expected '(' to start a list of values"));
        }
        let mut items = Vec::new();
        self.c.skip_blanks();
        if self.c.eat(")") {
            return Ok(items);
        }
        loop {
            self.c.skip_blanks();
            items.push(self.str_value()?);
            self.c.skip_blanks();
            if self.c.eat(",") {
                continue;
            }
            if self.c.eat(")") {
                return Ok(items);
            }
            return Err(self.err("expected ',' or ')' in list of values"));
        }
    }
}
