//! Operating-system specifics: process groups, signals, `/proc` and the network namespace.

pub mod groups;
pub mod netns;
pub mod procs;

/// Raises the runner's RLIMIT_NOFILE soft limit to its hard limit, so that crowds of client
/// connections (`hold`, the C10k case) fit; launched servers inherit the raised limit. Returns
/// the soft limit now in force.
pub fn raise_nofile_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(_) => soft,
        },
        Ok((soft, _)) => soft,
        Err(_) => 0,
    }
}
