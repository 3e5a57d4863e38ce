//! Small Linux helpers shared by every model: waiting on one descriptor with a timeout,
//! socket options for accepted connections, and the descriptor limit.

use std::io;
use std::net::TcpStream;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// How often a blocking loop wakes up to look at the shutdown flag.
pub const TICK: Duration = Duration::from_millis(100);

/// Waits until `fd` is ready for `events` or `timeout` passes.
///
/// Returns `Ok(false)` on timeout and on EINTR, so that the caller's loop gets a chance to
/// notice a signal before it waits again. Hang-up and error conditions count as ready: the
/// next read or write reports them.
pub fn wait_ready(fd: BorrowedFd<'_>, events: PollFlags, timeout: Duration) -> io::Result<bool> {
    let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(fd, events)];
    match nix::poll::poll(&mut fds, PollTimeout::from(millis)) {
        Ok(0) => Ok(false),
        Ok(_) => Ok(true),
        Err(Errno::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Prepares an accepted connection for a blocking session: blocking mode (a non-blocking
/// listener's sockets must not inherit O_NONBLOCK) and TCP_NODELAY (an echo answers each read
/// at once; Nagle plus delayed ACK would add 40 ms stalls to ping-pong exchanges).
pub fn prepare_blocking(stream: &TcpStream) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)
}

/// Prepares an accepted connection for an event loop: non-blocking and TCP_NODELAY.
pub fn prepare_nonblocking(stream: &TcpStream) -> io::Result<()> {
    stream.set_nonblocking(true)?;
    stream.set_nodelay(true)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit, so that the c10k models can hold ten
/// thousand connections. Returns the soft limit now in force.
pub fn raise_nofile_limit() -> u64 {
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => hard,
            Err(_) => soft,
        },
        Ok((soft, _)) => soft,
        Err(_) => 0,
    }
}

/// True for the accept errors that mean "out of descriptors or memory": the loop must back off
/// instead of retrying at once, or it would spin while the listener stays readable.
pub fn is_resource_exhaustion(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// True for accept errors that concern only the connection being accepted (it was reset or
/// aborted before we took it); the loop simply goes on.
pub fn is_transient_accept_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock | io::ErrorKind::ConnectionAborted
    ) || matches!(
        err.raw_os_error(),
        Some(libc::EPROTO | libc::EPERM | libc::ENETDOWN | libc::ENOPROTOOPT | libc::EHOSTDOWN)
    ) || matches!(
        err.raw_os_error(),
        Some(libc::ENONET | libc::EHOSTUNREACH | libc::EOPNOTSUPP | libc::ENETUNREACH)
    )
}
