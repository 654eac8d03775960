//! `isolate_pod` from a live `sensor run --enforce`: an exec in a real CRI
//! pod container (containerd, Kubernetes labels) fires a rule with
//! `isolate_pod`; the sensor attributes it to the pod, and its containment
//! task labels the pod and applies the deny-all policy through the
//! stand-in API server (`support/profile_api.rs`, real HTTP on 127.0.0.1,
//! reached through a kubeconfig). The action's alert reports it with the
//! triggering alert's id.
#![allow(clippy::unwrap_used)]

mod common;
#[allow(dead_code)] // the profile half is kernel_baseline.rs's
#[path = "support/profile_api.rs"]
mod profile_api;
#[path = "support/runtime.rs"]
mod runtime_support;

use common::Sensor;
use runtime_support::{ContainerdEnv, skip_or_fail, start_cri_pod};
use sensor::respond::contain::{POLICY_NAME, QUARANTINE_LABEL};

#[test]
fn a_live_sensor_isolates_the_pod_of_a_cri_container() {
    if !common::kernel_tests_can_run() {
        return;
    }
    let env = match ContainerdEnv::start() {
        Ok(e) => e,
        Err(why) => return skip_or_fail(&format!("containerd cannot run: {why}")),
    };
    env.import_images().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(profile_api::ApiServer::start());
    let ns = "shop";
    let pod = common::unique("web");
    server.put_pod(ns, &pod);
    let kubeconfig = env.dir().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig);
    let rules = env.dir().join("isolate_rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Response test isolate\n  desc: a cat in one pod (kernel_response_pod.rs)\n  condition: evt.type = \
             execve and proc.name = cat and k8s.pod.name = {pod}\n  output: cat in %k8s.ns.name/%k8s.pod.name\n  \
             priority: CRITICAL\n  actions: [isolate_pod]\n"
        ),
    )
    .unwrap();
    let socket = format!("cri:{}", env.socket.display());
    let s = Sensor::start_with_env(
        &[
            "run",
            "--no-default-rules",
            "--rules",
            rules.to_str().unwrap(),
            "--syscall-hooks",
            "btf",
            "--runtime-socket",
            &socket,
            "--enforce",
            "--no-listen",
        ],
        &[("KUBECONFIG", kubeconfig.to_str().unwrap()), ("NODE_NAME", "response-node")],
    );
    let uid = "7c1d9e2f-bbbb-4ccc-8ddd-0123456789ab";
    let (_sandbox, id) = rt
        .block_on(start_cri_pod(&env, (&pod, ns, uid), &[("app", "web")], "app", &["/bin/cat", "/nonexistent/x"]))
        .unwrap();
    let trigger = s.wait_for("the rule's alert", |a| {
        a["rule"] == "Response test isolate" && a["output_fields"]["container.id"] == id[..12]
    });
    let action = s.wait_for("the isolate_pod alert", |a| a["rule"] == "Sensor response: isolate_pod");
    let f = &action["output_fields"];
    assert_eq!(f["response.outcome"], "done", "{action}");
    assert_eq!(f["response.mode"], "enforce");
    assert_eq!(f["k8s.ns.name"], ns, "{action}");
    assert_eq!(f["k8s.pod.name"], pod.as_str());
    assert_eq!(f["response.trigger.id"], trigger["output_fields"]["response.alert_id"], "{action}\n{trigger}");
    assert_eq!(server.pod(ns, &pod).unwrap()["metadata"]["labels"][QUARANTINE_LABEL], "true");
    let policy = server.policy(ns, POLICY_NAME).expect("the deny-all policy applied");
    assert_eq!(
        policy["spec"],
        serde_json::json!({"podSelector": {"matchLabels": {QUARANTINE_LABEL: "true"}}, "policyTypes": ["Ingress", "Egress"]})
    );
    let reqs = server.requests();
    let label = format!("PATCH /api/v1/namespaces/{ns}/pods/{pod}");
    assert_eq!(reqs.iter().filter(|r| r.starts_with(&label)).count(), 1, "{reqs:?}");
    assert!(!reqs.iter().any(|r| r.starts_with("DELETE")), "delete_pods is off: {reqs:?}");
    s.stop();
}
