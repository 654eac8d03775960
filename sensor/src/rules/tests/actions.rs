//! `actions:` beside Falco's keys: read, checked (an unknown action is an
//! error at its position), set again by an override item, never warned
//! about.

use crate::rules::{Action, LoadReport, RuleSet, RuleText};

fn load(y: &str) -> (Option<RuleSet>, LoadReport) {
    RuleSet::load_texts(&[RuleText { name: "a.yaml", content: y }], &crate::rules::EngineConfig::default())
}

const RULE: &str = "- rule: nc
  desc: netcat
  condition: evt.type = execve and proc.name = nc
  output: nc %proc.name
  priority: WARNING
";

#[test]
fn actions_are_read_in_order_without_warnings() {
    let y = format!("{RULE}  actions: [kill_process, capture, kill_process, isolate_pod]\n");
    let (set, r) = load(&y);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let set = set.unwrap();
    assert_eq!(set.rules()[0].actions, [Action::KillProcess, Action::Capture, Action::IsolatePod]);
    // Without the key: no actions.
    let (set, _) = load(RULE);
    assert!(set.unwrap().rules()[0].actions.is_empty());
}

#[test]
fn an_unknown_action_is_an_error_at_its_position() {
    let y = format!("{RULE}  actions:\n    - kill_process\n    - nuke_node\n");
    let (set, r) = load(&y);
    assert!(set.is_none());
    let e: Vec<String> = r.errors.iter().map(crate::rules::LoadError::full_message).collect();
    assert!(e.iter().any(|m| m.contains("a.yaml:8:7") && m.contains("Unknown action 'nuke_node'")), "{e:?}");
    let (set, r) = load(&format!("{RULE}  actions: kill_process\n"));
    assert!(set.is_none());
    let e: Vec<String> = r.errors.iter().map(crate::rules::LoadError::full_message).collect();
    assert!(e.iter().any(|m| m.contains("a.yaml:6:12") && m.contains("not a sequence")), "{e:?}");
}

#[test]
fn an_override_item_arms_an_existing_rule() {
    // The portable form: Falco reads the override (enabled: replace) and
    // warns about `actions`; this loader sets the actions.
    let y =
        format!("{RULE}- rule: nc\n  override:\n    enabled: replace\n  enabled: true\n  actions: [kill_process]\n");
    let (set, r) = load(&y);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(set.unwrap().rules()[0].actions, [Action::KillProcess]);
    let (set, r) = load("- rule: ghost\n  override:\n    enabled: replace\n  enabled: true\n  actions: [capture]\n");
    assert!(set.is_none(), "{:?}", r.warnings);
}
