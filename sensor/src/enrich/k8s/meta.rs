//! Pod metadata as the sensor keeps it, and how it is derived from a `Pod`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde::Serialize;

/// The workload that (ultimately) controls a pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// `Deployment`, `StatefulSet`, `DaemonSet`, `Job`, `CronJob`, `ReplicaSet`,
    /// or whatever other kind the controlling owner reference names
    /// (`ReplicationController`, `Node` for static pods, custom resources…).
    pub kind: String,
    pub name: String,
}

impl Workload {
    fn new(kind: &str, name: &str) -> Self {
        Self { kind: kind.to_owned(), name: name.to_owned() }
    }
}

/// One container of a pod, as reported in its status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    /// Container id without the runtime prefix (64 hex digits for containerd,
    /// Docker and CRI-O).
    pub id: String,
    /// Runtime named by the prefix (`containerd`, `docker`, `cri-o`), if any.
    pub runtime: Option<String>,
    /// Container name in the pod spec.
    pub name: String,
    pub image: String,
    /// `container`, `init` or `ephemeral`.
    pub role: &'static str,
}

/// What the sensor knows about a pod running on this node.
#[derive(Clone, Debug, Serialize)]
pub struct PodMeta {
    pub uid: String,
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub service_account: Option<String>,
    pub node_name: Option<String>,
    pub pod_ip: Option<IpAddr>,
    /// All pod IPs (dual stack); `pod_ip` is the first.
    pub pod_ips: Vec<IpAddr>,
    pub host_network: bool,
    pub phase: Option<String>,
    pub workload: Option<Workload>,
    /// Ids (runtime prefix stripped) of the running or last-known containers:
    /// regular, init and ephemeral.
    pub container_ids: Vec<String>,
    /// The same containers with name, image and runtime.
    pub containers: Vec<ContainerInfo>,
    /// Ids of containers that a restart replaced (`lastState.terminated`);
    /// indexed too, so that late events of the previous instance resolve.
    pub previous_container_ids: Vec<String>,
    /// `status.startTime`, RFC 3339.
    pub start_time: Option<String>,
}

/// Answer of an [`OwnerLookup`] about a Job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOwner {
    /// The Job is owned by this `CronJob`.
    CronJob(String),
    /// The Job exists and is not owned by a `CronJob`.
    NotCronJob,
    /// The lookup does not know the Job: fall back to the name heuristic.
    Unknown,
}

/// Optional hook that tells who owns a Job, e.g. backed by a cache of Jobs the
/// agent watches (needs `list`/`watch` on `batch/jobs`). Called with
/// `(namespace, job_name)`. It must not block: it runs on the watcher task.
pub type OwnerLookup = Arc<dyn Fn(&str, &str) -> JobOwner + Send + Sync>;

/// Strip the `<runtime>://` prefix from a `containerID` of a container status.
/// Returns `(id, runtime)`; an id without prefix is returned as is. The id is
/// lower-cased, as cgroup paths and the CRI use lower-case hex.
#[must_use]
pub fn split_container_id(raw: &str) -> (String, Option<String>) {
    let raw = raw.trim();
    match raw.split_once("://") {
        Some((runtime, id)) => (id.to_ascii_lowercase(), Some(runtime.to_owned())),
        None => (raw.to_ascii_lowercase(), None),
    }
}

/// [`split_container_id`] without the runtime.
#[must_use]
pub fn strip_runtime_prefix(raw: &str) -> String {
    split_container_id(raw).0
}

/// Resolve the workload that controls a pod, from its controlling owner
/// reference (`controller: true`) and its labels.
///
/// * `ReplicaSet` `<deployment>-<hash>` where the pod has label
///   `pod-template-hash=<hash>` → `Deployment <deployment>`; otherwise the
///   `ReplicaSet` itself.
/// * Job → `CronJob <cronjob>` when `lookup` says the Job is owned by a
///   `CronJob`. When there is no lookup, or it does not know the Job, the name
///   heuristic applies: a Job named `<cronjob>-<8 to 10 digits>` (the
///   `CronJob` controller appends the scheduled time in minutes since the
///   epoch; older controllers used seconds) is taken to belong to `CronJob`
///   `<cronjob>`. A hand-made Job named like that is misattributed; pass a
///   lookup to rule that out.
/// * Any other controlling owner (`StatefulSet`, `DaemonSet`, `ReplicationController`,
///   Node for static pods, custom kinds) is reported as is.
/// * No controlling owner → `None` (a bare pod).
#[must_use]
pub fn resolve_workload(
    namespace: &str,
    owners: &[OwnerReference],
    labels: &BTreeMap<String, String>,
    lookup: Option<&OwnerLookup>,
) -> Option<Workload> {
    let owner = owners.iter().find(|o| o.controller == Some(true))?;
    match owner.kind.as_str() {
        "ReplicaSet" => {
            if let Some(hash) = labels.get("pod-template-hash")
                && let Some(deployment) = owner.name.strip_suffix(hash.as_str()).and_then(|s| s.strip_suffix('-'))
                && !deployment.is_empty()
            {
                return Some(Workload::new("Deployment", deployment));
            }
            Some(Workload::new("ReplicaSet", &owner.name))
        }
        "Job" => {
            let answer = lookup.map_or(JobOwner::Unknown, |f| f(namespace, &owner.name));
            match answer {
                JobOwner::CronJob(cron) => Some(Workload::new("CronJob", &cron)),
                JobOwner::NotCronJob => Some(Workload::new("Job", &owner.name)),
                JobOwner::Unknown => Some(match cronjob_from_job_name(&owner.name) {
                    Some(cron) => Workload::new("CronJob", cron),
                    None => Workload::new("Job", &owner.name),
                }),
            }
        }
        kind => Some(Workload::new(kind, &owner.name)),
    }
}

/// `<cronjob>-<8..=10 digits>` → `<cronjob>`.
#[must_use]
pub fn cronjob_from_job_name(job: &str) -> Option<&str> {
    let (prefix, suffix) = job.rsplit_once('-')?;
    let digits_ok = (8..=10).contains(&suffix.len()) && suffix.bytes().all(|b| b.is_ascii_digit());
    (digits_ok && !prefix.is_empty()).then_some(prefix)
}

impl PodMeta {
    /// Build from a `Pod` object. Returns `None` for an object without uid
    /// (never sent by a real API server).
    #[must_use]
    pub fn from_pod(pod: &Pod, lookup: Option<&OwnerLookup>) -> Option<Self> {
        let md = &pod.metadata;
        let uid = md.uid.clone().filter(|u| !u.is_empty())?;
        let namespace = md.namespace.clone().unwrap_or_default();
        let labels = md.labels.clone().unwrap_or_default();
        let annotations = md.annotations.clone().unwrap_or_default();
        let workload =
            resolve_workload(&namespace, md.owner_references.as_deref().unwrap_or_default(), &labels, lookup);
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();

        let mut pod_ips: Vec<IpAddr> = Vec::new();
        if let Some(st) = status {
            let listed = st.pod_ips.iter().flatten().map(|p| p.ip.as_str());
            for ip in st.pod_ip.as_deref().into_iter().chain(listed) {
                if let Ok(ip) = ip.parse::<IpAddr>()
                    && !pod_ips.contains(&ip)
                {
                    pod_ips.push(ip);
                }
            }
        }

        let mut containers = Vec::new();
        let mut previous_container_ids = Vec::new();
        if let Some(st) = status {
            let groups: [(&'static str, &Option<Vec<ContainerStatus>>); 3] = [
                ("init", &st.init_container_statuses),
                ("container", &st.container_statuses),
                ("ephemeral", &st.ephemeral_container_statuses),
            ];
            for (role, statuses) in groups {
                for cs in statuses.iter().flatten() {
                    if let Some(raw) = cs.container_id.as_deref().filter(|s| !s.is_empty()) {
                        let (id, runtime) = split_container_id(raw);
                        containers.push(ContainerInfo {
                            id,
                            runtime,
                            name: cs.name.clone(),
                            image: cs.image.clone(),
                            role,
                        });
                    }
                    let prev = cs
                        .last_state
                        .as_ref()
                        .and_then(|s| s.terminated.as_ref())
                        .and_then(|t| t.container_id.as_deref())
                        .filter(|s| !s.is_empty());
                    if let Some(raw) = prev {
                        previous_container_ids.push(strip_runtime_prefix(raw));
                    }
                }
            }
        }
        let container_ids = containers.iter().map(|c| c.id.clone()).collect();

        Some(Self {
            uid,
            name: md.name.clone().unwrap_or_default(),
            namespace,
            labels,
            annotations,
            service_account: spec.and_then(|s| s.service_account_name.clone()).filter(|s| !s.is_empty()),
            node_name: spec.and_then(|s| s.node_name.clone()),
            pod_ip: pod_ips.first().copied(),
            pod_ips,
            host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
            phase: status.and_then(|s| s.phase.clone()),
            workload,
            container_ids,
            containers,
            previous_container_ids,
            start_time: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0.to_string()),
        })
    }

    /// `namespace/name`.
    #[must_use]
    pub fn qualified_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(kind: &str, name: &str, controller: Option<bool>) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: name.into(),
            uid: "u".into(),
            controller,
            block_owner_deletion: None,
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[allow(clippy::unnecessary_wraps)] // compared with `resolve_workload`'s Option
    fn wl(kind: &str, name: &str) -> Option<Workload> {
        Some(Workload::new(kind, name))
    }

    #[test]
    fn replicaset_with_template_hash_is_deployment() {
        let o = [owner("ReplicaSet", "web-frontend-7d4b9c8f6d", Some(true))];
        let l = labels(&[("pod-template-hash", "7d4b9c8f6d")]);
        assert_eq!(resolve_workload("ns", &o, &l, None), wl("Deployment", "web-frontend"));
    }

    #[test]
    fn replicaset_without_matching_hash_stays_replicaset() {
        let o = [owner("ReplicaSet", "web-frontend-7d4b9c8f6d", Some(true))];
        assert_eq!(resolve_workload("ns", &o, &BTreeMap::new(), None), wl("ReplicaSet", "web-frontend-7d4b9c8f6d"));
        let l = labels(&[("pod-template-hash", "aaaaaaaaaa")]);
        assert_eq!(resolve_workload("ns", &o, &l, None), wl("ReplicaSet", "web-frontend-7d4b9c8f6d"));
        // The hash must be a whole `-`-separated suffix, and leave a name.
        let o = [owner("ReplicaSet", "x7d4b9c8f6d", Some(true))];
        let l = labels(&[("pod-template-hash", "7d4b9c8f6d")]);
        assert_eq!(resolve_workload("ns", &o, &l, None), wl("ReplicaSet", "x7d4b9c8f6d"));
        let o = [owner("ReplicaSet", "-7d4b9c8f6d", Some(true))];
        assert_eq!(resolve_workload("ns", &o, &l, None), wl("ReplicaSet", "-7d4b9c8f6d"));
    }

    #[test]
    fn direct_controllers() {
        for kind in ["StatefulSet", "DaemonSet", "ReplicationController", "Node"] {
            let o = [owner(kind, "thing", Some(true))];
            assert_eq!(resolve_workload("ns", &o, &BTreeMap::new(), None), wl(kind, "thing"));
        }
    }

    #[test]
    fn only_the_controller_owner_counts() {
        let o = [
            owner("ConfigMap", "not-me", None),
            owner("StatefulSet", "not-me-either", Some(false)),
            owner("DaemonSet", "agent", Some(true)),
        ];
        assert_eq!(resolve_workload("ns", &o, &BTreeMap::new(), None), wl("DaemonSet", "agent"));
        let o = [owner("StatefulSet", "db", None)];
        assert_eq!(resolve_workload("ns", &o, &BTreeMap::new(), None), None);
        assert_eq!(resolve_workload("ns", &[], &BTreeMap::new(), None), None);
    }

    #[test]
    fn job_name_heuristic() {
        assert_eq!(cronjob_from_job_name("backup-29034720"), Some("backup"));
        assert_eq!(cronjob_from_job_name("db-backup-1700000000"), Some("db-backup"));
        assert_eq!(cronjob_from_job_name("migrate-42"), None);
        assert_eq!(cronjob_from_job_name("migrate-12345678901"), None);
        assert_eq!(cronjob_from_job_name("migrate-2903472x"), None);
        assert_eq!(cronjob_from_job_name("-29034720"), None);
        assert_eq!(cronjob_from_job_name("29034720"), None);

        let o = [owner("Job", "backup-29034720", Some(true))];
        assert_eq!(resolve_workload("ns", &o, &BTreeMap::new(), None), wl("CronJob", "backup"));
        let o = [owner("Job", "migrate-42", Some(true))];
        assert_eq!(resolve_workload("ns", &o, &BTreeMap::new(), None), wl("Job", "migrate-42"));
    }

    #[test]
    fn job_lookup_hook_overrides_heuristic() {
        let lookup: OwnerLookup = Arc::new(|ns: &str, job: &str| match (ns, job) {
            ("ns", "backup-29034720") => JobOwner::NotCronJob,
            ("ns", "manual-run") => JobOwner::CronJob("nightly".into()),
            _ => JobOwner::Unknown,
        });
        let e = BTreeMap::new();
        let o = [owner("Job", "backup-29034720", Some(true))];
        assert_eq!(resolve_workload("ns", &o, &e, Some(&lookup)), wl("Job", "backup-29034720"));
        let o = [owner("Job", "manual-run", Some(true))];
        assert_eq!(resolve_workload("ns", &o, &e, Some(&lookup)), wl("CronJob", "nightly"));
        // Unknown to the hook: heuristic.
        let o = [owner("Job", "report-29034721", Some(true))];
        assert_eq!(resolve_workload("other", &o, &e, Some(&lookup)), wl("CronJob", "report"));
    }

    #[test]
    fn container_id_prefixes() {
        let hex = "3f1b0a9c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
        for (raw, runtime) in [
            (format!("containerd://{hex}"), Some("containerd")),
            (format!("docker://{hex}"), Some("docker")),
            (format!("cri-o://{hex}"), Some("cri-o")),
            (hex.to_owned(), None),
            (format!(" containerd://{} ", hex.to_uppercase()), Some("containerd")),
        ] {
            let (id, rt) = split_container_id(&raw);
            assert_eq!(id, hex, "{raw}");
            assert_eq!(rt.as_deref(), runtime, "{raw}");
            assert_eq!(strip_runtime_prefix(&raw), hex);
        }
    }
}
