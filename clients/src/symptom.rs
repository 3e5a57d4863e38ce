//! What a failure looked like, as typed facts: the shape of a byte difference, or the state of the
//! connection a wait ended on. A runner groups failures by these facts, never by their text.

use crate::verify::Mismatch;

/// The typed facts behind a [`Failure`](crate::Failure), when the client knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Symptom {
    /// Bytes arrived that differ from what was owed.
    Bytes(Mismatch),
    /// A wait on a connection ended without everything owed.
    Wait(WaitState),
    /// The server kept something it should have released.
    Leak(LeakKind),
    /// A privilege check did not hold: the field or property checked (`uid`, `groups`, `umask`…).
    Privilege(String),
    /// Connections were refused: nothing listened where the client connected.
    Refused,
    /// Stopped and launched again on its port, the server did not start; `port_in_use` when its
    /// output says the address was in use (EADDRINUSE).
    CannotRestart {
        /// Its output names EADDRINUSE.
        port_in_use: bool,
    },
    /// The kernel counted accept-queue overflows on the server's listener meanwhile: connections
    /// the client saw established were dropped before the server accepted them.
    AcceptQueueOverflow {
        /// The listener's backlog.
        backlog: u32,
        /// Overflows counted.
        overflows: u64,
    },
}

/// How a wait on a connection ended, and the connection's state then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitState {
    /// How it ended.
    pub end: WaitEnd,
    /// Bytes received on the connection in all.
    pub received: u64,
    /// Bytes still owed when it ended.
    pub owed: u64,
    /// The first of the bytes still owed (at most 16): when they are all NULs or whitespace, the
    /// server left them out rather than lost the end of the echo.
    pub owed_head: Vec<u8>,
    /// Bytes that arrived when nothing was owed, on a connection whose echo is only counted
    /// ([`crate::Transform::Count`]).
    pub extra: u64,
    /// The client had half-closed the connection (`shutdown(SHUT_WR)`) before the wait ended.
    pub half_closed: bool,
    /// Other connections of the case were open meanwhile (named connections, or concurrent clients).
    pub others_open: bool,
    /// The script had signalled or restarted the server before the wait ended.
    pub signalled: bool,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitEnd {
    /// The server closed (FIN).
    Eof,
    /// The server reset the connection.
    Reset,
    /// Nothing more arrived before the deadline.
    Quiet,
    /// Bytes kept arriving, but not within the budget.
    Slow,
}

/// What the server kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeakKind {
    /// Open file descriptors.
    Descriptors,
    /// Threads.
    Threads,
    /// Sockets left in CLOSE_WAIT (the client closed; the server never did).
    CloseWait,
    /// Children that exited and were never reaped.
    Zombies,
    /// Processes left behind after the server's exit.
    Processes,
}

impl LeakKind {
    /// Its name in plain words.
    pub fn label(self) -> &'static str {
        match self {
            LeakKind::Descriptors => "file descriptors",
            LeakKind::Threads => "threads",
            LeakKind::CloseWait => "sockets in CLOSE_WAIT",
            LeakKind::Zombies => "zombie children",
            LeakKind::Processes => "processes",
        }
    }
}

/// The shape of a byte difference, worked out from the bytes around its first differing offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteShape {
    /// These bytes were added; `end_of_reply` when everything owed had already arrived.
    Added {
        /// The added bytes (at most 64).
        bytes: Vec<u8>,
        /// Nothing more was owed when they came: the bytes follow a complete reply.
        end_of_reply: bool,
    },
    /// These bytes were left out.
    Removed(Vec<u8>),
    /// A `\n` came back as `\r\n`.
    LfToCrLf,
    /// Letters came back in the other ASCII case.
    AsciiCase,
    /// A byte of 0x80 or more came back as U+FFFD (`ef bf bd`): the server decoded the bytes as text.
    Replacement,
    /// Bytes differ in no shape recognised here.
    Other,
}

/// The most bytes an insertion or a removal is looked for over.
const MAX_SHIFT: usize = 16;
/// How many bytes after a shift must line up for it to count as an insertion or a removal.
const ALIGNED: usize = 8;
/// The longest insertion taken as such when nothing after it arrived to confirm it.
const SHORT_INSERTION: usize = 4;

impl Mismatch {
    /// The shape of this difference.
    pub fn shape(&self) -> ByteShape {
        let (e, r) = (&self.expected[..], &self.received[..]);
        if e.is_empty() {
            return ByteShape::Added {
                bytes: r.to_vec(),
                end_of_reply: true,
            };
        }
        if r.len() >= 3 && r[..3] == [0xef, 0xbf, 0xbd] && e[0] >= 0x80 {
            return ByteShape::Replacement;
        }
        if e[0] == b'\n' && r.starts_with(b"\r\n") {
            return ByteShape::LfToCrLf;
        }
        // A letter in the other case where the difference starts, and the rest alike but for
        // case: a case change, however short the read that showed it.
        let n = r.len().min(e.len()).min(ALIGNED);
        if n > 0 && r[0] != e[0] && r[..n].eq_ignore_ascii_case(&e[..n]) {
            return ByteShape::AsciiCase;
        }
        // An insertion that nothing after it confirms (the read ended right after it) counts
        // only when no removal lines up.
        let confirmed =
            (1..=r.len().min(MAX_SHIFT)).find(|&k| k < r.len() && agrees(&r[k..], e, k));
        let unconfirmed = (1..=r.len().min(MAX_SHIFT)).find(|&k| agrees(&r[k..], e, k));
        // A removal of one byte value (every NUL, say) may recur within the window: the rest is
        // compared with that value left out of it too.
        let shifts = 1..=e.len().min(MAX_SHIFT);
        let removed = shifts
            .clone()
            .find(|&k| !r.is_empty() && agrees(r, &e[k..], k))
            .or_else(|| {
                shifts.clone().find(|&k| {
                    let same_value = e[..k].iter().all(|&b| b == e[0]);
                    let rest: Vec<u8> = e[k..].iter().copied().filter(|&b| b != e[0]).collect();
                    !r.is_empty() && same_value && agrees(r, &rest, k)
                })
            });
        let inserted = confirmed.or(if removed.is_some() { None } else { unconfirmed });
        match (inserted, removed) {
            (Some(k), d) if d.is_none_or(|d| k <= d) => {
                if r[..k] == [b'\r'] && e.first() == Some(&b'\n') {
                    ByteShape::LfToCrLf
                } else {
                    ByteShape::Added {
                        bytes: r[..k].to_vec(),
                        end_of_reply: false,
                    }
                }
            }
            (_, Some(k)) => ByteShape::Removed(e[..k].to_vec()),
            _ => {
                let n = e.len().min(r.len());
                let case_only = (0..n).all(|i| r[i].eq_ignore_ascii_case(&e[i]))
                    && (0..n).any(|i| r[i] != e[i]);
                if case_only {
                    ByteShape::AsciiCase
                } else {
                    ByteShape::Other
                }
            }
        }
    }
}

/// True when `a` and `b` start with the same bytes, over their overlap up to [`ALIGNED`] bytes
/// (a second difference further on does not undo the first's shape), and at least one. An empty
/// `a` (the read ended right after the bytes taken as added) agrees only after a short insertion.
fn agrees(a: &[u8], b: &[u8], shift: usize) -> bool {
    let n = a.len().min(b.len()).min(ALIGNED);
    (n > 0 || (a.is_empty() && shift <= SHORT_INSERTION)) && a[..n] == b[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(expected: &[u8], received: &[u8]) -> ByteShape {
        Mismatch {
            offset: 0,
            expected: expected.to_vec(),
            received: received.to_vec(),
            before: Vec::new(),
        }
        .shape()
    }

    #[test]
    fn shapes_are_recognised() {
        assert_eq!(
            shape(b"", b"\n"),
            ByteShape::Added {
                bytes: b"\n".to_vec(),
                end_of_reply: true
            }
        );
        assert_eq!(
            shape(b"abcdef", b"\nabcde"),
            ByteShape::Added {
                bytes: b"\n".to_vec(),
                end_of_reply: false
            }
        );
        assert_eq!(
            shape(b"\x00\x01\x02\x03", b"\x01\x02\x03"),
            ByteShape::Removed(vec![0])
        );
        assert_eq!(shape(b"  pad", b"pad"), ByteShape::Removed(b"  ".to_vec()));
        // Every NUL is gone, the next one a few bytes on too.
        assert_eq!(
            shape(b"\x00ab\x00cdefghij", b"abcdefghij"),
            ByteShape::Removed(vec![0])
        );
        // Stripped at both ends, and a newline added: the first difference is the removal.
        assert_eq!(
            shape(b"  padded on both sides\t\r\n", b"padded on both sides\n"),
            ByteShape::Removed(b"  ".to_vec())
        );
        assert_eq!(shape(b"\nnext", b"\r\nnext"), ByteShape::LfToCrLf);
        assert_eq!(shape(b"hello", b"HELLO"), ByteShape::AsciiCase);
        assert_eq!(shape(b"dribbled", b"D"), ByteShape::AsciiCase);
        // A lower-case banner before a capitalised text is not a case change.
        assert_ne!(
            shape(b"Hello, world", b"hello\r\nHello"),
            ByteShape::AsciiCase
        );
        assert_eq!(shape(b"c\xd2x", b"C\xd2x"), ByteShape::AsciiCase);
        // One byte per read: a space stripped, the next byte read alone.
        assert_eq!(shape(b" one byte", b"o"), ByteShape::Removed(b" ".to_vec()));
        assert_eq!(shape(b"\xffab", b"\xef\xbf\xbdab"), ByteShape::Replacement);
        assert_eq!(shape(b"abcdef", b"zyxwvu"), ByteShape::Other);
    }
}
