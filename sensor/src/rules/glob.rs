//! `fnmatch(pattern, value, 0)` as used by Falco's `glob`/`iglob`.
//!
//! No `FNM_PATHNAME`: `*` also matches `/` (Falco's code, not its website).
//! Patterns are compiled once; matching is iterative with a single star
//! backtrack point, which is exact for fnmatch semantics and never recurses.

#[derive(Debug, Clone)]
enum Tok {
    Lit(char),
    Any,
    Star,
    Class { negated: bool, items: Vec<ClassItem> },
}

#[derive(Debug, Clone)]
enum ClassItem {
    Char(char),
    Range(char, char),
    Named(fn(char) -> bool),
}

#[derive(Debug, Clone)]
pub struct Glob {
    toks: Vec<Tok>,
    casefold: bool,
}

fn fold(c: char) -> char {
    if c.is_ascii() { c.to_ascii_lowercase() } else { c.to_lowercase().next().unwrap_or(c) }
}

fn named_class(name: &str) -> Option<fn(char) -> bool> {
    Some(match name {
        "alpha" => char::is_alphabetic,
        "digit" => |c: char| c.is_ascii_digit(),
        "alnum" => char::is_alphanumeric,
        "upper" => char::is_uppercase,
        "lower" => char::is_lowercase,
        "space" => char::is_whitespace,
        "xdigit" => |c: char| c.is_ascii_hexdigit(),
        "punct" => |c: char| c.is_ascii_punctuation(),
        "blank" => |c: char| c == ' ' || c == '\t',
        "cntrl" => char::is_control,
        "print" => |c: char| !c.is_control(),
        "graph" => |c: char| !c.is_control() && c != ' ',
        _ => return None,
    })
}

/// Parses a bracket expression starting after `[`; `None` when unterminated
/// (fnmatch then treats `[` literally).
fn parse_class(p: &[char], mut i: usize) -> Option<(Tok, usize)> {
    let mut negated = false;
    if i < p.len() && (p[i] == '!' || p[i] == '^') {
        negated = true;
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let c = *p.get(i)?;
        if c == ']' && !first {
            return Some((Tok::Class { negated, items }, i + 1));
        }
        first = false;
        if c == '[' && p.get(i + 1) == Some(&':') {
            let rest: String = p[i + 2..].iter().collect();
            if let Some(end) = rest.find(":]")
                && let Some(f) = named_class(&rest[..end])
            {
                items.push(ClassItem::Named(f));
                i += 2 + rest[..end].chars().count() + 2;
                continue;
            }
        }
        let lo = if c == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            c
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
            let mut j = i + 2;
            let mut hi = p[j];
            if hi == '\\' {
                j += 1;
                hi = *p.get(j)?;
            }
            items.push(ClassItem::Range(lo, hi));
            i = j + 1;
        } else {
            items.push(ClassItem::Char(lo));
            i += 1;
        }
    }
}

impl Glob {
    #[must_use]
    pub fn new(pattern: &str, casefold: bool) -> Glob {
        let p: Vec<char> = pattern.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < p.len() {
            match p[i] {
                '*' => {
                    if !matches!(toks.last(), Some(Tok::Star)) {
                        toks.push(Tok::Star);
                    }
                    i += 1;
                }
                '?' => {
                    toks.push(Tok::Any);
                    i += 1;
                }
                '[' => {
                    if let Some((t, next)) = parse_class(&p, i + 1) {
                        toks.push(t);
                        i = next;
                    } else {
                        toks.push(Tok::Lit('['));
                        i += 1;
                    }
                }
                '\\' if i + 1 < p.len() => {
                    toks.push(Tok::Lit(p[i + 1]));
                    i += 2;
                }
                c => {
                    toks.push(Tok::Lit(c));
                    i += 1;
                }
            }
        }
        if casefold {
            for t in &mut toks {
                if let Tok::Lit(c) = t {
                    *c = fold(*c);
                }
            }
        }
        Glob { toks, casefold }
    }

    /// True when the pattern has wildcard characters.
    #[must_use]
    pub fn has_wildcards(pattern: &str) -> bool {
        pattern.contains(['*', '?', '['])
    }

    fn tok_matches(&self, t: &Tok, c: char) -> bool {
        match t {
            Tok::Lit(l) => *l == c,
            Tok::Any => true,
            Tok::Star => false,
            Tok::Class { negated, items } => {
                let hit = items.iter().any(|it| match it {
                    ClassItem::Char(x) => *x == c || (self.casefold && fold(*x) == c),
                    ClassItem::Range(lo, hi) => {
                        (*lo..=*hi).contains(&c) || (self.casefold && (fold(*lo)..=fold(*hi)).contains(&c))
                    }
                    ClassItem::Named(f) => f(c),
                });
                hit != *negated
            }
        }
    }

    #[must_use]
    pub fn matches(&self, value: &str) -> bool {
        // ASCII values (the common case for paths) are matched without
        // allocating; others are decoded to chars once.
        if value.is_ascii() {
            let b = value.as_bytes();
            self.run(b.len(), |i| char::from(b[i]))
        } else {
            let v: Vec<char> = value.chars().collect();
            self.run(v.len(), |i| v[i])
        }
    }

    fn run(&self, len: usize, at: impl Fn(usize) -> char) -> bool {
        let toks = &self.toks;
        let (mut ti, mut vi) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while vi < len {
            if ti < toks.len() {
                if matches!(toks[ti], Tok::Star) {
                    star = Some((ti, vi));
                    ti += 1;
                    continue;
                }
                let c = if self.casefold { fold(at(vi)) } else { at(vi) };
                if self.tok_matches(&toks[ti], c) {
                    ti += 1;
                    vi += 1;
                    continue;
                }
            }
            match star {
                Some((st, sv)) => {
                    ti = st + 1;
                    vi = sv + 1;
                    star = Some((st, sv + 1));
                }
                None => return false,
            }
        }
        toks[ti..].iter().all(|t| matches!(t, Tok::Star))
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn g(p: &str, v: &str) -> bool {
        Glob::new(p, false).matches(v)
    }

    #[test]
    fn fnmatch_without_pathname() {
        assert!(g("/var/*", "/var/run/file.txt"));
        assert!(g("/home/*/.ssh/*", "/home/bob/.ssh/id_rsa"));
        assert!(g("*../*../*", "/a/../../etc"));
        assert!(!g("/var/*", "/etc/var/x"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("[a-c]x", "bx"));
        assert!(!g("[!a-c]x", "bx"));
        assert!(g("[]]", "]"));
        assert!(g("\\*", "*"));
        assert!(!g("\\*", "a"));
        assert!(g("[[:digit:]]*", "7abc"));
        assert!(g("[", "["));
        assert!(Glob::new("/TMP/*", true).matches("/tmp/X"));
        assert!(!g("/TMP/*", "/tmp/X"));
        assert!(g("", ""));
        assert!(!g("", "a"));
        assert!(g("**", ""));
    }
}
