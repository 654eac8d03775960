//! Falco's environment references in configuration strings
//! (`yaml_helper::pre_process_env_vars`): `${NAME}` becomes the variable's
//! value, or nothing when it is unset; `$${text}` becomes `${text}`; any
//! other `$` stays. A `${` without a closing `}` leaves the rest as it is.

use serde::{Deserialize, Deserializer};

/// Expands `s` with `lookup` (the process environment in [`EnvString`]).
pub fn expand(s: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(body) = tail.strip_prefix("${") {
            let Some(end) = body.find('}') else {
                out.push_str(tail);
                return out;
            };
            out.push_str(&lookup(&body[..end]).unwrap_or_default());
            rest = &body[end + 1..];
        } else if let Some(body) = tail.strip_prefix("$${") {
            if !body.contains('}') {
                out.push_str(tail);
                return out;
            }
            out.push_str("${");
            rest = body;
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// A configuration string with `${NAME}` expanded from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvString(pub String);

impl<'de> Deserialize<'de> for EnvString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Ok(EnvString(expand(&raw, |n| std::env::var(n).ok())))
    }
}

/// `deserialize_with` for a `String` field with `${NAME}` expanded.
pub fn expanded<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    EnvString::deserialize(d).map(|s| s.0)
}

#[cfg(test)]
mod tests {
    use super::expand;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/root".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_like_falco() {
        assert_eq!(expand("home=${HOME}", env), "home=/root");
        assert_eq!(expand("${HOME}${HOME}", env), "/root/root");
        assert_eq!(expand("a${UNSET}b", env), "ab");
        assert_eq!(expand("a${EMPTY}b", env), "ab");
        assert_eq!(expand("keep $${HOME} literal", env), "keep ${HOME} literal");
        assert_eq!(expand("price $5 and %proc.name", env), "price $5 and %proc.name");
        assert_eq!(expand("open ${HOME", env), "open ${HOME");
        assert_eq!(expand("open $${HOME", env), "open $${HOME");
        assert_eq!(expand("trailing $", env), "trailing $");
        assert_eq!(expand("", env), "");
    }
}
