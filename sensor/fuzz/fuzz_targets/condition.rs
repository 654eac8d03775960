//! Any bytes as a Falco condition: parse, then compile as a rule so macro
//! expansion, field resolution and value parsing run too. Errors are fine;
//! panics, overflows and hangs are bugs.
#![no_main]

#[path = "../../src/rules/mod.rs"]
#[allow(dead_code, clippy::all, clippy::pedantic)]
mod rules;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(cond) = std::str::from_utf8(data) else { return };
    let _ = rules::parser::parse(cond);
    // Through the loader too: quoted as a YAML block scalar.
    let mut y = String::from("- macro: m\n  condition: evt.type = open\n- rule: r\n  desc: d\n  output: o\n  priority: info\n  condition: |\n");
    for line in cond.lines() {
        y.push_str("    ");
        y.push_str(line);
        y.push('\n');
    }
    let _ = rules::RuleSet::load_texts(&[rules::RuleText { name: "fuzz.yaml", content: &y }], &rules::EngineConfig::default());
});
