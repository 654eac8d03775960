//! Giving freed heap back to the kernel. glibc's allocator keeps what a
//! burst freed (start-up parses the node's whole BTF, tens of MiB, then
//! drops it) in its arenas, where it counts in the agent's RSS until
//! trimmed: once after start-up and then every minute, off the reader.

/// Returns free heap pages to the kernel (`malloc_trim(0)`); a no-op on
/// other C libraries. Takes a few milliseconds on a large heap: callers
/// run it off the ring reader.
pub fn trim() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes the allocator's own locks; any thread may
    // call it at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
