//! Container and pod attribution.

pub mod cgroup;

pub use cgroup::{ContainerRef, Runtime};
