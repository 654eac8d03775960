//! Records shared by the kernel programs and the agent.
//!
//! Every record on the ring buffer starts with an [`EventHeader`]; its `kind`
//! says which body follows. Bodies are `#[repr(C)]` plain integers and byte
//! arrays only: the agent copies them out with bounds checks and never turns
//! kernel bytes into a Rust enum without validating them first.
//!
//! Variable-length data (paths, argv) follows the body back to back; the body
//! holds each piece's length, and `EventHeader::size` is the record's total.
#![no_std]

pub mod config;
pub mod event;
pub mod hooks;

pub use config::*;
pub use event::*;
pub use hooks::*;
