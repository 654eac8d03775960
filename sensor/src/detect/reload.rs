//! Rules reloaded while the sensor runs: on SIGHUP, or when a watched file
//! changes (polled; a `ConfigMap` update swaps a symlink, which changes the
//! identity of the file behind it). The new set is loaded off the hot path
//! and handed to the detection stage, which swaps it in between two
//! events: no event is skipped or seen by neither set. A set that fails to
//! load leaves the running one in place; the failure, `file:line` first,
//! goes to the log, a metric and an alert.

use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::time::Duration;

use log::{error, info};
use tokio::sync::mpsc;

use super::{RuleSources, load_rules};
use crate::rules::files::rules_files;
use crate::rules::{CheckReport, EngineConfig, RuleSet};

/// What a reload produced.
pub enum Reload {
    /// Loaded: run these from the next event on.
    Rules(RuleSet),
    /// Not loaded (the running rules stay): the errors, as `rules check`
    /// prints them.
    Failed { report: String },
}

/// Where rules come from and what to watch.
pub struct Watch {
    pub sources: RuleSources,
    pub engine: EngineConfig,
    /// Other files whose change means a reload (the config file).
    pub also: Vec<PathBuf>,
    /// How often the files are checked; `None`: on SIGHUP only.
    pub every: Option<Duration>,
}

/// Identity of one watched file, symlinks followed.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    path: PathBuf,
    dev: u64,
    ino: u64,
    mtime_ns: i128,
    len: u64,
}

/// The watched files now: every rule file (a directory's `*.yaml`, so an
/// added file counts) and `also`. An unreadable path is a stamp of zeros,
/// so its coming back is a change too.
fn stamps(w: &Watch) -> Vec<Stamp> {
    let mut files: Vec<PathBuf> = Vec::new();
    for p in &w.sources.paths {
        files.extend(rules_files(p).unwrap_or_else(|_| vec![p.clone()]));
    }
    files.extend(w.also.iter().cloned());
    files
        .into_iter()
        .map(|path| match std::fs::metadata(&path) {
            Ok(m) => Stamp {
                dev: m.dev(),
                ino: m.ino(),
                mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
                len: m.len(),
                path,
            },
            Err(_) => Stamp { path, dev: 0, ino: 0, mtime_ns: 0, len: 0 },
        })
        .collect()
}

/// Watches until the detection stage is gone (`tx` closed). `prepare`
/// shapes a loaded set as the first one was (minimum priority).
pub fn spawn(
    w: Watch,
    prepare: impl Fn(&mut RuleSet) + Send + 'static,
    tx: mpsc::Sender<Reload>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        let mut last = stamps(&w);
        let mut tick = w.every.map(|d| {
            let mut t = tokio::time::interval(d);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            t
        });
        loop {
            let asked = tokio::select! {
                s = hup.recv() => {
                    if s.is_none() {
                        return;
                    }
                    true
                }
                () = async {
                    match &mut tick {
                        Some(t) => { t.tick().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => false,
                () = tx.closed() => return,
            };
            let now = stamps(&w);
            if !asked && now == last {
                continue;
            }
            last = now;
            info!("reloading rules ({})", if asked { "SIGHUP" } else { "a watched file changed" });
            let (sources, engine) = (w.sources.clone(), w.engine.clone());
            let Ok((set, report)) = tokio::task::spawn_blocking(move || load_rules(&sources, &engine)).await else {
                return;
            };
            let msg = if let Some(mut set) = set {
                prepare(&mut set);
                Reload::Rules(set)
            } else {
                let report = CheckReport::from(&report).render_human();
                error!("rules reload failed; the running rules stay:\n{report}");
                Reload::Failed { report }
            };
            if tx.send(msg).await.is_err() {
                return;
            }
        }
    }))
}
