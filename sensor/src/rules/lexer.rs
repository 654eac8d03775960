//! Character-level scanning primitives for the condition language.
//!
//! Falco's grammar is context dependent (a bare string may contain `<`, a
//! field may not), so instead of a token stream the parser asks the cursor
//! for the token kind it expects at each point, exactly like libsinsp does.

/// Falco's blank set: space, \t, \b, \r, \n (plus \f, harmless).
#[must_use]
pub fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\x08' | b'\r' | b'\n' | b'\x0c')
}

/// Why a quoted string could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteError {
    Unterminated,
    BadEscape(char),
}

pub struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[must_use]
    pub fn new(src: &'a str) -> Self {
        Self { src, pos: 0 }
    }

    #[must_use]
    pub fn src(&self) -> &'a str {
        self.src
    }

    #[must_use]
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn reset(&mut self, pos: usize) {
        self.pos = pos;
    }

    #[must_use]
    pub fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    #[must_use]
    pub fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    #[must_use]
    pub fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    /// Skips blanks; returns whether any were skipped.
    pub fn skip_blanks(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes `s` if the input continues with it.
    pub fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Consumes keyword `kw` only when it is followed by a blank or one of
    /// `also` (so `not_a_macro` is not the keyword `not`). The follower is
    /// not consumed.
    pub fn eat_keyword(&mut self, kw: &str, also: &[u8]) -> bool {
        let rest = self.rest().as_bytes();
        if rest.starts_with(kw.as_bytes()) {
            match rest.get(kw.len()) {
                Some(&b) if is_blank(b) || also.contains(&b) => {
                    self.pos += kw.len();
                    true
                }
                None if also.contains(&0) => {
                    self.pos += kw.len();
                    true
                }
                _ => false,
            }
        } else {
            false
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.src[start..self.pos]
    }

    /// `[a-zA-Z]+[a-zA-Z0-9_]*`
    pub fn identifier(&mut self) -> Option<&'a str> {
        if !self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        Some(self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_'))
    }

    /// `Identifier(\.Identifier)+` — a field name needs at least one dot.
    pub fn field_name(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.identifier()?;
        let mut dots = 0;
        loop {
            let save = self.pos;
            if self.eat(".") && self.identifier().is_some() {
                dots += 1;
            } else {
                self.pos = save;
                break;
            }
        }
        if dots == 0 {
            self.pos = start;
            return None;
        }
        Some(&self.src[start..self.pos])
    }

    /// A field argument body: a quoted string or `[^][\"'\s]+`.
    ///
    /// # Errors
    /// An unterminated or badly escaped quoted string.
    pub fn field_arg(&mut self) -> Result<Option<String>, QuoteError> {
        if let Some(q) = self.quoted()? {
            return Ok(Some(q));
        }
        let s = self.take_while(|b| !matches!(b, b'[' | b']' | b'"' | b'\'') && !is_blank(b));
        Ok((!s.is_empty()).then(|| s.to_string()))
    }

    /// `[^()"'\s=,]+`
    pub fn bare_str(&mut self) -> Option<&'a str> {
        let s = self.take_while(|b| !matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !is_blank(b));
        (!s.is_empty()).then_some(s)
    }

    /// `[+\-]?[0-9]+\.?[0-9]*([eE][+\-][0-9]+)?` or `0[xX][0-9a-fA-F]+`.
    pub fn number(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let b = self.src.as_bytes();
        if self.rest().len() > 2
            && b[self.pos] == b'0'
            && matches!(b[self.pos + 1], b'x' | b'X')
            && b[self.pos + 2].is_ascii_hexdigit()
        {
            self.pos += 2;
            self.take_while(|c| c.is_ascii_hexdigit());
            return Some(&self.src[start..self.pos]);
        }
        if matches!(self.peek(), Some(b'+' | b'-')) {
            self.pos += 1;
        }
        if self.take_while(|c| c.is_ascii_digit()).is_empty() {
            self.pos = start;
            return None;
        }
        if self.eat(".") {
            self.take_while(|c| c.is_ascii_digit());
        }
        let save = self.pos;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
                if self.take_while(|c| c.is_ascii_digit()).is_empty() {
                    self.pos = save;
                }
            } else {
                self.pos = save;
            }
        }
        Some(&self.src[start..self.pos])
    }

    /// A `"..."` or `'...'` string with Falco's escapes unescaped.
    ///
    /// # Errors
    /// Unterminated string or an unknown escape.
    pub fn quoted(&mut self) -> Result<Option<String>, QuoteError> {
        let Some(q @ (b'"' | b'\'')) = self.peek() else { return Ok(None) };
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c as u32 == u32::from(q) => {
                    self.pos += i + 1;
                    return Ok(Some(out));
                }
                '\\' => {
                    let Some((_, e)) = chars.next() else { break };
                    out.push(match e {
                        'b' => '\x08',
                        'f' => '\x0c',
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        ' ' => ' ',
                        '\\' | '"' | '\'' => e,
                        other => {
                            self.pos = start;
                            return Err(QuoteError::BadEscape(other));
                        }
                    });
                }
                c => out.push(c),
            }
        }
        self.pos = start;
        Err(QuoteError::Unterminated)
    }
}
