//! The accept loop shared by the blocking models (basic, sequential, handler, threaded,
//! prefork workers, privdrop) and the mutants.
//!
//! The listener is non-blocking and the loop waits for it with `poll` and a [`TICK`] timeout,
//! so it notices SIGTERM, survives EINTR, and — for pre-forked workers sharing one socket —
//! a worker that loses the race for a connection gets EAGAIN instead of blocking. When the
//! process runs out of descriptors (EMFILE/ENFILE) it sleeps [`BACKOFF`] instead of spinning
//! on a listener that stays readable, and recovers once descriptors are freed.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::PollFlags;

use crate::os::{self, wait_ready, TICK};
use crate::shutdown;

/// How long the loop pauses after EMFILE, ENFILE, ENOBUFS or ENOMEM.
pub const BACKOFF: Duration = Duration::from_millis(100);

/// Accepts connections until SIGTERM or until `serve` breaks, handing each to `serve` as a
/// blocking, TCP_NODELAY socket. `ready` is asked before each wait; while it says no (for
/// example because the connection cap is reached) the loop does not accept.
pub fn accept_loop(
    listener: &TcpListener,
    mut ready: impl FnMut() -> bool,
    mut serve: impl FnMut(TcpStream, SocketAddr) -> ControlFlow<()>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut exhausted = false;
    while !shutdown::requested() {
        if !ready() {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        if !wait_ready(listener.as_fd(), PollFlags::POLLIN, TICK)? {
            continue;
        }
        match listener.accept() {
            Ok((stream, peer)) => {
                exhausted = false;
                if os::prepare_blocking(&stream).is_err() {
                    continue;
                }
                if serve(stream, peer).is_break() {
                    break;
                }
            }
            Err(e) if os::is_transient_accept_error(&e) => {}
            Err(e) if os::is_resource_exhaustion(&e) => {
                if !exhausted {
                    eprintln!(
                        "{}: accept: {e}; backing off until descriptors are freed",
                        crate::program()
                    );
                    exhausted = true;
                }
                std::thread::sleep(BACKOFF);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Accepts exactly one connection (or none, if SIGTERM comes first).
pub fn accept_one(listener: &TcpListener) -> io::Result<Option<(TcpStream, SocketAddr)>> {
    let mut accepted = None;
    accept_loop(
        listener,
        || true,
        |stream, peer| {
            accepted = Some((stream, peer));
            ControlFlow::Break(())
        },
    )?;
    Ok(accepted)
}
