//! Graceful shutdown: SIGTERM and SIGINT set a flag that every loop polls, and SIGPIPE is ignored.
//!
//! The handler only stores to an atomic, which is async-signal-safe. It is installed without
//! SA_RESTART, so a blocking `poll`/`select`/`epoll_wait` returns EINTR and its loop looks at
//! the flag at once; other threads notice within one [`crate::os::TICK`].
//!
//! After the flag is first seen, in-flight connections get [`GRACE`] to finish; then they are
//! closed and the process exits 0.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{self, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// How long in-flight connections may go on after SIGTERM before they are closed.
pub const GRACE: Duration = Duration::from_millis(1000);

static STOP: AtomicBool = AtomicBool::new(false);
static DEADLINE: OnceLock<Instant> = OnceLock::new();

/// Ignores SIGPIPE and routes SIGTERM and SIGINT to the shutdown flag.
pub fn install() -> anyhow::Result<()> {
    let stop = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: `on_signal` only performs an atomic store, which is async-signal-safe, and
    // ignoring SIGPIPE has no preconditions.
    unsafe {
        signal::signal(Signal::SIGPIPE, SigHandler::SigIgn).context("ignoring SIGPIPE")?;
        signal::sigaction(Signal::SIGTERM, &stop).context("installing the SIGTERM handler")?;
        signal::sigaction(Signal::SIGINT, &stop).context("installing the SIGINT handler")?;
    }
    Ok(())
}

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Asks every loop to stop, as SIGTERM would.
pub fn request() {
    STOP.store(true, Ordering::SeqCst);
}

/// True once SIGTERM or SIGINT arrived (or [`request`] was called).
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// The instant by which in-flight connections must be closed, once a stop was requested.
///
/// The grace period starts when a loop first notices the request.
pub fn deadline() -> Option<Instant> {
    requested().then(|| *DEADLINE.get_or_init(|| Instant::now() + GRACE))
}

/// True when a stop was requested and the grace period is over.
pub fn grace_over() -> bool {
    deadline().is_some_and(|d| Instant::now() >= d)
}

/// Blocks the calling thread until a stop is requested, waking every [`crate::os::TICK`].
pub fn wait_for_stop() {
    while !requested() {
        std::thread::sleep(crate::os::TICK);
    }
}
