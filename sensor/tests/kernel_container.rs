//! Container attribution with real Docker containers.
#![allow(clippy::unwrap_used)]

mod common;

use common::{arg, is, sensor, unique};
#[path = "support/runtime.rs"]
mod runtime_support;

use runtime_support::{CRI_BUSYBOX, ContainerdEnv, DockerEnv, skip_or_fail, start_cri_pod};

const IMAGE: &str = "sensortest-busybox:1";

fn docker() -> Option<DockerEnv> {
    let d = match DockerEnv::start() {
        Ok(d) => d,
        Err(why) => {
            skip_or_fail(&format!("Docker cannot run: {why}"));
            return None;
        }
    };
    d.import_busybox(IMAGE).unwrap();
    Some(d)
}

#[test]
fn short_lived_container_exec_is_attributed() {
    let Some(s) = sensor() else { return };
    let Some(mut d) = docker() else { return };
    let tag = unique("ctr");
    // Starts, execs, exits: the whole container lives a few milliseconds.
    let id = d
        .run_detached(&unique("c"), &["--network", "none", IMAGE, "/bin/cat", &format!("/nonexistent/{tag}")])
        .unwrap();
    assert_eq!(id.len(), 64, "{id}");
    let ev = s.wait_for("exec inside the container", |e| {
        // The container's own exec, not the docker CLI that carries the same argv tail.
        is(e, "execve")
            && arg(e, "exe") == "/bin/cat"
            && arg(e, "args")
                .as_array()
                .is_some_and(|a| a.len() == 2 && a[1].as_str().is_some_and(|x| x.ends_with(&tag)))
    });
    let c = &ev["proc"]["container"];
    assert_eq!(c["id"], id.as_str(), "{ev}");
    assert_eq!(c["runtime"], "docker");
    // The open inside it carries the same container.
    let ev = s.wait_for("open inside the container", |e| {
        is(e, "openat") && e["comm"] == "cat" && arg(e, "name").as_str().is_some_and(|n| n.ends_with(&tag))
    });
    assert_eq!(ev["proc"]["container"]["id"], id.as_str());
    // And the host is not a container.
    let me = s.wait_for("some host event", |e| e["pid"] == common::me());
    assert!(me["proc"].get("container").is_none(), "{me}");
}

#[test]
fn alerts_carry_runtime_metadata_of_a_short_lived_container() {
    let Some(_) = sensor() else { return };
    let Some(mut d) = docker() else { return };
    let rules = d.dir().join("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: Cat in a container\n  desc: test rule\n  condition: evt.type in (execve, execveat) and container.id != host and proc.name = cat\n  output: cat in a container (image=%container.image name=%container.name label=%container.label[app])\n  priority: NOTICE\n",
    )
    .unwrap();
    let s = common::run_with_rules(&rules, &["--runtime-socket", &format!("docker:{}", d.socket.display())]);
    let name = unique("name");
    let tag = unique("meta");
    let id = d
        .run_detached(
            &name,
            &["--network", "none", "--label", "app=sensortest", IMAGE, "/bin/cat", &format!("/nonexistent/{tag}")],
        )
        .unwrap();
    let a = s.wait_for("alert with container metadata", |a| {
        a["rule"] == "Cat in a container" && a["output_fields"]["container.id"] == id[..12]
    });
    let f = &a["output_fields"];
    assert_eq!(f["container.name"], name.as_str(), "{a}");
    assert_eq!(f["container.image"], IMAGE);
    assert_eq!(f["container.label[app]"], "sensortest");
    assert_eq!(f["container.image.repository"], "sensortest-busybox");
    assert_eq!(f["container.image.tag"], "1");
    let out = a["output"].as_str().unwrap();
    assert!(out.contains(&format!("container_id={}", &id[..12])), "{out}");
    assert!(out.contains(&format!("container_name={name}")), "{out}");
}

#[test]
fn cri_pod_container_is_attributed_with_pod_metadata() {
    let Some(_) = sensor() else { return };
    let env = match ContainerdEnv::start() {
        Ok(e) => e,
        Err(why) => return skip_or_fail(&format!("containerd cannot run: {why}")),
    };
    env.import_images().unwrap();
    let rules = env.dir().join("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: Cat in a pod\n  desc: test rule\n  condition: evt.type = execve and container.id != host and proc.name = cat\n  output: cat in a pod (pod=%k8s.pod.name ns=%k8s.ns.name uid=%k8s.pod.uid image=%container.image name=%container.name)\n  priority: NOTICE\n",
    )
    .unwrap();
    let s = common::run_with_rules(&rules, &["--runtime-socket", &format!("cri:{}", env.socket.display())]);
    let uid = "5b7c9d2e-aaaa-4bbb-8ccc-0123456789ab";
    let tag = unique("pod");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (_sandbox, id) = rt
        .block_on(start_cri_pod(
            &env,
            ("web-0", "shop", uid),
            &[("app", "web")],
            "app",
            &["/bin/cat", &format!("/nonexistent/{tag}")],
        ))
        .unwrap();
    let a = s.wait_for("alert from the pod", |a| {
        a["rule"] == "Cat in a pod" && a["output_fields"]["container.id"] == id[..12]
    });
    let f = &a["output_fields"];
    assert_eq!(f["k8s.pod.name"], "web-0", "{a}");
    assert_eq!(f["k8s.ns.name"], "shop");
    assert_eq!(f["k8s.pod.uid"], uid);
    assert_eq!(f["container.name"], "app");
    assert_eq!(f["container.image"], CRI_BUSYBOX);
    assert!(a["output"].as_str().unwrap().contains("k8s_pod_name=web-0 k8s_ns_name=shop"), "{a}");
}

#[test]
fn user_names_come_from_the_containers_own_passwd() {
    let Some(_) = sensor() else { return };
    let Some(mut d) = docker() else { return };
    // An image whose /etc/passwd names uid 4242, which the host does not know.
    let base = unique("passwd-base");
    d.run_detached(
        &base,
        &["--network", "none", IMAGE, "sh", "-c", "echo 'ctruser:x:4242:4242::/:/bin/sh' > /etc/passwd"],
    )
    .unwrap();
    d.cli_wait(&base);
    let image = "sensortest-users:1";
    d.commit(&base, image).unwrap();
    let rules = d.dir().join("users.yaml");
    std::fs::write(
        &rules,
        "- rule: Cat by a container user\n  desc: test rule\n  condition: evt.type = execve and container.id != host and proc.name = cat\n  output: cat by %user.name (uid=%user.uid)\n  priority: NOTICE\n",
    )
    .unwrap();
    let s = common::run_with_rules(&rules, &[]);
    // A short-lived exec in a running container: its own /proc entry may be
    // gone when the event is processed; the container's init is not.
    let id = d.run_detached(&unique("u"), &["--network", "none", image, "sleep", "30"]).unwrap();
    // Two execs: the first is usually named through its own (short-lived)
    // /proc entry or the container's init; the second through the cache.
    // Under heavy load the first may miss both (it is released without
    // metadata after the hold): the container's passwd must name the second.
    for _ in 0..2 {
        let out = d.docker().args(["exec", "--user", "4242", &id, "/bin/cat", "/etc/passwd"]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let a = s.wait_for("alert naming the container's user", |a| {
        a["rule"] == "Cat by a container user"
            && a["output_fields"]["container.id"] == id[..12]
            && a["output_fields"]["user.name"] == "ctruser"
    });
    assert_eq!(a["output_fields"]["user.uid"], 4242, "{a}");
    // The host does not know uid 4242: the name can only come from the image.
    assert!(!std::fs::read_to_string("/etc/passwd").unwrap().contains(":4242:"));
}

#[test]
fn docker_host_names_the_daemon_to_ask() {
    let Some(_) = sensor() else { return };
    let Some(mut d) = docker() else { return };
    let rules = d.dir().join("privileged.yaml");
    std::fs::write(
        &rules,
        "- rule: Cat with privilege known\n  desc: test rule\n  condition: evt.type = execve and container.id != host and proc.name = cat and container.privileged = false\n  output: cat (privileged=%container.privileged)\n  priority: NOTICE\n",
    )
    .unwrap();
    // No --runtime-socket: the daemon is found the way the docker CLI finds it.
    let host = format!("unix://{}", d.socket.display());
    let s = common::Sensor::start_with_env(
        &["run", "--no-default-rules", "--rules", rules.to_str().unwrap(), "--syscall-hooks", "btf"],
        &[("DOCKER_HOST", &host)],
    );
    let tag = unique("dockerhost");
    let id = d
        .run_detached(&unique("p"), &["--network", "none", IMAGE, "/bin/cat", &format!("/nonexistent/{tag}")])
        .unwrap();
    let a = s.wait_for("alert with container.privileged known", |a| {
        a["rule"] == "Cat with privilege known" && a["output_fields"]["container.id"] == id[..12]
    });
    assert_eq!(a["output_fields"]["container.privileged"], false, "{a}");
}
