//! `sensor rules doc`: a Markdown reference of rules (what each detects,
//! MITRE ATT&CK tags, priority, the fixtures that cover it). `docs/rules.md`
//! is this for the built-in rules; a test keeps it current.

use std::fmt::Write as _;

use crate::detect::fixtures::{Expect, Fixture};
use crate::rules::RuleSet;
use crate::rules::rule_list::one_line;

/// How the built-in rule files are named in load reports.
const BUILTIN_SUFFIX: &str = " (built in)";

/// GitHub's heading anchor: lowercase, punctuation dropped, blanks to `-`.
fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            c if c.is_alphanumeric() => Some(c.to_ascii_lowercase()),
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// `mitre_credential_access` → `credential access`.
fn tactic(tag: &str) -> Option<String> {
    tag.strip_prefix("mitre_").map(|t| t.replace('_', " "))
}

/// `T1547.006`-style technique ids.
fn is_technique(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix('T') else { return false };
    let (main, sub) = rest.split_once('.').unwrap_or((rest, ""));
    main.len() == 4 && main.bytes().all(|b| b.is_ascii_digit()) && sub.bytes().all(|b| b.is_ascii_digit())
}

fn technique_link(t: &str) -> String {
    let path = t.replace('.', "/");
    format!("[{t}](https://attack.mitre.org/techniques/{path}/)")
}

/// Markdown text is inserted verbatim except for characters that would
/// break a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The reference for `rules`, with the `fixtures` that name each rule.
/// `title_note` says where the rules came from.
#[must_use]
pub fn render(rules: &RuleSet, fixtures: &[Fixture], title_note: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Rules reference\n");
    let _ = writeln!(s, "{title_note}\n");
    let _ = writeln!(s, "| Rule | Priority | MITRE ATT&CK | Enabled | Fixtures |");
    let _ = writeln!(s, "|---|---|---|---|---|");
    for r in rules.rules() {
        let techniques: Vec<&str> = r.tags.iter().map(String::as_str).filter(|t| is_technique(t)).collect();
        let n = fixtures.iter().filter(|f| f.rule == r.name).count();
        let _ = writeln!(
            s,
            "| [{}](#{}) | {} | {} | {} | {n} |",
            cell(&r.name),
            anchor(&r.name),
            r.priority,
            techniques.join(", "),
            if r.enabled { "yes" } else { "no" },
        );
    }
    for r in rules.rules() {
        let _ = writeln!(s, "\n## {}\n", r.name);
        let _ = writeln!(s, "{}\n", one_line(&r.desc));
        let _ = writeln!(s, "- **Priority**: {}", r.priority);
        let tactics: Vec<String> = r.tags.iter().filter_map(|t| tactic(t)).collect();
        let techniques: Vec<String> = r.tags.iter().filter(|t| is_technique(t)).map(|t| technique_link(t)).collect();
        if !tactics.is_empty() || !techniques.is_empty() {
            let _ = writeln!(s, "- **MITRE ATT&CK**: {}", [tactics.join(", "), techniques.join(", ")].join("; "));
        }
        if !r.tags.is_empty() {
            let tags: Vec<String> = r.tags.iter().map(|t| format!("`{t}`")).collect();
            let _ = writeln!(s, "- **Tags**: {}", tags.join(" "));
        }
        let _ = writeln!(s, "- **Source**: {}", r.source);
        let _ = writeln!(s, "- **Enabled by default**: {}", if r.enabled { "yes" } else { "no" });
        let file = r.loc.file.strip_suffix(BUILTIN_SUFFIX).unwrap_or(&r.loc.file);
        let _ = writeln!(s, "- **Defined in**: `{file}:{}`", r.loc.line);
        let own: Vec<&Fixture> = fixtures.iter().filter(|f| f.rule == r.name).collect();
        if own.is_empty() {
            let _ = writeln!(s, "- **Fixtures**: none");
        } else {
            let _ = writeln!(s, "- **Fixtures**:");
            for f in own {
                let what = match f.expect {
                    Expect::Alert => "fires",
                    Expect::None => "stays quiet",
                };
                let _ = writeln!(s, "  - {what}: {} (`{}`)", f.name, f.origin);
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{EngineConfig, RuleText};

    #[test]
    fn renders_rules_with_mitre_tags_and_fixtures() {
        let text = "- rule: Pipe | rule\n  desc: >\n    Reads a\n    thing.\n  condition: evt.type=openat\n  output: x\n  \
                    priority: WARNING\n  tags: [mitre_credential_access, T1552.001, host, T12]\n";
        let (set, r) =
            RuleSet::load_texts(&[RuleText { name: "r.yaml (built in)", content: text }], &EngineConfig::default());
        let set = set.unwrap_or_else(|| panic!("{:?}", r.errors));
        let fx = format!(
            "- fixture: reads it\n  rule: Pipe | rule\n  events:\n    - {}\n",
            r#"{"ts":1,"type":"openat","category":"file","pid":1,"tid":1,"uid":0,"gid":0,"cgroup_id":1,"comm":"a","args":{}}"#
        );
        let fixtures = crate::detect::fixtures::load::load_texts(&[("fx.yaml", &fx)]).unwrap();
        let md = render(&set, &fixtures, "Note.");
        assert!(md.starts_with("# Rules reference\n\nNote.\n"), "{md}");
        assert!(md.contains("| [Pipe \\| rule](#pipe--rule) | Warning | T1552.001 | yes | 1 |"), "{md}");
        assert!(md.contains("\n## Pipe | rule\n\nReads a thing.\n"), "{md}");
        assert!(
            md.contains(
                "- **MITRE ATT&CK**: credential access; [T1552.001](https://attack.mitre.org/techniques/T1552/001/)"
            ),
            "{md}"
        );
        assert!(md.contains("- **Defined in**: `r.yaml:1`"), "{md}");
        assert!(md.contains("  - fires: reads it (`fx.yaml:1`)"), "{md}");
        assert!(!md.contains("[T12]"), "not a technique id");
    }
}
