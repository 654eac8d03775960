//! `isolate_pod` through the Kubernetes API, against the stand-in API
//! server of `support/profile_api.rs` over real HTTP on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use sensor::respond::policy::{Mode, Policy};

#[allow(dead_code)] // the profile half is kernel_baseline.rs's
#[path = "support/profile_api.rs"]
mod profile_api;

/// `isolate_pod` against the stand-in API server over real HTTP: the label
/// is a merge patch of the pod, the deny-all policy a server-side apply
/// selecting that label, the deletion a DELETE; through the response
/// stage the action's alert arrives with the result and the triggering
/// alert's id.
#[tokio::test]
async fn isolate_pod_labels_the_pod_and_applies_a_deny_all_policy() {
    use sensor::respond::contain::{self, POLICY_NAME, QUARANTINE_LABEL};
    let server = profile_api::ApiServer::start().await;
    server.put_pod("prod", "web-1");
    let client = kube::Client::try_from(kube::Config::new(server.url().parse().unwrap())).unwrap();
    contain::isolate(&client, "prod", "web-1", "alert-1", false).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(reqs[0].starts_with("PATCH /api/v1/namespaces/prod/pods/web-1"), "{reqs:?}");
    assert!(
        reqs[1]
            .starts_with(&format!("PATCH /apis/networking.k8s.io/v1/namespaces/prod/networkpolicies/{POLICY_NAME}?"))
            && reqs[1].contains("fieldManager=sensor")
            && reqs[1].contains("force=true"),
        "{reqs:?}"
    );
    let bodies = server.bodies();
    assert_eq!(bodies[0].1, "application/merge-patch+json");
    let label: serde_json::Value = serde_json::from_str(&bodies[0].2).unwrap();
    assert_eq!(
        label,
        serde_json::json!({"metadata": {"labels": {QUARANTINE_LABEL: "true"},
            "annotations": {"sensor.example.io/quarantine-alert": "alert-1"}}})
    );
    assert_eq!(bodies[1].1, "application/apply-patch+yaml");
    let policy: serde_json::Value = serde_json::from_str(&bodies[1].2).unwrap();
    assert_eq!(
        policy["spec"],
        serde_json::json!({"podSelector": {"matchLabels": {QUARANTINE_LABEL: "true"}},
        "policyTypes": ["Ingress", "Egress"]})
    );
    assert_eq!(policy["metadata"]["namespace"], "prod");
    assert_eq!(server.pod("prod", "web-1").unwrap()["metadata"]["labels"][QUARANTINE_LABEL], "true");
    assert!(server.policy("prod", POLICY_NAME).is_some());

    // Through the stage, with deletion.
    let policy = Policy { mode: Mode::Enforce, delete_pods: true, ..Policy::default() };
    let mut r = sensor::respond::Responder::new(policy, None, None).with_contain(Some(contain::spawn(
        &tokio::runtime::Handle::current(),
        client,
        true,
    )));
    let text = "- rule: shell\n  desc: d\n  condition: evt.type = execve and proc.name = sh\n  output: o\n  priority: WARNING\n  actions: [isolate_pod]\n";
    let (set, _) = sensor::rules::RuleSet::load_texts(
        &[sensor::rules::RuleText { name: "r.yaml", content: text }],
        &sensor::rules::EngineConfig::default(),
    );
    let set = set.unwrap();
    r.set_rules(&set);
    let ev: sensor::event::Event = serde_json::from_str(
        r#"{"ts": 1, "type": "execve", "category": "process", "pid": 4321, "tid": 4321, "uid": 0, "gid": 0,
            "cgroup_id": 1, "comm": "sh", "ret": 0, "args": {}}"#,
    )
    .unwrap();
    let mut alerts = vec![sensor::rules::Alert {
        hostname: "n".into(),
        output: None,
        priority: sensor::rules::Priority::Warning,
        rule: "shell".into(),
        source: "syscall".into(),
        tags: None,
        time: "2026-12-04T18:00:00.000000000Z".into(),
        output_fields: Some(serde_json::Map::new()),
        message: None,
    }];
    let opts = sensor::rules::AlertOptions::default();
    let pod = sensor::respond::PodRef { namespace: "prod", name: "web-1" };
    assert!(r.respond(&ev, Some(pod), None, &mut alerts, &opts).is_empty(), "the result comes later");
    let id = alerts[0].output_fields.as_ref().unwrap()["response.alert_id"].clone();
    let deadline = Instant::now() + Duration::from_secs(10);
    let done = loop {
        let d = r.poll(&opts);
        if !d.is_empty() {
            break d;
        }
        assert!(Instant::now() < deadline, "no containment result; requests {:?}", server.requests());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let f = done[0].output_fields.as_ref().unwrap();
    assert_eq!(done[0].rule, "Sensor response: isolate_pod");
    assert_eq!(f["response.outcome"], "done", "{f:?}");
    assert_eq!(f["response.trigger.id"], id);
    assert_eq!(f["k8s.pod.name"], "web-1");
    assert!(server.requests().last().unwrap().starts_with("DELETE /api/v1/namespaces/prod/pods/web-1"));
    assert!(server.pod("prod", "web-1").is_none());
    // No pod known: reported at once as failed, nothing sent.
    let before = server.requests().len();
    let failed = r.respond(&ev, None, None, &mut alerts, &opts);
    assert_eq!(failed[0].output_fields.as_ref().unwrap()["response.outcome"], "failed");
    assert_eq!(server.requests().len(), before);
}
