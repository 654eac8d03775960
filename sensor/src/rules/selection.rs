//! Enabling and disabling loaded rules by name or tag, as falco.yaml's
//! `rules: [{enable: {rule: ...}}, {disable: {tag: ...}}]` entries do,
//! applied in order after loading.

use super::ruleset::CompiledRule;

/// What a selection entry matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Rule names, with Falco's `*` wildcard.
    Rule(String),
    /// Rules having a tag that matches (Falco matches tags exactly; a
    /// pattern without `*` does the same here).
    Tag(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSelection {
    pub enable: bool,
    pub target: Target,
}

impl RuleSelection {
    #[must_use]
    pub fn enable_rule(pattern: &str) -> Self {
        Self { enable: true, target: Target::Rule(pattern.to_string()) }
    }

    #[must_use]
    pub fn disable_rule(pattern: &str) -> Self {
        Self { enable: false, target: Target::Rule(pattern.to_string()) }
    }

    #[must_use]
    pub fn enable_tag(pattern: &str) -> Self {
        Self { enable: true, target: Target::Tag(pattern.to_string()) }
    }

    #[must_use]
    pub fn disable_tag(pattern: &str) -> Self {
        Self { enable: false, target: Target::Tag(pattern.to_string()) }
    }

    #[must_use]
    pub fn matches(&self, rule: &CompiledRule) -> bool {
        match &self.target {
            Target::Rule(p) => matches_wildcard(p, &rule.name),
            Target::Tag(p) => rule.tags.iter().any(|t| matches_wildcard(p, t)),
        }
    }

    /// Sets `enabled` on the matching rules; returns how many matched.
    pub fn apply(&self, rules: &mut [CompiledRule]) -> usize {
        let mut n = 0;
        for r in rules.iter_mut().filter(|r| self.matches(r)) {
            r.enabled = self.enable;
            n += 1;
        }
        n
    }
}

/// Falco's `falco::utils::matches_wildcard`: `*` matches any run of
/// characters; without `*` the match is exact. Like Falco's, the match
/// after a leading `*` takes the first occurrence of the next literal
/// (`*a` does not match `aba`), so patterns behave the same in both.
#[must_use]
pub fn matches_wildcard(pattern: &str, s: &str) -> bool {
    let (mut p, mut s) = (pattern, s);
    loop {
        match p.find('*') {
            None => return p == s,
            Some(0) => {
                let rest = p.trim_start_matches('*');
                if rest.is_empty() {
                    return true;
                }
                let lit = &rest[..rest.find('*').unwrap_or(rest.len())];
                let Some(pos) = s.find(lit) else { return false };
                s = &s[pos + lit.len()..];
                p = &rest[lit.len()..];
            }
            Some(star) => {
                if !s.starts_with(&p[..star]) {
                    return false;
                }
                s = &s[star..];
                p = &p[star..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::matches_wildcard;

    #[test]
    fn falco_wildcards() {
        // test_enable_rule.cpp: enable_rule_name_wildcard.
        let rules = ["first actual rule", "second disabled rule", "third disabled rule"];
        let count = |p: &str| rules.iter().filter(|r| matches_wildcard(p, r)).count();
        assert_eq!(count("first actual rule"), 1);
        assert_eq!(count("*rule"), 3);
        assert_eq!(count("*second*r*"), 1);
        assert_eq!(count("*"), 3);
        assert_eq!(count("first"), 0);
        assert!(matches_wildcard("Read*", "Read sensitive file untrusted"));
        assert!(matches_wildcard("a*c", "abc"));
        assert!(!matches_wildcard("a*c", "abd"));
        // Falco's first-occurrence quirk.
        assert!(!matches_wildcard("*a", "aba"));
        assert!(matches_wildcard("**", ""));
    }
}
