//! Rule output formats: `%field`, `%field[arg]`, `%Nfield` (pad/truncate
//! to N chars), `%tolower(field)`; missing values render as `<NA>`.

use thiserror::Error;

use super::ast::FieldExpr;
use super::compile::{CompileError, Operand};
use super::eval::{FieldSource, FieldValue, extract};
use super::fields::FieldId;
use super::lexer::Cursor;
use super::time::{TimeZone, format_datetime, format_hms, format_hms_s, format_iso8601};

#[derive(Debug, Error)]
pub enum FormatError {
    #[error("format string cannot end with '%'")]
    TrailingPercent,
    #[error("at offset {offset}: expected a field name after '%'")]
    ExpectedField { offset: usize },
    #[error("at offset {offset}: {source}")]
    Field {
        offset: usize,
        #[source]
        source: CompileError,
    },
    #[error("at offset {offset}: unterminated transformer or field argument")]
    Unterminated { offset: usize },
}

#[derive(Debug, Clone)]
pub enum Token {
    Literal(String),
    Field {
        operand: Operand,
        /// Name as written, the key in JSON `output_fields`.
        key: String,
        width: Option<usize>,
        /// Transformer tokens are not listed in `output_fields`.
        is_transform: bool,
    },
}

#[derive(Debug, Clone)]
pub struct OutputFormat {
    pub tokens: Vec<Token>,
}

/// Parses a field token at `%`; tries the longest dotted prefix that is a
/// known field so `%proc.name.` style text keeps its trailing literal.
fn parse_field_token(text: &str, start: usize) -> Result<(Operand, String, usize, bool), FormatError> {
    let rest = &text[start..];
    // Transformer form: the condition parser reads `tr(...)[arg]`.
    if super::ast::Transformer::ALL.iter().any(|(n, _)| rest.starts_with(n) && rest[n.len()..].starts_with('(')) {
        let (fe, end) = super::parser::parse_field_or_transformer(rest).map_err(|e| {
            if e.offset >= rest.len() {
                FormatError::Unterminated { offset: start }
            } else {
                FormatError::ExpectedField { offset: start }
            }
        })?;
        let op = super::compile::Compiler::operand(&fe, &None)
            .map_err(|source| FormatError::Field { offset: start, source })?;
        return Ok((op, rest[..end].to_string(), start + end, true));
    }
    let mut cur = Cursor::new(rest);
    let name = cur.field_name().ok_or(FormatError::ExpectedField { offset: start })?;
    let mut candidates: Vec<&str> = vec![name];
    let mut n = name;
    while let Some(dot) = n.rfind('.') {
        n = &n[..dot];
        if n.contains('.') {
            candidates.push(n);
        }
    }
    let mut last_err = None;
    for cand in candidates {
        let mut end = cand.len();
        let mut arg = None;
        if rest[end..].starts_with('[') {
            let close = rest[end..].find(']').ok_or(FormatError::Unterminated { offset: start + end })?;
            arg = Some(rest[end + 1..end + close].to_string());
            end += close + 1;
        }
        let fe = FieldExpr::Field { name: cand.to_string(), arg, pos: 0 };
        match super::compile::Compiler::operand(&fe, &None) {
            Ok(op) => {
                let key = rest[..end].to_string();
                return Ok((op, key, start + end, false));
            }
            Err(e) => last_err = last_err.or(Some(e)),
        }
    }
    Err(FormatError::Field {
        offset: start,
        source: last_err.unwrap_or(CompileError::TooLarge { what: String::new() }),
    })
}

impl OutputFormat {
    /// # Errors
    /// Unknown fields, a trailing `%`, unterminated arguments.
    pub fn parse(text: &str) -> Result<OutputFormat, FormatError> {
        let mut tokens = Vec::new();
        let mut lit = String::new();
        let mut i = 0usize;
        let b = text.as_bytes();
        while i < b.len() {
            let Some(p) = text[i..].find('%') else {
                lit.push_str(&text[i..]);
                break;
            };
            lit.push_str(&text[i..i + p]);
            i += p + 1;
            if i >= b.len() {
                return Err(FormatError::TrailingPercent);
            }
            let wstart = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let width = text[wstart..i].parse::<usize>().ok();
            let (operand, key, next, is_transform) = parse_field_token(text, i)?;
            i = next;
            if !lit.is_empty() {
                tokens.push(Token::Literal(std::mem::take(&mut lit)));
            }
            if matches!(&operand, Operand::Field(f) if f.id == FieldId::ContainerInfo) {
                // Deprecated in Falco: replaced by an empty string.
                continue;
            }
            tokens.push(Token::Field { operand, key, width, is_transform });
        }
        if !lit.is_empty() {
            tokens.push(Token::Literal(lit));
        }
        Ok(OutputFormat { tokens })
    }

    /// Renders the message (without the time/priority prefix), times in UTC.
    pub fn render<E: FieldSource + ?Sized>(&self, ev: &E) -> String {
        self.render_in(ev, &TimeZone::UTC)
    }

    /// Renders the message with text times (`evt.time`...) in `tz`.
    pub fn render_in<E: FieldSource + ?Sized>(&self, ev: &E, tz: &TimeZone) -> String {
        let mut out = String::new();
        for t in &self.tokens {
            match t {
                Token::Literal(s) => out.push_str(s),
                Token::Field { operand, width, .. } => {
                    let v = extract(ev, operand);
                    let text = v.as_ref().map_or_else(|| "<NA>".into(), |v| render_text(operand, v, tz));
                    match width {
                        Some(w) => {
                            let mut n = 0usize;
                            for c in text.chars().take(*w) {
                                out.push(c);
                                n += 1;
                            }
                            for _ in n..*w {
                                out.push(' ');
                            }
                        }
                        None => out.push_str(&text),
                    }
                }
            }
        }
        out
    }

    /// Typed values for JSON `output_fields` (null when missing).
    pub fn fields_json<E: FieldSource + ?Sized>(&self, ev: &E, map: &mut serde_json::Map<String, serde_json::Value>) {
        for t in &self.tokens {
            if let Token::Field { operand, key, is_transform: false, .. } = t {
                let v = extract(ev, operand).map_or(serde_json::Value::Null, |v| match &v {
                    // List fields are arrays (libsinsp `tojson` on EPF_IS_LIST).
                    FieldValue::List(items) if operand.kind().list => items.iter().map(to_json).collect(),
                    _ => to_json(&v),
                });
                map.insert(key.clone(), v);
            }
        }
    }
}

/// Text rendering; time fields given as nanoseconds print as Falco's
/// clock strings (`evt.time` in `tz`, `evt.time.iso8601` in UTC).
fn render_text(o: &Operand, v: &FieldValue<'_>, tz: &TimeZone) -> String {
    if let (Operand::Field(f), FieldValue::U64(ns)) = (o, v) {
        match f.id {
            FieldId::EvtTime => return format_hms(*ns, tz),
            FieldId::EvtTimeS => return format_hms_s(*ns, tz),
            FieldId::EvtTimeIso8601 => return format_iso8601(*ns),
            FieldId::EvtDatetime => return format_datetime(*ns, tz, true),
            FieldId::EvtDatetimeS => return format_datetime(*ns, tz, false),
            _ => {}
        }
    }
    match v {
        // List values print as `(a,b)` (libsinsp `tostring` on EPF_IS_LIST);
        // ancestor fields without a level stay space-separated.
        FieldValue::List(items) if o.kind().list => {
            format!("({})", items.iter().map(|i| i.to_text().into_owned()).collect::<Vec<_>>().join(","))
        }
        _ => v.to_text().into_owned(),
    }
}

#[must_use]
pub fn to_json(v: &FieldValue<'_>) -> serde_json::Value {
    match v {
        FieldValue::U64(n) => serde_json::Value::from(*n),
        FieldValue::I64(n) => serde_json::Value::from(*n),
        FieldValue::Bool(b) => serde_json::Value::from(*b),
        other => serde_json::Value::from(other.to_text().into_owned()),
    }
}
