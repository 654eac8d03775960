//! Rules and configuration reloaded while the sensor runs: on SIGHUP, or
//! when a watched file changes (polled; a `ConfigMap` update swaps a
//! symlink, which changes the identity of the file behind it). The new
//! configuration and rule set are loaded off the hot path and handed to the
//! detection stage, which swaps them in between two events: no event is
//! skipped or seen by neither set. A configuration or a set that fails to
//! load leaves the running ones in place; the failure, `file:line` first,
//! goes to the log, a metric and an alert.

use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::time::Duration;

use log::{error, info};
use tokio::sync::mpsc;

use super::{RuleSources, load_rules};
use crate::rules::files::rules_files;
use crate::rules::{CheckReport, EngineConfig, RuleSet};

/// What a reload produced; `C` is the configuration the caller loads
/// beside the rules.
pub enum Reload<C> {
    /// Loaded: run these from the next event on.
    Loaded { rules: RuleSet, config: C },
    /// Not loaded (the running rules and configuration stay): the errors,
    /// as `rules check` and `config check` print them.
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

/// Watches until the detection stage is gone (`tx` closed). `config`
/// loads the configuration (its error: the report, `file:line` first);
/// `prepare` shapes a loaded set by it as the first one was (minimum
/// priority).
pub fn spawn<C: Send + 'static>(
    w: Watch,
    config: impl Fn() -> Result<C, String> + Send + Sync + 'static,
    prepare: impl Fn(&mut RuleSet, &C) + Send + Sync + 'static,
    tx: mpsc::Sender<Reload<C>>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let load = std::sync::Arc::new(move |sources: &RuleSources, engine: &EngineConfig| -> Reload<C> {
        let config = match config() {
            Ok(c) => c,
            Err(report) => {
                error!("configuration reload failed; the running rules and configuration stay:\n{report}");
                return Reload::Failed { report };
            }
        };
        let (set, report) = load_rules(sources, engine);
        if let Some(mut rules) = set {
            prepare(&mut rules, &config);
            Reload::Loaded { rules, config }
        } else {
            let report = CheckReport::from(&report).render_human();
            error!("rules reload failed; the running rules and configuration stay:\n{report}");
            Reload::Failed { report }
        }
    });
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
            info!("reloading rules and configuration ({})", if asked { "SIGHUP" } else { "a watched file changed" });
            let (sources, engine, load) = (w.sources.clone(), w.engine.clone(), load.clone());
            let Ok(msg) = tokio::task::spawn_blocking(move || load(&sources, &engine)).await else {
                return;
            };
            if tx.send(msg).await.is_err() {
                return;
            }
        }
    }))
}
