//! Falco's upstream network rules end to end on the real kernel, host side.
//! Rules about non-local peers (`fd.net != 127.0.0.0/8`) run in a network
//! namespace the test creates, whose loopback device also carries two
//! TEST-NET-2 addresses (`falco::NS_SERVER`, `falco::NS_CLIENT`): real
//! TCP/UDP between them, and nothing leaves the namespace. Each server and
//! client is a helper copy with its own tag.
#![allow(clippy::unwrap_used)]
// Each test binds sensor, tag, alert, event, field (s, t, a, e, f): one
// letter per role, the same in every test.
#![allow(clippy::many_single_char_names)]

mod common;
mod falco;

use std::process::Command;
use std::sync::OnceLock;

use common::Sensor;
use falco::{NS_SERVER, assert_field, expect, field, helper_as, in_netns, tag, tagged, tagged_dir};

fn sensor() -> Option<&'static Sensor> {
    static S: OnceLock<Option<Sensor>> = OnceLock::new();
    S.get_or_init(|| {
        let s = falco::start(&[])?;
        falco::helper()?;
        Some(s)
    })
    .as_ref()
}

/// In a fresh network namespace: `$SRV serve NS_SERVER PORT` in the
/// background and `$CLI connect NS_SERVER PORT tcp` (which retries until
/// the server listens), each with its own tag.
fn serve_and_connect(srv: &std::path::Path, cli: &std::path::Path, port: u16, srv_tag: &str, cli_tag: &str) {
    let script = format!(
        "\"$SRV\" serve {NS_SERVER} {port} \"--tag=$STAG\" & \"$CLI\" connect {NS_SERVER} {port} tcp \"--tag=$CTAG\"; wait"
    );
    in_netns(
        &script,
        &[("SRV", srv.to_str().unwrap()), ("CLI", cli.to_str().unwrap()), ("STAG", srv_tag), ("CTAG", cli_tag)],
    );
}

#[test]
fn ssh_to_a_non_standard_port() {
    let Some(s) = sensor() else { return };
    let t = tag("sshport");
    let d = tagged_dir(&t);
    // A process whose exe ends in ssh connects out to port 443 (a reverse
    // shell over ssh through a port firewalls let pass).
    let ssh = helper_as(d.path(), "ssh");
    let srv = helper_as(d.path(), "webserver");
    serve_and_connect(&srv, &ssh, 443, &tag("sshport-srv"), &t);
    let a = expect(s, tagged(&t), &["Disallowed SSH Connection Non Standard Port"]);
    let a = &a["Disallowed SSH Connection Non Standard Port"];
    assert_eq!(field(a, "fd.rport"), 443, "{a}");
    assert_field(a, "fd.l4proto", "tcp");
    assert_field(a, "evt.type", "connect");
    assert!(field(a, "fd.name").as_str().unwrap().ends_with(&format!("->{NS_SERVER}:443")), "{a}");
}

#[test]
fn udp_to_an_unexpected_port() {
    let Some(s) = sensor() else { return };
    let t = tag("udp");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "udpsender");
    in_netns(
        &format!("exec \"$P\" connect {NS_SERVER} 9999 udp \"--tag=$TAG\""),
        &[("P", p.to_str().unwrap()), ("TAG", &t)],
    );
    let a = expect(s, tagged(&t), &["Unexpected UDP Traffic"]);
    let a = &a["Unexpected UDP Traffic"];
    assert_field(a, "fd.l4proto", "udp");
    assert_eq!(field(a, "fd.rport"), 9999, "{a}");
}

#[test]
fn shell_opens_a_tcp_connection() {
    let Some(s) = sensor() else { return };
    let t = tag("bashtcp");
    let d = tagged_dir(&t);
    let srv = helper_as(d.path(), "webserver");
    // bash's /dev/tcp: a system program (a shell) talking to the network.
    // Retried until the server listens; refused attempts raise nothing.
    let script = format!(
        "\"$SRV\" serve {NS_SERVER} 8080 \"--tag=$STAG\" & \
         for i in $(seq 100); do bash -c \"exec 3<>/dev/tcp/{NS_SERVER}/8080 # $TAG\" 2>/dev/null && break; \
         sleep 0.05; done; wait"
    );
    let stag = tag("bashtcp-srv");
    in_netns(&script, &[("SRV", srv.to_str().unwrap()), ("STAG", &stag), ("TAG", &t)]);
    let a = expect(s, tagged(&t), &["System procs network activity"]);
    let a = &a["System procs network activity"];
    assert_field(a, "proc.name", "bash");
    assert_eq!(field(a, "fd.rport"), 8080, "{a}");
}

#[test]
fn inbound_connection_from_a_disallowed_source() {
    let Some(s) = sensor() else { return };
    let t = tag("inbound");
    let d = tagged_dir(&t);
    let srv = helper_as(d.path(), "listener");
    let cli = helper_as(d.path(), "client");
    serve_and_connect(&srv, &cli, 8081, &t, &tag("inbound-cli"));
    // Both the listen and the accept are inbound: one rule, two alerts.
    let a = expect(s, tagged(&t), &["Unexpected inbound connection source"]);
    assert_eq!(field(&a["Unexpected inbound connection source"], "fd.lport"), 8081);
    for ty in ["listen", "accept"] {
        s.wait_for(ty, |a| {
            a["rule"] == "Unexpected inbound connection source" && field(a, "evt.type") == ty && tagged(&t)(a)
        });
    }
}

#[test]
fn interpreter_accepts_a_connection() {
    let Some(s) = sensor() else { return };
    let t = tag("pyin");
    let d = tagged_dir(&t);
    let py = helper_as(d.path(), "python3");
    let cli = helper_as(d.path(), "client");
    serve_and_connect(&py, &cli, 8082, &t, &tag("pyin-cli"));
    // Its source is no allowed network either.
    let a =
        expect(s, tagged(&t), &["Interpreted procs inbound network activity", "Unexpected inbound connection source"]);
    assert_field(&a["Interpreted procs inbound network activity"], "proc.name", "python3");
}

#[test]
fn interpreter_connects_out() {
    let Some(s) = sensor() else { return };
    let t = tag("pyout");
    let d = tagged_dir(&t);
    let srv = helper_as(d.path(), "webserver");
    let py = helper_as(d.path(), "python3");
    serve_and_connect(&srv, &py, 8083, &tag("pyout-srv"), &t);
    let a = expect(s, tagged(&t), &["Interpreted procs outbound network activity"]);
    let a = &a["Interpreted procs outbound network activity"];
    assert_field(a, "proc.name", "python3");
    assert_eq!(field(a, "fd.rport"), 8083, "{a}");
}

#[test]
fn java_downloads_a_class_file() {
    let Some(s) = sensor() else { return };
    let t = tag("javaclass");
    let d = tagged_dir(&t);
    let srv = helper_as(d.path(), "classserver");
    let java = helper_as(d.path(), "java");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let mut server = Command::new(&srv).args(["send-class", "127.0.0.1", &port]).spawn().unwrap();
    falco::run_ok(Command::new(&java).args(["recv", "127.0.0.1", &port, &falco::tag_arg(&t)]));
    server.wait().unwrap();
    let a = expect(s, tagged(&t), &["Java Process Class File Download"]);
    assert_field(&a["Java Process Class File Download"], "evt.type", "recvfrom");
}
