//! `sensor rules list` (like `falco -L`): every loaded rule with its
//! description, priority, source, tags, state and where it is defined.

use std::fmt::Write as _;

use serde::Serialize;

use super::ruleset::{CompiledRule, RuleSet};

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct RuleEntry<'a> {
    pub name: &'a str,
    pub desc: String,
    pub priority: &'static str,
    pub source: &'a str,
    /// Sorted.
    pub tags: &'a [String],
    pub enabled: bool,
    /// Where the rule's `- rule:` item is (its first definition).
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
}

/// Folded YAML leaves newlines and runs of blanks in descriptions.
#[must_use]
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn entry(r: &CompiledRule) -> RuleEntry<'_> {
    RuleEntry {
        name: &r.name,
        desc: one_line(&r.desc),
        priority: r.priority.as_str(),
        source: &r.source,
        tags: &r.tags,
        enabled: r.enabled,
        file: &r.loc.file,
        line: r.loc.line,
        column: r.loc.column,
    }
}

/// Every loaded rule, in load (evaluation) order.
#[must_use]
pub fn entries(set: &RuleSet) -> Vec<RuleEntry<'_>> {
    set.rules().iter().map(entry).collect()
}

#[must_use]
pub fn to_json(set: &RuleSet) -> String {
    serde_json::to_string_pretty(&entries(set)).unwrap_or_else(|_| String::from("[]"))
}

/// One block per rule, then a count.
#[must_use]
pub fn render_text(set: &RuleSet) -> String {
    let mut s = String::new();
    let all = entries(set);
    for r in &all {
        let _ = writeln!(s, "{}", r.name);
        let _ = writeln!(s, "    {}", r.desc);
        let _ = writeln!(
            s,
            "    priority: {}  source: {}  enabled: {}",
            r.priority,
            r.source,
            if r.enabled { "yes" } else { "no" }
        );
        if !r.tags.is_empty() {
            let _ = writeln!(s, "    tags: {}", r.tags.join(", "));
        }
        let _ = writeln!(s, "    defined at: {}:{}:{}\n", r.file, r.line, r.column);
    }
    let enabled = all.iter().filter(|r| r.enabled).count();
    let _ = writeln!(s, "{} rules, {enabled} enabled", all.len());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{EngineConfig, RuleText};

    #[test]
    fn lists_rules_with_their_definition_site() {
        let text = "- macro: m\n  condition: evt.type=openat\n\
                    - rule: B rule\n  desc: >\n    folded\n    text\n  condition: m\n  output: x\n  priority: info\n  tags: [z, a]\n\
                    - rule: A rule\n  desc: d\n  condition: evt.type=execve\n  output: y\n  priority: CRITICAL\n  enabled: false\n";
        let (set, r) = RuleSet::load_texts(&[RuleText { name: "f.yaml", content: text }], &EngineConfig::default());
        let set = set.unwrap_or_else(|| panic!("{:?}", r.errors));
        let e = entries(&set);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].name, "B rule", "load order, not name order");
        assert_eq!(e[0].desc, "folded text");
        assert_eq!(e[0].priority, "Informational");
        assert_eq!(e[0].tags, ["a", "z"]);
        assert_eq!((e[0].file, e[0].line), ("f.yaml", 3));
        assert!(!e[1].enabled);
        let t = render_text(&set);
        assert!(
            t.contains("B rule\n    folded text\n    priority: Informational  source: syscall  enabled: yes\n"),
            "{t}"
        );
        assert!(t.contains("    defined at: f.yaml:3:"), "{t}");
        assert!(t.contains("enabled: no"), "{t}");
        assert!(t.ends_with("2 rules, 1 enabled\n"), "{t}");
        let j: serde_json::Value = serde_json::from_str(&to_json(&set)).unwrap();
        assert_eq!(j[1]["name"], "A rule");
        assert_eq!(j[1]["priority"], "Critical");
        assert_eq!(j[1]["enabled"], false);
        assert_eq!(j[0]["line"], 3);
    }
}
