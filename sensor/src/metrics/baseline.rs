//! `sensor_baseline_*`: the learned profiles and what they cost or lost.

use prometheus::{IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::detect::baseline::BaselineStats;

#[derive(Clone)]
pub struct BaselineMetrics {
    profiles: IntGaugeVec,
    learned: IntCounter,
    deviations: IntCounter,
    lost: IntCounterVec,
    store_errors: IntCounter,
    cluster: IntCounterVec,
    seen: BaselineStats,
}

impl BaselineMetrics {
    pub(super) fn register(registry: &Registry) -> Self {
        let profiles = IntGaugeVec::new(
            Opts::new(
                "baseline_profiles",
                "Workload profiles held, by mode (learning, enforcing: enforcing or approved)",
            ),
            &["mode"],
        )
        .expect("static");
        let learned = IntCounter::new("baseline_items_learned_total", "Items the profiles learned").expect("static");
        let deviations =
            IntCounter::new("baseline_deviations_total", "Events an enforcing profile did not know").expect("static");
        let lost = IntCounterVec::new(
            Opts::new(
                "baseline_not_learned_total",
                "What the profiles could not learn, by reason (profiles_full: a workload got no profile; items_full: an item did not fit its list)",
            ),
            &["reason"],
        )
        .expect("static");
        let store_errors = IntCounter::new(
            "baseline_store_errors_total",
            "Profile files that could not be written or read (the log says which)",
        )
        .expect("static");
        let cluster = IntCounterVec::new(
            Opts::new(
                "baseline_cluster_requests_total",
                "Merges of profiles into the cluster's SensorProfile objects, by result (written; conflict: another node wrote first, retried; error: the change waits for the next push; watch_error: the SensorProfile watch failed and retries)",
            ),
            &["result"],
        )
        .expect("static");
        registry.register(Box::new(cluster.clone())).expect("unique");
        for r in ["written", "conflict", "error", "watch_error"] {
            cluster.with_label_values(&[r]);
        }
        registry.register(Box::new(profiles.clone())).expect("unique");
        registry.register(Box::new(lost.clone())).expect("unique");
        for c in [&learned, &deviations, &store_errors] {
            registry.register(Box::new(c.clone())).expect("unique");
        }
        for m in ["learning", "enforcing"] {
            profiles.with_label_values(&[m]);
        }
        for r in ["profiles_full", "items_full"] {
            lost.with_label_values(&[r]);
        }
        Self { profiles, learned, deviations, lost, store_errors, cluster, seen: BaselineStats::default() }
    }

    /// Adds what grew since the last call.
    pub fn update(&mut self, now: &BaselineStats) {
        let s = &self.seen;
        self.profiles.with_label_values(&["learning"]).set(i64::try_from(now.learning).unwrap_or(i64::MAX));
        self.profiles.with_label_values(&["enforcing"]).set(i64::try_from(now.enforcing).unwrap_or(i64::MAX));
        self.learned.inc_by(now.items_learned.saturating_sub(s.items_learned));
        self.deviations.inc_by(now.deviations.saturating_sub(s.deviations));
        self.lost.with_label_values(&["profiles_full"]).inc_by(now.profiles_dropped.saturating_sub(s.profiles_dropped));
        self.lost.with_label_values(&["items_full"]).inc_by(now.overflow.saturating_sub(s.overflow));
        self.store_errors.inc_by(now.store_errors.saturating_sub(s.store_errors));
        self.cluster.with_label_values(&["written"]).inc_by(now.cluster_writes.saturating_sub(s.cluster_writes));
        self.cluster.with_label_values(&["conflict"]).inc_by(now.cluster_conflicts.saturating_sub(s.cluster_conflicts));
        self.cluster.with_label_values(&["error"]).inc_by(now.cluster_errors.saturating_sub(s.cluster_errors));
        self.cluster
            .with_label_values(&["watch_error"])
            .inc_by(now.cluster_watch_errors.saturating_sub(s.cluster_watch_errors));
        self.seen = now.clone();
    }
}
