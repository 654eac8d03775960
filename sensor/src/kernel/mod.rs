//! The kernel side, seen from the agent: the programs are loaded and
//! attached ([`programs`]) with offsets from the node's BTF
//! ([`btf_offsets`]) and tracefs ([`tracefs`]), syscalls are named by
//! [`syscall_table`], DNS comes from the packet path ([`dns_hook`]), the response
//! maps (in-kernel kills at exec) are in [`response`], the connect denials in
//! [`deny_hook`], and records come off
//! the ring buffer in [`reader`].

pub mod btf_offsets;
pub mod deny_hook;
pub mod dns_hook;
pub mod map_sync;
pub mod open_kill;
pub mod preflight;
pub mod programs;
pub mod reader;
pub mod response;
pub mod syscall_table;
pub mod tracefs;
