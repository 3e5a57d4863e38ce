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
/// connections (`hold`, the C10k case) fit; launched servers get the original one back, except in
/// heavy cases. Returns
/// the soft limit now in force.
pub fn raise_nofile_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, _)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = ORIGINAL_NOFILE.set(soft);
    }
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(_) => soft,
        },
        Ok((soft, _)) => soft,
        Err(_) => 0,
    }
}
