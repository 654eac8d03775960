//! Run-time extraction of operands: fields, literals, lists and the
//! transformers over them, with libsinsp's semantics
//! (`sinsp_filter_transformers/*.cpp`, `sinsp_filtercheck_multivalue_transformer.cpp`):
//!
//! - `tolower`/`toupper` map ASCII letters only (C `tolower`), `basename`
//!   keeps what follows the last `/`, `len` counts bytes (up to a NUL) or
//!   list elements, `b64` decodes standard base64 with optional padding and
//!   makes the extraction fail on invalid input. On lists they map elements.
//! - `join(sep, list)` and `concat(a, b, ...)` build one string; a failing
//!   argument makes the whole extraction fail.
//! - `getopt(args, optstring)` scans an argv-like list like getopt(3) and
//!   yields options and their values (`?` for unknown options); with a
//!   selector `[c]` it yields the last value of option `c` only.

use std::borrow::Cow;

use super::ast::Transformer;
use super::eval::{FieldSource, FieldValue};
use super::operand::{Getopt, Operand, OptInfo, OptString};

/// Extracts an operand's value, `None` when it cannot be extracted.
pub fn extract<'a, E: FieldSource + ?Sized>(src: &'a E, o: &'a Operand) -> Option<FieldValue<'a>> {
    match o {
        Operand::Field(f) => src.get(f.id, f.arg.as_ref()),
        Operand::EvtTypeName => Some(FieldValue::Str(Cow::Borrowed(src.evt_type()))),
        Operand::Const(s) => Some(FieldValue::Str(Cow::Borrowed(s))),
        Operand::Literal(s) => Some(FieldValue::Str(Cow::Borrowed(s))),
        Operand::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for i in items {
                match extract_arg(src, i)? {
                    FieldValue::List(vs) => out.extend(vs),
                    v => out.push(v),
                }
            }
            Some(FieldValue::List(out))
        }
        Operand::Transform(t, inner) => transform(*t, extract(src, inner)?),
        Operand::Join(j) => {
            let sep = c_text(&first(extract_arg(src, &j.0)?)?).into_owned();
            let items = match extract_arg(src, &j.1)? {
                FieldValue::List(vs) => vs,
                v => vec![v],
            };
            let parts: Vec<Cow<'_, str>> = items.iter().map(c_text).collect();
            Some(FieldValue::Str(Cow::Owned(parts.join(&sep))))
        }
        Operand::Concat(args) => {
            let mut out = String::new();
            for a in args {
                out.push_str(&c_text(&first(extract_arg(src, a)?)?));
            }
            Some(FieldValue::Str(Cow::Owned(out)))
        }
        Operand::Getopt(g) => getopt(src, g),
    }
}

/// A value used as a transformer argument: an ancestor field without a
/// level reads as its space-separated list, as libsinsp extracts it.
fn extract_arg<'a, E: FieldSource + ?Sized>(src: &'a E, o: &'a Operand) -> Option<FieldValue<'a>> {
    let v = extract(src, o)?;
    if o.is_any_list()
        && let FieldValue::List(items) = &v
    {
        if items.is_empty() {
            return None;
        }
        return Some(FieldValue::Str(Cow::Owned(v.to_text().into_owned())));
    }
    Some(v)
}

fn first(v: FieldValue<'_>) -> Option<FieldValue<'_>> {
    match v {
        FieldValue::List(vs) => vs.into_iter().next(),
        v => Some(v),
    }
}

/// The value as a C string would read it: text up to the first NUL.
fn c_text<'v>(v: &'v FieldValue<'_>) -> Cow<'v, str> {
    let t = v.to_text();
    match t.find('\0') {
        Some(i) => Cow::Owned(t[..i].to_string()),
        None => t,
    }
}

/// Applies a single-value transformer; `None` when it fails (`b64`).
pub fn transform(t: Transformer, v: FieldValue<'_>) -> Option<FieldValue<'_>> {
    if let FieldValue::List(items) = v {
        if t == Transformer::Len {
            return Some(FieldValue::U64(items.len() as u64));
        }
        return items.into_iter().map(|i| transform(t, i)).collect::<Option<Vec<_>>>().map(FieldValue::List);
    }
    Some(match t {
        Transformer::Len => FieldValue::U64(match &v {
            FieldValue::Bytes(b) => b.len() as u64,
            other => c_text(other).len() as u64,
        }),
        Transformer::ToLower | Transformer::ToUpper => {
            let s = v.to_text();
            let lower = t == Transformer::ToLower;
            let changes = s.bytes().any(|b| if lower { b.is_ascii_uppercase() } else { b.is_ascii_lowercase() });
            if !changes {
                return Some(FieldValue::Str(Cow::Owned(s.into_owned())));
            }
            FieldValue::Str(Cow::Owned(if lower { s.to_ascii_lowercase() } else { s.to_ascii_uppercase() }))
        }
        Transformer::Basename => {
            let s = v.to_text();
            FieldValue::Str(Cow::Owned(s.rsplit('/').next().unwrap_or("").to_string()))
        }
        Transformer::B64 => {
            let is_bytes = matches!(v, FieldValue::Bytes(_));
            let input: Cow<'_, [u8]> = match &v {
                FieldValue::Bytes(b) => Cow::Borrowed(b.as_ref()),
                other => Cow::Owned(other.to_text().into_owned().into_bytes()),
            };
            let end = input.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
            let decoded = b64_decode(&input[..end])?;
            if is_bytes {
                FieldValue::Bytes(Cow::Owned(decoded))
            } else {
                match String::from_utf8(decoded) {
                    Ok(s) => FieldValue::Str(Cow::Owned(s)),
                    Err(e) => FieldValue::Bytes(Cow::Owned(e.into_bytes())),
                }
            }
        }
        Transformer::Join | Transformer::Concat | Transformer::Getopt => v,
    })
}

fn b64_value(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

/// libsinsp's `Base64::decodeWithoutPadding`: the standard alphabet, up to
/// two trailing `=` (not required), unused trailing bits must be zero. The
/// base64 crates differ on padding rules, hence this small decoder.
#[must_use]
pub fn b64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut n = input.len();
    if n == 0 {
        return Some(Vec::new());
    }
    for _ in 0..2 {
        if n > 0 && input[n - 1] == b'=' {
            n -= 1;
        }
    }
    let data = &input[..n];
    if data.is_empty() || n % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(n * 3 / 4);
    for chunk in data.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= u32::from(b64_value(*c)?) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        let keep = chunk.len() - 1;
        // The bits below the last kept byte must be zero.
        let spare = match chunk.len() {
            2 => acc & 0xffff,
            3 => acc & 0xff,
            _ => 0,
        };
        if spare != 0 {
            return None;
        }
        out.extend_from_slice(&bytes[1..=keep]);
    }
    Some(out)
}

fn getopt<'a, E: FieldSource + ?Sized>(src: &'a E, g: &'a Getopt) -> Option<FieldValue<'a>> {
    let dynamic;
    let info: &OptInfo = match &g.optstring {
        OptString::Const(info, _) => info,
        OptString::Field(f) => {
            let text = c_text(&first(extract_arg(src, f)?)?).into_owned();
            dynamic = OptInfo::parse(text.as_bytes());
            &dynamic
        }
    };
    let args: Vec<String> = match extract_arg(src, &g.args)? {
        FieldValue::List(vs) => vs.iter().map(|v| c_text(v).into_owned()).collect(),
        v => vec![c_text(&v).into_owned()],
    };
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut results: Vec<String> = Vec::new();
    let mut selected: Option<String> = None;
    let mut emit = |name: &[u8], value: Option<&[u8]>, results: &mut Vec<String>| {
        if g.selector.is_some() {
            selected = Some(text(value.unwrap_or(name)));
        } else {
            results.push(text(name));
            if let Some(v) = value {
                results.push(text(v));
            }
        }
    };
    let mut idx = 0;
    while idx < args.len() {
        let arg = args[idx].as_bytes();
        if arg == b"--" {
            break;
        }
        if arg.len() > 2 && arg.starts_with(b"--") {
            idx += 1;
            continue;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            break;
        }
        for i in 1..arg.len() {
            let opt = arg[i];
            if opt == b':' || !info.valid[usize::from(opt)] {
                if g.selector.is_none() {
                    results.push("?".to_string());
                }
                continue;
            }
            let matches = g.selector.is_none_or(|s| s == opt);
            let needs_arg = info.with_arg[usize::from(opt)];
            if !needs_arg {
                if matches {
                    emit(&arg[i..=i], None, &mut results);
                }
                continue;
            }
            let value = if i + 1 < arg.len() {
                Some(&arg[i + 1..])
            } else if idx + 1 < args.len() {
                idx += 1;
                Some(args[idx].as_bytes())
            } else {
                None
            };
            match value {
                // A missing argument reads as an empty value.
                None if matches => emit(b"", None, &mut results),
                Some(v) if matches => emit(&arg[i..=i], Some(v), &mut results),
                _ => {}
            }
            break;
        }
        idx += 1;
    }
    if g.selector.is_some() {
        return selected.map(|s| FieldValue::Str(Cow::Owned(s)));
    }
    Some(FieldValue::List(results.into_iter().map(|s| FieldValue::Str(Cow::Owned(s))).collect()))
}

#[cfg(test)]
mod tests {
    use super::b64_decode;

    // libs test/filter_transformer.ut.cpp `b64` and base64.h semantics.
    #[test]
    fn b64_like_libsinsp() {
        assert_eq!(b64_decode(b"aGVsbG8=").unwrap(), b"hello");
        assert_eq!(b64_decode(b"d29ybGQgIQ==").unwrap(), b"world !");
        assert_eq!(b64_decode(b"").unwrap(), b"");
        assert_eq!(b64_decode(b"aGVsbG8").unwrap(), b"hello");
        assert_eq!(b64_decode(b"YQ=").unwrap(), b"a");
        assert!(b64_decode(b"YR==").is_none(), "non-zero trailing bits");
        assert!(b64_decode(b"Y").is_none());
        assert!(b64_decode(b"=").is_none());
        assert!(b64_decode(b"YW Jj").is_none());
        assert!(b64_decode(b"YW-j").is_none(), "URL-safe alphabet is not accepted");
        assert_eq!(b64_decode(b"YWFhLWJiYg==").unwrap(), b"aaa-bbb");
    }
}
