//! `sensor_syscall_*`: which hook delivers which syscalls, and whether
//! 32-bit (ia32) syscalls are recorded (`--compat-syscalls`).

use prometheus::{IntCounter, IntGauge, Registry};

#[derive(Clone)]
pub struct SyscallMetrics {
    /// Syscalls delivered through their own `syscalls:sys_exit_<name>` event.
    pub tracepoints: IntGauge,
    /// Native syscalls delivered through the raw `sys_exit` hook.
    pub raw_native: IntGauge,
    /// 1 while the raw `sys_exit` hook is attached (every syscall runs it).
    pub raw_attached: IntGauge,
    /// 1 while 32-bit syscalls are recorded.
    pub compat_covered: IntGauge,
    /// 32-bit execs seen while 32-bit syscalls were not recorded: the
    /// window of `--compat-syscalls auto`.
    pub compat_uncovered_execs: IntCounter,
}

impl SyscallMetrics {
    pub(super) fn register(registry: &Registry) -> Self {
        let tracepoints = IntGauge::new(
            "syscall_tracepoints",
            "Syscalls delivered through their own syscalls:sys_exit_<name> tracepoint",
        )
        .expect("static");
        let raw_native = IntGauge::new("syscall_raw_native", "Native syscalls delivered through the raw sys_exit hook")
            .expect("static");
        let raw_attached = IntGauge::new(
            "syscall_raw_hook_attached",
            "1 while the raw sys_exit hook is attached (every syscall of the node runs it)",
        )
        .expect("static");
        let compat_covered =
            IntGauge::new("syscall_compat_covered", "1 while 32-bit (ia32) syscalls are recorded").expect("static");
        let compat_uncovered_execs = IntCounter::new(
            "syscall_compat_uncovered_execs_total",
            "32-bit program execs seen while 32-bit syscalls were not recorded (--compat-syscalls auto attaches at the first)",
        )
        .expect("static");
        for g in [&tracepoints, &raw_native, &raw_attached, &compat_covered] {
            registry.register(Box::new(g.clone())).expect("unique");
        }
        registry.register(Box::new(compat_uncovered_execs.clone())).expect("unique");
        Self { tracepoints, raw_native, raw_attached, compat_covered, compat_uncovered_execs }
    }

    pub fn set(&self, st: &crate::kernel::programs::HookState) {
        self.tracepoints.set(st.tracepoints.len() as i64);
        self.raw_native.set(st.raw_native.len() as i64);
        self.raw_attached.set(i64::from(st.raw_attached));
        self.compat_covered.set(i64::from(st.compat_covered));
    }
}
