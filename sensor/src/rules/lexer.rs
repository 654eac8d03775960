//! Character-level scanning primitives for the condition language.
//!
//! Falco's grammar is context dependent (a bare string may contain `<`, a
//! field may not), so instead of a token stream the parser asks the cursor
//! for the token kind it expects at each point, as libsinsp's parser does.
//! Each token follows libsinsp's definition (`filter/parser.h`, tokens
//! section) and its matching rules: literal tokens are prefix matches,
//! pattern tokens are longest matches anchored at the cursor.

use std::fmt;

/// The blanks libsinsp skips between tokens: space, `\t`, `\b`, `\r`, `\n`.
/// (Not `\f` nor `\v`: a condition containing them fails to parse.)
#[must_use]
pub fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\x08' | b'\r' | b'\n')
}

/// POSIX `[[:space:]]`, which bounds bare strings, field arguments and the
/// `not` keyword: space, `\t`, `\n`, `\v`, `\f`, `\r` (not `\b`).
#[must_use]
pub fn is_posix_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Why a quoted string could not be unescaped (libsinsp `unescape_str`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscapeError {
    /// `\"` inside a '-quoted string, or `\'` inside a "-quoted one.
    WrongQuote(u8),
    TruncatedHex,
    BadHex(String),
    Unsupported(u8),
}

impl fmt::Display for EscapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EscapeError::WrongQuote(b'"') => f.write_str("invalid \\\" escape in '-quoted string"),
            EscapeError::WrongQuote(_) => f.write_str("invalid \\' escape in \"-quoted string"),
            EscapeError::TruncatedHex => f.write_str("truncated hex char escape sequence"),
            EscapeError::BadHex(s) => write!(f, "invalid hex char escape sequence: {s}"),
            EscapeError::Unsupported(b) if b.is_ascii_graphic() || *b == b' ' => {
                write!(f, "unsupported string escape sequence: \\{}", char::from(*b))
            }
            EscapeError::Unsupported(b) => write!(f, "unsupported string escape sequence: \\x{b:02x}"),
        }
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Unescapes a quoted token, delimiters included. Known escapes: `\b \f \n
/// \r \t \\ \/`, the string's own quote, `\xHH` (any byte), and the legacy
/// `\ ` which (as in libsinsp) yields a backslash. Anything else is an error.
///
/// # Errors
/// An escape libsinsp rejects.
pub fn unescape(token: &[u8]) -> Result<Vec<u8>, EscapeError> {
    let Some((&quote, _)) = token.split_first() else { return Ok(Vec::new()) };
    // Index of the closing delimiter.
    let end = token.len().saturating_sub(1);
    let mut out = Vec::with_capacity(end);
    let mut idx = 1;
    while idx < end {
        let byte = token[idx];
        if byte != b'\\' {
            out.push(byte);
            idx += 1;
            continue;
        }
        idx += 1;
        if idx >= end {
            break;
        }
        let esc = token[idx];
        match esc {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b' ' | b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'"' | b'\'' if esc != quote => return Err(EscapeError::WrongQuote(esc)),
            b'"' | b'\'' => out.push(esc),
            b'x' => {
                if idx + 2 >= end {
                    return Err(EscapeError::TruncatedHex);
                }
                let (Some(high), Some(low)) = (hex_digit(token[idx + 1]), hex_digit(token[idx + 2])) else {
                    let digits = String::from_utf8_lossy(&token[idx + 1..idx + 3]).into_owned();
                    return Err(EscapeError::BadHex(digits));
                };
                out.push(high << 4 | low);
                idx += 2;
            }
            other => return Err(EscapeError::Unsupported(other)),
        }
        idx += 1;
    }
    Ok(out)
}

/// A quoted string that was found but could not be unescaped; the cursor
/// has moved past it (as libsinsp's does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteError(pub EscapeError);

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

    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes().get(self.pos..).unwrap_or(&[])
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
    pub fn blank(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes `s` if the input continues with it (a prefix match).
    pub fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Consumes word operator `kw` only when a blank follows it; the blanks
    /// are consumed too (libsinsp's operators spelled with a trailing space).
    pub fn eat_word(&mut self, kw: &str) -> bool {
        let save = self.pos;
        if self.eat(kw) && self.blank() {
            return true;
        }
        self.pos = save;
        false
    }

    /// `not[[:space:]]+`
    pub fn not_blank(&mut self) -> bool {
        let b = self.bytes();
        if b.starts_with(b"not") && b.get(3).copied().is_some_and(is_posix_space) {
            self.pos += 3;
            self.take_while(is_posix_space);
            true
        } else {
            false
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let b = self.src.as_bytes();
        while b.get(self.pos).copied().is_some_and(&f) {
            self.pos += 1;
        }
        // Every predicate used stops only at ASCII bytes or the end, so the
        // slice lies on char boundaries.
        self.src.get(start..self.pos).unwrap_or("")
    }

    /// `[a-zA-Z]+[a-zA-Z0-9_]*`
    pub fn identifier(&mut self) -> Option<&'a str> {
        if !self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        Some(self.take_while(|b| b.is_ascii_alphanumeric() || b == b'_'))
    }

    /// Whether an identifier starts here (without consuming it).
    #[must_use]
    pub fn identifier_follows(&self) -> bool {
        self.peek().is_some_and(|b| b.is_ascii_alphabetic())
    }

    /// `Identifier(\.Identifier)+`: a field name needs at least one dot.
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
        self.src.get(start..self.pos)
    }

    /// `[^][\"'[:space:]]+`, a bare field argument.
    pub fn field_arg_bare(&mut self) -> Option<&'a str> {
        let s = self.take_while(|b| !matches!(b, b'[' | b']' | b'"' | b'\'') && !is_posix_space(b));
        (!s.is_empty()).then_some(s)
    }

    /// `[^()"'[:space:]=,]+`
    pub fn bare_str(&mut self) -> Option<&'a str> {
        let s = self.take_while(|b| !matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !is_posix_space(b));
        (!s.is_empty()).then_some(s)
    }

    /// `0[xX][0-9a-fA-F]+`
    pub fn hex_num(&mut self) -> Option<&'a str> {
        let b = self.bytes();
        if b.len() > 2 && b[0] == b'0' && matches!(b[1], b'x' | b'X') && b[2].is_ascii_hexdigit() {
            let start = self.pos;
            self.pos += 2;
            self.take_while(|c| c.is_ascii_hexdigit());
            return self.src.get(start..self.pos);
        }
        None
    }

    /// `[+\-]?[0-9]+[\.]?[0-9]*([eE][+\-][0-9]+)?`, longest match.
    pub fn num(&mut self) -> Option<&'a str> {
        let start = self.pos;
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
        self.src.get(start..self.pos)
    }

    /// A `"..."` or `'...'` string, unescaped. The closing quote is the first
    /// one not preceded by a backslash (so `"a\\"` does not end at its last
    /// quote, exactly as in libsinsp). `Ok(None)` when no quoted string starts
    /// here or it is unterminated (the cursor is left where it was).
    ///
    /// # Errors
    /// The string is terminated but contains an escape libsinsp rejects; the
    /// cursor is then past the closing quote.
    pub fn quoted(&mut self) -> Result<Option<Vec<u8>>, QuoteError> {
        let Some(q @ (b'"' | b'\'')) = self.peek() else { return Ok(None) };
        let b = self.src.as_bytes();
        let start = self.pos;
        let mut prev = b'\\';
        let mut i = start;
        while let Some(&c) = b.get(i) {
            if c == 0 {
                break;
            }
            if c == q && prev != b'\\' {
                self.pos = i + 1;
                return unescape(&b[start..=i]).map(Some).map_err(QuoteError);
            }
            prev = c;
            i += 1;
        }
        Ok(None)
    }
}

/// 1-based line and column of byte `offset`, counted as libsinsp does (every
/// `\r` or `\n` starts a new line; columns count bytes).
#[must_use]
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut col = 1;
    for &b in src.as_bytes().iter().take(offset) {
        if b == b'\r' || b == b'\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Result<Vec<u8>, EscapeError> {
        unescape(s.as_bytes())
    }

    // libs userspace/libsinsp/test/filter_escaping.ut.cpp (hex_escape_*,
    // ws_chars) and escaping.cpp `unescape_str`.
    #[test]
    fn unescape_like_libsinsp() {
        assert_eq!(q(r#""\x41""#).unwrap(), b"A");
        assert_eq!(q(r#""\x7f""#).unwrap(), [0x7f]);
        assert_eq!(q(r#""\xff\xfe""#).unwrap(), [0xff, 0xfe]);
        assert_eq!(q(r#""a\xffb""#).unwrap(), [b'a', 0xff, b'b']);
        assert_eq!(q(r#""\xAb""#).unwrap(), [0xab]);
        assert_eq!(q(r#""a\x00b""#).unwrap(), b"a\0b");
        assert_eq!(q(r#""\x413""#).unwrap(), b"A3");
        for bad in [r#""\x""#, r#""\xf""#, r#""a\xf""#] {
            assert_eq!(q(bad), Err(EscapeError::TruncatedHex), "{bad}");
        }
        for bad in [r#""\xgg""#, r#""\xfg""#, r#""\x g""#, r#""\x-1""#, r#""\x+a""#] {
            assert!(matches!(q(bad), Err(EscapeError::BadHex(_))), "{bad}");
        }
        assert_eq!(q(r#""\b\f\n\r\t""#).unwrap(), b"\x08\x0c\n\r\t");
        assert_eq!(q(r#""a\\b""#).unwrap(), b"a\\b");
        assert_eq!(q(r#""a\/b""#).unwrap(), b"a/b");
        // The legacy `\ ` escape yields a backslash, not a space.
        assert_eq!(q(r#""a\ b""#).unwrap(), b"a\\b");
        assert_eq!(q(r#""say \"hi\"""#).unwrap(), b"say \"hi\"");
        assert_eq!(q(r"'it\'s'").unwrap(), b"it's");
        assert_eq!(q(r#"'\"'"#), Err(EscapeError::WrongQuote(b'"')));
        assert_eq!(q(r#""\'""#), Err(EscapeError::WrongQuote(b'\'')));
        assert_eq!(q(r#""\q""#), Err(EscapeError::Unsupported(b'q')));
        assert_eq!(EscapeError::Unsupported(b'q').to_string(), "unsupported string escape sequence: \\q");
    }

    #[test]
    fn quoted_ends_at_first_unescaped_quote() {
        let mut c = Cursor::new(r#""a\\"b" rest"#);
        // `\\"` does not close the string: the quote after `\\` is escaped.
        assert_eq!(c.quoted().unwrap().unwrap(), b"a\\\"b");
        assert_eq!(c.rest(), " rest");
        let mut c = Cursor::new(r#""unterminated"#);
        assert_eq!(c.quoted(), Ok(None));
        assert_eq!(c.pos(), 0);
        let mut c = Cursor::new("\"bad \\q\" x");
        assert!(c.quoted().is_err());
        assert_eq!(c.rest(), " x");
    }

    #[test]
    fn tokens() {
        let mut c = Cursor::new("-0.1222e+10x");
        assert_eq!(c.num(), Some("-0.1222e+10"));
        let mut c = Cursor::new("1e10");
        assert_eq!(c.num(), Some("1"));
        let mut c = Cursor::new("0XaB00AB.");
        assert_eq!(c.hex_num(), Some("0XaB00AB"));
        let mut c = Cursor::new("a.b.1");
        assert_eq!(c.field_name(), Some("a.b"));
        let mut c = Cursor::new("not\x0b(");
        assert!(c.not_blank());
        let mut c = Cursor::new("not\x08a");
        assert!(!c.not_blank());
        let mut c = Cursor::new("a\x08b c");
        assert_eq!(c.bare_str(), Some("a\x08b"));
        assert_eq!(line_col("a\r\nb", 3), (3, 1));
    }
}
