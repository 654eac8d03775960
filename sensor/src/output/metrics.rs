//! Delivery metrics. Names are relative to the sensor's registry, whose
//! prefix is `sensor_` (`alerts_sent_total` is `sensor_alerts_sent_total`).

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct DeliveryMetrics {
    /// Alerts the receiver accepted (2xx), or written (stdout, file).
    pub sent: IntCounterVec,
    /// Alerts given up on: rejected with a 4xx other than 408/429, or
    /// that could not be written.
    pub failed: IntCounterVec,
    /// Alerts sent again after a failed attempt.
    pub retried: IntCounterVec,
    /// Alerts written to an output's spool.
    pub spooled: IntCounterVec,
    /// Alerts lost before delivery, by reason (`queue_full`, `spool_full`,
    /// `spool_corrupt`, `reload`: see `pipeline::outputs_swap`).
    pub dropped: IntCounterVec,
    pub spool_depth: IntGaugeVec,
    pub spool_bytes: IntGaugeVec,
    /// Alerts not sent because of storm control: `reason="dedup"` (the
    /// stage before the outputs, `output="all"`) or `reason="rate_limit"`.
    pub suppressed: IntCounterVec,
    /// Summary alerts storm control sent for suppressed repeats.
    pub storm_summaries: IntCounter,
}

impl DeliveryMetrics {
    /// Registers the delivery metrics in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let by_output = |name: &str, help: &str| IntCounterVec::new(Opts::new(name, help), &["output"]);
        let m = Self {
            sent: by_output("alerts_sent_total", "Alerts delivered, by output")?,
            failed: by_output("alerts_failed_total", "Alerts the output rejected for good (not retried), by output")?,
            retried: by_output("alerts_retried_total", "Alerts sent again after a failed attempt, by output")?,
            spooled: by_output("alerts_spooled_total", "Alerts written to the output's on-disk spool")?,
            dropped: IntCounterVec::new(
                Opts::new("alerts_dropped_total", "Alerts lost before delivery, by output and reason"),
                &["output", "reason"],
            )?,
            spool_depth: IntGaugeVec::new(Opts::new("alert_spool_depth", "Alerts waiting in the spool"), &["output"])?,
            spool_bytes: IntGaugeVec::new(
                Opts::new("alert_spool_bytes", "Bytes of the alerts waiting in the spool"),
                &["output"],
            )?,
            suppressed: IntCounterVec::new(
                Opts::new("alerts_suppressed_total", "Alerts held back by storm control, by reason and output"),
                &["reason", "output"],
            )?,
            storm_summaries: IntCounter::new(
                "storm_summaries_total",
                "Summary alerts sent for repeats storm control suppressed",
            )?,
        };
        for c in [&m.sent, &m.failed, &m.retried, &m.spooled, &m.dropped, &m.suppressed] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(m.spool_depth.clone()))?;
        registry.register(Box::new(m.spool_bytes.clone()))?;
        registry.register(Box::new(m.storm_summaries.clone()))?;
        Ok(m)
    }

    /// Metrics in a registry of their own (tests, benchmarks).
    pub fn standalone() -> Self {
        let registry = Registry::new();
        // Fresh registry, fixed names: registration cannot collide.
        Self::register(&registry).unwrap_or_else(|e| unreachable!("fresh registry: {e}"))
    }
}
