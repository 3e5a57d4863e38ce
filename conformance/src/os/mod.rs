//! Operating-system specifics: process groups, signals, `/proc` and the network namespace.

pub mod groups;
pub mod netns;
pub mod procs;

static ORIGINAL_NOFILE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// The soft RLIMIT_NOFILE the runner was started with, before [`raise_nofile_limit`] (launched
/// servers get it back; only heavy cases keep the raised one).
pub fn original_nofile_limit() -> Option<u64> {
    ORIGINAL_NOFILE.get().copied()
}

/// Raises the runner's RLIMIT_NOFILE soft limit to its hard limit, so that crowds of client
/// connections (`hold`, the C10k case) fit, and remembers the original for launched servers, which
/// get it back except in heavy cases.
pub fn raise_nofile_limit() {
    if let Some((before, _)) = echo_clients::crowd::raise_nofile_limit() {
        let _ = ORIGINAL_NOFILE.set(before);
    }
}
