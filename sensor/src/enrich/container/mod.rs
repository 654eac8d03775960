//! Container and pod attribution.

pub mod fetch;
pub mod meta;

pub use crate::event::cgroup::{ContainerRef, Runtime};
