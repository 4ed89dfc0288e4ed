//! How the process's allocator treats memory it gets back. SQLite frees and
//! reallocates page-cache and journal buffers around every transaction; with
//! glibc's defaults each free gave the pages back to the kernel (`madvise`)
//! and the next transaction faulted them in again, which was a fifth of the
//! store thread's time under load. Keeping freed memory in the process ends
//! that churn; the amount kept is bounded by what the store last used.

/// Keep freed memory for reuse instead of trimming it after each free.
/// Idempotent; a no-op where the C library is not glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's tuning parameters; it is
    // safe to call at any time from any thread.
    unsafe {
        // Trim the heap only when 16 MiB lie free at its top, and serve
        // blocks up to 4 MiB from the heap rather than fresh mappings.
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}
