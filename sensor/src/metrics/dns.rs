//! `sensor_dns_*`: what the packet path saw and what the name cache did.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::enrich::dns::DnsStats;

#[derive(Clone)]
pub struct DnsMetrics {
    /// 1 while the DNS programs are attached.
    pub capture: IntGauge,
    messages: IntCounterVec,
    malformed: IntCounter,
    unattributed: IntCounter,
    named: IntCounter,
    names: IntGauge,
    forgotten: IntCounterVec,
    seen: DnsStats,
}

impl DnsMetrics {
    pub(super) fn register(registry: &Registry) -> Self {
        let capture = IntGauge::new("dns_capture", "1 while the DNS programs are attached to the cgroup v2 root")
            .expect("static");
        let messages = IntCounterVec::new(
            Opts::new("dns_messages_total", "DNS messages seen, by kind (query, response)"),
            &["qr"],
        )
        .expect("static");
        let malformed =
            IntCounter::new("dns_malformed_total", "DNS messages that did not decode (each still a dns event)")
                .expect("static");
        let unattributed = IntCounter::new(
            "dns_unattributed_total",
            "DNS answers on a socket whose query the agent did not see: no process attributed",
        )
        .expect("static");
        let named =
            IntCounter::new("dns_named_events_total", "Socket events given the name of their address").expect("static");
        let names = IntGauge::new("dns_names", "Address-to-name entries held").expect("static");
        let forgotten = IntCounterVec::new(
            Opts::new(
                "dns_names_forgotten_total",
                "Names dropped, by reason (evicted: the map was full; expired: TTL)",
            ),
            &["reason"],
        )
        .expect("static");
        for c in [&messages, &forgotten] {
            registry.register(Box::new(c.clone())).expect("unique");
        }
        for c in [&malformed, &unattributed, &named] {
            registry.register(Box::new(c.clone())).expect("unique");
        }
        for g in [&capture, &names] {
            registry.register(Box::new(g.clone())).expect("unique");
        }
        for qr in ["query", "response"] {
            messages.with_label_values(&[qr]);
        }
        for r in ["evicted", "expired"] {
            forgotten.with_label_values(&[r]);
        }
        Self { capture, messages, malformed, unattributed, named, names, forgotten, seen: DnsStats::default() }
    }

    /// Adds what grew since the last call.
    pub fn update(&mut self, now: &DnsStats, names: usize) {
        let s = &mut self.seen;
        self.messages.with_label_values(&["query"]).inc_by(now.queries.saturating_sub(s.queries));
        self.messages.with_label_values(&["response"]).inc_by(now.responses.saturating_sub(s.responses));
        self.malformed.inc_by(now.malformed.saturating_sub(s.malformed));
        self.unattributed.inc_by(now.unattributed.saturating_sub(s.unattributed));
        self.named.inc_by(now.named.saturating_sub(s.named));
        self.forgotten.with_label_values(&["evicted"]).inc_by(now.evicted.saturating_sub(s.evicted));
        self.forgotten.with_label_values(&["expired"]).inc_by(now.expired.saturating_sub(s.expired));
        self.names.set(i64::try_from(names).unwrap_or(i64::MAX));
        *s = *now;
    }
}
