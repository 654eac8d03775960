//! Container attribution with real Docker containers.
#![allow(clippy::unwrap_used)]

mod common;

use common::docker::{Docker, IMAGE};
use common::{arg, is, sensor, unique};

fn docker() -> Option<Docker> {
    match Docker::start() {
        Ok(d) => Some(d),
        Err(why) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "Docker cannot run in CI: {why}");
            eprintln!("SKIPPED container test: {why}");
            None
        }
    }
}

#[test]
fn short_lived_container_exec_is_attributed() {
    let Some(s) = sensor() else { return };
    let Some(d) = docker() else { return };
    let tag = unique("ctr");
    // Starts, execs, exits: the whole container lives a few milliseconds.
    let id = d.cli(&["run", "-d", "--network", "none", IMAGE, "/bin/cat", &format!("/nonexistent/{tag}")]).unwrap();
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
    let Some(d) = docker() else { return };
    let rules = d.dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: Cat in a container\n  desc: test rule\n  condition: evt.type in (execve, execveat) and container.id != host and proc.name = cat\n  output: cat in a container (image=%container.image name=%container.name label=%container.label[app])\n  priority: NOTICE\n",
    )
    .unwrap();
    let sock = format!("docker:{}", d.sock.display());
    let s = common::Sensor::start(&[
        "run",
        "--no-default-rules",
        "--rules",
        rules.to_str().unwrap(),
        "--runtime-socket",
        &sock,
        "--syscall-hooks",
        "btf",
    ]);
    let name = unique("name");
    let tag = unique("meta");
    let id = d
        .cli(&["run", "-d", "--network", "none", "--name", &name, "--label", "app=sensortest", IMAGE, "/bin/cat", &format!("/nonexistent/{tag}")])
        .unwrap();
    let a = s.wait_for("alert with container metadata", |a| {
        a["rule"] == "Cat in a container" && a["output_fields"]["container.id"] == &id[..12]
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
