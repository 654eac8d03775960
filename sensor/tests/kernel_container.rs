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
