//! Keeps README's table "Falco's rules on this machine" true: every rule of
//! Falco's three upstream files has a row; a row saying "fires: yes" names a
//! test of `kernel_falco_*.rs` that runs (not `#[ignore]`d) and asserts that
//! rule; a row saying "fires: no" is asserted by no running test; and the
//! counts under the table are the table's. No kernel needed.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const HEADING: &str = "### Falco's rules on this machine";

/// The upstream files and the name the table gives each.
const FILES: [(&str, &str); 3] = [
    ("falco_rules.yaml", "stable"),
    ("falco-incubating_rules.yaml", "incubating"),
    ("falco-sandbox_rules.yaml", "sandbox"),
];

#[derive(Debug)]
struct Row {
    rule: String,
    file: String,
    reproduced: bool,
    fires: bool,
    /// `file::function`, or `None` for "—".
    test: Option<String>,
}

/// One `#[test]` function of a `kernel_falco_*.rs` file.
struct TestFn {
    ignored: bool,
    /// The text from its `#[test]` to the next one: where it names rules.
    body: String,
}

impl TestFn {
    fn asserts(&self, rule: &str) -> bool {
        self.body.contains(&format!("\"{rule}\""))
    }
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(crate_dir().join("../README.md")).unwrap()
}

/// The table's rows, in order.
fn table(readme: &str) -> Vec<Row> {
    let start = readme.find(HEADING).unwrap_or_else(|| panic!("README has no {HEADING:?}"));
    let section = &readme[start + HEADING.len()..];
    let end = section.find("\n#").unwrap_or(section.len());
    let mut rows = Vec::new();
    for line in section[..end].lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> =
            line.trim_start_matches("| ").trim_end_matches(" |").split(" | ").map(str::trim).collect();
        assert_eq!(cells.len(), 5, "a row has 5 cells: {line}");
        if cells[0] == "Rule" {
            continue;
        }
        let yes_no = |c: &str| match c {
            "yes" => true,
            "no" => false,
            other => panic!("fires is yes or no, not {other:?}: {line}"),
        };
        let reproduced = cells[2].starts_with("yes");
        assert!(reproduced || cells[2].starts_with("no: "), "reproduced is `yes...` or `no: <reason>`: {line}");
        let test = match cells[4] {
            "—" => None,
            t => Some(t.trim_matches('`').to_owned()),
        };
        rows.push(Row {
            rule: cells[0].to_owned(),
            file: cells[1].to_owned(),
            reproduced,
            fires: yes_no(cells[3]),
            test,
        });
    }
    rows
}

/// Every `#[test]` function of `kernel_falco_*.rs`, by `file::function`.
fn kernel_tests() -> BTreeMap<String, TestFn> {
    let mut tests = BTreeMap::new();
    for entry in std::fs::read_dir(crate_dir().join("tests")).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else { continue };
        if !stem.starts_with("kernel_falco_") || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        let chunks: Vec<&str> = src.split("#[test]").skip(1).collect();
        for chunk in chunks {
            let at = chunk.find("\nfn ").unwrap_or_else(|| panic!("#[test] without fn in {}", path.display()));
            let name: String = chunk[at + 4..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let t = TestFn { ignored: chunk[..at].contains("#[ignore"), body: chunk.to_owned() };
            tests.insert(format!("{stem}::{name}"), t);
        }
    }
    tests
}

/// Rule names of an upstream file: its `- rule:` entries.
fn upstream_rules(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().filter_map(|l| l.strip_prefix("- rule:")).map(|r| r.trim().to_owned()).collect()
}

/// The lines under the table, as they must read.
fn summary(rows: &[Row]) -> String {
    let reproducible = rows.iter().filter(|r| r.reproduced).count();
    let fire = rows.iter().filter(|r| r.fires).count();
    let stable: Vec<&Row> = rows.iter().filter(|r| r.file == "stable").collect();
    let stable_fire = stable.iter().filter(|r| r.fires).count();
    #[allow(clippy::cast_precision_loss)]
    let pct = 100.0 * fire as f64 / reproducible.max(1) as f64;
    format!(
        "Reproducible here: {reproducible} of {}; firing end to end: {fire} of {reproducible} ({pct:.1} %).\n\
         Stable rules: {stable_fire} of {} fire",
        rows.len(),
        stable.len()
    )
}

#[test]
fn readme_table_matches_the_tests() {
    let readme = readme();
    let rows = table(&readme);
    let tests = kernel_tests();
    assert!(tests.len() > 50, "kernel_falco_*.rs tests found: {}", tests.len());
    let mut wrong = Vec::new();
    let mut seen = BTreeSet::new();
    for r in &rows {
        if !seen.insert(&r.rule) {
            wrong.push(format!("{}: two rows", r.rule));
        }
        let test = r.test.as_ref().and_then(|t| tests.get(t));
        if r.test.is_some() && test.is_none() {
            wrong.push(format!("{}: no test {:?}", r.rule, r.test));
        }
        let running: Vec<&String> =
            tests.iter().filter(|(_, t)| !t.ignored && t.asserts(&r.rule)).map(|(n, _)| n).collect();
        match (r.reproduced, r.fires, test) {
            (false, true, _) => wrong.push(format!("{}: fires but not reproduced", r.rule)),
            (_, true, None) => wrong.push(format!("{}: fires without a test", r.rule)),
            (_, true, Some(t)) if t.ignored || !t.asserts(&r.rule) => {
                wrong.push(format!("{}: {:?} is ignored or does not assert it", r.rule, r.test));
            }
            (_, false, _) if !running.is_empty() => {
                wrong.push(format!("{}: says it does not fire, yet {running:?} assert it", r.rule));
            }
            (true, false, t) if t.is_none_or(|t| !t.asserts(&r.rule)) => {
                wrong.push(format!("{}: reproduced but names no test that performs it", r.rule));
            }
            (false, false, Some(_)) => wrong.push(format!("{}: not reproduced, yet names a test", r.rule)),
            _ => {}
        }
    }
    assert!(wrong.is_empty(), "README table vs tests:\n{}", wrong.join("\n"));
    let want = summary(&rows);
    assert!(readme.contains(&want), "the counts under the table should read:\n{want}");
}

#[test]
fn readme_table_lists_every_upstream_rule() {
    let Some(stable) = common::upstream_rules() else { return };
    let dir = stable.parent().unwrap();
    let rows = table(&readme());
    let listed: BTreeSet<(String, String)> = rows.iter().map(|r| (r.file.clone(), r.rule.clone())).collect();
    let mut upstream = BTreeSet::new();
    for (file, name) in FILES {
        for rule in upstream_rules(&dir.join(file)) {
            upstream.insert((name.to_owned(), rule));
        }
    }
    assert_eq!(upstream.len(), 93, "Falco's three files hold 93 rules");
    let missing: Vec<_> = upstream.difference(&listed).collect();
    let extra: Vec<_> = listed.difference(&upstream).collect();
    assert!(missing.is_empty() && extra.is_empty(), "missing from the table: {missing:?}\nnot upstream: {extra:?}");
}
