//! The outputs restarted with a new configuration while the sensor runs
//! (a reload changed the `outputs:` section). The detection stage never
//! waits for it: the old outputs are shut down and the new ones started on
//! the outputs' runtime, and the alerts raised meanwhile wait here
//! (bounded) and go to the new outputs once they run. The old outputs'
//! undelivered alerts stay in their on-disk spools, which the new outputs
//! of the same name open again; what an in-memory spool held is counted as
//! dropped (`reason="reload"`).

use std::time::Duration;

use log::{error, info, warn};
use tokio::sync::oneshot;

use crate::output::stage::AlertStages;
use crate::output::{DeliveryMetrics, Outputs, OutputsConfig, StormControl};
use crate::rules::Alert;

/// How long the old outputs keep delivering before they stop (the rest
/// stays in their spools).
pub const SWAP_DELIVERY: Duration = Duration::from_secs(5);

/// Alerts raised during a swap beyond this are dropped (counted).
pub const SWAP_WAITING: usize = 10_000;

/// Label of the alerts lost because a swap's queue was full, or because an
/// old output's in-memory spool was not empty when it stopped.
pub const RELOAD_DROP: &str = "reload";

/// The outputs' runtime and what a restart of them needs.
pub struct OutputsControl {
    rt: tokio::runtime::Handle,
    hostname: String,
    /// Where the delivery metrics are registered when a reload adds the
    /// first outputs.
    registry: prometheus::Registry,
    metrics: Option<DeliveryMetrics>,
    /// The configuration of the running outputs (`None`: none run).
    running: Option<OutputsConfig>,
    swap: Option<Swap>,
    /// A configuration that came during a swap, applied after it.
    queued: Option<Queued>,
}

/// The outputs a reload asked for during a swap (`None`: none).
struct Queued(Option<OutputsConfig>);

/// The outputs that run after a swap, with their configuration, and why
/// the asked-for ones do not, if they do not.
struct Swapped {
    stages: Option<AlertStages>,
    running: Option<OutputsConfig>,
    failure: Option<String>,
}

struct Swap {
    done: oneshot::Receiver<Swapped>,
    waiting: Vec<(Alert, u64)>,
    dropped: u64,
}

impl OutputsControl {
    /// `running`: the configuration the current outputs were started with;
    /// `metrics`: their delivery metrics, when registered.
    pub fn new(
        rt: tokio::runtime::Handle,
        hostname: String,
        registry: prometheus::Registry,
        running: Option<OutputsConfig>,
        metrics: Option<DeliveryMetrics>,
    ) -> Self {
        Self { rt, hostname, registry, metrics, running, swap: None, queued: None }
    }

    /// Whether alerts wait for a swap to finish.
    pub fn swapping(&self) -> bool {
        self.swap.is_some()
    }

    /// An alert raised during a swap: kept for the new outputs, or counted
    /// as dropped when too many wait.
    pub fn hold(&mut self, alert: &Alert, time_ns: u64) {
        if let Some(s) = &mut self.swap {
            if s.waiting.len() < SWAP_WAITING {
                s.waiting.push((alert.clone(), time_ns));
            } else {
                s.dropped += 1;
            }
        }
    }

    /// Starts replacing `current` by outputs for `next`, unless that is what
    /// runs already. A swap under way is let finish first; the newest
    /// configuration is applied after it.
    pub fn reconfigure(&mut self, current: &mut Option<AlertStages>, next: Option<OutputsConfig>) -> bool {
        if self.swap.is_some() {
            self.queued = Some(Queued(next));
            return false;
        }
        if next == self.running {
            return false;
        }
        let dm = match &self.metrics {
            Some(dm) => dm.clone(),
            None => match DeliveryMetrics::register(&self.registry) {
                Ok(dm) => {
                    self.metrics = Some(dm.clone());
                    dm
                }
                Err(e) => {
                    error!("outputs not reconfigured: registering their metrics: {e}");
                    return false;
                }
            },
        };
        let old = current.take();
        let previous = self.running.clone();
        self.running.clone_from(&next);
        let (tx, done) = oneshot::channel();
        let host = self.hostname.clone();
        self.rt.spawn(async move {
            if let Some(old) = old {
                let report = old.shutdown(SWAP_DELIVERY).await;
                let in_memory = previous.as_ref().is_some_and(|c| c.spool_dir.is_none());
                for (name, n) in report.spooled.iter().filter(|(_, n)| **n > 0) {
                    if in_memory {
                        warn!(
                            "output {name}: {n} undelivered alerts dropped with its in-memory spool (outputs reloaded)"
                        );
                        dm.dropped.with_label_values(&[name.as_str(), RELOAD_DROP]).inc_by(*n);
                    } else {
                        info!("output {name}: {n} alerts left in the spool for the reloaded outputs");
                    }
                }
            }
            let swapped = match &next {
                None => Swapped { stages: None, running: None, failure: None },
                Some(cfg) => match start(cfg, &dm, &host).await {
                    Ok(st) => Swapped { stages: Some(st), running: next, failure: None },
                    // The new outputs do not start: the previous ones again.
                    Err(e) => {
                        let failure = Some(format!("the reloaded outputs did not start: {e}"));
                        match &previous {
                            Some(prev) => match start(prev, &dm, &host).await {
                                Ok(st) => {
                                    error!("the reloaded outputs did not start ({e}); the previous outputs run again");
                                    Swapped { stages: Some(st), running: previous, failure }
                                }
                                Err(e2) => {
                                    error!("neither the reloaded outputs ({e}) nor the previous ones ({e2}) start");
                                    Swapped { stages: None, running: None, failure }
                                }
                            },
                            None => Swapped { stages: None, running: None, failure },
                        }
                    }
                },
            };
            let _ = tx.send(swapped);
        });
        self.swap = Some(Swap { done, waiting: Vec::new(), dropped: 0 });
        info!("outputs reloading");
        true
    }

    /// The new outputs, once they run: the alerts that waited go to them.
    /// Returns why the asked-for outputs do not run, when they do not (a
    /// reload failure the user must hear of).
    pub fn poll(&mut self, current: &mut Option<AlertStages>) -> Option<String> {
        let s = self.swap.as_mut()?;
        let Swapped { stages, running, failure } = match s.done.try_recv() {
            Ok(r) => r,
            Err(oneshot::error::TryRecvError::Empty) => return None,
            Err(oneshot::error::TryRecvError::Closed) => Swapped {
                stages: None,
                running: None,
                failure: Some("the outputs' runtime stopped during the reload".into()),
            },
        };
        let s = self.swap.take()?;
        let wanted = self.running.take();
        *current = stages;
        match current {
            Some(st) => {
                info!("alert outputs: {}", st.outputs().names().join(", "));
                for (a, t) in &s.waiting {
                    st.alert(a, *t);
                }
            }
            None if wanted.is_some() => {
                error!("no alert output runs: {} alerts raised during the reload are lost", s.waiting.len());
                if let Some(dm) = &self.metrics {
                    dm.dropped.with_label_values(&["all", RELOAD_DROP]).inc_by(s.waiting.len() as u64);
                }
            }
            None => {}
        }
        if s.dropped > 0 {
            warn!("{} alerts dropped while the outputs reloaded (more than {SWAP_WAITING} waited)", s.dropped);
            if let Some(dm) = &self.metrics {
                dm.dropped.with_label_values(&["all", RELOAD_DROP]).inc_by(s.dropped);
            }
        }
        // What runs, not what was asked for: a later reload of the same
        // configuration tries again.
        self.running = running;
        if let Some(Queued(next)) = self.queued.take() {
            self.reconfigure(current, next);
        }
        failure
    }
}

/// Starts the outputs of `cfg`; a spool still held by the stopping outputs
/// is retried for a moment.
async fn start(cfg: &OutputsConfig, dm: &DeliveryMetrics, host: &str) -> Result<AlertStages, String> {
    let mut last = String::new();
    for _ in 0..20 {
        match Outputs::start(cfg, dm, host) {
            Ok(o) => return Ok(AlertStages::new(o, StormControl::new(&cfg.storm, dm))),
            Err(e) => last = format!("{e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last)
}

#[cfg(test)]
mod tests;
