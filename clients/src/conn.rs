//! One client connection: a non-blocking socket driven by `poll(2)`, writing and reading at once.
//!
//! Every wait goes through [`Connection::drive`], which enforces a no-progress deadline and a step
//! deadline and classifies a timeout as HANG (nothing came), STALL (bytes came, then stopped) or
//! SLOW (bytes kept coming, but too slowly for the budget).

use crate::failure::{Failure, FailureKind};
use crate::payload::fill;
use crate::symptom::Symptom;
use crate::transcript::{EventKind, Transcript};
use crate::verify::{EchoVerifier, Transform};
use echo_spec::{Chunking, Payload};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// Bytes read or written per syscall at most.
const IO_CHUNK: usize = 64 * 1024;

/// The deadlines of one wait.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Fail when no byte moved for this long.
    pub no_progress: Duration,
    /// Fail when the wait is still unfinished at this instant.
    pub deadline: Instant,
}

/// Bytes being sent by a `send` step, with their chunking.
#[derive(Debug)]
pub struct Outgoing {
    payload: Payload,
    offset: u64,
    chunking: Chunking,
    chunk_index: usize,
    chunk_left: u64,
    next_write: Instant,
}

impl Outgoing {
    /// Prepares `payload` for sending with `chunking`; pauses are multiplied by `time_scale`.
    pub fn new(payload: Payload, mut chunking: Chunking, time_scale: f64) -> Self {
        chunking.pause_ms = (chunking.pause_ms as f64 * time_scale) as u64;
        let first = chunking.sizes.first().map_or(u64::MAX, |&s| u64::from(s));
        Outgoing {
            payload,
            offset: 0,
            chunking,
            chunk_index: 0,
            chunk_left: first,
            next_write: Instant::now(),
        }
    }

    /// True when every byte has been written.
    pub fn done(&self) -> bool {
        self.offset == self.payload.len()
    }
}

/// A client connection with its echo verifier.
#[derive(Debug)]
pub struct Connection {
    name: String,
    stream: TcpStream,
    verifier: EchoVerifier,
    eof: bool,
    peer_reset: bool,
    failure: Option<Failure>,
    read_paused_until: Option<Instant>,
    /// Bytes that arrive are read and recorded in the transcript but not checked against the echo
    /// owed (nor counted in `received`).
    unchecked: bool,
    half_closed: bool,
    buf: Vec<u8>,
}

impl Connection {
    /// Connects to `addr` within `timeout`, with TCP_NODELAY, ready for non-blocking use.
    pub fn connect(
        name: &str,
        addr: SocketAddr,
        timeout: Duration,
        transform: Transform,
    ) -> Result<Connection, Failure> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(|e| Failure::new(FailureKind::Io, format!("socket(): {e}")))?;
        socket.connect_timeout(&addr.into(), timeout).map_err(|e| {
            let kind = match e.kind() {
                io::ErrorKind::ConnectionRefused => FailureKind::Refused,
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FailureKind::Hang,
                _ => FailureKind::Io,
            };
            Failure::new(kind, format!("connect to {addr} failed: {e}"))
        })?;
        let io_err = |e: io::Error| Failure::new(FailureKind::Io, format!("socket option: {e}"));
        socket.set_tcp_nodelay(true).map_err(io_err)?;
        socket.set_nonblocking(true).map_err(io_err)?;
        Ok(Connection {
            name: name.to_string(),
            stream: socket.into(),
            verifier: EchoVerifier::new(transform),
            eof: false,
            peer_reset: false,
            failure: None,
            read_paused_until: None,
            unchecked: false,
            half_closed: false,
            buf: vec![0; IO_CHUNK],
        })
    }

    /// From now on, bytes that arrive are read and recorded in the transcript but not checked
    /// against the echo owed (nor counted in `received`): a client on its way out does not judge
    /// what the server says.
    pub fn stop_checking(&mut self) {
        self.unchecked = true;
    }

    /// The connection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The echo verifier, to declare what is owed.
    pub fn verifier(&mut self) -> &mut EchoVerifier {
        &mut self.verifier
    }

    /// True once the server closed its side.
    pub fn eof(&self) -> bool {
        self.eof
    }

    /// True once the server reset the connection.
    pub fn peer_reset(&self) -> bool {
        self.peer_reset
    }

    /// True when nothing more is owed by the server.
    pub fn settled(&self) -> bool {
        self.verifier.settled()
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.verifier.received()
    }

    /// A failure seen while reading (a mismatch or unexpected bytes), if any.
    pub fn take_failure(&mut self) -> Option<Failure> {
        self.failure.take()
    }

    /// Stops reading until `until`.
    pub fn pause_reading(&mut self, until: Instant) {
        self.read_paused_until = Some(until);
    }

    /// The connection's socket, for the options and sends the stream API has no word for (a
    /// step's executor sets them through it).
    pub fn socket(&self) -> SockRef<'_> {
        SockRef::from(&self.stream)
    }

    /// Sets SO_RCVBUF.
    pub fn set_rcvbuf(&self, bytes: u32) -> io::Result<()> {
        self.socket().set_recv_buffer_size(bytes as usize)
    }

    /// Half-closes: no more writes.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)?;
        self.half_closed = true;
        Ok(())
    }

    /// True once the client half-closed the connection.
    pub fn half_closed(&self) -> bool {
        self.half_closed
    }

    /// Abortive close: SO_LINGER 0, then close, so the server sees RST.
    pub fn reset(self) -> io::Result<()> {
        self.socket().set_linger(Some(Duration::ZERO))
    }

    /// Writes `payload` without reading until the writes block: nothing more is taken for
    /// `stall`, or all of it is written. Returns the bytes written, which the caller owes as
    /// echo. Reading is left paused until the caller resumes it with [`Connection::resume_reading`].
    pub fn write_until_blocked(
        &mut self,
        payload: Payload,
        stall: Duration,
        deadline: Instant,
        transcript: &mut Transcript,
    ) -> Result<u64, Failure> {
        self.read_paused_until = Some(deadline + Duration::from_secs(3600));
        let mut out = Outgoing::new(payload, Chunking::default(), 1.0);
        let mut last_progress = Instant::now();
        while !out.done() {
            let now = Instant::now();
            if now - last_progress >= stall {
                break;
            }
            if now >= deadline {
                return Err(Failure::new(
                    FailureKind::Slow,
                    format!(
                        "writes neither blocked nor finished within the step budget ({} B written)",
                        out.offset
                    ),
                ));
            }
            let wake = deadline.min(last_progress + stall);
            if self.pump(Some(&mut out), wake, transcript)? > 0 {
                last_progress = Instant::now();
            }
            if self.eof || self.peer_reset {
                break;
            }
        }
        Ok(out.offset)
    }

    /// Resumes reading after [`Connection::pause_reading`] or [`Connection::write_until_blocked`].
    pub fn resume_reading(&mut self) {
        self.read_paused_until = None;
    }

    /// Drives the socket until `done` holds, writing `out` and reading meanwhile, within `limits`.
    pub fn drive(
        &mut self,
        mut out: Option<&mut Outgoing>,
        limits: Limits,
        transcript: &mut Transcript,
        mut done: impl FnMut(&Connection, Option<&Outgoing>) -> bool,
    ) -> Result<(), Failure> {
        let start = Instant::now();
        let mut last_progress = start;
        let mut moved = 0u64;
        loop {
            if let Some(f) = self.failure.take() {
                return Err(f);
            }
            if done(self, out.as_deref()) {
                return Ok(());
            }
            let now = Instant::now();
            let waited = now - start;
            // HANG: the server never sent anything on this connection; STALL: it had, then stopped;
            // SLOW: bytes kept moving in this wait, but not enough for the budget.
            let earlier = self.verifier.received();
            if now >= limits.deadline {
                let ms = waited.as_millis();
                return Err(match (moved, earlier) {
                    (0, 0) => Failure::new(FailureKind::Hang, format!("nothing arrived within the budget of {ms} ms")),
                    (0, got) => Failure::new(FailureKind::Stall, format!("nothing more arrived within the budget of {ms} ms, after {got} B on this connection")),
                    (m, _) => Failure::new(FailureKind::Slow, format!("{m} B moved but the wait was not over after {ms} ms")),
                });
            }
            if now - last_progress >= limits.no_progress {
                let np = limits.no_progress.as_millis();
                return Err(match (moved, earlier) {
                    (0, 0) => Failure::new(FailureKind::Hang, format!("nothing moved for {np} ms")),
                    (0, got) => Failure::new(
                        FailureKind::Stall,
                        format!("nothing more for {np} ms, after {got} B on this connection"),
                    ),
                    (m, _) => Failure::new(
                        FailureKind::Stall,
                        format!("{m} B moved, then nothing for {np} ms"),
                    ),
                });
            }
            let wake = limits.deadline.min(last_progress + limits.no_progress);
            let n = self.pump(out.as_deref_mut(), wake, transcript)?;
            if n > 0 {
                moved += n;
                last_progress = Instant::now();
            }
        }
    }

    /// One round of `poll` and non-blocking I/O; returns the bytes moved. Sleeps at most until `wake`.
    fn pump(
        &mut self,
        out: Option<&mut Outgoing>,
        wake: Instant,
        transcript: &mut Transcript,
    ) -> Result<u64, Failure> {
        let now = Instant::now();
        if self.read_paused_until.is_some_and(|t| t <= now) {
            self.read_paused_until = None;
        }
        let want_read = !self.eof && !self.peer_reset && self.read_paused_until.is_none();
        let want_write = out
            .as_ref()
            .is_some_and(|o| !o.done() && o.next_write <= now);
        let mut wake = wake;
        if let Some(o) = out.as_ref().filter(|o| !o.done() && o.next_write > now) {
            wake = wake.min(o.next_write);
        }
        if let Some(t) = self.read_paused_until {
            wake = wake.min(t);
        }
        let mut flags = PollFlags::empty();
        if want_read {
            flags |= PollFlags::POLLIN;
        }
        if want_write {
            flags |= PollFlags::POLLOUT;
        }
        let ms = wake
            .saturating_duration_since(now)
            .as_millis()
            .clamp(1, 100) as u16;
        let (readable, writable) = {
            let mut fds = [PollFd::new(self.stream.as_fd(), flags)];
            match poll(&mut fds, PollTimeout::from(ms)) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => return Ok(0),
                Err(e) => return Err(Failure::new(FailureKind::Io, format!("poll: {e}"))),
            }
            let rev = fds[0].revents().unwrap_or(PollFlags::empty());
            let hup = rev.intersects(PollFlags::POLLERR | PollFlags::POLLHUP);
            (
                rev.contains(PollFlags::POLLIN) || (hup && want_read),
                rev.contains(PollFlags::POLLOUT) || (hup && want_write),
            )
        };
        let mut moved = 0;
        if readable {
            moved += self.read_available(transcript)?;
        }
        if writable {
            if let Some(o) = out {
                moved += self.write_some(o, transcript)?;
            }
        }
        Ok(moved)
    }

    fn read_available(&mut self, transcript: &mut Transcript) -> Result<u64, Failure> {
        let mut total = 0u64;
        for _ in 0..16 {
            match self.stream.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    transcript.record(&self.name, EventKind::Eof);
                    break;
                }
                Ok(n) => {
                    total += n as u64;
                    transcript.record(&self.name, EventKind::Received(n as u64));
                    if self.unchecked {
                        continue;
                    }
                    if let Err(m) = self.verifier.feed(&self.buf[..n]) {
                        self.failure.get_or_insert_with(|| {
                            Failure::new(FailureKind::Mismatch, m.to_string())
                                .with_symptom(Symptom::Bytes(m))
                        });
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    self.peer_reset = true;
                    transcript.record(&self.name, EventKind::Reset);
                    break;
                }
                Err(e) => return Err(Failure::new(FailureKind::Io, format!("read: {e}"))),
            }
        }
        Ok(total)
    }

    fn write_some(
        &mut self,
        o: &mut Outgoing,
        transcript: &mut Transcript,
    ) -> Result<u64, Failure> {
        let mut total = 0u64;
        let mut wbuf = [0u8; 16 * 1024];
        for _ in 0..16 {
            if o.done() || o.next_write > Instant::now() {
                break;
            }
            let n = (o.payload.len() - o.offset)
                .min(o.chunk_left)
                .min(wbuf.len() as u64) as usize;
            fill(&o.payload, o.offset, &mut wbuf[..n]);
            match self.stream.write(&wbuf[..n]) {
                Ok(w) => {
                    total += w as u64;
                    o.offset += w as u64;
                    transcript.record(&self.name, EventKind::Sent(w as u64));
                    if !o.chunking.sizes.is_empty() {
                        o.chunk_left -= w as u64;
                        if o.chunk_left == 0 {
                            o.chunk_index += 1;
                            let sizes = &o.chunking.sizes;
                            o.chunk_left = u64::from(sizes[o.chunk_index % sizes.len()]);
                            o.next_write =
                                Instant::now() + Duration::from_millis(o.chunking.pause_ms);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                    ) =>
                {
                    return Err(Failure::new(
                        FailureKind::Reset,
                        format!("the server reset the connection while the client was sending ({} of {} B written): {e}", o.offset, o.payload.len()),
                    ));
                }
                Err(e) => return Err(Failure::new(FailureKind::Io, format!("write: {e}"))),
            }
        }
        Ok(total)
    }
}
