//! What the select, poll and epoll loops share: the per-connection state machine ([`Conn`]) and
//! the non-blocking accept step ([`accept_some`]). Each loop module keeps only its readiness
//! mechanism, so the three read side by side.
//!
//! A connection owns a bounded output buffer ([`PENDING_CAP`]). While the buffer is full the
//! loop stops asking for read readiness, so a client that never reads makes the server stop
//! reading from it: backpressure instead of unbounded memory. Writes may be short; the rest
//! waits for write readiness. After the client's FIN everything pending is flushed, then the
//! server half-closes and closes — having read to EOF, the close is a clean FIN, not a RST.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::os;
use crate::session::{Session, DRAIN_LIMIT, ONESHOT_MAX};
use crate::transform::Transformer;

/// The most bytes waiting to be written to one connection before the loop stops reading it.
pub const PENDING_CAP: usize = 64 * 1024;

/// The size of a loop's one read buffer ([`Conn::on_readable`] reads into it, then writes the
/// echo straight from it). Not 64 KiB: a 65 536-byte write is one byte over a loopback segment's
/// 65 483-byte MSS (with timestamps), so each one leaves as a full segment and a 53-byte runt,
/// which halves throughput (figures in `docs/model-tuning.md`).
pub const READ_BUF: usize = 32 * 1024;

/// How long the listener is ignored after EMFILE/ENFILE, so the loop does not spin on it.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The longest an event loop sleeps in its readiness call before looking at the shutdown flag.
pub const TICK_MS: u16 = 100;

/// The lifecycle of one connection in an event loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Reading and echoing.
    Echoing,
    /// Oneshot only: the reply is out and the write side is shut; discard input until EOF or
    /// the instant given, so that closing does not reset the connection.
    Draining(Instant),
    /// Finished: the loop drops (closes) it.
    Done,
}

/// One client connection of an event loop.
pub struct Conn {
    /// The non-blocking socket.
    pub stream: TcpStream,
    session: Session,
    out: Vec<u8>,
    sent: usize,
    peer_closed: bool,
    replied: bool,
    phase: Phase,
}

impl Conn {
    /// Wraps an accepted, non-blocking connection.
    pub fn new(stream: TcpStream, session: Session) -> Conn {
        Conn {
            stream,
            session,
            out: Vec::new(),
            sent: 0,
            peer_closed: false,
            replied: false,
            phase: Phase::Echoing,
        }
    }

    fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    /// Whether the loop should wait for this connection to become readable.
    pub fn wants_read(&self) -> bool {
        match self.phase {
            Phase::Echoing => !self.peer_closed && !self.replied && self.pending() < PENDING_CAP,
            Phase::Draining(_) => true,
            Phase::Done => false,
        }
    }

    /// Whether the loop should wait for this connection to become writable.
    pub fn wants_write(&self) -> bool {
        self.phase != Phase::Done && self.pending() > 0
    }

    /// True when the connection should be dropped.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Reads once into the loop's buffer `buf` ([`READ_BUF`] bytes), writes the transformed
    /// echo straight from it when nothing is queued, and queues only what the socket did not take.
    pub fn on_readable(&mut self, transform: &Transformer, buf: &mut [u8]) {
        let limit = match self.session {
            Session::Oneshot => ONESHOT_MAX,
            Session::Stream => buf.len(),
        };
        match self.stream.read(&mut buf[..limit]) {
            Ok(0) => self.peer_closed = true,
            Ok(n) => {
                // A oneshot connection answers one read only, even if an error or hang-up event
                // brings the loop here again after its reply.
                if self.phase == Phase::Echoing && !self.replied {
                    let echo = transform.apply(&buf[..n]);
                    let taken = if self.pending() == 0 {
                        self.write_some(&echo)
                    } else {
                        0
                    };
                    self.out.extend_from_slice(&echo[taken..]);
                    self.replied = self.session == Session::Oneshot;
                }
            }
            // Spurious readiness or a signal: try again on the next round.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            // ECONNRESET and friends end this connection only.
            Err(_) => self.phase = Phase::Done,
        }
        self.on_writable();
    }

    /// Writes as much of `bytes` as the socket takes now; returns how much it took.
    fn write_some(&mut self, bytes: &[u8]) -> usize {
        let mut taken = 0;
        while self.phase != Phase::Done && taken < bytes.len() {
            match self.stream.write(&bytes[taken..]) {
                Ok(0) => self.phase = Phase::Done,
                Ok(n) => taken += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // EPIPE or ECONNRESET: the client is gone.
                Err(_) => self.phase = Phase::Done,
            }
        }
        taken
    }

    /// Writes as much pending output as the socket takes, then moves the phase on.
    pub fn on_writable(&mut self) {
        while self.phase != Phase::Done && self.pending() > 0 {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(0) => self.phase = Phase::Done,
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // EPIPE or ECONNRESET: the client is gone.
                Err(_) => self.phase = Phase::Done,
            }
        }
        if self.pending() == 0 {
            self.out.clear();
            self.sent = 0;
        } else if self.sent > PENDING_CAP {
            self.out.drain(..self.sent);
            self.sent = 0;
        }
        self.advance(Instant::now());
    }

    /// Moves the phase on: half-close when the echo is complete, end a finished drain.
    pub fn advance(&mut self, now: Instant) {
        match self.phase {
            Phase::Echoing if self.pending() == 0 => {
                if self.replied {
                    let _ = self.stream.shutdown(Shutdown::Write);
                    self.phase = Phase::Draining(now + DRAIN_LIMIT);
                } else if self.peer_closed {
                    let _ = self.stream.shutdown(Shutdown::Write);
                    self.phase = Phase::Done;
                }
            }
            Phase::Draining(until) if self.peer_closed || now >= until => self.phase = Phase::Done,
            _ => {}
        }
    }
}

/// What a readable listener gave.
pub enum Accepted {
    /// A new connection, already non-blocking with TCP_NODELAY.
    Conn(TcpStream),
    /// Nothing more to accept now.
    Again,
    /// Out of descriptors or memory (or an unexpected error): ignore the listener for
    /// [`ACCEPT_BACKOFF`].
    Backoff(std::io::Error),
}

/// Accepts one connection from a non-blocking listener with `accept4(SOCK_NONBLOCK |
/// SOCK_CLOEXEC)`, so the new socket needs no `fcntl` or `ioctl` of its own (only TCP_NODELAY),
/// retrying EINTR and connections that were aborted before we took them.
pub fn accept_some(listener: &TcpListener) -> Accepted {
    use nix::sys::socket::{accept4, SockFlag};
    use std::os::fd::{AsRawFd, FromRawFd};
    loop {
        let flags = SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC;
        match accept4(listener.as_raw_fd(), flags).map_err(std::io::Error::from) {
            Ok(fd) => {
                // SAFETY: accept4 just returned this descriptor, and nothing else owns it.
                let stream = unsafe { TcpStream::from_raw_fd(fd) };
                if stream.set_nodelay(true).is_ok() {
                    return Accepted::Conn(stream);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Accepted::Again,
            Err(e) if os::is_transient_accept_error(&e) => {}
            // Out of descriptors or memory, or an unexpected error: back off rather than spin.
            Err(e) => return Accepted::Backoff(e),
        }
    }
}

/// Whether the listener is being watched: closed after SIGTERM, paused after EMFILE or while
/// the connection cap is reached.
pub struct ListenerGate {
    /// The listener, until SIGTERM closes it.
    pub listener: Option<TcpListener>,
    paused_until: Option<Instant>,
    exhausted: bool,
}

impl ListenerGate {
    /// A gate around an open, non-blocking listener.
    pub fn new(listener: TcpListener) -> std::io::Result<ListenerGate> {
        listener.set_nonblocking(true)?;
        Ok(ListenerGate {
            listener: Some(listener),
            paused_until: None,
            exhausted: false,
        })
    }

    /// A gate with no listener, for a loop that serves UDP only.
    pub fn empty() -> ListenerGate {
        ListenerGate {
            listener: None,
            paused_until: None,
            exhausted: false,
        }
    }

    /// The listener, if it should be watched now.
    pub fn watch(&mut self, conns: usize, max_conns: usize) -> Option<&TcpListener> {
        if self.paused_until.is_some_and(|t| Instant::now() < t) || conns >= max_conns {
            return None;
        }
        self.paused_until = None;
        self.listener.as_ref()
    }

    /// Accepts up to `room` connections, pausing the gate on resource exhaustion.
    pub fn accept_batch(&mut self, room: usize, mut add: impl FnMut(TcpStream)) {
        let Some(listener) = &self.listener else {
            return;
        };
        for _ in 0..room.min(64) {
            match accept_some(listener) {
                Accepted::Conn(stream) => {
                    self.exhausted = false;
                    add(stream);
                }
                Accepted::Again => return,
                Accepted::Backoff(e) => {
                    if !self.exhausted {
                        eprintln!("{}: accept: {e}; pausing the listener", crate::program());
                        self.exhausted = true;
                    }
                    self.paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
    }

    /// Closes the listener (SIGTERM): new connections are refused from now on.
    pub fn close(&mut self) {
        self.listener = None;
    }
}
