//! The background task that answers metadata lookups: the container
//! runtime first (name, image, labels, privileged, mounts, pod name from the
//! `io.kubernetes.*` labels), then the node's pod index from the Kubernetes
//! API (pod labels, annotations, owner workload, service account).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::meta::{Answer, ContainerMeta, PodMeta};
use super::{ContainerRef, Runtime};
use crate::enrich::k8s::PodIndex;
use crate::enrich::runtime::{self, Runtimes};

/// A new pod's container can start before the watch delivers the pod: the
/// lookup waits this long for it in the index.
const POD_WAIT: Duration = Duration::from_millis(400);

fn hint(r: Runtime) -> Option<&'static str> {
    match r {
        Runtime::Docker => Some(runtime::DOCKER),
        Runtime::Containerd => Some(runtime::CONTAINERD),
        Runtime::Crio => Some(runtime::CRIO),
        Runtime::Podman | Runtime::Cri => None,
    }
}

fn from_runtime(m: &runtime::ContainerMeta) -> ContainerMeta {
    ContainerMeta {
        container: m.clone(),
        pod: m.pod.as_ref().map(|p| PodMeta {
            name: p.name.clone(),
            namespace: p.namespace.clone(),
            uid: p.uid.clone(),
            ..PodMeta::default()
        }),
    }
}

fn merge_pod(into: &mut ContainerMeta, p: &crate::enrich::k8s::PodMeta) {
    let pod = into.pod.get_or_insert_with(PodMeta::default);
    pod.name.clone_from(&p.name);
    pod.namespace.clone_from(&p.namespace);
    pod.uid.clone_from(&p.uid);
    pod.labels.clone_from(&p.labels);
    pod.annotations.clone_from(&p.annotations);
    pod.service_account.clone_from(&p.service_account);
    pod.workload = p.workload.as_ref().map(|w| (w.kind.clone(), w.name.clone()));
    // Without a runtime answer the pod status still names the container.
    let c = &mut into.container;
    if (c.name.is_none() || c.image.is_none())
        && let Some(s) = p.containers.iter().find(|s| s.id == c.id)
    {
        if c.name.is_none() {
            c.name = Some(s.name.clone());
        }
        if c.image.is_none() {
            c.image = Some(s.image.clone()).filter(|i| !i.is_empty());
        }
    }
}

async fn pod_for(
    pods: &PodIndex,
    c: &ContainerRef,
    uid_hint: Option<&str>,
) -> Option<Arc<crate::enrich::k8s::PodMeta>> {
    let deadline = tokio::time::Instant::now() + POD_WAIT;
    loop {
        let found = pods
            .by_container_id(&c.id)
            .or_else(|| uid_hint.and_then(|u| pods.by_uid(u)))
            .or_else(|| c.pod_uid.as_deref().and_then(|u| pods.by_uid(u)));
        // Only a container in a pod is worth waiting for.
        let in_pod = c.pod_uid.is_some() || uid_hint.is_some();
        if found.is_some() || !in_pod || tokio::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One answer for one container.
pub async fn resolve(
    runtimes: Option<&Runtimes>,
    pods: Option<&PodIndex>,
    c: &ContainerRef,
) -> Result<ContainerMeta, String> {
    let rt = match runtimes {
        Some(r) => r.lookup(&c.id, hint(c.runtime)).await.map_err(|e| e.to_string()),
        None => Err("no container runtime reachable".to_owned()),
    };
    let mut meta = match &rt {
        Ok(m) => from_runtime(m),
        Err(_) => {
            ContainerMeta { container: runtime::ContainerMeta { id: c.id.clone(), ..Default::default() }, pod: None }
        }
    };
    let mut got_pod = false;
    if let Some(pods) = pods {
        let uid = meta.pod.as_ref().map(|p| p.uid.clone()).filter(|u| !u.is_empty());
        if let Some(p) = pod_for(pods, c, uid.as_deref()).await {
            merge_pod(&mut meta, &p);
            got_pod = true;
        }
    }
    match rt {
        Ok(_) => Ok(meta),
        Err(_) if got_pod => Ok(meta),
        Err(e) => Err(e),
    }
}

/// Starts the task; returns the channels for [`super::meta::MetaStore`].
pub fn spawn(
    runtimes: Option<Arc<Runtimes>>,
    pods: Option<PodIndex>,
) -> (mpsc::UnboundedSender<ContainerRef>, mpsc::UnboundedReceiver<Answer>) {
    let (req_tx, mut req_rx) = mpsc::unbounded_channel::<ContainerRef>();
    let (ans_tx, ans_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(c) = req_rx.recv().await {
            let (runtimes, pods, ans_tx) = (runtimes.clone(), pods.clone(), ans_tx.clone());
            // Lookups run concurrently: one slow runtime call must not
            // hold up other containers' events.
            tokio::spawn(async move {
                let r = resolve(runtimes.as_deref(), pods.as_ref(), &c).await;
                let _ = ans_tx.send((c.id, r));
            });
        }
    });
    (req_tx, ans_rx)
}
