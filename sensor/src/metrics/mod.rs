//! Prometheus metrics: every loss the sensor can suffer has a counter.

pub mod baseline;
pub mod dns;
pub mod response;
pub mod server;
pub mod syscalls;

use prometheus::{Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub events: IntCounterVec,
    pub kernel_losses: IntCounterVec,
    pub decode_errors: IntCounterVec,
    pub process_entries: IntGauge,
    pub process_evictions: IntCounter,
    pub process_misses: IntCounter,
    pub output_errors: IntCounter,
    pub alerts: IntCounterVec,
    pub rules_loaded: IntGauge,
    /// Rules not loaded (unknown source, skip-if-unknown-filter): a user
    /// who expects them to run must know.
    pub rules_skipped: IntGauge,
    /// Alerts from a pod's container that went out without pod metadata.
    pub alerts_without_pod: IntCounter,
    /// Alerts by pod (the dashboard's top pods), bounded.
    pub pod_alerts: PodAlerts,
    /// Events released before their container's metadata arrived.
    pub held_unresolved: IntCounter,
    /// Copied from the metadata sources' own counters.
    pub k8s_pods: IntGauge,
    pub k8s_watch_errors: IntGauge,
    pub runtime_lookups: IntGauge,
    pub runtime_errors: IntGauge,
    /// Most of the events ring found waiting at a write since the last
    /// sample (every 500 ms), 0 to 1: near 1, losses are next.
    pub ring_fill: Gauge,
    /// Time the rules take on one event (sampled: one event in
    /// [`RULE_EVAL_SAMPLE`]).
    pub rule_eval: Histogram,
    /// Rule sets reloaded while running, and reloads that failed (the
    /// running rules stayed).
    pub rule_reloads: IntCounter,
    pub rule_reload_failures: IntCounter,
    /// Liveness and readiness, served as `/healthz` and `/readyz`.
    pub health: std::sync::Arc<Health>,
    /// `sensor_dns_*`.
    pub dns: dns::DnsMetrics,
    /// `sensor_baseline_*`.
    pub baseline: baseline::BaselineMetrics,
    /// `sensor_response_*`.
    pub response: response::ResponseMetrics,
    /// `sensor_syscall_*`.
    pub syscalls: syscalls::SyscallMetrics,
}

/// One event in this many has its rule evaluation timed.
pub const RULE_EVAL_SAMPLE: u64 = 64;

/// What the health endpoints report. Ready: programs attached and rules
/// loaded (set once the ring reader runs). Live: the ring reader's loop
/// ticked recently (it ticks every 500 ms, whatever the load).
#[derive(Debug, Default)]
pub struct Health {
    ready: std::sync::atomic::AtomicBool,
    /// Monotonic milliseconds (since `start`) of the reader's last tick.
    beat_ms: std::sync::atomic::AtomicU64,
    start: std::sync::OnceLock<std::time::Instant>,
}

/// The reader counts as stalled after this long without a tick.
pub const STALL_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

impl Health {
    fn now_ms(&self) -> u64 {
        let start = self.start.get_or_init(std::time::Instant::now);
        u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The ring reader is running: ready, and alive as of now.
    pub fn set_ready(&self) {
        self.beat();
        self.ready.store(true, std::sync::atomic::Ordering::Release);
    }

    /// The ring reader's loop went round.
    pub fn beat(&self) {
        let now = self.now_ms();
        self.beat_ms.store(now, std::sync::atomic::Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Alive: not ready yet (starting), or ready and the reader ticked
    /// within [`STALL_AFTER`].
    pub fn is_alive(&self) -> bool {
        if !self.is_ready() {
            return true;
        }
        let last = self.beat_ms.load(std::sync::atomic::Ordering::Acquire);
        self.now_ms().saturating_sub(last) <= u64::try_from(STALL_AFTER.as_millis()).unwrap_or(u64::MAX)
    }
}

impl Metrics {
    /// Registration only fails on duplicate names, which this fixed set has not.
    // One metric per statement, registered in one place: splitting the
    // list would hide it.
    #[allow(clippy::too_many_lines)]
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("sensor".into()), None).expect("static prefix");
        let events =
            IntCounterVec::new(Opts::new("events_total", "Events decoded, by type"), &["type"]).expect("static");
        let kernel_losses = IntCounterVec::new(
            Opts::new(
                "kernel_losses_total",
                "Events lost in the kernel, by reason (ring full, pending table full, ...)",
            ),
            &["reason"],
        )
        .expect("static");
        let decode_errors = IntCounterVec::new(
            Opts::new("decode_errors_total", "Ring-buffer records that failed to decode"),
            &["reason"],
        )
        .expect("static");
        let process_entries = IntGauge::new("process_table_entries", "Live processes tracked").expect("static");
        let process_evictions =
            IntCounter::new("process_table_evictions_total", "Process entries dropped because the table was full")
                .expect("static");
        let process_misses =
            IntCounter::new("process_table_misses_total", "Events whose process had to be read from /proc")
                .expect("static");
        let output_errors =
            IntCounter::new("output_errors_total", "Events that could not be written to the output").expect("static");
        let alerts = IntCounterVec::new(
            Opts::new("alerts_total", "Alerts emitted, by rule and priority"),
            &["rule", "priority"],
        )
        .expect("static");
        let alerts_without_pod = IntCounter::new(
            "alerts_without_pod_metadata_total",
            "Alerts from containers in pods shipped without pod metadata (target: 0)",
        )
        .expect("static");
        let held_unresolved = IntCounter::new(
            "container_metadata_timeouts_total",
            "Events evaluated without container metadata because the lookup took too long",
        )
        .expect("static");
        registry.register(Box::new(alerts_without_pod.clone())).expect("unique");
        let pod_alerts = PodAlerts::register(&registry);
        registry.register(Box::new(held_unresolved.clone())).expect("unique");
        let k8s_pods = IntGauge::new("k8s_pods", "Pods of this node known from the Kubernetes API").expect("static");
        let k8s_watch_errors =
            IntGauge::new("k8s_watch_errors", "Kubernetes watch errors since start (each retried)").expect("static");
        let runtime_lookups =
            IntGauge::new("runtime_lookups", "Container metadata lookups since start").expect("static");
        let runtime_errors =
            IntGauge::new("runtime_errors", "Container runtime calls that failed since start").expect("static");
        for g in [&k8s_pods, &k8s_watch_errors, &runtime_lookups, &runtime_errors] {
            registry.register(Box::new(g.clone())).expect("unique");
        }
        let rules_loaded = IntGauge::new("rules_loaded", "Rules loaded and enabled").expect("static");
        let rules_skipped =
            IntGauge::new("rules_skipped", "Rules skipped at load (see the log for why)").expect("static");
        registry.register(Box::new(rules_loaded.clone())).expect("unique");
        registry.register(Box::new(rules_skipped.clone())).expect("unique");
        for c in [&events, &kernel_losses, &decode_errors, &alerts] {
            registry.register(Box::new(c.clone())).expect("unique");
        }
        registry.register(Box::new(process_entries.clone())).expect("unique");
        registry.register(Box::new(process_evictions.clone())).expect("unique");
        registry.register(Box::new(process_misses.clone())).expect("unique");
        registry.register(Box::new(output_errors.clone())).expect("unique");
        let (ring_fill, rule_eval) = hot_path_gauges(&registry);
        let rule_reloads = IntCounter::new("rules_reloads_total", "Rule sets reloaded while running").expect("static");
        let rule_reload_failures = IntCounter::new(
            "rules_reload_failures_total",
            "Rule reloads that failed to load (the running rules stayed)",
        )
        .expect("static");
        registry.register(Box::new(rule_reloads.clone())).expect("unique");
        registry.register(Box::new(rule_reload_failures.clone())).expect("unique");
        Self {
            dns: dns::DnsMetrics::register(&registry),
            baseline: baseline::BaselineMetrics::register(&registry),
            response: response::ResponseMetrics::register(&registry),
            syscalls: syscalls::SyscallMetrics::register(&registry),
            registry,
            events,
            kernel_losses,
            decode_errors,
            process_entries,
            process_evictions,
            process_misses,
            output_errors,
            alerts,
            rules_loaded,
            rules_skipped,
            alerts_without_pod,
            pod_alerts,
            held_unresolved,
            k8s_pods,
            k8s_watch_errors,
            runtime_lookups,
            runtime_errors,
            ring_fill,
            rule_eval,
            rule_reloads,
            rule_reload_failures,
            health: std::sync::Arc::new(Health::default()),
        }
    }

    /// Text exposition format.
    pub fn render(&self) -> String {
        let enc = prometheus::TextEncoder::new();
        enc.encode_to_string(&self.registry.gather()).unwrap_or_default()
    }
}

/// `sensor_alerts_by_pod_total{k8s_ns_name, k8s_pod_name}`, at most
/// [`MAX_POD_SERIES`] pods: pods come and go on a node for months, and a
/// series per pod ever seen would grow without bound. Past the bound, new
/// pods count under `k8s_pod_name="other"` (the namespace kept).
#[derive(Clone)]
pub struct PodAlerts {
    counter: IntCounterVec,
    seen: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<(String, String)>>>,
}

pub const MAX_POD_SERIES: usize = 1000;

impl PodAlerts {
    fn register(registry: &Registry) -> Self {
        let counter = IntCounterVec::new(
            Opts::new("alerts_by_pod_total", "Alerts from pods' containers, by namespace and pod (bounded)"),
            &["k8s_ns_name", "k8s_pod_name"],
        )
        .expect("static");
        registry.register(Box::new(counter.clone())).expect("unique");
        Self { counter, seen: std::sync::Arc::default() }
    }

    pub fn inc(&self, ns: &str, pod: &str) {
        let Ok(mut seen) = self.seen.lock() else { return };
        let key = (ns.to_owned(), pod.to_owned());
        let pod = if seen.contains(&key) || seen.len() < MAX_POD_SERIES {
            seen.insert(key);
            pod
        } else {
            "other"
        };
        self.counter.with_label_values(&[ns, pod]).inc();
    }
}

/// The ring's fill and the rules' latency.
fn hot_path_gauges(registry: &Registry) -> (Gauge, Histogram) {
    let ring_fill = Gauge::new(
        "ring_fill_ratio",
        "Most of the events ring buffer found in use at a write since the last sample (0-1)",
    )
    .expect("static");
    let rule_eval = Histogram::with_opts(
        HistogramOpts::new("rule_evaluation_seconds", "Time the rules take on one event (one event in 64 is timed)")
            .buckets(vec![1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2]),
    )
    .expect("static");
    registry.register(Box::new(ring_fill.clone())).expect("unique");
    registry.register(Box::new(rule_eval.clone())).expect("unique");
    (ring_fill, rule_eval)
}

impl Metrics {
    /// Flat counters for the exit summary: `events.<type>`, `lost.<reason>`,
    /// `decode_errors.<reason>`, as one JSON object.
    pub fn summary_json(&self) -> String {
        let mut m = serde_json::Map::new();
        for (prefix, vec) in
            [("events", &self.events), ("lost", &self.kernel_losses), ("decode_errors", &self.decode_errors)]
        {
            for mf in prometheus::core::Collector::collect(vec) {
                for metric in mf.get_metric() {
                    let label = metric.get_label().first().map(prometheus::proto::LabelPair::value).unwrap_or_default();
                    let v = metric.get_counter().get_value() as u64;
                    m.insert(format!("{prefix}.{label}"), v.into());
                }
            }
        }
        m.insert("output_errors".into(), self.output_errors.get().into());
        serde_json::Value::Object(m).to_string()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_alert_series_are_bounded() {
        let m = Metrics::new();
        for i in 0..=MAX_POD_SERIES {
            m.pod_alerts.inc("ns", &format!("pod-{i}"));
        }
        m.pod_alerts.inc("ns", "pod-0");
        let text = m.render();
        let series = text.lines().filter(|l| l.starts_with("sensor_alerts_by_pod_total{")).count();
        assert_eq!(series, MAX_POD_SERIES + 1, "1000 pods and one 'other'");
        assert!(text.contains("sensor_alerts_by_pod_total{k8s_ns_name=\"ns\",k8s_pod_name=\"other\"} 1"));
        assert!(text.contains("sensor_alerts_by_pod_total{k8s_ns_name=\"ns\",k8s_pod_name=\"pod-0\"} 2"));
    }
}
