//! Prometheus metrics: every loss the sensor can suffer has a counter.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

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
    /// Events released before their container's metadata arrived.
    pub held_unresolved: IntCounter,
    /// Copied from the metadata sources' own counters.
    pub k8s_pods: IntGauge,
    pub k8s_watch_errors: IntGauge,
    pub runtime_lookups: IntGauge,
    pub runtime_errors: IntGauge,
}

impl Metrics {
    /// Registration only fails on duplicate names, which this fixed set has not.
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
        Self {
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
            held_unresolved,
            k8s_pods,
            k8s_watch_errors,
            runtime_lookups,
            runtime_errors,
        }
    }

    /// Text exposition format.
    pub fn render(&self) -> String {
        let enc = prometheus::TextEncoder::new();
        enc.encode_to_string(&self.registry.gather()).unwrap_or_default()
    }
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
