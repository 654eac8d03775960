//! A tiny, real HTTP/1.1 server on 127.0.0.1:0 that plays recorded Kubernetes
//! API responses: `GET /api/v1/pods` (list) answers with recorded `PodList`s,
//! `GET /api/v1/pods?watch=true` streams the watch-event lines the test feeds
//! it (chunked, newline-delimited JSON, like the API server). Every request
//! target is recorded. The server and all its connections stop when the
//! `ApiServer` is dropped, and after `LIFETIME` in any case.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// Hard bound on how long a test server lives.
const LIFETIME: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub query: HashMap<String, String>,
}

impl Request {
    pub fn is_watch(&self) -> bool {
        matches!(self.query.get("watch").map(String::as_str), Some("true" | "1"))
    }
}

struct State {
    node: String,
    /// List bodies served in turn; the last one repeats. `None` = HTTP 500.
    lists: Vec<Option<String>>,
    lists_served: usize,
    requests: Vec<Request>,
    /// The first watch request streams what the test sends here.
    watch_feed: Option<mpsc::UnboundedReceiver<String>>,
}

pub struct ApiServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    feed: mpsc::UnboundedSender<String>,
    task: JoinHandle<()>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ApiServer {
    pub async fn start(node: &str, lists: Vec<Option<String>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback());
        let (feed, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(State {
            node: node.to_owned(),
            lists,
            lists_served: 0,
            requests: Vec::new(),
            watch_feed: Some(rx),
        }));
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            let accept = async {
                loop {
                    let Ok((sock, _)) = listener.accept().await else {
                        break;
                    };
                    let st = Arc::clone(&st);
                    conns.spawn(async move {
                        let _ = serve_conn(sock, st).await;
                    });
                }
            };
            let _ = tokio::time::timeout(LIFETIME, accept).await;
            // Dropping `conns` aborts every connection.
        });
        Self { addr, state, feed, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Send one recorded watch-event line down the first watch stream.
    pub fn push(&self, line: &str) {
        self.feed.send(line.trim_end().to_owned()).unwrap();
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn parse_target(target: &str) -> Request {
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    let query = q
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Request { path: path.to_owned(), query }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

async fn respond(w: &mut OwnedWriteHalf, status: &str, body: &str) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
    w.write_all(head.as_bytes()).await?;
    w.write_all(body.as_bytes()).await?;
    w.flush().await
}

async fn chunk(w: &mut OwnedWriteHalf, data: &str) -> std::io::Result<()> {
    w.write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes()).await?;
    w.flush().await
}

fn status_body(code: u16, reason: &str, message: &str) -> String {
    format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{message}","reason":"{reason}","code":{code}}}"#
    )
}

async fn serve_conn(sock: tokio::net::TcpStream, st: Arc<Mutex<State>>) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        // Headers; GET requests carry no body.
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).await? == 0 {
                return Ok(());
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
        }
        let req = parse_target(&target);
        let (node_ok, is_watch) = {
            let mut s = st.lock().unwrap();
            s.requests.push(req.clone());
            let want = format!("spec.nodeName={}", s.node);
            (req.query.get("fieldSelector") == Some(&want), req.is_watch())
        };
        if req.path != "/api/v1/pods" {
            respond(&mut w, "404 Not Found", &status_body(404, "NotFound", "no such path")).await?;
            continue;
        }
        if !node_ok {
            // The sensor must never watch the whole cluster's pods.
            let body = status_body(400, "BadRequest", "test server: fieldSelector missing");
            respond(&mut w, "400 Bad Request", &body).await?;
            continue;
        }
        if is_watch {
            let feed = st.lock().unwrap().watch_feed.take();
            w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await?;
            w.flush().await?;
            if let Some(mut feed) = feed {
                while let Some(line) = feed.recv().await {
                    chunk(&mut w, &format!("{line}\n")).await?;
                }
            } else {
                // Later watches (reconnects) stay open and quiet.
                tokio::time::sleep(LIFETIME).await;
            }
            w.write_all(b"0\r\n\r\n").await?;
            w.flush().await?;
            return Ok(());
        }
        let body = {
            let mut s = st.lock().unwrap();
            let i = s.lists_served.min(s.lists.len() - 1);
            s.lists_served += 1;
            s.lists[i].clone()
        };
        if let Some(b) = body {
            respond(&mut w, "200 OK", &b).await?;
        } else {
            let body = status_body(500, "InternalError", "test server: recorded failure");
            respond(&mut w, "500 Internal Server Error", &body).await?;
        }
    }
}
