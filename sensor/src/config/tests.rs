use super::output::{OutputConfig, OutputOverrides};
use super::{Config, ConfigError};
use crate::detect::Detector;
use crate::enrich::users::Users;
use crate::event::Event;
use crate::pipeline::alert_stage::AlertFormat;
use crate::rules::{EngineConfig, Priority, RuleMatching, RuleSet, RuleText, time};

fn parse_err(text: &str) -> (u64, u64, String, String) {
    match Config::parse("c.yaml", text) {
        Err(ConfigError::Parse { line, column, at, message, .. }) => (line, column, at, message),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reads_falco_keys() {
    let c = Config::parse(
        "c.yaml",
        "priority: warning\njson_output: false\njson_include_output_property: false\n\
         json_include_tags_property: false\njson_include_message_property: true\n\
         json_include_output_fields_property: false\ntime_format_iso_8601: true\ntime_format_utc: true\n\
         append_output:\n  - match: {source: syscall, tags: [a, b], rule: R}\n    extra_output: \"on %proc.name\"\n\
         \x20   extra_fields:\n      - home: \"${HOME}\"\n      - evt.hostname\n  - suggested_output: true\n",
    )
    .unwrap();
    assert_eq!(c.priority, Some(Priority::Warning));
    assert_eq!(c.json_output, Some(false));
    assert_eq!(c.time_format_utc, Some(true));
    let a = c.append_output.as_ref().unwrap();
    assert_eq!(a.len(), 2);
    let spec = a[0].to_spec(0).unwrap();
    assert_eq!(spec.matching.rule.as_deref(), Some("R"));
    assert_eq!(spec.matching.tags.len(), 2);
    assert_eq!(spec.extra_output.as_deref(), Some("on %proc.name"));
    let home = std::env::var("HOME").unwrap_or_default();
    assert_eq!(
        spec.extra_fields,
        [
            crate::rules::append_output::ExtraField::Formatted { key: "home".into(), format: home },
            crate::rules::append_output::ExtraField::Raw("evt.hostname".into()),
        ]
    );
    assert!(a[1].suggested_output);
    // Empty files and comments are the defaults.
    assert!(Config::parse("c.yaml", "# nothing\n\n").unwrap().json_output.is_none());
}

#[test]
fn unknown_keys_and_bad_values_name_their_path_and_line() {
    let (line, col, at, msg) =
        parse_err("json_output: true\nappend_output:\n  - match:\n      rule: x\n      tagz: [a]\n");
    assert_eq!((line, col, at.as_str()), (5, 7, "append_output[0].match.tagz"));
    assert!(msg.starts_with("unknown field `tagz`, expected one of"), "{msg}");
    let (line, _, at, _) = parse_err("json_ouput: true\n");
    assert_eq!((line, at.as_str()), (1, "json_ouput"));
    let (line, _, at, msg) = parse_err("priority: loud\n");
    assert_eq!((line, at.as_str()), (1, "priority"));
    assert!(msg.contains("unknown priority \"loud\""), "{msg}");
    let (_, _, at, _) = parse_err("json_output: 3\n");
    assert_eq!(at, "json_output");
    let (_, _, at, _) = parse_err("append_output: {a: 1}\n");
    assert_eq!(at, "append_output");
    // An extra field is a name or one `name: format` pair.
    let (line, _, at, msg) = parse_err("append_output:\n  - extra_fields:\n      - a: x\n        b: y\n");
    assert_eq!((line, at.as_str()), (3, "append_output[0].extra_fields[0]"));
    assert_eq!(msg, "a field name, or a single `name: format` mapping");
    let c = Config::parse("c.yaml", "append_output:\n  - extra_output: \"x=%proc.nmae\"\n").unwrap();
    let e = OutputConfig::resolve(&c, "c.yaml", OutputOverrides::default()).unwrap_err().to_string();
    assert!(e.starts_with("c.yaml: append_output[0].extra_output: "), "{e}");
    assert!(e.contains("did you mean 'proc.name'"), "{e}");
    let c = Config::parse("c.yaml", "append_output:\n  - extra_fields: [proc.name, {proc.name: x}]\n").unwrap();
    let e = OutputConfig::resolve(&c, "c.yaml", OutputOverrides::default()).unwrap_err().to_string();
    assert_eq!(e, "c.yaml: append_output[0].extra_fields: 'proc.name' is given twice");
}

#[test]
fn environment_references_expand() {
    // PATH is set for every test process; nothing here changes the environment.
    let path = std::env::var("PATH").unwrap();
    let c = Config::parse(
        "c.yaml",
        "append_output:\n  - extra_output: \"a=${PATH} b=$${PATH} c=${SENSOR_UNSET_VAR_X}.\"\n",
    )
    .unwrap();
    let spec = c.append_output.unwrap()[0].to_spec(0).unwrap();
    assert_eq!(spec.extra_output.unwrap(), format!("a={path} b=${{PATH}} c=."));
}

#[test]
fn command_line_wins_and_defaults_are_falcos() {
    let c = Config::default();
    let o = OutputConfig::resolve(&c, "-", OutputOverrides::default()).unwrap();
    assert_eq!(o.format, AlertFormat::Json);
    assert!(o.alert.include_output && o.alert.include_tags && o.alert.include_output_fields);
    assert!(!o.alert.include_message && !o.alert.time_format_iso_8601);
    assert_eq!(o.min_priority, Priority::Debug);

    let c = Config::parse("c.yaml", "json_output: false\njson_include_output_property: false\n").unwrap();
    let o = OutputConfig::resolve(&c, "c.yaml", OutputOverrides::default()).unwrap();
    assert_eq!(o.format, AlertFormat::Text);
    assert!(o.alert.include_output, "text output always has its line");
    let o =
        OutputConfig::resolve(&c, "c.yaml", OutputOverrides { format: Some(AlertFormat::Json), utc: true }).unwrap();
    assert_eq!(o.format, AlertFormat::Json);
    assert!(!o.alert.include_output);
    assert_eq!(time::format_hms(0, &o.alert.tz), "00:00:00.000000000");
}

const RULES: &str = "
- rule: Shadow read
  desc: d
  condition: evt.type=openat and fd.name=/etc/shadow
  output: shadow read by %proc.name
  priority: WARNING
  tags: [filesystem, mitre_credential_access]
- rule: Any open
  desc: d
  condition: evt.type=openat
  output: open %fd.name
  priority: INFO
  tags: [filesystem]
";

fn rules() -> RuleSet {
    let cfg = EngineConfig { rule_matching: RuleMatching::All, ..EngineConfig::default() };
    RuleSet::load_texts(&[RuleText { name: "r.yaml", content: RULES }], &cfg).0.unwrap()
}

fn shadow_open() -> Event {
    serde_json::from_str(
        r#"{"ts":1685022245478445995,"type":"openat","category":"file","pid":100,"tid":100,"uid":0,"gid":0,"cgroup_id":1,"comm":"cat","ret":3,"args":{"dirfd":-100,"name":"/etc/shadow","flags":0,"mode":0,"fd":3},"proc":{"exec_id":"100:1","ppid":1,"name":"cat","exe":"/usr/bin/cat","args":["cat","/etc/shadow"]}}"#,
    )
    .unwrap()
}

/// Alerts of `config` on one /etc/shadow open, by rule.
fn alerts(config: &str) -> Vec<crate::rules::Alert> {
    let c = Config::parse("c.yaml", config).unwrap();
    let o = OutputConfig::resolve(&c, "c.yaml", OutputOverrides { format: None, utc: true }).unwrap();
    let mut set = rules();
    o.apply_min_priority(&mut set);
    let mut d = Detector::with_options(set, Users::default(), 0, o.alert.clone(), &o.append);
    d.process(&shadow_open())
}

#[test]
fn append_output_applies_to_matching_rules_only() {
    let a = alerts(
        "append_output:\n\
         \x20 - match: {tags: [mitre_credential_access]}\n    extra_output: \"pid=%proc.pid\"\n\
         \x20   extra_fields: [{where: \"in %proc.cwd\"}, proc.pid]\n\
         \x20 - match: {rule: Any open}\n    extra_output: \"(any)\"\n\
         \x20 - match: {source: k8s_audit}\n    extra_output: never\n",
    );
    assert_eq!(a.len(), 2);
    let (shadow, any) = (&a[0], &a[1]);
    assert_eq!(shadow.output.as_deref(), Some("13:44:05.478445995: Warning shadow read by cat pid=100"));
    let of = shadow.output_fields.as_ref().unwrap();
    assert_eq!(of["proc.pid"], 100, "raw field: typed");
    assert_eq!(of["where"], "in <NA>", "formatted field: text");
    assert_eq!(any.output.as_deref(), Some("13:44:05.478445995: Informational open /etc/shadow (any)"));
    assert!(!any.output_fields.as_ref().unwrap().contains_key("where"));
    // No suggested_output entry: no container fields.
    assert!(!shadow.output.as_ref().unwrap().contains("container_id="));
}

#[test]
fn default_append_output_is_the_suggested_fields() {
    let a = alerts("");
    assert!(a[0].output.as_ref().unwrap().ends_with(" container_id=host container_name=<NA> container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>"), "{:?}", a[0].output);
    assert_eq!(a[0].output_fields.as_ref().unwrap()["container.id"], "host");
    let a = alerts("append_output:\n  - match: {rule: Shadow read}\n    suggested_output: true\n");
    assert!(a[0].output.as_ref().unwrap().contains("container_id=host"));
    assert!(!a[1].output.as_ref().unwrap().contains("container_id="));
}

#[test]
fn json_switches_and_minimum_priority() {
    let a = alerts(
        "priority: notice\njson_include_tags_property: false\njson_include_output_fields_property: false\n\
         json_include_message_property: true\ntime_format_iso_8601: true\n",
    );
    assert_eq!(a.len(), 1, "Informational is below notice");
    let v: serde_json::Value = serde_json::from_str(&a[0].to_json()).unwrap();
    assert!(v.get("tags").is_none() && v.get("output_fields").is_none(), "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("shadow read by cat container_id=host"), "{v}");
    assert!(
        v["output"].as_str().unwrap().starts_with("2023-05-25T13:44:05.478445995+0000: Warning shadow read"),
        "{v}"
    );
    assert_eq!(v["time"], "2023-05-25T13:44:05.478445995Z");
}
