//! The sensor agent: loads the kernel programs, decodes their records into
//! typed events, keeps a process table and writes enriched events out.

pub mod btf_offsets;
pub mod container;
pub mod decode;
pub mod detect;
pub mod event;
pub mod fdtable;
pub mod k8s;
pub mod metrics;
pub mod metrics_server;
pub mod pipeline;
pub mod process;
pub mod procfs;
pub mod programs;
pub mod rules;
pub mod runtime;
pub mod syscall_table;
pub mod tracefs;
