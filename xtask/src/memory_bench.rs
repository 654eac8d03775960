//! `cargo xtask bench --memory-only` and `--soak-minutes N`: the agent's
//! resident memory with Falco's stable rules and the built-in ones loaded.
//!
//! - Memory: RSS at idle, with 10,000 live processes (each a `sleep`
//!   exec'd by this harness), and after they all exit; `VmHWM` is the peak.
//! - Soak: N minutes of mixed load, every second: 40 `/bin/true` execs,
//!   2,000 opens, 20 loopback connects and 2 short-lived "containers"
//!   (a process moved into a fresh `docker-<64 hex>.scope` cgroup, which
//!   the sensor attributes as a container whose runtime it cannot ask).
//!   RSS is sampled every 10 s; growth is the mean of the last window
//!   against the mean of the first after one minute of warm-up (the heap
//!   is trimmed every minute: single samples swing with its phase).

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::bench::{start, stop};

/// (`VmRSS`, `VmHWM`) of `pid`, in MiB.
fn rss(pid: u32) -> anyhow::Result<(f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = text.lines().find(|l| l.starts_with(name)).with_context(|| format!("no {name}"))?;
        let kb: f64 = line.split_whitespace().nth(1).context("value")?.parse()?;
        Ok(kb / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn falco_rules() -> anyhow::Result<PathBuf> {
    let p = crate::root().join("../shared/falco/falco_rules.yaml");
    if !p.exists() {
        bail!("{} missing: the benchmark loads Falco's stable rules", p.display());
    }
    Ok(p)
}

fn start_sensor(sensor: &Path) -> anyhow::Result<crate::bench::Running> {
    let rules = falco_rules()?;
    start(Command::new(sensor).args(["run", "--no-listen", "--rules"]).arg(rules), Some("sensor: ready"))
}

fn lost(sum: Option<&crate::bench::Summary>) -> u64 {
    sum.map_or(0, |s| s.iter().filter(|(k, _)| k.starts_with("lost.")).map(|(_, v)| v).sum())
}

pub fn run_memory(sensor: &Path, processes: usize) -> anyhow::Result<()> {
    let r = start_sensor(sensor)?;
    let pid = r.child.id();
    std::thread::sleep(Duration::from_secs(3));
    let (idle, _) = rss(pid)?;
    let t0 = Instant::now();
    let mut kids: Vec<Child> = Vec::with_capacity(processes);
    for _ in 0..processes {
        kids.push(Command::new("/bin/sleep").arg("900").spawn()?);
    }
    let spawn = t0.elapsed();
    std::thread::sleep(Duration::from_secs(10));
    let (live, _) = rss(pid)?;
    for k in &mut kids {
        let _ = k.kill();
    }
    for k in &mut kids {
        let _ = k.wait();
    }
    std::thread::sleep(Duration::from_secs(10));
    let (after, peak) = rss(pid)?;
    let sum = stop(r)?;
    println!("| agent RSS | MiB |");
    println!("|---|---|");
    println!("| idle (built-in + Falco stable rules) | {idle:.1} |");
    println!("| {processes} live processes (spawned in {:.1} s) | {live:.1} |", spawn.as_secs_f64());
    println!("| after they exited (10 s) | {after:.1} |");
    println!("| peak (VmHWM, start-up included) | {peak:.1} |");
    println!("| events lost | {} |", lost(sum.as_ref()));
    Ok(())
}

/// A short-lived process in a fresh cgroup named as Docker names a
/// container's, removed after.
fn container_like(root: &Path, n: u64) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    let id = format!("{:064x}", u128::from(std::process::id()) << 64 | u128::from(n));
    let dir = root.join(format!("docker-{id}.scope"));
    std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let procs = std::ffi::CString::new(dir.join("cgroup.procs").into_os_string().into_encoded_bytes())?;
    let mut cmd = Command::new("/bin/true");
    // SAFETY: open(2), write(2) and close(2) on memory allocated before the
    // fork: "0" moves the child itself into the cgroup before it execs.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(fd);
            Ok(())
        });
    }
    let st = cmd.status();
    let rm = std::fs::remove_dir(&dir);
    st?;
    rm?;
    Ok(())
}

/// One second's load.
fn mixed_second(cg: &Path, listener: &TcpListener, tick: u64) -> anyhow::Result<()> {
    for _ in 0..40 {
        Command::new("/bin/true").status()?;
    }
    for _ in 0..2_000 {
        drop(std::fs::File::open("/etc/hostname")?);
    }
    let addr = listener.local_addr()?;
    for _ in 0..20 {
        let mut c = TcpStream::connect(addr)?;
        let (mut s, _) = listener.accept()?;
        c.write_all(b"x")?;
        let mut b = [0u8; 1];
        s.read_exact(&mut b)?;
    }
    container_like(cg, tick * 2)?;
    container_like(cg, tick * 2 + 1)?;
    Ok(())
}

pub fn run_soak(sensor: &Path, minutes: u64) -> anyhow::Result<()> {
    // Pure v2, or the unified hierarchy of a hybrid node.
    let Some(root) = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.controllers").exists())
    else {
        bail!("the soak needs a cgroup v2 hierarchy (/sys/fs/cgroup or /sys/fs/cgroup/unified)");
    };
    let cg = root.join(format!("sensor-soak-{}", std::process::id()));
    std::fs::create_dir_all(&cg)?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let r = start_sensor(sensor)?;
    let pid = r.child.id();
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(minutes * 60);
    let mut samples: Vec<(u64, f64)> = Vec::new();
    let mut tick = 0u64;
    let mut result = Ok(());
    while Instant::now() < end {
        let s = Instant::now();
        if let Err(e) = mixed_second(&cg, &listener, tick) {
            result = Err(e);
            break;
        }
        tick += 1;
        if tick.is_multiple_of(10) {
            samples.push((t0.elapsed().as_secs(), rss(pid)?.0));
            eprintln!("soak {:>5} s: RSS {:.1} MiB", t0.elapsed().as_secs(), samples.last().map_or(0.0, |x| x.1));
        }
        if let Some(rest) = Duration::from_secs(1).checked_sub(s.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let (_, peak) = rss(pid)?;
    let sum = stop(r)?;
    let _ = std::fs::remove_dir(&cg);
    result?;
    // The heap is trimmed every minute, so single samples swing by a few
    // MiB with the trim's phase: windows are compared, not samples.
    let total = t0.elapsed().as_secs();
    let span = (total.saturating_sub(60) / 6).clamp(10, 300);
    let mean = |from: u64, to: u64| {
        let w: Vec<f64> = samples.iter().filter(|(t, _)| *t >= from && *t < to).map(|x| x.1).collect();
        #[allow(clippy::cast_precision_loss)] // a few hundred samples
        let n = w.len().max(1) as f64;
        w.iter().sum::<f64>() / n
    };
    let (first, last) = (mean(60, 60 + span), mean(total.saturating_sub(span), total + 1));
    let max = samples.iter().map(|x| x.1).fold(0.0, f64::max);
    println!("| soak | value |");
    println!("|---|---|");
    println!("| duration | {minutes} min ({tick} load seconds) |");
    println!("| mean RSS, first {span} s after 1 min of warm-up | {first:.1} MiB |");
    println!("| mean RSS, last {span} s | {last:.1} MiB |");
    println!("| growth | {:+.1} % |", (last - first) / first.max(1.0) * 100.0);
    println!("| highest sample / VmHWM | {max:.1} / {peak:.1} MiB |");
    println!("| events lost | {} |", lost(sum.as_ref()));
    Ok(())
}
