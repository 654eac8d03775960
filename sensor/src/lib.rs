//! The sensor agent. Folders follow an event's path:
//! [`kernel`] (load, attach, offsets, syscall table, ring reader) →
//! [`event`] (typed events, decoder) → [`process`] (process table, procfs)
//! → [`enrich`] (fd table, users, container, runtime, Kubernetes) →
//! [`detect`] (rules on events) → [`pipeline`] (the stages, wired in one
//! place) → [`respond`] (rules' actions) → [`output`] (alert delivery); [`metrics`] beside. [`rules`] is
//! the Falco rule engine, a library with no imports from the rest.

// Test scaffolding shared with the integration tests (tests/support/) names
// the crate `sensor` in both places.
#[cfg(test)]
extern crate self as sensor;

pub mod config;
pub mod detect;
pub mod enrich;
pub mod event;
pub mod kernel;
pub mod metrics;
pub mod output;
pub mod pipeline;
pub mod process;
pub mod respond;
pub mod rules;

/// `a: b: c` for an error and its causes, for logs and reports.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
