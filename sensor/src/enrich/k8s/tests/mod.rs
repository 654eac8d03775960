//! End-to-end tests of the pod watcher against recorded API responses served
//! over real HTTP on loopback (no API server runs here).

mod server;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use kube::{Client, Config};

use super::{PodIndex, PodMeta, PodWatcher, WatcherConfig};
use server::ApiServer;

const NODE: &str = "node-a";
const PODLIST: &str = include_str!("../testdata/podlist.json");
const WATCH_EVENTS: &str = include_str!("../testdata/watch-events.jsonl");

// Container ids in the recordings (without runtime prefix).
const WEB: &str = "4b5e57f6eb2f42b9039b3d1e13929295f231749c510cbe341cd68036d9af97e2";
const ENVOY: &str = "84532b306f259587c364bd7301e0813963d5b84fd27c9338f0862dab8f0499d7";
const WEB_INIT: &str = "752850bd9a0fbc7faf55ac000f8f3932b93308f7fc08656d38962994bfa1b370";
const PG: &str = "d80dc0a202c84e8fa4dcb3023143dff30cb5d99dae8c4731d84dab05aab52efb";
const PG_OLD: &str = "8c3b0748696565e0a68ba485e950fa2d65f793e8371458453042a6c9832fcbab";
const NODE_EXP: &str = "db36deea403b65ff6c41180e0a6740bb0bc72adaa4b4f0966bccf97888472835";
const BACKUP: &str = "54d00d867758cef816bc4685f58e327b949712b07ebd17c3485f3ffc9e9f5133";
const BARE: &str = "9b828d53402d6e332ef05a2fe03063b359192571ba99fcd3b85074f46a72fd7e";
const BARE_EPH: &str = "f8f8be602d401754cc6b95dc1c4b5b9b9f029d5382721a9da1ef56fb1e666549";
const API: &str = "14c2529eb4498c5d1ffd6915d05bf58a91bdda796af59f41d480d11c099d0479";

const WEB_UID: &str = "0b6f3c1e-1d2a-4c5b-9e8f-7a6b5c4d3e01";
const PG_UID: &str = "1c7a4d2f-2e3b-4d6c-8f9a-8b7c6d5e4f02";
const BARE_UID: &str = "4fad7a5c-5b6e-4a9f-9c2d-1e0f9a8b7c05";
const API_UID: &str = "6bcf9c7e-7d8a-4c1b-9e4f-3a2b1c0d9e07";

fn client_for(server: &ApiServer) -> Client {
    let config = Config::new(server.url().parse().unwrap());
    Client::try_from(config).unwrap()
}

/// Poll `cond` every 10 ms for at most `limit`.
async fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) -> Instant {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return Instant::now();
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn watch_line(kind: &str) -> &'static str {
    WATCH_EVENTS.lines().find(|l| l.starts_with(&format!(r#"{{"type":"{kind}""#))).unwrap()
}

fn workload(p: &PodMeta) -> (String, String) {
    let w = p.workload.as_ref().expect("workload");
    (w.kind.clone(), w.name.clone())
}

fn pair(kind: &str, name: &str) -> (String, String) {
    (kind.to_owned(), name.to_owned())
}

fn spawn(server: &ApiServer, grace: Duration) -> (PodIndex, tokio::task::JoinHandle<()>) {
    PodWatcher::spawn(client_for(server), WatcherConfig { node_name: NODE.into(), grace, owner_lookup: None })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_then_watch_over_http() {
    let server = ApiServer::start(NODE, vec![Some(PODLIST.to_owned())]).await;
    let grace = Duration::from_millis(800);
    let (index, task) = spawn(&server, grace);
    let stats = std::sync::Arc::clone(index.stats());

    wait_until(Duration::from_secs(10), "initial list", || stats.synced()).await;
    assert_eq!(stats.pods(), 6);
    assert_eq!(stats.watch_errors(), 0);
    assert_listed_pods(&index);
    assert!(index.by_container_id(API).is_none(), "not added yet");
    apply_watch_events(&server, &index, grace).await;
    assert_requests(&server);
    task.abort();
}

/// The six pods of the recorded `PodList`.
fn assert_listed_pods(index: &PodIndex) {
    // --- Deployment pod, via ReplicaSet + pod-template-hash.
    let web = index.by_container_id(WEB).expect("web by full id");
    assert_eq!(web.uid, WEB_UID);
    assert_eq!(web.name, "web-frontend-7d4b9c8f6d-x2k9p");
    assert_eq!(web.namespace, "shop");
    assert_eq!(workload(&web), pair("Deployment", "web-frontend"));
    assert_eq!(web.service_account.as_deref(), Some("frontend"));
    assert_eq!(web.node_name.as_deref(), Some(NODE));
    assert_eq!(web.labels.get("app").map(String::as_str), Some("web-frontend"));
    assert_eq!(web.labels.get("version").map(String::as_str), Some("v1"));
    assert_eq!(web.annotations.get("prometheus.io/scrape").map(String::as_str), Some("true"));
    assert_eq!(web.pod_ip, Some("10.244.1.12".parse::<IpAddr>().unwrap()));
    assert_eq!(web.pod_ips.len(), 2, "dual stack");
    assert_eq!(web.start_time.as_deref(), Some("2024-05-01T10:00:00Z"));
    assert_eq!(web.container_ids, vec![WEB_INIT, WEB, ENVOY]);
    assert!(web.containers.iter().all(|c| c.runtime.as_deref() == Some("containerd")));
    assert_eq!(web.containers[0].role, "init");
    assert_eq!(index.by_container_id(ENVOY).unwrap().uid, WEB_UID);
    assert_eq!(index.by_container_id(WEB_INIT).unwrap().uid, WEB_UID);
    assert_eq!(index.by_container_id(&WEB[..12]).unwrap().uid, WEB_UID, "12-char prefix");
    assert_eq!(index.by_container_id(&format!("containerd://{WEB}")).unwrap().uid, WEB_UID);
    assert_eq!(index.by_uid(WEB_UID).unwrap().name, web.name);

    // --- StatefulSet pod, CRI-O, restarted once.
    let pg = index.by_uid(PG_UID).unwrap();
    assert_eq!(workload(&pg), pair("StatefulSet", "postgres"));
    assert_eq!(pg.service_account.as_deref(), Some("postgres"));
    assert_eq!(pg.containers[0].runtime.as_deref(), Some("cri-o"));
    assert_eq!(index.by_container_id(PG).unwrap().uid, PG_UID);
    assert_eq!(index.by_container_id(PG_OLD).unwrap().uid, PG_UID, "previous instance");

    // --- DaemonSet pod, Docker, host network.
    let ds = index.by_container_id(NODE_EXP).unwrap();
    assert_eq!(workload(&ds), pair("DaemonSet", "node-exporter"));
    assert!(ds.host_network);
    assert_eq!(ds.containers[0].runtime.as_deref(), Some("docker"));
    assert_eq!(ds.service_account.as_deref(), Some("node-exporter"));

    // --- Pod of a Job that a CronJob created.
    let job = index.by_container_id(BACKUP).unwrap();
    assert_eq!(workload(&job), pair("CronJob", "backup"));
    assert_eq!(job.phase.as_deref(), Some("Succeeded"));

    // --- Bare pod, with an ephemeral debug container.
    let bare = index.by_container_id(BARE).unwrap();
    assert_eq!(bare.uid, BARE_UID);
    assert!(bare.workload.is_none());
    assert_eq!(bare.service_account.as_deref(), Some("default"));
    assert_eq!(index.by_container_id(BARE_EPH).unwrap().uid, BARE_UID);
    assert_eq!(bare.containers[1].role, "ephemeral");

    // --- Pending pod: known by uid, no containers yet.
    let pending = index.live_pods().into_iter().find(|p| p.name.starts_with("worker-")).unwrap();
    assert!(pending.container_ids.is_empty());
    assert!(pending.start_time.is_none());
    assert_eq!(workload(&pending), pair("Deployment", "worker"));
}

/// ADDED, MODIFIED, DELETED (+ BOOKMARK) from the recorded watch stream.
async fn apply_watch_events(server: &ApiServer, index: &PodIndex, grace: Duration) {
    let stats = index.stats();
    // --- ADDED
    server.push(watch_line("ADDED"));
    wait_until(Duration::from_secs(5), "ADDED pod", || index.by_uid(API_UID).is_some()).await;
    let api = index.by_container_id(API).unwrap();
    assert_eq!(workload(&api), pair("Deployment", "api"));
    assert_eq!(stats.pods(), 7);

    // --- MODIFIED: labels change.
    server.push(watch_line("MODIFIED"));
    wait_until(Duration::from_secs(5), "MODIFIED labels", || {
        index.by_uid(WEB_UID).is_some_and(|p| p.labels.get("version").map(String::as_str) == Some("v2"))
    })
    .await;
    let web = index.by_container_id(WEB).unwrap();
    assert_eq!(web.labels.get("canary").map(String::as_str), Some("true"));
    assert_eq!(stats.pods(), 7);

    // --- DELETED: resolvable within grace, gone after.
    let pushed = Instant::now();
    server.push(watch_line("DELETED"));
    server.push(watch_line("BOOKMARK"));
    wait_until(Duration::from_secs(5), "DELETED applied", || stats.tombstones() == 1).await;
    assert_eq!(stats.pods(), 6);
    let kept = index.by_uid(PG_UID).expect("deleted pod kept during grace");
    assert_eq!(kept.phase.as_deref(), Some("Succeeded"), "final state kept");
    assert_eq!(index.by_container_id(PG).unwrap().uid, PG_UID);
    assert_eq!(index.by_container_id(&PG[..12]).unwrap().uid, PG_UID);
    let purged = wait_until(Duration::from_secs(5), "purge", || stats.purged() == 1).await;
    assert!(purged - pushed >= grace, "purged after {:?}, before the grace period", purged - pushed);
    assert!(index.by_uid(PG_UID).is_none());
    assert!(index.by_container_id(PG).is_none());
    assert!(index.by_container_id(PG_OLD).is_none());
    assert_eq!(stats.tombstones(), 0);
    assert_eq!(stats.pods(), 6);
    assert_eq!(stats.watch_errors(), 0, "bookmark handled without error");
}

fn assert_requests(server: &ApiServer) {
    // --- What the server saw: only node-scoped requests, a list then a
    // watch resuming from the list's resourceVersion.
    let reqs = server.requests();
    let list = reqs.iter().find(|r| !r.is_watch()).expect("a list request");
    let watch = reqs.iter().find(|r| r.is_watch()).expect("a watch request");
    for r in &reqs {
        assert_eq!(r.path, "/api/v1/pods");
        assert_eq!(r.query.get("fieldSelector").map(String::as_str), Some("spec.nodeName=node-a"), "{r:?}");
    }
    assert_eq!(list.query.get("resourceVersion").map(String::as_str), Some("0"), "list served from the watch cache");
    assert!(!list.query.contains_key("limit"), "one unpaged list");
    assert_eq!(watch.query.get("resourceVersion").map(String::as_str), Some("1000"));
}

/// A failing list is counted, retried with backoff, and then succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_failure_is_counted_and_retried() {
    let server = ApiServer::start(NODE, vec![None, Some(PODLIST.to_owned())]).await;
    let (index, task) = spawn(&server, Duration::from_mins(1));
    let stats = std::sync::Arc::clone(index.stats());
    wait_until(Duration::from_secs(10), "sync after retry", || stats.synced()).await;
    assert_eq!(stats.watch_errors(), 1);
    assert_eq!(stats.pods(), 6);
    let lists = server.requests().iter().filter(|r| !r.is_watch()).count();
    assert!(lists >= 2, "list retried");
    task.abort();
}

/// A watch that expires (410 Gone) makes the watcher re-list; pods missing
/// from the new list were deleted unseen and enter their grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relist_after_expired_watch_marks_missing_pods_deleted() {
    let mut relisted: serde_json::Value = serde_json::from_str(PODLIST).unwrap();
    let items = relisted["items"].as_array_mut().unwrap();
    items.retain(|p| p["metadata"]["uid"] != BARE_UID);
    relisted["metadata"]["resourceVersion"] = "2000".into();
    let server = ApiServer::start(NODE, vec![Some(PODLIST.to_owned()), Some(relisted.to_string())]).await;
    let (index, task) = spawn(&server, Duration::from_mins(1));
    let stats = std::sync::Arc::clone(index.stats());
    wait_until(Duration::from_secs(10), "initial list", || stats.synced()).await;
    assert_eq!(stats.pods(), 6);

    server.push(
        r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1000 (1500)","reason":"Expired","code":410}}"#,
    );
    wait_until(Duration::from_secs(10), "re-list", || stats.resyncs() >= 2).await;
    assert_eq!(stats.pods(), 5);
    assert_eq!(stats.tombstones(), 1);
    assert!(stats.watch_errors() >= 1, "the 410 is reported as an error");
    // Still resolvable during its grace period.
    assert_eq!(index.by_container_id(BARE).unwrap().uid, BARE_UID);
    assert!(index.live_pods().iter().all(|p| p.uid != BARE_UID));
    task.abort();
}
