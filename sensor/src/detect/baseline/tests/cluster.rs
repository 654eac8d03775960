//! Profiles shared through the Kubernetes API, against a stateful server
//! with the API server's responses over real HTTP on 127.0.0.1: nodes
//! merge into one object through `resourceVersion` conflicts, a 410 on the
//! watch lists again, and a node that starts a new replica enforces what
//! the others learned at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kube::{Client, Config};

use super::super::cluster::{self, ClusterStats};
use super::super::key::ProfileKey;
use super::super::profile::Mode;
use super::super::{BaselineConfig, Baselines};
use super::api_server::ApiServer;
use crate::detect::fields::EventFields;
use crate::enrich::container::meta::{ContainerMeta, PodMeta};
use crate::enrich::users::Users;
use crate::event::Event;

const CID: &str = "5f0c2a1e9b8d7c6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29";

fn key() -> ProfileKey {
    ProfileKey::Pod { namespace: "prod".into(), kind: "Deployment".into(), name: "web".into(), container: "app".into() }
}

fn meta() -> ContainerMeta {
    ContainerMeta {
        container: crate::enrich::runtime::ContainerMeta {
            id: CID.into(),
            runtime: "containerd",
            name: Some("app".into()),
            ..Default::default()
        },
        pod: Some(PodMeta {
            name: "web-7d4b9c8f6d-abcde".into(),
            namespace: "prod".into(),
            workload: Some(("Deployment".into(), "web".into())),
            ..Default::default()
        }),
    }
}

/// `/bin/sh` of the pod's container runs `exe`.
fn exec(num: u64, exe: &str) -> Event {
    let text = format!(
        r#"{{"num":{num},"ts":{},"type":"execve","category":"process","pid":600,"tid":600,"uid":0,"gid":0,"cgroup_id":9,"comm":"x","ret":0,"args":{{"exe":"{exe}"}},"proc":{{"exec_id":"600:{num}","ppid":500,"name":"x","exe":"{exe}","exepath":"{exe}","args":["x"],"euid":0,"loginuid":-1,"tty":0,"sid":0,"cap_effective":0,"cap_permitted":0,"cap_inheritable":0,"start_ns":0,"container":{{"id":"{CID}","runtime":"containerd"}},"ancestors":[{{"pid":500,"name":"sh","exe":"/bin/sh","exepath":"/bin/sh","cmdline":"sh"}}]}}}}"#,
        1_796_300_000_000_000_000u64 + num
    );
    serde_json::from_str(&text).unwrap()
}

struct Node {
    b: Baselines,
    stats: Arc<ClusterStats>,
}

impl Node {
    fn start(server: &ApiServer) -> Node {
        let client = Client::try_from(Config::new(server.url().parse().unwrap())).unwrap();
        let cfg = BaselineConfig { learn_for: Duration::from_secs(3600), min_events: 1, ..BaselineConfig::default() };
        let mut b = Baselines::open(cfg, 0).unwrap();
        let (push_tx, push_rx) = tokio::sync::mpsc::unbounded_channel();
        let (remote_tx, remote_rx) = std::sync::mpsc::channel();
        let stats = cluster::spawn(client, "sensor".into(), 512, push_rx, remote_tx);
        b.attach_cluster(push_tx, remote_rx, stats.clone());
        Node { b, stats }
    }

    /// The verdict's `known` on `exe`.
    fn run(&mut self, num: u64, exe: &str) -> (bool, Mode) {
        let (ev, m, u) = (exec(num, exe), meta(), Users::host());
        let f = EventFields {
            ev: &ev,
            meta: Some(&m),
            fd: None,
            users: &u,
            hostname: "n",
            boot_to_unix_ns: 0,
            baseline: None,
        };
        let v = self.b.observe(&f).unwrap();
        assert_eq!(&*v.key, "pod:prod/Deployment/web/app");
        (v.known, v.mode)
    }

    fn exec_items(&self) -> Vec<String> {
        self.b.profile(&key()).map(|p| p.spec.exec.iter().cloned().collect()).unwrap_or_default()
    }
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < end, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn exec_list(obj: &serde_json::Value) -> Vec<String> {
    obj["spec"]["exec"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_merge_into_one_object_through_a_conflict_and_a_410() {
    let server = ApiServer::start().await;
    server.expire_next_watch();
    let (mut a, mut b) = (Node::start(&server), Node::start(&server));
    let name = key().object_name();
    // Node A learns /usr/bin/a and creates the object.
    assert!(!a.run(1, "/usr/bin/a").0);
    a.b.tick(1, true);
    until("node A's create", || server.object("prod", &name).is_some()).await;
    // Node B learned /usr/bin/b; as it merges, a third writer adds
    // /usr/bin/c first: B's replace conflicts, B reads and merges again.
    assert!(!b.run(2, "/usr/bin/b").0);
    server.interfere("/usr/bin/c <- /bin/sh");
    b.b.tick(1, true);
    until("node B's merge", || exec_list(&server.object("prod", &name).unwrap()).len() == 3).await;
    assert_eq!(
        exec_list(&server.object("prod", &name).unwrap()),
        ["/usr/bin/a <- /bin/sh", "/usr/bin/b <- /bin/sh", "/usr/bin/c <- /bin/sh"]
    );
    assert_eq!(b.stats.conflicts.load(Ordering::Relaxed), 1, "the replace with the stale resourceVersion");
    assert_eq!(a.stats.errors.load(Ordering::Relaxed) + b.stats.errors.load(Ordering::Relaxed), 0);
    // One node's first watch got the 410.
    assert_eq!(a.stats.watch_errors.load(Ordering::Relaxed) + b.stats.watch_errors.load(Ordering::Relaxed), 1);
    // Both nodes hold the merged profile: B from its write, A from the
    // watch, which the first 410 Expired made list again.
    // (`tick` acts once per 5 s of the wall clock it is given.)
    let mut wall = 1;
    for (n, node) in [("A", &mut a), ("B", &mut b)] {
        until(&format!("node {n} merged"), || {
            wall += 10_000_000_000;
            node.b.tick(wall, false);
            node.exec_items().len() == 3
        })
        .await;
    }
    let lists = server
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /apis/sensor.example.io/v1alpha1/sensorprofiles?") && !r.contains("watch=true"))
        .count();
    assert!(lists >= 3, "two nodes' lists and a list again after the 410: {:#?}", server.requests());
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.starts_with("PUT /apis/sensor.example.io/v1alpha1/namespaces/prod/sensorprofiles/"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_replica_enforces_what_the_cluster_learned_at_once() {
    let server = ApiServer::start().await;
    // The workload's profile, learned by other nodes and enforcing.
    let mut learned = super::super::profile::ProfileDoc::new(key());
    learned.spec.mode = Mode::Enforcing;
    learned.spec.exec.insert("/usr/bin/a <- /bin/sh".into());
    learned.status.events = 5000;
    let mut obj = serde_json::to_value(&learned).unwrap();
    obj["metadata"]["namespace"] = "prod".into();
    server.put(obj);
    let mut c = Node::start(&server);
    until("the watch's list", || c.stats.received.load(Ordering::Relaxed) >= 1).await;
    c.b.tick(1, true);
    // The first events of the workload on this node: enforced at once.
    assert_eq!(c.run(1, "/usr/bin/a"), (true, Mode::Enforcing));
    assert_eq!(c.run(2, "/usr/bin/nc"), (false, Mode::Enforcing));
    // The deviation is this node's to share: merged into the object.
    c.b.tick(Duration::from_secs(31).as_nanos() as u64 + 2, false);
    until("the deviation shared", || {
        server.object("prod", &key().object_name()).is_some_and(|o| o["status"]["deviations"] == 1)
    })
    .await;
    assert_eq!(
        exec_list(&server.object("prod", &key().object_name()).unwrap()),
        ["/usr/bin/a <- /bin/sh"],
        "enforcing learns nothing"
    );
}
