//! The typed cause of a failure: its [`Signature`], which findings group failures by, and the facts
//! that locate it without deciding the grouping. Built by [`crate::grade`] from the same facts
//! the grade is decided from (the failure class, the client's [`Symptom`], the failing step and
//! what happened to the server), never from evidence text. A leaf module, like `outcome`.

use echo_clients::{ByteShape, FailureKind, Mismatch, Symptom, WaitEnd, WaitState};
use serde::Serialize;
use std::fmt::Write as _;

/// What a failure is, reduced to what two failures of the same defect share.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Signature {
    /// The server could not be launched.
    DidNotStart,
    /// The server died: killed by a signal, or an exit with a status.
    Died {
        /// `SIGPIPE`, `SIGSEGV`…, or `exit 1`.
        ending: String,
        /// The exception its output names, if any (`ConnectionResetError`).
        #[serde(skip_serializing_if = "Option::is_none")]
        exception: Option<String>,
    },
    /// The server stayed up, but its output names an exception raised while serving.
    Exception {
        /// The exception's name (`UnicodeDecodeError`).
        name: String,
    },
    /// Bytes were added to the echo.
    BytesAdded {
        /// The added bytes in hex, or `many` for a run longer than [`MAX_KEY_BYTES`].
        bytes: String,
    },
    /// Bytes were left out of the echo.
    BytesRemoved {
        /// Which bytes.
        class: ByteClass,
    },
    /// `\n` came back as `\r\n`.
    LfToCrLf,
    /// Letters came back in the other case.
    AsciiCase,
    /// Bytes of 0x80 or more came back as U+FFFD.
    Replacement,
    /// The echo differs in no shape recognised here.
    BytesChanged,
    /// Nothing came back while the client's side was open.
    Silent,
    /// What was owed after the client's half-close never came (a close, a reset or silence).
    LostAfterHalfClose,
    /// The connection ended (closed or reset) with echo still owed.
    Cut,
    /// A connection open when the server was signalled (SIGTERM) was cut instead of finished.
    CutOnSignal,
    /// Everything owed came back, but after the client's FIN the server never closed.
    NoCloseAfterFin,
    /// The echo stopped partway and nothing more came.
    Stopped,
    /// Bytes kept moving, but too slowly for the step's budget.
    Slow,
    /// The kernel counted accept-queue overflows: a listen backlog too short for the clients.
    AcceptQueueOverflow,
    /// Stopped, the server could not start again on its port.
    CannotRestart {
        /// Its output named EADDRINUSE.
        port_in_use: bool,
    },
    /// The server kept resources it should have released.
    Leak {
        /// What it kept.
        what: String,
    },
    /// The privilege drop left the server with more than the target's credentials. One broken
    /// drop fails several checks (a gid left 0 fails `gid-all-four`, `all-tasks` and
    /// `no-regain`): the checks are the finding's facts, not its key.
    Privilege,
    /// The case left the server unable to serve others.
    Interaction,
    /// Connections were refused: nothing listens where the client connects.
    Refused,
    /// Datagrams went unanswered.
    Unanswered,
    /// Any other failure, by its class and step.
    Other {
        /// The failure class label.
        class: String,
        /// The failing step, if known.
        step: String,
    },
}

/// Unowed bytes past which a counted echo's failure is the server sending on its own.
const FLOOD: u64 = 4096;

/// The longest run of added bytes that keys a finding by its exact bytes.
pub const MAX_KEY_BYTES: usize = 8;

/// The bytes a removal took out.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ByteClass {
    /// NUL bytes.
    Nul,
    /// ASCII whitespace (spaces, tabs, CR, LF).
    Whitespace,
    /// Others.
    Other,
}

/// A failure's signature with the facts that locate it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Cause {
    /// What findings group by.
    pub signature: Signature,
    /// The failing step's name, when a step failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// For a byte difference: its offset in the connection's received stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// For added bytes: they followed a complete reply (nothing more was owed).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub end_of_reply: bool,
    /// For a wait that ended early: bytes received on the connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    /// Other connections of the case were open while the wait failed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub others_open: bool,
    /// The client had half-closed the connection the wait failed on.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub half_closed: bool,
    /// What never came was only bytes of this class (NULs, whitespace): a server that leaves them
    /// out shows so when they end the echo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owed_only: Option<ByteClass>,
    /// For a privilege failure: the check that did not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// Where the server's output places the exception (`b.py:17`), when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl Cause {
    /// A cause with only a signature.
    pub fn of(signature: Signature) -> Cause {
        Cause {
            signature,
            step: None,
            offset: None,
            end_of_reply: false,
            received: None,
            others_open: false,
            half_closed: false,
            owed_only: None,
            location: None,
            check: None,
        }
    }
}

/// What the server did around a failure, as far as the signature needs it.
#[derive(Debug, Clone, Copy)]
pub enum Around<'a> {
    /// Nothing to add (still running, or not ours to watch).
    Nothing,
    /// Still running; its last output.
    Said(&'a str),
    /// It died: how, and its last output.
    Died(&'a str, &'a str),
}

/// The cause of a client failure of class `kind` at `step`, with `symptom`, given what the
/// server did meanwhile.
pub fn client_cause(
    kind: FailureKind,
    symptom: Option<&Symptom>,
    step: Option<&str>,
    around: Around<'_>,
) -> Cause {
    let mut cause = match around {
        Around::Died(ending, tail) => {
            let exception = exception_in(tail);
            let mut c = Cause::of(Signature::Died {
                ending: ending.to_string(),
                exception: exception.as_ref().map(|e| e.0.clone()),
            });
            c.location = exception.and_then(|e| e.1);
            c
        }
        _ => symptom_cause(kind, symptom, step, around),
    };
    cause.step = step.map(str::to_string);
    cause
}

fn symptom_cause(
    kind: FailureKind,
    symptom: Option<&Symptom>,
    step: Option<&str>,
    around: Around<'_>,
) -> Cause {
    match symptom {
        Some(Symptom::Bytes(m)) => bytes_cause(m),
        Some(Symptom::Wait(w)) => wait_cause(w, around),
        Some(Symptom::Leak(kind)) => Cause::of(Signature::Leak {
            what: kind.label().into(),
        }),
        Some(Symptom::Privilege(check)) => {
            let mut c = Cause::of(Signature::Privilege);
            c.check = Some(check.clone());
            c
        }
        Some(Symptom::AcceptQueueOverflow { .. }) => Cause::of(Signature::AcceptQueueOverflow),
        Some(Symptom::Refused) => Cause::of(Signature::Refused),
        Some(Symptom::CannotRestart { port_in_use }) => Cause::of(Signature::CannotRestart {
            port_in_use: *port_in_use,
        }),
        None => {
            let udp = step.is_some_and(|s| s.starts_with("udp_"));
            Cause::of(match kind {
                FailureKind::Refused => Signature::Refused,
                FailureKind::Hang | FailureKind::Loss if udp => Signature::Unanswered,
                // The UDP steps share one failure of each class: a datagram's answer is checked
                // the same way whichever step waits for it.
                _ => Signature::Other {
                    class: kind.label().into(),
                    step: if udp {
                        "udp".into()
                    } else {
                        step.unwrap_or("").into()
                    },
                },
            })
        }
    }
}

/// The cause of a byte mismatch: the shape of the difference.
fn bytes_cause(m: &Mismatch) -> Cause {
    let mut c = Cause::of(match m.shape() {
        ByteShape::Added { bytes, .. } => Signature::BytesAdded {
            bytes: added_key(&bytes),
        },
        ByteShape::Removed(bytes) => Signature::BytesRemoved {
            class: if bytes.iter().all(|&b| b == 0) {
                ByteClass::Nul
            } else if bytes.iter().all(u8::is_ascii_whitespace) {
                ByteClass::Whitespace
            } else {
                ByteClass::Other
            },
        },
        ByteShape::LfToCrLf => Signature::LfToCrLf,
        ByteShape::AsciiCase => Signature::AsciiCase,
        ByteShape::Replacement => Signature::Replacement,
        // The very first bytes are not the echo at all: the server sends something else
        // first (a greeting, a flood).
        ByteShape::Other if m.offset == 0 => Signature::BytesAdded {
            bytes: added_key(&m.received),
        },
        ByteShape::Other => Signature::BytesChanged,
    });
    c.offset = Some(m.offset);
    c.end_of_reply = matches!(
        m.shape(),
        ByteShape::Added {
            end_of_reply: true,
            ..
        }
    );
    c
}

/// The cause of a wait that ended without what was owed: an exception the server printed, or how
/// the wait ended and what was left owed.
fn wait_cause(w: &WaitState, around: Around<'_>) -> Cause {
    // An exception the server printed explains a connection it dropped.
    if let Around::Said(tail) = around {
        if w.end != WaitEnd::Slow {
            if let Some((name, location)) = exception_in(tail) {
                let mut c = Cause::of(Signature::Exception { name });
                c.location = location;
                c.received = Some(w.received);
                return c;
            }
        }
    }
    let left_out = |keep: fn(&u8) -> bool| {
        w.owed > 0 && w.owed_head.len() as u64 == w.owed && w.owed_head.iter().all(keep)
    };
    let owed_only =
        if left_out(|b| *b == 0) {
            Some(ByteClass::Nul)
        } else if left_out(u8::is_ascii_whitespace) {
            Some(ByteClass::Whitespace)
        } else if w.owed_head.first().is_some_and(|b0| {
            w.owed_head.len() as u64 == w.owed && w.owed_head.iter().all(|b| b == b0)
        }) {
            // One byte value, repeated: the value a server drops (telnet's 0xff, say).
            Some(ByteClass::Other)
        } else {
            None
        };
    let signature = match w.end {
        // Far more came than was ever owed: the server sends on its own (a flood).
        _ if w.extra >= FLOOD => Signature::BytesAdded {
            bytes: "many".into(),
        },
        // Nothing was owed any more: the client waited for the server's close.
        WaitEnd::Quiet | WaitEnd::Slow if w.owed == 0 && w.half_closed => {
            Signature::NoCloseAfterFin
        }
        WaitEnd::Slow if w.received == 0 => Signature::Silent,
        // Nothing ever came, before the client's FIN or after it.
        WaitEnd::Quiet if w.received == 0 => Signature::Silent,
        WaitEnd::Slow => Signature::Slow,
        WaitEnd::Eof | WaitEnd::Reset if w.signalled => Signature::CutOnSignal,
        _ if w.half_closed => Signature::LostAfterHalfClose,
        WaitEnd::Quiet => Signature::Stopped,
        WaitEnd::Eof | WaitEnd::Reset => Signature::Cut,
    };
    let mut c = Cause::of(signature);
    c.received = Some(w.received);
    c.others_open = w.others_open;
    c.half_closed = w.half_closed;
    c.owed_only = owed_only;
    c
}

/// The exception a server's output names last, with where it was raised when the output says:
/// a Python traceback's last line and last frame, a Node.js or Java error line, a Rust panic.
pub fn exception_in(tail: &str) -> Option<(String, Option<String>)> {
    let mut found = None;
    let mut location = None;
    for line in tail.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("File \"") {
            // `File "b.py", line 17, in handle`
            if let Some((file, after)) = rest.split_once("\", line ") {
                let line_no: String = after.chars().take_while(char::is_ascii_digit).collect();
                let file = file.rsplit('/').next().unwrap_or(file);
                location = Some(format!("{file}:{line_no}"));
            }
            continue;
        }
        if t.contains("panicked at") {
            found = Some(("panic".to_string(), location.take()));
            continue;
        }
        if let Some(name) = exception_name(t) {
            found = Some((name, location.take()));
        }
    }
    found
}

/// The last exception a line names: an identifier that starts with a capital letter and ends
/// in `Error` or `Exception`, followed by `:`, `(`, ` [` or the end of the line.
fn exception_name(line: &str) -> Option<String> {
    let mut found = None;
    let bytes = line.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
    let mut i = 0;
    while i < bytes.len() {
        if !word(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && word(bytes[i]) {
            i += 1;
        }
        let name = &line[start..i];
        let short = name.rsplit('.').next().unwrap_or(name);
        let after = &line[i..];
        let capital = short.starts_with(|c: char| c.is_ascii_uppercase());
        let suffix = short.ends_with("Error") || short.ends_with("Exception");
        let follows = after.is_empty()
            || after.starts_with(':')
            || after.starts_with('(')
            || after.starts_with(" [");
        if capital && suffix && follows {
            found = Some(short.to_string());
        }
    }
    found
}

/// How added bytes key a finding: a short run of text (a newline, a CR, a greeting) by its exact
/// bytes, since the server writes it itself; anything longer or binary (a flood, another
/// connection's data) as `many`.
fn added_key(bytes: &[u8]) -> String {
    let text = |b: &u8| b.is_ascii_graphic() || matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    if bytes.len() <= MAX_KEY_BYTES && bytes.iter().all(text) {
        hex(bytes)
    } else {
        "many".into()
    }
}

/// Bytes as lower-case hex pairs separated by spaces.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceptions_are_named() {
        let py = "Traceback (most recent call last):\n  File \"/srv/b.py\", line 17, in handle\n    data.decode()\nUnicodeDecodeError: 'utf-8' codec can't decode byte 0xff\n";
        assert_eq!(
            exception_in(py),
            Some(("UnicodeDecodeError".into(), Some("b.py:17".into())))
        );
        assert_eq!(
            exception_in("ConnectionResetError: [Errno 104] Connection reset by peer"),
            Some(("ConnectionResetError".into(), None))
        );
        assert_eq!(
            exception_in("Error: read ECONNRESET\n    at TCP.onStreamRead"),
            Some(("Error".into(), None))
        );
        assert_eq!(exception_in("listening on 127.0.0.1:7000"), None);
        assert_eq!(
            exception_in("crash_on_reset: ConnectionResetError(104, 'reset'); exiting"),
            Some(("ConnectionResetError".into(), None))
        );
        assert_eq!(exception_in("no Errors here: fine"), None);
    }
}
