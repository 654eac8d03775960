#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

use super::cri_v1 as v1;
use super::docker::parse_rfc3339_ns;
use super::test_support::{CRI_BUSYBOX, ContainerdEnv, DockerEnv, TempDir, proc_cgroup, skip_or_fail};
use super::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

const MISSING_ID: &str = "0000000000000000000000000000000000000000000000000000000000000000";

// ------------------------------------------------------------------ real Docker

#[test]
fn docker_real_container() {
    let mut env = match DockerEnv::start() {
        Ok(e) => e,
        Err(e) => return skip_or_fail(&format!("cannot start dockerd: {e}")),
    };
    env.import_busybox("localbusybox:1").unwrap();
    let vol = env.socket.parent().unwrap().join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    let volume = format!("{}:/data:ro", vol.display());
    let id = env
        .run_detached(
            "rt-test",
            &[
                "--network",
                "none",
                "--label",
                "app=test",
                "--label",
                "io.kubernetes.pod.name=web-0",
                "--label",
                "io.kubernetes.pod.namespace=shop",
                "--label",
                "io.kubernetes.pod.uid=1f6b0d4e-0000-4000-8000-000000000001",
                "-v",
                &volume,
                "localbusybox:1",
                "sleep",
                "60",
            ],
        )
        .unwrap();
    assert_eq!(id.len(), 64, "{id}");
    let privileged_id =
        env.create("rt-priv", &["--network", "none", "--privileged", "localbusybox:1", "sleep", "60"]).unwrap();

    rt().block_on(async {
        let client = DockerClient::new(&env.socket);
        client.ping().await.unwrap();
        let meta = client.container(&id).await.unwrap();
        eprintln!("{meta:#?}");
        assert_eq!(meta.id, id);
        assert_eq!(meta.runtime, "docker");
        assert_eq!(meta.name.as_deref(), Some("rt-test"));
        assert_eq!(meta.image.as_deref(), Some("localbusybox:1"));
        assert!(meta.image_id.as_deref().unwrap().starts_with("sha256:"));
        // An imported image has no repo digest.
        assert_eq!(meta.image_digest, None);
        assert_eq!(meta.labels.get("app").map(String::as_str), Some("test"));
        assert_eq!(meta.privileged, Some(false));
        let pid = meta.pid.expect("pid");
        assert!(pid > 0);
        assert!(proc_cgroup(pid).contains(&id), "cgroup of {pid} names {id}");
        let m = meta.mounts.iter().find(|m| m.destination == "/data").expect("bind mount");
        assert_eq!(m.source, vol.display().to_string());
        assert!(m.read_only);
        assert_eq!(meta.pod.as_ref().map(|p| p.name.as_str()), Some("web-0"));
        assert_eq!(meta.pod.as_ref().map(|p| p.namespace.as_str()), Some("shop"));
        let created = meta.created_at_ns.unwrap();
        let started = meta.started_at_ns.unwrap();
        assert!(created > 1_600_000_000_000_000_000 && started >= created);

        // --privileged cannot *start* here (the machine lacks CAP_SYS_RESOURCE, so runc fails
        // to apply the full capability set), so check the flag on a created container.
        let priv_meta = client.container(&privileged_id).await.unwrap();
        assert_eq!(priv_meta.privileged, Some(true));
        assert_eq!(priv_meta.name.as_deref(), Some("rt-priv"));
        assert_eq!(priv_meta.pid, None);
        assert_eq!(priv_meta.started_at_ns, None);

        // Short id prefix works too and yields the full id.
        assert_eq!(client.container(&id[..12]).await.unwrap().id, id);
        // Unknown id.
        assert!(matches!(client.container(MISSING_ID).await, Err(RuntimeError::NotFound { runtime: "docker", .. })));

        // Through Runtimes: probe with only this socket, hint, cache.
        let (runtimes, failures) = Runtimes::probe(RuntimesConfig {
            sockets: vec![
                (env.socket.parent().unwrap().join("nope.sock"), SocketKind::Cri),
                (env.socket.clone(), SocketKind::Docker),
            ],
            ..RuntimesConfig::default()
        })
        .await;
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(runtimes.clients().len(), 1);
        let a = runtimes.lookup(&id, Some("docker")).await.unwrap();
        let b = runtimes.lookup(&id, None).await.unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(*a, meta);
        let s = runtimes.stats();
        assert_eq!((s.lookups, s.cache_hits, s.rpcs), (2, 1, 1));
    });
}

// ------------------------------------------------------------------ real containerd CRI

fn sandbox_config(dir: &std::path::Path, uid: &str) -> v1::PodSandboxConfig {
    let labels: HashMap<String, String> =
        [(LABEL_POD_NAME, "web-0"), (LABEL_POD_NAMESPACE, "shop"), (LABEL_POD_UID, uid), ("app", "web")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    let logs = dir.join("pod-logs");
    std::fs::create_dir_all(&logs).unwrap();
    v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: "web-0".into(),
            uid: uid.into(),
            namespace: "shop".into(),
            attempt: 0,
        }),
        hostname: String::new(),
        log_directory: logs.display().to_string(),
        labels,
        linux: Some(v1::LinuxPodSandboxConfig {
            cgroup_parent: format!("/kubepods/besteffort/pod{uid}"),
            security_context: Some(v1::LinuxSandboxSecurityContext {
                namespace_options: Some(v1::NamespaceOption {
                    network: v1::NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn containerd_cri_real_pod() {
    let env = match ContainerdEnv::start() {
        Ok(e) => e,
        Err(e) => return skip_or_fail(&format!("cannot start containerd: {e}")),
    };
    env.import_images().unwrap();
    let uid = "7d2c6a1e-1111-4222-8333-444455556666";
    let sb_config = sandbox_config(env.dir(), uid);

    rt().block_on(async {
        let client = CriClient::connect(&env.socket).await.unwrap();
        assert_eq!(client.runtime(), "containerd");
        let mut rs = client.runtime_service();
        let sandbox = rs
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(sb_config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .pod_sandbox_id;
        let mut labels = sb_config.labels.clone();
        labels.remove("app");
        labels.insert(LABEL_CONTAINER_NAME.into(), "app".into());
        let vol = env.dir().join("vol");
        std::fs::create_dir_all(&vol).unwrap();
        let container = rs
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: sandbox.clone(),
                config: Some(v1::ContainerConfig {
                    metadata: Some(v1::ContainerMetadata { name: "app".into(), attempt: 0 }),
                    image: Some(v1::ImageSpec { image: CRI_BUSYBOX.into(), ..Default::default() }),
                    command: vec!["/bin/sleep".into(), "60".into()],
                    labels,
                    mounts: vec![v1::Mount {
                        container_path: "/data".into(),
                        host_path: vol.display().to_string(),
                        readonly: true,
                        ..Default::default()
                    }],
                    log_path: "app.log".into(),
                    linux: Some(v1::LinuxContainerConfig {
                        security_context: Some(v1::LinuxContainerSecurityContext {
                            namespace_options: Some(v1::NamespaceOption {
                                network: v1::NamespaceMode::Node as i32,
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                sandbox_config: Some(sb_config.clone()),
            })
            .await
            .unwrap()
            .into_inner()
            .container_id;
        rs.start_container(v1::StartContainerRequest { container_id: container.clone() }).await.unwrap();

        if std::env::var_os("RT_DUMP").is_some() {
            let raw = rs
                .container_status(v1::ContainerStatusRequest { container_id: container.clone(), verbose: true })
                .await
                .unwrap()
                .into_inner();
            eprintln!("RAW STATUS {:#?}", raw.status);
            eprintln!("RAW INFO {}", raw.info.get("info").cloned().unwrap_or_default());
        }

        let meta = client.container(&container).await.unwrap();
        eprintln!("{meta:#?}");
        assert_eq!(meta.id, container);
        assert_eq!(meta.runtime, "containerd");
        assert_eq!(meta.name.as_deref(), Some("app"));
        assert_eq!(meta.image.as_deref(), Some(CRI_BUSYBOX));
        assert!(meta.image_id.as_deref().unwrap().starts_with("sha256:"));
        assert_eq!(meta.labels.get(LABEL_CONTAINER_NAME).map(String::as_str), Some("app"));
        assert_eq!(meta.pod, Some(PodRef { name: "web-0".into(), namespace: "shop".into(), uid: uid.into() }));
        assert_eq!(meta.privileged, Some(false));
        let pid = meta.pid.expect("pid");
        let cg = proc_cgroup(pid);
        assert!(cg.contains(&format!("/kubepods/besteffort/pod{uid}/{container}")), "{cg}");
        let m = meta.mounts.iter().find(|m| m.destination == "/data").unwrap();
        assert!(m.read_only);
        assert_eq!(m.propagation.as_deref(), Some("rprivate"));
        assert!(meta.created_at_ns.unwrap() > 1_600_000_000_000_000_000);
        assert!(meta.started_at_ns.unwrap() >= meta.created_at_ns.unwrap());

        // The sandbox is not a container: CRI answers NotFound.
        assert!(matches!(
            client.container(MISSING_ID).await,
            Err(RuntimeError::NotFound { runtime: "containerd", .. })
        ));

        // Through Runtimes with a wrong hint: docker socket absent, falls through to CRI.
        let runtimes = Runtimes::from_clients(vec![RuntimeClient::Cri(client.clone())], CacheConfig::default());
        let got = runtimes.lookup(&container, Some("docker")).await.unwrap();
        assert_eq!(got.pod, meta.pod);

        // Clean up through CRI (the Drop guard kills tasks too, also on panic).
        rs.stop_container(v1::StopContainerRequest { container_id: container.clone(), timeout: 0 }).await.unwrap();
        rs.remove_container(v1::RemoveContainerRequest { container_id: container.clone() }).await.unwrap();
        rs.stop_pod_sandbox(v1::StopPodSandboxRequest { pod_sandbox_id: sandbox.clone() }).await.unwrap();
        rs.remove_pod_sandbox(v1::RemovePodSandboxRequest { pod_sandbox_id: sandbox }).await.unwrap();
        assert!(matches!(client.container(&container).await, Err(RuntimeError::NotFound { .. })));
    });
}

// ------------------------------------------------------------------ parsing (no daemon)

#[test]
fn rfc3339_parsing() {
    assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339_ns("2024-05-01T10:20:30.123456789Z"), Some(1_714_558_830_123_456_789));
    // Offsets and short fractions.
    assert_eq!(parse_rfc3339_ns("2024-05-01T12:20:30.5+02:00"), Some(1_714_558_830_500_000_000));
    assert_eq!(parse_rfc3339_ns("2024-02-29T23:59:59-01:00"), Some(1_709_254_799_000_000_000));
    // jiff also takes ISO 8601's basic offset.
    assert_eq!(parse_rfc3339_ns("2024-05-01T12:20:30+0200"), Some(1_714_558_830_000_000_000));
    // Docker's zero time, garbage, truncation.
    for bad in [
        "0001-01-01T00:00:00Z",
        "",
        "2024-05-01",
        "2024-05-01T10:20:30",
        "2024-13-01T10:20:30Z",
        "2024-05-01T10:20:30.Z",
        "2024-05-01T1x:20:30Z",
        "２０２４-05-01T10:20:30Z",
    ] {
        assert_eq!(parse_rfc3339_ns(bad), None, "{bad}");
    }
}

#[test]
fn id_validation() {
    assert!(validate_id(&"a".repeat(64)).is_ok());
    assert!(validate_id("0123456789abcdef").is_ok());
    for bad in ["", "../../etc", "ABCDEF", &"a".repeat(65), "abc/json?x=1", "abc def"] {
        assert!(matches!(validate_id(bad), Err(RuntimeError::InvalidId(_))), "{bad}");
    }
}

#[test]
fn digests() {
    let d = "sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31";
    assert_eq!(digest_of(&format!("docker.io/library/nginx@{d}")).as_deref(), Some(d));
    assert_eq!(digest_of(d).as_deref(), Some(d));
    assert_eq!(digest_of("nginx:1.25"), None);
    let repo_digests = vec![format!("quay.io/mirror/nginx@sha256:{}", "1".repeat(64)), format!("nginx@{d}")];
    // Docker shortens docker.io/library/ names in RepoDigests.
    assert_eq!(super::docker::pick_digest_for_test(&repo_digests, Some("nginx:1.25")).as_deref(), Some(d));
    assert_eq!(
        super::docker::pick_digest_for_test(&repo_digests, Some("localhost:5000/x:1")).map(|s| s.len()),
        Some(71)
    );
    assert_eq!(super::docker::pick_digest_for_test(&repo_digests, Some("docker.io/library/nginx")).as_deref(), Some(d));
    assert_eq!(
        super::docker::pick_digest_for_test(&repo_digests, Some("quay.io/mirror/nginx:1")).as_deref(),
        Some(format!("sha256:{}", "1".repeat(64)).as_str())
    );
    assert_eq!(super::docker::pick_digest_for_test(&[], Some("nginx")), None);
}

#[test]
fn docker_inspect_parsing() {
    let meta = super::docker::parse_inspect(include_str!("testdata/docker_inspect.json")).unwrap();
    assert_eq!(meta.id, "4f66ad9a0b2e5c6bbd1b6a40c4b9e2b2c7f1f1c0e4f5a3d2c1b0a9f8e7d6c5b4");
    assert_eq!(meta.runtime, "docker");
    assert_eq!(meta.name.as_deref(), Some("k8s_nginx_web-0_shop_1f6b0d4e-0000-4000-8000-000000000001_0"));
    assert!(meta.image.as_deref().unwrap().starts_with("docker.io/library/nginx:1.25@"));
    assert_eq!(
        meta.image_digest.as_deref(),
        Some("sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31")
    );
    assert!(meta.image_id.as_deref().unwrap().starts_with("sha256:a875"));
    assert_eq!(meta.privileged, Some(true));
    assert_eq!(meta.pid, Some(4242));
    assert_eq!(meta.created_at_ns, Some(1_714_558_830_123_456_789));
    assert_eq!(meta.started_at_ns, Some(1_714_558_831_500_000_000));
    assert_eq!(meta.labels.len(), 5);
    assert_eq!(
        meta.pod,
        Some(PodRef {
            name: "web-0".into(),
            namespace: "shop".into(),
            uid: "1f6b0d4e-0000-4000-8000-000000000001".into()
        })
    );
    assert_eq!(
        meta.mounts,
        vec![
            Mount {
                source: "/srv/html".into(),
                destination: "/usr/share/nginx/html".into(),
                mode: Some("ro".into()),
                read_only: true,
                propagation: Some("rprivate".into()),
            },
            Mount {
                source: "0b1c2d3e4f".into(),
                destination: "/var/cache/nginx".into(),
                mode: None,
                read_only: false,
                propagation: None,
            },
        ]
    );

    // Minimal / stopped container: everything optional stays None.
    let meta =
        super::docker::parse_inspect(r#"{"Id":"ab","Name":"/x","State":{"Pid":0,"StartedAt":"0001-01-01T00:00:00Z"}}"#)
            .unwrap();
    assert_eq!((meta.pid, meta.started_at_ns, meta.privileged), (None, None, None));
    assert!(meta.pod.is_none() && meta.image.is_none() && meta.mounts.is_empty());
    assert!(super::docker::parse_inspect(r#"{"Name":"/x"}"#).is_err());
}

fn cri_status(id: &str) -> v1::ContainerStatus {
    v1::ContainerStatus {
        id: id.into(),
        metadata: Some(v1::ContainerMetadata { name: "app".into(), attempt: 0 }),
        created_at: 1_714_558_830_000_000_000,
        started_at: 1_714_558_831_000_000_000,
        image: Some(v1::ImageSpec { image: "docker.io/library/localbusybox:1".into(), ..Default::default() }),
        image_ref: format!("sha256:{}", "2".repeat(64)),
        mounts: vec![v1::Mount {
            container_path: "/data".into(),
            host_path: "/srv/data".into(),
            readonly: false,
            propagation: v1::MountPropagation::PropagationBidirectional as i32,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn cri_containerd_status_parsing() {
    let info: Value = serde_json::from_str(include_str!("testdata/containerd_info.json")).unwrap();
    let id = "e42c7313d360bb0cfe32f677c0ff2bffc861ac6fc3c1e1f6cfd9dc8984b74729";
    // Labels stripped: pod identity then comes from containerd's sandbox annotations.
    let meta = super::cri::meta_from_status("containerd", id, cri_status(id), &info);
    assert_eq!(meta.pid, Some(12859));
    assert_eq!(meta.privileged, Some(false));
    assert_eq!(meta.image.as_deref(), Some("docker.io/library/localbusybox:1"));
    assert_eq!(meta.image_id, Some(format!("sha256:{}", "2".repeat(64))));
    assert_eq!(meta.image_digest, None);
    assert_eq!(
        meta.pod,
        Some(PodRef {
            name: "web-0".into(),
            namespace: "shop".into(),
            uid: "7d2c6a1e-1111-4222-8333-444455556666".into()
        })
    );
    assert_eq!(meta.mounts[0].propagation.as_deref(), Some("rshared"));
    assert!(!meta.mounts[0].read_only);
    assert_eq!(meta.created_at_ns, Some(1_714_558_830_000_000_000));

    // Kubelet passes the image id; containerd reports the repo digest in imageRef.
    let mut status = cri_status(id);
    status.image = Some(v1::ImageSpec { image: format!("sha256:{}", "3".repeat(64)), ..Default::default() });
    status.image_ref = format!("docker.io/library/nginx@sha256:{}", "4".repeat(64));
    let meta = super::cri::meta_from_status("containerd", id, status, &Value::Null);
    assert_eq!(meta.image, None);
    assert_eq!(meta.image_id, Some(format!("sha256:{}", "3".repeat(64))));
    assert_eq!(meta.image_digest, Some(format!("sha256:{}", "4".repeat(64))));
    assert_eq!((meta.pid, meta.privileged, meta.pod), (None, None, None));
}

#[test]
fn cri_crio_status_parsing() {
    let info: Value = serde_json::from_str(include_str!("testdata/crio_info.json")).unwrap();
    let id = "5e6d".repeat(16);
    let mut status = cri_status(&id);
    status.image = Some(v1::ImageSpec {
        image: "quay.io/example/agent@sha256:".to_owned() + &"5".repeat(64),
        user_specified_image: String::new(),
        ..Default::default()
    });
    status.image_ref = status.image.as_ref().unwrap().image.clone();
    status.labels = [
        (LABEL_POD_NAME, "agent-xyz"),
        (LABEL_POD_NAMESPACE, "kube-system"),
        (LABEL_POD_UID, "0a1b2c3d-aaaa-bbbb-cccc-ddddeeeeffff"),
        (LABEL_CONTAINER_NAME, "agent"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    status.metadata = None;
    let meta = super::cri::meta_from_status("cri-o", &id, status, &info);
    assert_eq!(meta.runtime, "cri-o");
    assert_eq!(meta.pid, Some(31337));
    assert_eq!(meta.privileged, Some(true));
    assert_eq!(meta.name.as_deref(), Some("agent")); // from the container-name label
    assert_eq!(meta.image.as_deref(), Some("quay.io/example/agent:v2"));
    assert_eq!(meta.image_digest, Some(format!("sha256:{}", "5".repeat(64))));
    assert_eq!(meta.pod.as_ref().unwrap().uid, "0a1b2c3d-aaaa-bbbb-cccc-ddddeeeeffff");
    // user_specified_image (newer CRI) wins over annotations.
    let mut status = cri_status(&id);
    status.image.as_mut().unwrap().user_specified_image = "agent:v2".into();
    let meta = super::cri::meta_from_status("cri-o", &id, status, &info);
    assert_eq!(meta.image.as_deref(), Some("agent:v2"));
}

// ------------------------------------------------------------------ cache, via a fake Docker API

const FAKE_ID: &str = "4f66ad9a0b2e5c6bbd1b6a40c4b9e2b2c7f1f1c0e4f5a3d2c1b0a9f8e7d6c5b4";

#[derive(Clone, Copy, PartialEq)]
enum Fake {
    Normal,
    Hang,
}

/// Serves canned Docker API answers on a unix socket; counts requests by path.
struct FakeDocker {
    _dir: TempDir,
    socket: std::path::PathBuf,
    container_hits: Arc<AtomicUsize>,
    image_hits: Arc<AtomicUsize>,
}

fn fake_docker(mode: Fake) -> FakeDocker {
    let dir = TempDir::new("fk");
    let socket = dir.path().join("docker.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let container_hits = Arc::new(AtomicUsize::new(0));
    let image_hits = Arc::new(AtomicUsize::new(0));
    let (ch, ih) = (Arc::clone(&container_hits), Arc::clone(&image_hits));
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let (ch, ih) = (Arc::clone(&ch), Arc::clone(&ih));
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&buf);
                let path = req.split(' ').nth(1).unwrap_or("").to_owned();
                if mode == Fake::Hang {
                    tokio::time::sleep(Duration::from_hours(1)).await;
                }
                let (code, body) = if path == "/_ping" {
                    ("200 OK", "OK".to_owned())
                } else if path.starts_with("/containers/") {
                    ch.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if path == format!("/containers/{FAKE_ID}/json") {
                        let json = include_str!("testdata/docker_inspect.json")
                            .replace("\"Image\": \"docker.io/library/nginx:1.25@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31\"", "\"Image\": \"nginx:1.25\"");
                        ("200 OK", json)
                    } else {
                        ("404 Not Found", r#"{"message":"No such container"}"#.to_owned())
                    }
                } else if path.starts_with("/images/") {
                    ih.fetch_add(1, Ordering::SeqCst);
                    let d = "0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31";
                    ("200 OK", format!(r#"{{"RepoDigests":["nginx@sha256:{d}"]}}"#))
                } else {
                    ("404 Not Found", r#"{"message":"page not found"}"#.to_owned())
                };
                let resp = format!(
                    "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    FakeDocker { _dir: dir, socket, container_hits, image_hits }
}

#[tokio::test]
async fn cache_single_flight_and_negative() {
    let fake = fake_docker(Fake::Normal);
    let docker = DockerClient::new(&fake.socket);
    docker.ping().await.unwrap();
    let runtimes = Runtimes::from_clients(
        vec![RuntimeClient::Docker(docker)],
        CacheConfig { positive_ttl: Duration::from_mins(1), negative_ttl: Duration::from_millis(200), capacity: 16 },
    );
    // A storm of concurrent lookups for one container: one inspect (+ one image inspect).
    let results = futures_join_all((0..50).map(|_| runtimes.lookup(FAKE_ID, Some("docker")))).await;
    assert!(results.iter().all(Result::is_ok));
    let first = results[0].as_ref().unwrap();
    assert!(results.iter().all(|r| Arc::ptr_eq(r.as_ref().unwrap(), first)));
    assert_eq!(fake.container_hits.load(Ordering::SeqCst), 1);
    assert_eq!(fake.image_hits.load(Ordering::SeqCst), 1);
    assert_eq!(first.image.as_deref(), Some("nginx:1.25"));
    assert_eq!(
        first.image_digest.as_deref(),
        Some("sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31")
    );
    let s = runtimes.stats();
    assert_eq!((s.lookups, s.cache_hits, s.rpcs, s.misses, s.errors), (50, 49, 1, 0, 0));

    // Negative: unknown id is asked once per negative TTL.
    let missing = "ab".repeat(32);
    for _ in 0..3 {
        assert!(matches!(runtimes.lookup(&missing, None).await, Err(RuntimeError::NotFound { runtime: "any", .. })));
    }
    assert_eq!(fake.container_hits.load(Ordering::SeqCst), 2);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(runtimes.lookup(&missing, None).await.is_err());
    assert_eq!(fake.container_hits.load(Ordering::SeqCst), 3);
    assert_eq!(runtimes.stats().misses, 4);

    // Invalidate forces a refetch; invalid ids never reach the runtime.
    runtimes.invalidate(FAKE_ID);
    runtimes.lookup(FAKE_ID, None).await.unwrap();
    assert_eq!(fake.container_hits.load(Ordering::SeqCst), 4);
    assert!(matches!(runtimes.lookup("../../x", None).await, Err(RuntimeError::InvalidId(_))));
    assert_eq!(fake.container_hits.load(Ordering::SeqCst), 4);
    assert_eq!(runtimes.cache.len(), 2);
}

#[tokio::test]
async fn timeouts_are_errors_and_cached() {
    let fake = fake_docker(Fake::Hang);
    let docker = DockerClient::with_timeout(&fake.socket, Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = docker.container(FAKE_ID).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Timeout { runtime: "docker", op: "container inspect", .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let runtimes = Runtimes::from_clients(vec![RuntimeClient::Docker(docker)], CacheConfig::default());
    let e1 = runtimes.lookup(FAKE_ID, None).await.unwrap_err();
    let e2 = runtimes.lookup(FAKE_ID, None).await.unwrap_err();
    assert!(matches!(e1, RuntimeError::Cached { .. }), "{e1}");
    assert!(e2.to_string().contains("timed out"), "{e2}");
    let s = runtimes.stats();
    assert_eq!((s.errors, s.rpcs, s.cache_hits), (2, 1, 1));
}

#[tokio::test]
async fn no_runtime_and_unreachable_sockets() {
    let runtimes = Runtimes::from_clients(Vec::new(), CacheConfig::default());
    assert!(matches!(runtimes.lookup(FAKE_ID, None).await, Err(RuntimeError::NoRuntime)));
    // A socket file nobody listens on: probe reports it, does not keep it.
    let dir = TempDir::new("np");
    let dead = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
    let (runtimes, failures) = Runtimes::probe(RuntimesConfig {
        sockets: vec![
            (dead.clone(), SocketKind::Docker),
            (dead.clone(), SocketKind::Cri),
            (dir.path().join("absent.sock"), SocketKind::Cri),
        ],
        timeout: Duration::from_millis(500),
        cache: CacheConfig::default(),
    })
    .await;
    assert!(runtimes.clients().is_empty());
    assert_eq!(failures.len(), 2, "{failures:?}");
    for (_, e) in &failures {
        assert!(matches!(e, RuntimeError::Connect { .. }), "{e}");
        assert!(e.to_string().contains("dead.sock"), "{e}");
    }
}

#[test]
fn hints() {
    assert_eq!(normalize_hint("docker"), DOCKER);
    assert_eq!(normalize_hint("crio"), CRIO);
    assert_eq!(normalize_hint("cri-containerd"), CONTAINERD);
    assert_eq!(normalize_hint("podman"), OTHER_CRI);
}

/// `join_all` without the futures crate.
async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[test]
fn runtime_sockets_from_docker_host_and_crictl_endpoint() {
    let (s, notes) = RuntimesConfig::sockets_from_env(
        Some("unix:///srv/docker/docker.sock"),
        Some("unix:///run/k0s/containerd.sock"),
    );
    assert_eq!(s[0], (PathBuf::from("/run/k0s/containerd.sock"), SocketKind::Cri));
    assert_eq!(s[1], (PathBuf::from("/srv/docker/docker.sock"), SocketKind::Docker));
    assert_eq!(s.len(), 2 + RuntimesConfig::well_known_sockets().len());
    assert!(notes.is_empty());
    // A plain path is a socket too; a well-known one is not probed twice.
    let (s, _) = RuntimesConfig::sockets_from_env(Some("/var/run/docker.sock"), None);
    assert_eq!(s.iter().filter(|(p, _)| p == &PathBuf::from("/var/run/docker.sock")).count(), 1);
    assert_eq!(s[0].1, SocketKind::Docker);
    // tcp:// is not supported: said, not silently dropped.
    let (s, notes) = RuntimesConfig::sockets_from_env(Some("tcp://10.0.0.1:2375"), Some(" "));
    assert_eq!(s, RuntimesConfig::well_known_sockets());
    assert_eq!(notes.len(), 1);
    assert!(notes[0].contains("DOCKER_HOST"), "{notes:?}");
}
