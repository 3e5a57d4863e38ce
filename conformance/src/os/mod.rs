//! Operating-system specifics, read or done from outside the server: process groups and
//! signals, the `/proc` readers (task status, socket tables, resources), the network namespace,
//! and the one polling loop every wait uses.

pub mod groups;
pub mod machine;
pub mod net;
pub mod netns;
pub mod procs;
pub mod resources;
pub mod sockdiag;
pub mod status;
pub mod tcpext;

use std::time::{Duration, Instant};

/// Calls `check` every `every` until it returns `Some` or `deadline` passes; the last call is made
/// at or after the deadline, so a condition that holds at the end is never missed. The loop is
/// bounded by the deadline.
pub fn poll_until<T>(
    deadline: Instant,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(every.min(deadline - now));
    }
}

/// `net.ipv4.ip_unprivileged_port_start` in the runner's (and so the servers') network namespace.
pub fn unprivileged_port_start() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

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
