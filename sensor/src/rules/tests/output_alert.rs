//! Output formatting and the JSON alert shape.

use crate::rules::output::OutputFormat;
use crate::rules::{Alert, AlertOptions, EngineConfig, MapEvent, RuleSet, RuleText};

fn ev() -> MapEvent {
    MapEvent::new("execve")
        .s("proc.name", "sh")
        .s("proc.cmdline", "sh -c clear; (bash || ash || sh)")
        .s("container.id", "ee97d9c4186f")
        .u("proc.tty", 34816)
        .i("user.loginuid", -1)
        .s("user.name", "root")
        .s("proc.aname[2]", "containerd")
        .s("evt.arg.flags", "EXE_WRITABLE")
}

#[test]
fn formats_fields_widths_and_missing() {
    let f =
        OutputFormat::parse("A shell %proc.name (user=%user.name tty=%proc.tty gp=%proc.aname[2] x=%fd.name)").unwrap();
    assert_eq!(f.render(&ev()), "A shell sh (user=root tty=34816 gp=containerd x=<NA>)");
    let f = OutputFormat::parse("[%6proc.name][%2user.name][%3fd.name]").unwrap();
    assert_eq!(f.render(&ev()), "[sh    ][ro][<NA]");
    let f = OutputFormat::parse("flags=%evt.arg.flags up=%toupper(proc.name).").unwrap();
    assert_eq!(f.render(&ev()), "flags=EXE_WRITABLE up=SH.");
    // Multivalue transformers, a selector after the call, a `)` inside a
    // quoted argument, and list values printed as libsinsp prints them.
    let f = OutputFormat::parse(
        r#"c=%concat(proc.name, ")", user.name) t=%getopt(("-t", "v"), "t:")[t] g=%getopt(("-n", "-t", "v"), "nt:") j=%join("|", (proc.name, "x"))"#,
    )
    .unwrap();
    assert_eq!(f.render(&ev()), "c=sh)root t=v g=(n,t,v) j=sh|x");
    assert!(OutputFormat::parse("%join(\"-\", proc.name)").is_err());
    let f = OutputFormat::parse("100% sure %proc.name").map(|_| ()).unwrap_err();
    assert!(f.to_string().contains("expected a field"), "{f}");
    assert!(OutputFormat::parse("ends with %").is_err());
    // Deprecated %container.info renders as nothing.
    let f = OutputFormat::parse("a %container.info b").unwrap();
    assert_eq!(f.render(&ev()), "a  b");
}

#[test]
fn json_alert_shape() {
    let y = "
- rule: Terminal shell in container
  desc: d
  condition: evt.type = execve and proc.name = sh
  output: A shell was spawned (user=%user.name user_loginuid=%user.loginuid %container.id shell=%proc.name parent=%proc.pname cmdline=%proc.cmdline terminal=%proc.tty up=%toupper(proc.name))
  priority: NOTICE
  tags: [shell, container, mitre_execution]
";
    let (set, r) = RuleSet::load_texts(&[RuleText { name: "a.yaml", content: y }], &EngineConfig::default());
    let set = set.unwrap_or_else(|| panic!("{:?}", r.errors));
    let mut out = Vec::new();
    let e = ev();
    set.evaluate(&e, &mut out);
    let rule = out.first().copied().unwrap_or_else(|| panic!("no match"));
    let opts = AlertOptions { hostname: "falco-xczjd".into(), ..AlertOptions::default() };
    let alert = Alert::new(rule, &e, 1_685_022_245_478_445_995, &opts);
    let json = alert.to_json();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    // serde_json without preserve_order sorts keys; check set and raw order separately.
    assert_eq!(keys, ["hostname", "output", "output_fields", "priority", "rule", "source", "tags", "time"]);
    assert!(json.starts_with(
        "{\"hostname\":\"falco-xczjd\",\"output\":\"13:44:05.478445995: Notice A shell was spawned (user=root"
    ));
    assert_eq!(v["priority"], "Notice");
    assert_eq!(v["rule"], "Terminal shell in container");
    assert_eq!(v["source"], "syscall");
    assert_eq!(v["time"], "2023-05-25T13:44:05.478445995Z");
    assert_eq!(v["tags"], serde_json::json!(["container", "mitre_execution", "shell"]));
    let of = &v["output_fields"];
    assert_eq!(of["evt.time"], 1_685_022_245_478_445_995_u64);
    assert_eq!(of["proc.tty"], 34816);
    assert_eq!(of["user.loginuid"], -1);
    assert_eq!(of["user.name"], "root");
    assert_eq!(of["container.id"], "ee97d9c4186f");
    assert_eq!(of["proc.pname"], serde_json::Value::Null);
    assert!(of.get("toupper(proc.name)").is_none(), "transformers are not output fields");
    assert!(
        v["output"]
            .as_str()
            .unwrap()
            .ends_with("parent=<NA> cmdline=sh -c clear; (bash || ash || sh) terminal=34816 up=SH)")
    );

    // falcosidekick's acceptance rules: priority parses, rule non-empty,
    // RFC3339 non-zero time, non-empty output_fields.
    assert!(crate::rules::Priority::parse(v["priority"].as_str().unwrap()).is_some());
    assert!(!v["rule"].as_str().unwrap().is_empty());
    assert!(!of.as_object().unwrap().is_empty());

    let opts = AlertOptions { include_tags: false, include_output_fields: false, include_message: true, ..opts };
    let v: serde_json::Value = serde_json::from_str(&Alert::new(rule, &e, 0, &opts).to_json()).unwrap();
    assert!(v.get("tags").is_none() && v.get("output_fields").is_none());
    assert!(v["message"].as_str().unwrap().starts_with("A shell was spawned"));
}

#[test]
fn check_report_json_shape() {
    let y = "- rule: audit\n  desc: d\n  condition: ka.verb=get\n  output: o\n  priority: info\n  source: k8s_audit\n- rule: bad\n  desc: d\n  condition: evt.type = open and (\n  output: o\n  priority: info\n";
    let r = crate::rules::check_texts(&[RuleText { name: "c.yaml", content: y }], &EngineConfig::default());
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["rules_loaded"], 0);
    assert_eq!(v["rules_skipped"][0]["rule"], "audit");
    assert_eq!(v["errors"][0]["file"], "c.yaml");
    assert_eq!(v["errors"][0]["line"], 9);
    assert_eq!(v["errors"][0]["name"], "bad");
    assert!(v["warnings"].as_array().is_some());
    let human = r.render_human();
    assert!(human.contains("error: c.yaml:9:14: rule 'bad': invalid condition"), "{human}");
    assert!(human.contains("FAILED: 0 rules loaded (0 enabled), 1 skipped, 1 errors"), "{human}");
}
