//! Network events for real: TCP over IPv4 and IPv6, UDP, unix sockets.
// A failed step should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::many_single_char_names, clippy::items_after_statements)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::net::UnixDatagram;

use common::{arg, is, sensor, tid, unique};
use serde_json::Value;

fn addr_is(ev: &Value, ip: &str, port: u16) -> bool {
    let a = arg(ev, "addr");
    a["ip"] == ip && a["port"] == port
}

#[test]
fn tcp_connect_accept_bind_listen_socket() {
    let Some(s) = sensor() else { return };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let lfd = listener.as_raw_fd();
    let port = listener.local_addr().unwrap().port();
    let me = tid();
    let server = std::thread::spawn(move || {
        let (mut c, peer) = listener.accept().unwrap();
        let mut b = [0u8; 4];
        c.read_exact(&mut b).unwrap();
        (peer, tid())
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let cfd = client.as_raw_fd();
    let cport = client.local_addr().unwrap().port();
    client.write_all(b"ping").unwrap();
    let (peer, server_tid) = server.join().unwrap();

    let ev = s.wait_for("connect", |e| is(e, "connect") && e["tid"] == me && addr_is(e, "127.0.0.1", port));
    assert_eq!(ev["ret"], 0);
    assert_eq!(arg(&ev, "fd"), cfd);
    assert_eq!(arg(&ev, "addr")["family"], "inet");
    assert_eq!(ev["category"], "network");
    // The socket's own end, read from the kernel's socket.
    assert_eq!(arg(&ev, "local")["port"], cport, "{ev}");
    assert_eq!(arg(&ev, "local")["ip"], "127.0.0.1");

    let ev = s.wait_for("accept", |e| {
        matches!(e["type"].as_str(), Some("accept" | "accept4")) && e["tid"] == server_tid && arg(e, "fd") == lfd
    });
    assert!(addr_is(&ev, "127.0.0.1", peer.port()), "{ev}");
    assert!(ev["ret"].as_i64().unwrap() >= 0);
    assert_eq!(arg(&ev, "local")["port"], port, "accepted socket's local end is the listener's port: {ev}");

    let ev = s.wait_for("bind", |e| is(e, "bind") && e["tid"] == me && arg(e, "fd") == lfd);
    assert!(addr_is(&ev, "127.0.0.1", 0), "{ev}");
    s.wait_for("listen", |e| is(e, "listen") && e["tid"] == me && arg(e, "fd") == lfd);
    let ev = s.wait_for("socket", |e| is(e, "socket") && e["tid"] == me && e["ret"] == cfd);
    assert_eq!(arg(&ev, "domain"), libc::AF_INET);
    assert_eq!(arg(&ev, "type").as_u64().unwrap() & 0xf, libc::SOCK_STREAM as u64);
}

#[test]
fn tcp6_connect_refused_reports_address_and_errno() {
    let Some(s) = sensor() else { return };
    let me = tid();
    // Bind then drop: the port is (almost certainly) closed now.
    let port = TcpListener::bind("[::1]:0").unwrap().local_addr().unwrap().port();
    assert!(TcpStream::connect(("::1", port)).is_err());
    let ev = s.wait_for("connect ::1", |e| is(e, "connect") && e["tid"] == me && addr_is(e, "::1", port));
    assert_eq!(arg(&ev, "addr")["family"], "inet6");
    assert_eq!(ev["errno"], "ECONNREFUSED");
}

#[test]
fn udp_sendto_recvfrom_and_msg_variants() {
    let Some(s) = sensor() else { return };
    let me = tid();
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (pa, pb) = (a.local_addr().unwrap().port(), b.local_addr().unwrap().port());
    a.send_to(b"hello", ("127.0.0.1", pb)).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!((n, from.port()), (5, pa));
    let ev = s.wait_for("sendto", |e| is(e, "sendto") && e["tid"] == me && addr_is(e, "127.0.0.1", pb));
    assert_eq!(ev["ret"], 5);
    assert_eq!(arg(&ev, "size"), 5);
    let hello = serde_json::json!(b"hello".to_vec());
    assert_eq!(arg(&ev, "data"), &hello, "sendto carries what it sent: {ev}");
    let ev = s.wait_for("recvfrom", |e| is(e, "recvfrom") && e["tid"] == me && addr_is(e, "127.0.0.1", pa));
    assert_eq!(ev["ret"], 5);
    assert_eq!(arg(&ev, "data"), &hello, "recvfrom carries what it received: {ev}");
    // Past Falco's snaplen (80 bytes) the data is cut, not flagged.
    let big: Vec<u8> = (0..200u8).collect();
    a.send_to(&big, ("127.0.0.1", pb)).unwrap();
    let mut bb = [0u8; 256];
    assert_eq!(b.recv_from(&mut bb).unwrap().0, 200);
    let ev = s.wait_for("big recvfrom", |e| is(e, "recvfrom") && e["tid"] == me && e["ret"] == 200);
    assert_eq!(arg(&ev, "data"), &serde_json::json!(big[..80].to_vec()), "{ev}");
    assert_ne!(ev["truncated"], true, "{ev}");

    // sendmsg / recvmsg with an address in the msghdr.
    let dst = nix::sys::socket::SockaddrIn::new(127, 0, 0, 1, pb);
    let iov = [std::io::IoSlice::new(b"msg")];
    nix::sys::socket::sendmsg(a.as_raw_fd(), &iov, &[], nix::sys::socket::MsgFlags::empty(), Some(&dst)).unwrap();
    let mut rb = [0u8; 8];
    let mut riov = [std::io::IoSliceMut::new(&mut rb)];
    let r = nix::sys::socket::recvmsg::<nix::sys::socket::SockaddrIn>(
        b.as_raw_fd(),
        &mut riov,
        None,
        nix::sys::socket::MsgFlags::empty(),
    )
    .unwrap();
    assert_eq!(r.bytes, 3);
    let ev = s.wait_for("sendmsg", |e| is(e, "sendmsg") && e["tid"] == me && addr_is(e, "127.0.0.1", pb));
    assert_eq!(ev["ret"], 3);
    s.wait_for("recvmsg", |e| is(e, "recvmsg") && e["tid"] == me && addr_is(e, "127.0.0.1", pa));
}

#[test]
fn unix_datagram_path_and_abstract() {
    let Some(s) = sensor() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(unique("sock"));
    let server = UnixDatagram::bind(&path).unwrap();
    let client = UnixDatagram::unbound().unwrap();
    client.send_to(b"x", &path).unwrap();
    let mut b = [0u8; 1];
    server.recv(&mut b).unwrap();
    let p = path.to_str().unwrap().to_owned();
    let ev = s.wait_for("unix sendto", |e| is(e, "sendto") && arg(e, "addr")["path"] == p.as_str());
    assert_eq!(arg(&ev, "addr")["family"], "unix");
    s.wait_for("unix bind", |e| is(e, "bind") && arg(e, "addr")["path"] == p.as_str());

    let name = unique("abstract");
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let _abs = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    let want = format!("@{name}");
    s.wait_for("abstract bind", |e| is(e, "bind") && arg(e, "addr")["path"] == want.as_str());
}
