//! The two session shapes for blocking models: `stream` (echo until the client closes) and
//! `oneshot` (one read of at most 1024 bytes, one reply, close).
//!
//! Both read only after `poll` says the socket is readable, with a [`TICK`] timeout, so a
//! thread notices SIGTERM while a client idles. Writes are blocking `write_all`: a client that
//! stops reading blocks the writer, and so the server stops reading from it (backpressure
//! without any buffer beyond one chunk). `stream` reads to EOF before it closes, so it closes
//! with FIN. `oneshot` is the seed's program as a client sees it: one read, one reply, close.
//! Input it did not read turns that close into a reset (RFC 1122 §4.2.2.13); the seed does not
//! drain, so neither does this: a drain would hide from the spec what a faithful oneshot server
//! does.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::PollFlags;

use crate::os::{wait_ready, TICK};
use crate::shutdown;
use crate::transform::Transformer;

/// What one connection gets: the seed's `recv(1024)`-and-reply, or a full echo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Session {
    /// Echo everything until the client closes; flush, then FIN.
    Stream,
    /// One read of at most [`ONESHOT_MAX`] bytes, one reply, close.
    Oneshot,
}

impl Session {
    /// The claim string: `stream` or `oneshot`.
    pub fn as_str(self) -> &'static str {
        match self {
            Session::Stream => "stream",
            Session::Oneshot => "oneshot",
        }
    }
}

/// The largest read of a oneshot session, as in the seed's `conn.recv(1024)`.
pub const ONESHOT_MAX: usize = 1024;

/// How long the event-loop and tokio models' oneshot sessions keep draining input after their
/// reply, so that closing with unread bytes does not turn the FIN into a RST. That is their own
/// hardening; the seed-faithful blocking models do not drain.
pub const DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// Serves one connection in the given shape. Connection errors (reset, broken pipe) end only
/// this connection, so they are swallowed here.
pub fn serve(mut stream: TcpStream, session: Session, transform: &Transformer) {
    let _ = match session {
        Session::Stream => echo_stream(&mut stream, transform),
        Session::Oneshot => echo_oneshot(&mut stream, transform),
    };
}

/// Echoes until the client's FIN, then half-closes: every byte read has been written back by
/// then, because each chunk is written in full before the next read.
pub fn echo_stream(stream: &mut TcpStream, transform: &Transformer) -> io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let Some(n) = read_some(stream, &mut buf)? else {
            // The grace period after SIGTERM is over: close whatever the client was doing.
            return stream.shutdown(Shutdown::Both);
        };
        if n == 0 {
            break;
        }
        stream.write_all(&transform.apply(&buf[..n]))?;
    }
    stream.shutdown(Shutdown::Write)
}

/// One read of at most [`ONESHOT_MAX`] bytes and one reply; the caller's drop closes, as the
/// seed's `with conn:` does.
pub fn echo_oneshot(stream: &mut TcpStream, transform: &Transformer) -> io::Result<()> {
    let mut buf = [0u8; ONESHOT_MAX];
    match read_some(stream, &mut buf)? {
        None | Some(0) => Ok(()),
        Some(n) => stream.write_all(&transform.apply(&buf[..n])),
    }
}

/// Waits for data and reads once. `Ok(None)` means the shutdown grace period ran out first;
/// `Ok(Some(0))` is the client's FIN. EINTR and spurious wake-ups are retried here.
pub fn read_some(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    loop {
        if shutdown::grace_over() {
            return Ok(None);
        }
        if !wait_ready(stream.as_fd(), PollFlags::POLLIN, TICK)? {
            continue;
        }
        match stream.read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock) => {}
            Err(e) => return Err(e),
        }
    }
}
