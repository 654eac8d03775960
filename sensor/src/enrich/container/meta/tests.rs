use super::*;
use crate::enrich::container::Runtime;

fn cref(id: &str) -> ContainerRef {
    ContainerRef { id: id.to_owned(), runtime: Runtime::Docker, pod_uid: None }
}

#[test]
fn image_reference_parts() {
    let m = |i: &str| ContainerMeta {
        container: crate::enrich::runtime::ContainerMeta { image: Some(i.to_owned()), ..Default::default() },
        pod: None,
    };
    assert_eq!(m("docker.io/library/nginx:1.25").image_parts(), Some(("docker.io/library/nginx", Some("1.25"))));
    assert_eq!(m("registry:5000/team/app").image_parts(), Some(("registry:5000/team/app", None)));
    assert_eq!(m("registry:5000/app:v2@sha256:abcd").image_parts(), Some(("registry:5000/app", Some("v2"))));
    assert_eq!(m("busybox").image_parts(), Some(("busybox", None)));
    assert_eq!(ContainerMeta::default().image_parts(), None);
}

#[test]
fn first_sight_asks_once_and_holds_until_the_answer() {
    let (req_tx, mut req_rx) = mpsc::unbounded_channel();
    let (ans_tx, ans_rx) = mpsc::unbounded_channel();
    let mut store = MetaStore::new(Some(req_tx), Some(ans_rx));
    let mut q = HoldQueue::new(Duration::from_secs(10), 100);
    assert!(store.wants_wait(&cref("a")));
    assert!(store.wants_wait(&cref("a")));
    assert_eq!(req_rx.try_recv().unwrap().id, "a");
    assert!(req_rx.try_recv().is_err(), "asked twice");
    q.push("a".into(), 1);
    q.push("a".into(), 2);
    assert!(q.release(&store, Instant::now()).is_empty());
    let web = ContainerMeta {
        container: crate::enrich::runtime::ContainerMeta { name: Some("web".into()), ..Default::default() },
        pod: None,
    };
    ans_tx.send(("a".into(), Ok(web))).unwrap();
    store.poll();
    assert_eq!(store.get("a").unwrap().container.name.as_deref(), Some("web"));
    assert!(!store.wants_wait(&cref("a")));
    assert_eq!(q.release(&store, Instant::now()), vec![(1, true), (2, true)]);
    assert_eq!(store.stats().lookups, 1);
}

#[test]
fn expired_holds_release_in_order_and_failures_are_not_held() {
    let (req_tx, _req_rx) = mpsc::unbounded_channel();
    let (ans_tx, ans_rx) = mpsc::unbounded_channel();
    let mut store = MetaStore::new(Some(req_tx), Some(ans_rx));
    let mut q = HoldQueue::new(Duration::from_millis(50), 100);
    assert!(store.wants_wait(&cref("slow")));
    q.push("slow".into(), "x");
    let later = Instant::now() + Duration::from_millis(60);
    assert_eq!(q.release(&store, later), vec![("x", false)]);
    ans_tx.send(("slow".into(), Err("no such container".into()))).unwrap();
    store.poll();
    assert!(!store.wants_wait(&cref("slow")), "a failed lookup is not retried at once");
    assert_eq!(store.stats().failures, 1);
}

#[test]
fn full_queue_releases_the_oldest_and_host_mode_never_holds() {
    let mut q = HoldQueue::new(Duration::from_secs(10), 2);
    assert_eq!(q.push("a".into(), 1), None);
    assert_eq!(q.push("a".into(), 2), None);
    assert_eq!(q.push("a".into(), 3), Some(1));
    let mut host = MetaStore::new(None, None);
    assert!(!host.wants_wait(&cref("a")));
}
