//! The Kubernetes manifests (deploy/): the base and the example overlay
//! render with kustomize; every object validates against the Kubernetes
//! schemas (kubernetes-validate, offline, strict: unknown fields are errors)
//! for the oldest and newest supported versions; the ServiceMonitor and the
//! PrometheusRule against the prometheus-operator CRD schemas; the rules
//! pass `promtool check rules`; the ConfigMaps' configuration and rules load.
//! Whether the metric names they use are served is checked against a real
//! sensor's /metrics in kernel_least_privilege.rs.
#![allow(clippy::unwrap_used, clippy::doc_markdown)] // Kubernetes kinds are prose here.

mod deploy;

use std::io::Write as _;
use std::process::{Command, Stdio};

use deploy::{have, render, skip_or_fail};
use serde_json::Value;

const DIRS: [&str; 3] = ["deploy", "deploy/overlays/example", "deploy/overlays/enforce"];

/// Oldest supported (appArmorProfile in securityContext is 1.30's) and newest.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

fn tools() -> String {
    std::env::var("SENSOR_TOOLS").unwrap_or_else(|_| "/opt/sensor-tools".into())
}

fn write_temp(name: &str, text: &str) -> tempfile::TempPath {
    let mut f = tempfile::Builder::new().prefix(name).suffix(".yaml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.into_temp_path()
}

#[test]
fn base_has_every_object_the_issue_lists() {
    let Some(objs) = render("deploy") else { return };
    let kinds: Vec<&str> = objs.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    for k in [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "DaemonSet",
        "ConfigMap",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
        "CustomResourceDefinition",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    // RBAC: the pod watch (sensor/src/enrich/k8s/watcher.rs lists and
    // watches), pod containment (respond/contain.rs: label patch, optional
    // delete, apply of the deny-all NetworkPolicy) and the profile sync
    // (detect/baseline/cluster.rs: watch, get, create, update). Nothing more.
    let role = deploy::find(&objs, "ClusterRole");
    assert_eq!(
        role["rules"],
        serde_json::json!([
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch", "patch", "delete"]},
            {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["create", "patch"]},
            {"apiGroups": ["sensor.example.io"], "resources": ["sensorprofiles"],
             "verbs": ["get", "list", "watch", "create", "update"]}
        ])
    );
    let ds = &deploy::find(&objs, "DaemonSet")["spec"]["template"]["spec"];
    assert_eq!(ds["hostPID"], true);
    let c = deploy::container(&objs);
    assert_eq!(c["securityContext"]["privileged"], false);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName");
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let path = c[probe]["httpGet"]["path"].as_str().unwrap();
        assert!(["/healthz", "/readyz"].contains(&path), "{probe}: {path}");
    }
    assert!(deploy::args(&objs).iter().any(|a| a == "--listen=0.0.0.0:8765"), "Falco's port");
    // Every other object lives in the sensor namespace.
    for o in &objs {
        let kind = o["kind"].as_str().unwrap();
        if !["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"].contains(&kind) {
            assert_eq!(o["metadata"]["namespace"], "sensor", "{kind}");
        }
    }
}

#[test]
fn every_object_validates_against_the_kubernetes_schemas() {
    if !have("kubernetes-validate", &["--version"]) {
        skip_or_fail("kubernetes-validate not installed (scripts/setup.sh installs it)");
        return;
    }
    for dir in DIRS {
        let Ok(text) = deploy::render_text(dir) else {
            skip_or_fail("kubectl kustomize failed or kubectl missing");
            return;
        };
        let file = write_temp("rendered", &text);
        for v in KUBERNETES_VERSIONS {
            let out =
                Command::new("kubernetes-validate").args(["--strict", "--quiet", "-k", v]).arg(&file).output().unwrap();
            let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() && !report.contains("ERROR"), "{dir} against {v}:\n{report}");
        }
    }
    // The validator does reject what the API server would: an unknown field.
    let bad = deploy::render_text("deploy").unwrap().replace("hostPID: true", "hostPID: true\n      hostPIDs: true");
    let file = write_temp("bad", &bad);
    let out = Command::new("kubernetes-validate").args(["--strict", "--quiet"]).arg(&file).output().unwrap();
    assert!(!out.status.success(), "an unknown field must fail strict validation");
}

fn validate_crds(objs: &[Value]) -> (bool, String) {
    let mut child = Command::new("node")
        .arg(deploy::root().join("sensor/tests/data/validate_crds.mjs"))
        .env("SENSOR_TOOLS", tools())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(serde_json::to_string(objs).unwrap().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn service_monitor_and_prometheus_rule_validate_against_their_crd_schemas() {
    let models = format!("{}/node/node_modules/@kubernetes-models/prometheus-operator/package.json", tools());
    if !have("node", &["--version"]) || !std::path::Path::new(&models).exists() {
        skip_or_fail("node or @kubernetes-models/prometheus-operator missing (scripts/setup.sh installs them)");
        return;
    }
    for dir in DIRS {
        let Some(objs) = render(dir) else { return };
        let (ok, report) = validate_crds(&objs);
        assert!(ok, "{dir}:\n{report}");
        assert!(report.contains("ok ServiceMonitor/sensor") && report.contains("ok PrometheusRule/sensor"), "{report}");
    }
    // A wrong type and a missing required field are caught.
    let Some(mut objs) = render("deploy") else { return };
    for o in &mut objs {
        if o["kind"] == "ServiceMonitor" {
            o["spec"]["endpoints"][0]["port"] = serde_json::json!(8765);
        }
        if o["kind"] == "PrometheusRule" {
            o["spec"]["groups"][0]["rules"][0].as_object_mut().unwrap().remove("expr");
        }
    }
    let (ok, report) = validate_crds(&objs);
    assert!(!ok, "{report}");
    assert!(report.contains("FAIL ServiceMonitor/sensor") && report.contains("port must be string"), "{report}");
    assert!(report.contains("FAIL PrometheusRule/sensor") && report.contains("expr"), "{report}");
}

#[test]
fn prometheus_rules_pass_promtool() {
    if !have("promtool", &["--version"]) {
        skip_or_fail("promtool missing (scripts/setup.sh installs Debian's prometheus)");
        return;
    }
    let Some(objs) = render("deploy") else { return };
    let spec = &deploy::find(&objs, "PrometheusRule")["spec"];
    // JSON is YAML: the groups as a Prometheus rule file.
    let file = write_temp("rules", &serde_json::to_string(spec).unwrap());
    let out = Command::new("promtool").args(["check", "rules"]).arg(&file).output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{report}");
    let n = spec["groups"][0]["rules"].as_array().unwrap().len();
    assert!(report.contains(&format!("SUCCESS: {n} rules found")), "{report}");
    for alert in
        ["SensorDown", "SensorKernelEventLoss", "SensorOutputFailing", "SensorSpoolFilling", "SensorRulesReloadFailed"]
    {
        assert!(spec["groups"][0]["rules"].as_array().unwrap().iter().any(|r| r["alert"] == alert), "{alert}");
    }
    // promtool does reject a broken expression.
    let mut broken = spec.clone();
    broken["groups"][0]["rules"][0]["expr"] = serde_json::json!("sum(rate(sensor_events_total[5m])");
    let file = write_temp("broken", &serde_json::to_string(&broken).unwrap());
    let out = Command::new("promtool").args(["check", "rules"]).arg(&file).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn dashboard_has_the_panels_the_issue_lists() {
    let Some(objs) = render("deploy") else { return };
    let d = deploy::dashboard(&objs);
    let titles: Vec<&str> = d["panels"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap()).collect();
    for want in ["Events/s", "Kernel losses", "Alerts/s by rule", "Alerts/s by priority", "Output health", "Top pods"] {
        assert!(titles.iter().any(|t| t.starts_with(want)), "{want} missing from {titles:?}");
    }
    let cm = objs.iter().find(|o| o["metadata"]["name"] == "sensor-dashboard").unwrap();
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1", "Grafana's sidecar label");
    // Every metric the manifests use is a sensor_ metric or Prometheus' up.
    assert!(deploy::used_metric_names(&objs).len() >= 8);
}

#[test]
fn config_maps_hold_a_valid_configuration_and_rules() {
    for dir in DIRS {
        let Some(objs) = render(dir) else { return };
        let tmp = tempfile::tempdir().unwrap();
        deploy::write_config_map(&objs, tmp.path());
        let config = tmp.path().join("config.yaml");
        let cfg = sensor::config::Config::load(&config).unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(
            cfg.outputs.as_ref().unwrap().spool_dir.as_deref(),
            Some(std::path::Path::new("/var/lib/sensor/spool"))
        );
        // As the pod runs it: the overlay's URL comes from the Secret through
        // the environment the DaemonSet sets.
        let env: Vec<(String, String)> = deploy::container(&objs)["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["valueFrom"]["secretKeyRef"]["key"] == "url")
            .map(|e| (e["name"].as_str().unwrap().to_owned(), "http://falcosidekick.falco.svc:2801/".to_owned()))
            .collect();
        let out = Command::new(env!("CARGO_BIN_EXE_sensor"))
            .args(["config", "check"])
            .arg(&config)
            .envs(env.clone())
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{dir}: {report}");
        let want = if env.is_empty() { "(outputs: stdout)" } else { "(outputs: stdout, webhook)" };
        assert!(report.contains(want), "{dir}: {report}");
        let out = Command::new(env!("CARGO_BIN_EXE_sensor"))
            .args(["rules", "check", "--with-default-rules"])
            .arg(tmp.path().join("custom_rules.yaml"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{dir}: {}", String::from_utf8_lossy(&out.stdout));
        assert!(String::from_utf8_lossy(&out.stdout).contains("0 errors, 0 warnings"));
    }
}

/// Validates `objects` against the SensorProfile CRD's schema with Python's
/// jsonschema (kubernetes-validate's own dependency); one line per object.
fn validate_profiles(schema: &Value, objects: &[Value]) -> (bool, String) {
    let script = r"
import json, sys, jsonschema
d = json.load(sys.stdin)
bad = 0
for o in d['objects']:
    try:
        jsonschema.validate(o, d['schema'])
        print('ok', o['metadata']['name'])
    except jsonschema.ValidationError as e:
        bad += 1
        print('FAIL', o['metadata']['name'], e.message)
sys.exit(1 if bad else 0)
";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::json!({"schema": schema, "objects": objects});
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn exported_profiles_validate_against_the_sensor_profile_crd() {
    use sensor::detect::baseline::item::{Item, ItemKind};
    use sensor::detect::baseline::key::ProfileKey;
    use sensor::detect::baseline::profile::ProfileDoc;
    use sensor::detect::baseline::store;
    if !have("python3", &["-c", "import jsonschema"]) {
        skip_or_fail("python3 jsonschema missing (installed with kubernetes-validate by scripts/setup.sh)");
        return;
    }
    let Some(objs) = render("deploy") else { return };
    let crd = deploy::find(&objs, "CustomResourceDefinition");
    assert_eq!(crd["spec"]["names"]["kind"], "SensorProfile");
    let version = &crd["spec"]["versions"][0];
    assert_eq!(
        format!("{}/{}", crd["spec"]["group"].as_str().unwrap(), version["name"].as_str().unwrap()),
        sensor::detect::baseline::profile::API_VERSION
    );
    let schema = &version["schema"]["openAPIV3Schema"];
    // Profiles of each scope, written as the agent writes them, exported by
    // the command line.
    let dir = tempfile::tempdir().unwrap();
    let keys = [
        ProfileKey::Pod {
            namespace: "prod".into(),
            kind: "Deployment".into(),
            name: "web".into(),
            container: "app".into(),
        },
        ProfileKey::Image { repository: "docker.io/library/nginx".into() },
        ProfileKey::Host { exe: "/usr/sbin/sshd".into(), parent: "/usr/lib/systemd/systemd".into() },
    ];
    for k in keys {
        let mut p = ProfileDoc::new(k);
        p.learn(&Item { kind: ItemKind::Exec, text: "/usr/bin/curl <- /bin/sh".into() }, 512);
        p.learn(&Item { kind: ItemKind::Connect, text: "tcp api.example.com:443".into() }, 512);
        p.status.events = 10;
        p.status.lost_events = 2;
        p.status.overflow.insert("write".into(), 3);
        store::write_atomic(&store::file_of(dir.path(), &p.metadata.name), &store::encode(&p).unwrap()).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_sensor"))
        .args(["baseline", "export", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported = deploy::parse_documents(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(exported.len(), 3, "{exported:?}");
    let (ok, report) = validate_profiles(schema, &exported);
    assert!(ok, "{report}");
    assert_eq!(report.matches("ok ").count(), 3, "{report}");
    // A mode the CRD does not know, a missing key: rejected.
    let mut bad = exported.clone();
    bad[0]["spec"]["mode"] = serde_json::json!("sleeping");
    bad[1]["spec"].as_object_mut().unwrap().remove("key");
    let (ok, report) = validate_profiles(schema, &bad);
    assert!(!ok && report.matches("FAIL").count() == 2, "{report}");
}
