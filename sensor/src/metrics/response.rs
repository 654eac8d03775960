//! `sensor_response_*`: what the response stage did, would have done, and
//! what it refused (allow-list, rate limit) or failed to do.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct ResponseMetrics {
    /// Actions by action, mode (`enforce`, `monitor`) and outcome
    /// (`done`, `kernel`, `would`, `failed`, `allow_listed`, `rate_limited`).
    pub actions: IntCounterVec,
    /// Event → user-space kill (pidfd), seconds.
    pub kill_latency: Histogram,
    /// Process names the kernel kills at exec (entries of `KILL_NAMES`).
    pub kernel_names: IntGauge,
    /// 1 while in-kernel kills are armed (enforce mode, `bpf_send_signal` usable).
    pub kernel_armed: IntGauge,
}

impl ResponseMetrics {
    pub(super) fn register(registry: &Registry) -> Self {
        let actions = IntCounterVec::new(
            Opts::new(
                "response_actions_total",
                "Response actions by action, mode and outcome (done, kernel, would, failed, allow_listed, rate_limited)",
            ),
            &["action", "mode", "outcome"],
        )
        .expect("static");
        let kill_latency = Histogram::with_opts(
            HistogramOpts::new(
                "response_kill_latency_seconds",
                "From the kernel event to the user-space kill (pidfd_send_signal) of its process",
            )
            .buckets(vec![1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1.0]),
        )
        .expect("static");
        let kernel_names =
            IntGauge::new("response_kernel_kill_names", "Process names killed in the kernel at exec").expect("static");
        let kernel_armed =
            IntGauge::new("response_kernel_armed", "1 while in-kernel kills at exec are armed").expect("static");
        registry.register(Box::new(actions.clone())).expect("unique");
        registry.register(Box::new(kill_latency.clone())).expect("unique");
        registry.register(Box::new(kernel_names.clone())).expect("unique");
        registry.register(Box::new(kernel_armed.clone())).expect("unique");
        Self { actions, kill_latency, kernel_names, kernel_armed }
    }
}
