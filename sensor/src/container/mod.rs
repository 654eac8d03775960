//! Container and pod attribution.

pub mod cgroup;
pub mod fetch;
pub mod meta;

pub use cgroup::{ContainerRef, Runtime};
