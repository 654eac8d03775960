//! `regex` values compiled with the meaning libsinsp gives them: RE2 in
//! POSIX mode (`re2::RE2::POSIX`), matched against the whole value
//! (`ANCHOR_BOTH`).
//!
//! POSIX mode has no Perl extensions, so patterns using them are rejected as
//! RE2 rejects them: `\d \s \w` and their negations, `\b \B \A \z`, `\pN`,
//! `(?flags)`, `(?:...)`, named groups, lazy repetitions `*? +? ?? {n}?`,
//! and repetition counts above 1000. Without RE2's `OneLine` flag `^` and `$`
//! also match at line breaks, and a negated class `[^...]` never matches a
//! newline; both are reproduced. Constructs only Rust's engine knows (class
//! set operations, nested classes, `\<`-style boundaries) are rejected too.

use regex::Regex;
use regex_syntax::ast::{
    Ast, ClassSet, ClassSetItem, ClassSetUnion, GroupKind, Literal, LiteralKind, RepetitionKind, RepetitionRange,
    SpecialLiteralKind,
};

/// RE2's maximum repetition count.
const MAX_REPEAT: u32 = 1000;

/// Compiles `pattern` as an anchored RE2 POSIX regex.
///
/// # Errors
/// A message describing why RE2 (POSIX mode) would reject the pattern.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let mut ast = regex_syntax::ast::parse::Parser::new().parse(pattern).map_err(|e| e.kind().to_string())?;
    posixify(&mut ast)?;
    let mut text = String::with_capacity(pattern.len() + 16);
    regex_syntax::ast::print::Printer::new().print(&ast, &mut text).map_err(|e| e.to_string())?;
    regex::RegexBuilder::new(&format!(r"\A(?m:{text})\z")).size_limit(1 << 22).build().map_err(|e| e.to_string())
}

fn check_item(item: &ClassSetItem) -> Result<(), String> {
    match item {
        ClassSetItem::Perl(_) => Err("invalid escape sequence: Perl character classes are not POSIX".into()),
        ClassSetItem::Unicode(_) => Err("invalid escape sequence: Unicode classes are not POSIX".into()),
        ClassSetItem::Bracketed(_) => Err("nested character classes are not supported".into()),
        ClassSetItem::Union(u) => u.items.iter().try_for_each(check_item),
        ClassSetItem::Empty(_) | ClassSetItem::Literal(_) | ClassSetItem::Range(_) | ClassSetItem::Ascii(_) => Ok(()),
    }
}

/// Rejects non-POSIX syntax and rewrites `[^...]` to exclude `\n`.
fn posixify(ast: &mut Ast) -> Result<(), String> {
    match ast {
        Ast::Empty(_) | Ast::Literal(_) | Ast::Dot(_) => Ok(()),
        Ast::Flags(_) => Err("missing argument to repetition operator: flag groups are not POSIX".into()),
        Ast::Assertion(a) => {
            use regex_syntax::ast::AssertionKind::{EndLine, StartLine};
            if matches!(a.kind, StartLine | EndLine) {
                Ok(())
            } else {
                Err("invalid escape sequence: assertion is not POSIX".into())
            }
        }
        Ast::ClassPerl(_) => Err("invalid escape sequence: Perl character classes are not POSIX".into()),
        Ast::ClassUnicode(_) => Err("invalid escape sequence: Unicode classes are not POSIX".into()),
        Ast::ClassBracketed(c) => {
            let ClassSet::Item(item) = &mut c.kind else {
                return Err("character class set operations are not supported".into());
            };
            check_item(item)?;
            if c.negated {
                let span = c.span;
                let nl = ClassSetItem::Literal(Literal {
                    span,
                    kind: LiteralKind::Special(SpecialLiteralKind::LineFeed),
                    c: '\n',
                });
                let old = std::mem::replace(item, ClassSetItem::Empty(span));
                *item = ClassSetItem::Union(ClassSetUnion { span, items: vec![old, nl] });
            }
            Ok(())
        }
        Ast::Repetition(r) => {
            if !r.greedy {
                return Err("bad repetition operator: non-greedy repetitions are not POSIX".into());
            }
            if let RepetitionKind::Range(
                RepetitionRange::Exactly(n) | RepetitionRange::AtLeast(n) | RepetitionRange::Bounded(_, n),
            ) = r.op.kind
                && n > MAX_REPEAT
            {
                return Err("bad repetition operator: count above 1000".into());
            }
            posixify(&mut r.ast)
        }
        Ast::Group(g) => match g.kind {
            GroupKind::CaptureIndex(_) => posixify(&mut g.ast),
            _ => Err("missing argument to repetition operator: only plain groups are POSIX".into()),
        },
        Ast::Alternation(a) => a.asts.iter_mut().try_for_each(posixify),
        Ast::Concat(c) => c.asts.iter_mut().try_for_each(posixify),
    }
}

#[cfg(test)]
mod tests {
    use super::compile;

    // libs test/filter_compiler.ut.cpp `filter_regex_operator_evaluation`,
    // plus RE2 POSIX-mode syntax (re2/re2.h `RE2::POSIX`, no Perl extensions).
    #[test]
    fn posix_semantics() {
        let m = |p: &str, s: &str| compile(p).unwrap().is_match(s);
        assert!(m("^[s]{1}ysca[l]{2}$", "syscall"));
        assert!(!m("yscal.*", "syscall"));
        assert!(!m(".*yscal", "syscall"));
        assert!(m("syscal.*", "syscall"));
        assert!(m("[[:alpha:]]+", "abc"));
        assert!(m("a|b", "b"));
        assert!(m("(ab)+", "abab"));
        // A negated class does not match a newline.
        assert!(!m("a[^x]b", "a\nb"));
        assert!(m("a[^x]b", "a-b"));
        for bad in
            [r"\d+", r"\w", r"\s", r"\bx", r"\Ax", r"x\z", r"\pL", "(?i)x", "(?:x)", "(?P<n>x)", "x*?", "x{1001}"]
        {
            assert!(compile(bad).is_err(), "{bad} should be rejected");
        }
        assert!(compile("(").is_err());
    }
}
