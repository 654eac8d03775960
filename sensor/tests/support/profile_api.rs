//! A real HTTP/1.1 server on 127.0.0.1:0 that keeps `SensorProfile` objects
//! as the Kubernetes API server does, answering with the API server's
//! recorded response shapes: list, watch (newline-delimited events,
//! chunked), get, create (409 `AlreadyExists`), replace (409 `Conflict` when the
//! `resourceVersion` is not the stored one) and, on demand, a watch that
//! fails with 410 Expired (kube's watcher must list again). It also answers
//! the response stage's pod containment as the API server does: a merge
//! patch of a pod's labels, a server-side apply of a `NetworkPolicy`
//! (created, then updated) and a pod's deletion, each returning the
//! object. No API server runs on these machines. Every request is
//! recorded, with its content type and body.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::broadcast;
use tokio::task::{JoinHandle, JoinSet};

const LIFETIME: Duration = Duration::from_secs(60);
const BASE: &str = "/apis/sensor.example.io/v1alpha1";

#[derive(Default)]
struct State {
    /// (namespace, name) → object.
    objects: BTreeMap<(String, String), Value>,
    rv: u64,
    requests: Vec<String>,
    /// (request, content type, body) of every request with a body.
    bodies: Vec<(String, String, String)>,
    /// Pods and network policies by (namespace, name).
    pods: BTreeMap<(String, String), Value>,
    policies: BTreeMap<(String, String), Value>,
    /// The next watch answers 410 Expired (as after a compaction).
    expire_next_watch: bool,
    /// Before the next replace, another writer changes the object: this
    /// item lands in its `spec.exec` and the replace then conflicts.
    interfere: Option<String>,
}

pub struct ApiServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ApiServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        let state = Arc::new(Mutex::new(State { rv: 100, ..State::default() }));
        let (events, _) = broadcast::channel::<String>(1024);
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            let accept = async {
                while let Ok((sock, _)) = listener.accept().await {
                    let (st, ev) = (Arc::clone(&st), events.clone());
                    conns.spawn(async move {
                        let _ = serve(sock, st, ev).await;
                    });
                }
            };
            let _ = tokio::time::timeout(LIFETIME, accept).await;
        });
        Self { addr, state, task }
    }

    /// A kubeconfig at `path` that points kube-rs (and the sensor, through
    /// `KUBECONFIG`) at this server, without credentials.
    pub fn write_kubeconfig(&self, path: &std::path::Path) {
        std::fs::write(
            path,
            format!(
                "apiVersion: v1\nkind: Config\nclusters: [{{name: fake, cluster: {{server: \"{}\"}}}}]\n\
                 users: [{{name: u, user: {{}}}}]\ncontexts: [{{name: c, context: {{cluster: fake, user: u}}}}]\n\
                 current-context: c\n",
                self.url()
            ),
        )
        .unwrap();
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    /// (request, content type, body) of every request that had a body.
    pub fn bodies(&self) -> Vec<(String, String, String)> {
        self.state.lock().unwrap().bodies.clone()
    }

    /// A pod of the cluster, as `kubectl get -o json` shows it.
    pub fn put_pod(&self, namespace: &str, name: &str) {
        let mut s = self.state.lock().unwrap();
        s.rv += 1;
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace,
            "uid": format!("uid-{}", s.rv), "resourceVersion": s.rv.to_string(), "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}});
        s.pods.insert((namespace.to_owned(), name.to_owned()), pod);
    }

    pub fn pod(&self, namespace: &str, name: &str) -> Option<Value> {
        self.state.lock().unwrap().pods.get(&(namespace.to_owned(), name.to_owned())).cloned()
    }

    pub fn policy(&self, namespace: &str, name: &str) -> Option<Value> {
        self.state.lock().unwrap().policies.get(&(namespace.to_owned(), name.to_owned())).cloned()
    }

    pub fn expire_next_watch(&self) {
        self.state.lock().unwrap().expire_next_watch = true;
    }

    pub fn interfere(&self, exec_item: &str) {
        self.state.lock().unwrap().interfere = Some(exec_item.to_owned());
    }

    pub fn object(&self, namespace: &str, name: &str) -> Option<Value> {
        self.state.lock().unwrap().objects.get(&(namespace.to_owned(), name.to_owned())).cloned()
    }

    /// Stores an object as another writer would (`kubectl apply`).
    pub fn put(&self, mut obj: Value) {
        let mut s = self.state.lock().unwrap();
        s.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
        let key = (
            obj["metadata"]["namespace"].as_str().unwrap().to_owned(),
            obj["metadata"]["name"].as_str().unwrap().to_owned(),
        );
        s.objects.insert(key, obj);
    }
}

fn status(code: u16, reason: &str, message: &str) -> String {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
    .to_string()
}

async fn respond(w: &mut OwnedWriteHalf, code: u16, body: &str) -> std::io::Result<()> {
    let text = match code {
        200 => "OK",
        201 => "Created",
        404 => "Not Found",
        409 => "Conflict",
        _ => "Bad Request",
    };
    let head =
        format!("HTTP/1.1 {code} {text}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
    w.write_all(head.as_bytes()).await?;
    w.write_all(body.as_bytes()).await?;
    w.flush().await
}

async fn chunk(w: &mut OwnedWriteHalf, line: &str) -> std::io::Result<()> {
    let data = format!("{line}\n");
    w.write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes()).await?;
    w.flush().await
}

async fn serve(
    sock: tokio::net::TcpStream,
    st: Arc<Mutex<State>>,
    events: broadcast::Sender<String>,
) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut len = 0usize;
        let mut content_type = String::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-type")
            {
                v.trim().clone_into(&mut content_type);
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).await?;
        record(&st, format!("{method} {target}"), content_type, &body);
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        if let Some((code, text)) = containment(&st, &method, path, &body) {
            respond(&mut w, code, &text).await?;
            continue;
        }
        let rest = path.strip_prefix(BASE).unwrap_or("");
        let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        match (method.as_str(), segs.as_slice()) {
            ("GET", ["sensorprofiles"]) if query.split('&').any(|kv| kv == "watch=true") => {
                let expire = std::mem::take(&mut st.lock().unwrap().expire_next_watch);
                let mut rx = events.subscribe();
                w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await?;
                if expire {
                    let gone = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Failure", "message": "too old resource version: 101 (131)", "reason": "Expired", "code": 410}});
                    chunk(&mut w, &gone.to_string()).await?;
                    w.write_all(b"0\r\n\r\n").await?;
                    return Ok(());
                }
                while let Ok(ev) = rx.recv().await {
                    chunk(&mut w, &ev).await?;
                }
                return Ok(());
            }
            ("GET", ["sensorprofiles"]) => {
                let list = {
                    let s = st.lock().unwrap();
                    json!({"apiVersion": "sensor.example.io/v1alpha1", "kind": "SensorProfileList",
                        "metadata": {"resourceVersion": s.rv.to_string()}, "items": s.objects.values().collect::<Vec<_>>()})
                };
                respond(&mut w, 200, &list.to_string()).await?;
            }
            ("GET", ["namespaces", ns, "sensorprofiles", name]) => {
                let obj = st.lock().unwrap().objects.get(&((*ns).to_owned(), (*name).to_owned())).cloned();
                if let Some(o) = obj {
                    respond(&mut w, 200, &o.to_string()).await?;
                } else {
                    let msg = format!("sensorprofiles.sensor.example.io \"{name}\" not found");
                    respond(&mut w, 404, &status(404, "NotFound", &msg)).await?;
                }
            }
            ("POST", ["namespaces", ns, "sensorprofiles"]) => {
                let (code, text, event) = create(&st, ns, &body);
                if let Some(e) = event {
                    let _ = events.send(e);
                }
                respond(&mut w, code, &text).await?;
            }
            ("PUT", ["namespaces", ns, "sensorprofiles", name]) => {
                let (code, text, event) = replace(&st, ns, name, &body);
                if let Some(e) = event {
                    let _ = events.send(e);
                }
                respond(&mut w, code, &text).await?;
            }
            _ => {
                let body = status(404, "NotFound", "the server could not find the requested resource");
                respond(&mut w, 404, &body).await?;
            }
        }
    }
}

/// POST: 201 with the stored object, or 409 `AlreadyExists`; the watch event.
fn create(st: &Mutex<State>, ns: &str, body: &[u8]) -> (u16, String, Option<String>) {
    let mut obj: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_owned();
    let mut s = st.lock().unwrap();
    let key = (ns.to_owned(), name.clone());
    if s.objects.contains_key(&key) {
        let msg = format!("sensorprofiles.sensor.example.io \"{name}\" already exists");
        return (409, status(409, "AlreadyExists", &msg), None);
    }
    s.rv += 1;
    obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
    obj["metadata"]["namespace"] = json!(ns);
    obj["metadata"]["uid"] = json!(format!("uid-{}", s.rv));
    s.objects.insert(key, obj.clone());
    (201, obj.to_string(), Some(json!({"type": "ADDED", "object": obj}).to_string()))
}

/// PUT: 200, or 409 `Conflict` when the body's resourceVersion is not the
/// stored one (after the interfering writer, if one was asked for).
fn replace(st: &Mutex<State>, ns: &str, name: &str, body: &[u8]) -> (u16, String, Option<String>) {
    let mut obj: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut s = st.lock().unwrap();
    let key = (ns.to_owned(), name.to_owned());
    if let Some(item) = s.interfere.take() {
        s.rv += 1;
        let rv = s.rv.to_string();
        if let Some(o) = s.objects.get_mut(&key) {
            let mut exec = o["spec"]["exec"].as_array().cloned().unwrap_or_default();
            exec.push(json!(item));
            o["spec"]["exec"] = json!(exec);
            o["metadata"]["resourceVersion"] = json!(rv);
        }
    }
    let current = s.objects.get(&key).map(|o| o["metadata"]["resourceVersion"].clone());
    if current.is_none() || current.as_ref() != Some(&obj["metadata"]["resourceVersion"]) {
        let msg = format!(
            "Operation cannot be fulfilled on sensorprofiles.sensor.example.io \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
        );
        return (409, status(409, "Conflict", &msg), None);
    }
    s.rv += 1;
    obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
    s.objects.insert(key, obj.clone());
    (200, obj.to_string(), Some(json!({"type": "MODIFIED", "object": obj}).to_string()))
}

fn record(st: &Mutex<State>, request: String, content_type: String, body: &[u8]) {
    let mut s = st.lock().unwrap();
    s.requests.push(request.clone());
    if !body.is_empty() {
        s.bodies.push((request, content_type, String::from_utf8_lossy(body).into_owned()));
    }
}

/// The containment requests: `PATCH`/`DELETE` of `/api/v1/namespaces/NS/pods/NAME`
/// and `PATCH` (apply) of `/apis/networking.k8s.io/v1/namespaces/NS/networkpolicies/NAME`.
/// `None` for any other path.
fn containment(st: &Mutex<State>, method: &str, path: &str, body: &[u8]) -> Option<(u16, String)> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut s = st.lock().unwrap();
    match (method, segs.as_slice()) {
        ("PATCH", ["api", "v1", "namespaces", ns, "pods", name]) => {
            let key = ((*ns).to_owned(), (*name).to_owned());
            let patch: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            s.rv += 1;
            let rv = s.rv.to_string();
            let Some(pod) = s.pods.get_mut(&key) else {
                return Some((404, status(404, "NotFound", &format!("pods \"{name}\" not found"))));
            };
            for field in ["labels", "annotations"] {
                if let Some(m) = patch["metadata"][field].as_object() {
                    for (k, v) in m {
                        pod["metadata"][field][k] = v.clone();
                    }
                }
            }
            pod["metadata"]["resourceVersion"] = json!(rv);
            Some((200, pod.to_string()))
        }
        ("DELETE", ["api", "v1", "namespaces", ns, "pods", name]) => {
            match s.pods.remove(&((*ns).to_owned(), (*name).to_owned())) {
                Some(mut pod) => {
                    pod["metadata"]["deletionTimestamp"] = json!("2026-12-04T18:00:00Z");
                    Some((200, pod.to_string()))
                }
                None => Some((404, status(404, "NotFound", &format!("pods \"{name}\" not found")))),
            }
        }
        ("PATCH", ["apis", "networking.k8s.io", "v1", "namespaces", ns, "networkpolicies", name]) => {
            let mut obj: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            s.rv += 1;
            let key = ((*ns).to_owned(), (*name).to_owned());
            let created = !s.policies.contains_key(&key);
            obj["metadata"]["resourceVersion"] = json!(s.rv.to_string());
            obj["metadata"]["uid"] = json!(format!("uid-{}", s.rv));
            s.policies.insert(key, obj.clone());
            Some((if created { 201 } else { 200 }, obj.to_string()))
        }
        _ => None,
    }
}
