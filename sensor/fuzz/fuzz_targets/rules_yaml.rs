//! Any bytes as a rules file.
#![no_main]

#[path = "../../src/rules/mod.rs"]
#[allow(dead_code, clippy::all, clippy::pedantic)]
mod rules;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = rules::RuleSet::load_texts(&[rules::RuleText { name: "fuzz.yaml", content: text }], &rules::EngineConfig::default());
});
