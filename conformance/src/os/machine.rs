//! The machine shared between runs side by side (`echo-conform matrix --jobs N`): crowd, heavy and
//! alone cases keep the machine to themselves, across runs as within one.
//!
//! `matrix` gives every run it starts the same lock file in `ECHO_CONFORM_MACHINE_LOCK` (the one in
//! its own environment when it has one, so that suites started side by side share it). A phase of
//! cases that run side by side holds the lock shared; a run's crowds and heavy cases hold it
//! exclusively (`flock(2)`), all in one hold, so they never overlap any case of another run, and a
//! run waits only once for the others' phases to end. A
//! case alone only within its run (one on a fixed port: each run has a network namespace of its
//! own) holds it shared. A run started without the variable takes no lock at all.

use nix::fcntl::{Flock, FlockArg};
use std::fs::File;

/// The environment variable naming the lock file.
pub const LOCK_ENV: &str = "ECHO_CONFORM_MACHINE_LOCK";

/// A held share of the machine; dropping it releases the lock.
#[derive(Debug)]
pub struct Hold(#[allow(dead_code)] Option<Flock<File>>);

/// True when this run shares the machine with other runs (a matrix gave it the lock file).
pub fn shared_with_other_runs() -> bool {
    std::env::var_os(LOCK_ENV).is_some()
}

/// Holds the machine shared with other runs' side-by-side phases, waiting for any alone case.
pub fn shared() -> Hold {
    hold(FlockArg::LockShared)
}

/// Holds the machine alone, waiting until no other run holds it.
pub fn alone() -> Hold {
    hold(FlockArg::LockExclusive)
}

fn hold(how: FlockArg) -> Hold {
    let Some(path) = std::env::var_os(LOCK_ENV) else {
        return Hold(None);
    };
    // A lock that cannot be taken costs only isolation between runs, never the run: go on without.
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path);
    Hold(file.ok().and_then(|f| Flock::lock(f, how).ok()))
}
