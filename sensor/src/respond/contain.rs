//! `isolate_pod`: pod containment through the Kubernetes API. The pod is
//! labelled `sensor.example.io/quarantine: "true"` (with the triggering
//! alert's id as an annotation), a deny-all `NetworkPolicy`
//! (`sensor-quarantine`, no ingress or egress rule) selecting that label
//! is applied in its namespace (server-side apply: created once, then the
//! same), and, when configured, the pod is deleted. The requests run on a
//! task of the main runtime, never on the ring reader; their results come
//! back as the actions' alerts.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use tokio::sync::mpsc;

/// The label a quarantined pod carries, and the policy selects.
pub const QUARANTINE_LABEL: &str = "sensor.example.io/quarantine";
/// The annotation naming the alert that quarantined the pod.
pub const ALERT_ANNOTATION: &str = "sensor.example.io/quarantine-alert";
/// The deny-all policy's name, one per namespace.
pub const POLICY_NAME: &str = "sensor-quarantine";
/// Server-side apply's field manager.
pub const FIELD_MANAGER: &str = "sensor";

#[derive(Debug, thiserror::Error)]
pub enum ContainError {
    #[error("labelling pod {namespace}/{pod}")]
    Label {
        namespace: String,
        pod: String,
        #[source]
        source: kube::Error,
    },
    #[error("applying NetworkPolicy {namespace}/{POLICY_NAME}")]
    Policy {
        namespace: String,
        #[source]
        source: kube::Error,
    },
    #[error("deleting pod {namespace}/{pod}")]
    Delete {
        namespace: String,
        pod: String,
        #[source]
        source: kube::Error,
    },
}

/// The deny-all policy for quarantined pods of `namespace`.
#[must_use]
pub fn deny_all_policy(namespace: &str) -> serde_json::Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": POLICY_NAME,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": FIELD_MANAGER},
        },
        "spec": {
            "podSelector": {"matchLabels": {QUARANTINE_LABEL: "true"}},
            "policyTypes": ["Ingress", "Egress"],
        },
    })
}

/// Labels the pod, applies the policy, and deletes the pod if `delete`.
pub async fn isolate(
    client: &Client,
    namespace: &str,
    pod: &str,
    alert_id: &str,
    delete: bool,
) -> Result<(), ContainError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let label = json!({"metadata": {
        "labels": {QUARANTINE_LABEL: "true"},
        "annotations": {ALERT_ANNOTATION: alert_id},
    }});
    pods.patch(pod, &PatchParams::default(), &Patch::Merge(&label)).await.map_err(|source| ContainError::Label {
        namespace: namespace.to_owned(),
        pod: pod.to_owned(),
        source,
    })?;
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), namespace);
    policies
        .patch(POLICY_NAME, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&deny_all_policy(namespace)))
        .await
        .map_err(|source| ContainError::Policy { namespace: namespace.to_owned(), source })?;
    if delete {
        pods.delete(pod, &DeleteParams::default()).await.map_err(|source| ContainError::Delete {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            source,
        })?;
    }
    Ok(())
}

/// One containment to carry out.
#[derive(Debug, Clone)]
pub struct Job {
    pub namespace: String,
    pub pod: String,
    /// The triggering alert's id, rule and time, for the action's alert.
    pub alert_id: String,
    pub rule: String,
    pub time: String,
    pub pid: u32,
    pub name: String,
    pub fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// Evidence taken before (`capture`), attached to the result's alert.
    pub evidence: Option<serde_json::Value>,
}

/// A containment's result.
#[derive(Debug)]
pub struct Done {
    pub job: Job,
    pub result: Result<(), String>,
}

/// Bound of the queue to the containment task: past it a job is dropped
/// and counted.
pub const QUEUE: usize = 64;

/// The task's two ends, seen from the response stage.
pub struct Contain {
    pub jobs: mpsc::Sender<Job>,
    pub done: mpsc::Receiver<Done>,
}

/// Starts the containment task on `rt` (the main runtime).
#[must_use]
pub fn spawn(rt: &tokio::runtime::Handle, client: Client, delete: bool) -> Contain {
    let (jobs, mut rx) = mpsc::channel::<Job>(QUEUE);
    let (done_tx, done) = mpsc::channel::<Done>(QUEUE);
    rt.spawn(async move {
        while let Some(job) = rx.recv().await {
            let r = isolate(&client, &job.namespace, &job.pod, &job.alert_id, delete).await;
            let result = r.map_err(|e| crate::error_chain(&e));
            if done_tx.send(Done { job, result }).await.is_err() {
                break;
            }
        }
    });
    Contain { jobs, done }
}
