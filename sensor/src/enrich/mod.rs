//! What the kernel record does not say: open file descriptors
//! ([`fdtable`]), user names ([`users`]), the container ([`container`]) and
//! its runtime's metadata ([`runtime`]), the pod ([`k8s`]), the names
//! behind addresses ([`dns`]).

pub mod container;
pub mod dns;
pub mod fdtable;
pub mod k8s;
pub mod runtime;
pub mod users;
