//! The storms the benchmark times. Each runs in its own process so the
//! sensor attributes its events to a pid other than the harness.

use std::ffi::CString;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::Command;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Open,
    Exec,
    Connect,
    /// Datagrams to a loopback UDP port that is not 53, each received.
    Udp,
    /// `open(O_WRONLY|O_CREAT|O_TRUNC)` + close over 64 files of one
    /// directory: opens a baseline profile records.
    Write,
    /// 1-byte `read(2)`s from /dev/zero and `write(2)`s to /dev/null,
    /// alternating (`dd bs=1`): syscalls no rule or table entry wants.
    /// `count` is the number of syscalls.
    ReadWrite,
}

#[derive(Args)]
pub struct WorkloadArgs {
    pub kind: Kind,
    pub count: u64,
}

pub fn run(a: &WorkloadArgs) -> anyhow::Result<()> {
    match a.kind {
        Kind::Open => open_storm(a.count),
        Kind::Exec => exec_storm(a.count),
        Kind::Connect => connect_storm(a.count),
        Kind::Udp => udp_storm(a.count),
        Kind::Write => write_storm(a.count),
        Kind::ReadWrite => read_write_storm(a.count),
    }
}

fn open_storm(n: u64) -> anyhow::Result<()> {
    let path = std::env::temp_dir().join("sensor-bench-open");
    std::fs::write(&path, b"x")?;
    let c = CString::new(path.to_str().context("utf-8 temp path")?)?;
    for _ in 0..n {
        // SAFETY: open/close of a path we own; raw calls keep the loop lean.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY) };
        if fd < 0 {
            bail!("open failed: {}", std::io::Error::last_os_error());
        }
        // SAFETY: closing the fd just opened.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

fn write_storm(n: u64) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join("sensor-bench-write");
    std::fs::create_dir_all(&dir)?;
    let names: Vec<CString> = (0..64)
        .map(|i| CString::new(dir.join(format!("out{}", char::from(b'a' + i))).to_str().unwrap_or_default()))
        .collect::<Result<_, _>>()?;
    for i in 0..n {
        let c = &names[(i % 64) as usize];
        // SAFETY: open/close of a path we own; raw calls keep the loop lean.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o600) };
        if fd < 0 {
            bail!("open failed: {}", std::io::Error::last_os_error());
        }
        // SAFETY: closing the fd just opened.
        unsafe { libc::close(fd) };
    }
    Ok(())
}

fn read_write_storm(n: u64) -> anyhow::Result<()> {
    let zero = std::fs::File::open("/dev/zero").context("/dev/zero")?;
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null").context("/dev/null")?;
    let (zfd, nfd) = (std::os::fd::AsRawFd::as_raw_fd(&zero), std::os::fd::AsRawFd::as_raw_fd(&null));
    let mut b = [0u8; 1];
    for _ in 0..n / 2 {
        // SAFETY: 1-byte read into and write from a local buffer, on fds
        // this function owns; raw calls keep the loop lean.
        let (r, w) = unsafe { (libc::read(zfd, b.as_mut_ptr().cast(), 1), libc::write(nfd, b.as_ptr().cast(), 1)) };
        if r != 1 || w != 1 {
            bail!("read/write failed: {}", std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn exec_storm(n: u64) -> anyhow::Result<()> {
    for _ in 0..n {
        let st = Command::new("/bin/true").status()?;
        if !st.success() {
            bail!("/bin/true failed");
        }
    }
    Ok(())
}

fn connect_storm(n: u64) -> anyhow::Result<()> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        for _ in 0..n {
            let (mut s, _) = l.accept()?;
            let mut b = [0u8; 1];
            s.read_exact(&mut b)?;
            s.write_all(&b)?;
        }
        Ok(())
    });
    for _ in 0..n {
        let mut s = TcpStream::connect(addr)?;
        s.write_all(b"x")?;
        // Lockstep with the server: an overflowing accept backlog would make
        // the storm time SYN retransmits instead of the connect path.
        let mut b = [0u8; 1];
        s.read_exact(&mut b)?;
        // Close with RST: repeated runs would otherwise exhaust ephemeral
        // ports in TIME_WAIT.
        let lin = libc::linger { l_onoff: 1, l_linger: 0 };
        // SAFETY: setsockopt on our own socket with a correctly sized value.
        unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&s),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&raw const lin).cast(),
                std::mem::size_of::<libc::linger>() as u32,
            );
        }
    }
    server.join().map_err(|_| anyhow::anyhow!("server thread panicked"))??;
    Ok(())
}

/// `n` 64-byte datagrams from one loopback socket to another (ephemeral
/// ports, never 53), each received before the next is sent: the rate is the
/// packet path's, with no receive-queue overflow to blur it.
fn udp_storm(n: u64) -> anyhow::Result<()> {
    let rx = UdpSocket::bind("127.0.0.1:0")?;
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    let to = rx.local_addr()?;
    if to.port() == 53 || tx.local_addr()?.port() == 53 {
        bail!("an ephemeral port was 53");
    }
    tx.connect(to)?;
    let msg = [0x5au8; 64];
    let mut buf = [0u8; 128];
    for _ in 0..n {
        tx.send(&msg)?;
        let got = rx.recv(&mut buf)?;
        if got != msg.len() {
            bail!("short datagram: {got} bytes");
        }
    }
    Ok(())
}
