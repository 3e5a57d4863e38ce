//! A bounded, timestamped record of what a client did and saw, for evidence and for replay.

use std::fmt;
use std::time::{Duration, Instant};

/// Most events a transcript keeps; later ones are counted, not stored.
pub const MAX_EVENTS: usize = 400;

/// One thing that happened on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A connection was opened.
    Connected,
    /// Bytes were written (consecutive writes are merged).
    Sent(u64),
    /// Bytes were read (consecutive reads are merged).
    Received(u64),
    /// The write side was shut down.
    ShutdownWrite,
    /// The peer closed its side (read returned 0).
    Eof,
    /// The connection was reset (by us with SO_LINGER 0, or by the peer).
    Reset,
    /// The connection was closed by us.
    Closed,
    /// A step began.
    Step(String),
    /// Something went wrong.
    Error(String),
    /// A measurement (connect counts, memory, CPU).
    Note(String),
    /// One datagram of this many bytes was sent to the server.
    DatagramSent(u64),
    /// One datagram of this many bytes arrived, from this address.
    DatagramReceived(u64, std::net::SocketAddr),
}

/// A timestamped event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// When it started, from the transcript's start.
    pub at: Duration,
    /// The connection's name (empty for steps that concern none).
    pub conn: String,
    /// What happened.
    pub kind: EventKind,
}

/// The record itself.
#[derive(Debug, Clone)]
pub struct Transcript {
    start: Instant,
    events: Vec<Event>,
    dropped: u64,
}

impl Default for Transcript {
    fn default() -> Self {
        Transcript {
            start: Instant::now(),
            events: Vec::new(),
            dropped: 0,
        }
    }
}

impl Transcript {
    /// Adds an event, merging it into the previous one when both move bytes the same way on one connection.
    pub fn record(&mut self, conn: &str, kind: EventKind) {
        if let Some(last) = self.events.last_mut() {
            if last.conn == conn {
                match (&mut last.kind, &kind) {
                    (EventKind::Sent(a), EventKind::Sent(b))
                    | (EventKind::Received(a), EventKind::Received(b)) => {
                        *a += b;
                        return;
                    }
                    _ => {}
                }
            }
        }
        if self.events.len() >= MAX_EVENTS {
            self.dropped += 1;
            return;
        }
        self.events.push(Event {
            at: self.start.elapsed(),
            conn: conn.to_string(),
            kind,
        });
    }

    /// The events kept.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The last `n` events, formatted one per line.
    pub fn tail(&self, n: usize) -> String {
        let skip = self.events.len().saturating_sub(n);
        self.events[skip..]
            .iter()
            .map(|e| format!("{e}\n"))
            .collect()
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.at.as_secs_f64() * 1000.0;
        let conn = if self.conn.is_empty() {
            "-"
        } else {
            &self.conn
        };
        match &self.kind {
            EventKind::Connected => write!(f, "{ms:9.1} ms  {conn:<8} connected"),
            EventKind::Sent(n) => write!(f, "{ms:9.1} ms  {conn:<8} sent {n} B"),
            EventKind::Received(n) => write!(f, "{ms:9.1} ms  {conn:<8} received {n} B"),
            EventKind::ShutdownWrite => write!(f, "{ms:9.1} ms  {conn:<8} shutdown(SHUT_WR)"),
            EventKind::Eof => write!(f, "{ms:9.1} ms  {conn:<8} EOF from server"),
            EventKind::Reset => write!(f, "{ms:9.1} ms  {conn:<8} reset"),
            EventKind::Closed => write!(f, "{ms:9.1} ms  {conn:<8} closed"),
            EventKind::Step(s) => write!(f, "{ms:9.1} ms  {conn:<8} step {s}"),
            EventKind::Error(e) => write!(f, "{ms:9.1} ms  {conn:<8} error: {e}"),
            EventKind::Note(n) => write!(f, "{ms:9.1} ms  {conn:<8} note: {n}"),
            EventKind::DatagramSent(n) => {
                write!(f, "{ms:9.1} ms  {conn:<8} sent a datagram of {n} B")
            }
            EventKind::DatagramReceived(n, from) => {
                write!(
                    f,
                    "{ms:9.1} ms  {conn:<8} received a datagram of {n} B from {from}"
                )
            }
        }
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.events {
            writeln!(f, "{e}")?;
        }
        if self.dropped > 0 {
            writeln!(f, "… {} more events not kept", self.dropped)?;
        }
        Ok(())
    }
}
