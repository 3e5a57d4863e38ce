//! A finding's diagnosis in plain words and, where its signature is a known mistake, the fix.

use crate::cause::{ByteClass, Signature};
use crate::outcome::CaseResult;
use echo_clients::payload::quoted;

/// The diagnosis and the fix of the failures `members` (the simplest first), which share
/// `signature`.
pub fn diagnose(signature: &Signature, members: &[&CaseResult]) -> (String, Option<String>) {
    let causes: Vec<&crate::cause::Cause> =
        members.iter().filter_map(|r| r.cause.as_deref()).collect();
    match signature {
        Signature::BytesAdded { .. }
        | Signature::BytesRemoved { .. }
        | Signature::LfToCrLf
        | Signature::AsciiCase
        | Signature::Replacement
        | Signature::BytesChanged => bytes(signature, &causes),
        Signature::Silent
        | Signature::LostAfterHalfClose
        | Signature::Cut
        | Signature::CutOnSignal
        | Signature::NoCloseAfterFin
        | Signature::Stopped
        | Signature::Slow => waits(signature, &causes),
        Signature::DidNotStart
        | Signature::Died { .. }
        | Signature::Exception { .. }
        | Signature::AcceptQueueOverflow
        | Signature::CannotRestart { .. }
        | Signature::Leak { .. }
        | Signature::Privilege => server(signature, &causes),
        Signature::Refused
        | Signature::Unanswered
        | Signature::Interaction
        | Signature::Other { .. } => others(signature),
    }
}

/// What is wrong with the echo's bytes, and the usual fix.
fn bytes(signature: &Signature, causes: &[&crate::cause::Cause]) -> (String, Option<String>) {
    let fix = |s: &str| Some(s.to_string());
    match signature {
        Signature::BytesAdded { bytes } => added(bytes, causes),
        Signature::BytesRemoved { class } => match class {
            ByteClass::Nul => (
                "NUL bytes (0x00) are left out of the echo".into(),
                fix("treat the data as bytes with the length recv() returned, not as a C string"),
            ),
            ByteClass::Whitespace => (
                "whitespace (spaces, tabs, CR or LF) is left out of the echo, as strip() or trim() \
                 would do"
                    .into(),
                fix("send back exactly the bytes received: do not strip or trim them"),
            ),
            ByteClass::Other => (
                "bytes are left out of the echo".into(),
                fix("send back every byte received, with the length each read returned"),
            ),
        },
        Signature::LfToCrLf => (
            "each \"\\n\" comes back as \"\\r\\n\": line endings are translated".into(),
            fix("write the bytes as received, in binary mode, with no line-ending translation"),
        ),
        Signature::AsciiCase => (
            "letters come back in the other case".into(),
            fix("echo the bytes unchanged, or declare the transform with --transform"),
        ),
        Signature::Replacement => (
            "bytes of 0x80 or more come back as U+FFFD (ef bf bd): the server decodes the data as \
             text"
                .into(),
            fix("handle the data as bytes: do not decode and re-encode it"),
        ),
        Signature::BytesChanged => {
            let at = causes
                .iter()
                .filter_map(|c| c.offset)
                .min()
                .map(|o| format!(" (the first difference seen at offset {o})"))
                .unwrap_or_default();
            (
                format!("the echo differs from the bytes sent{at}"),
                None,
            )
        }
        _ => unreachable!("diagnose hands bytes only its own signatures"),
    }
}

/// What a connection waited for and never got, and the usual fix.
fn waits(signature: &Signature, causes: &[&crate::cause::Cause]) -> (String, Option<String>) {
    let fix = |s: &str| Some(s.to_string());
    match signature {
        Signature::Silent if causes.iter().all(|c| c.others_open) => (
            "a client gets no echo while another client's connection is open: the server serves \
             one connection at a time (head-of-line blocking)"
                .into(),
            fix(
                "serve connections concurrently (a thread or task per connection, or an event \
                 loop), or claim `sequential`",
            ),
        ),
        Signature::Silent => (
            "no echo comes back while the client keeps its side open: the server waits for the \
             client's FIN before it answers (store-and-forward), or never answers"
                .into(),
            fix("send back what each read returns as soon as it arrives"),
        ),
        Signature::LostAfterHalfClose => (
            "after the client half-closes (shutdown(SHUT_WR)), the echo still owed is lost: the \
             server closes, resets or falls silent without sending it"
                .into(),
            fix("when recv() returns 0, send everything still pending, then close"),
        ),
        Signature::Cut => (
            format!(
                "the server closes the connection while echo is still owed{}",
                same_length(causes)
            ),
            fix("keep echoing until the client closes (RFC 862): close only at the client's EOF"),
        ),
        Signature::CutOnSignal => (
            "connections open when the server is told to stop (SIGTERM) are cut instead of \
             finished"
                .into(),
            fix(
                "on SIGTERM, stop accepting, let the connections in flight finish, then exit 0 \
                 (echo-conform waits 2 s before SIGKILL)",
            ),
        ),
        Signature::NoCloseAfterFin => (
            "the echo comes back whole, but after the client's FIN (shutdown(SHUT_WR)) the server \
             never closes the connection: it keeps the socket, and its descriptor, open"
                .into(),
            fix("when recv() returns 0, send what is pending, then close the connection"),
        ),
        Signature::Stopped => (
            format!(
                "the echo stops partway and nothing more comes{}",
                same_length(causes)
            ),
            fix("echo everything each read returns, for as long as the connection lasts"),
        ),
        Signature::Slow => (
            "the echo comes, but more slowly than the cases allow".into(),
            fix("do not sleep or wait between reads and writes"),
        ),
        _ => unreachable!("diagnose hands waits only its own signatures"),
    }
}

/// What is wrong with the server process (its start, death, backlog, restart, leaks or
/// privilege drop), and the usual fix.
fn server(signature: &Signature, causes: &[&crate::cause::Cause]) -> (String, Option<String>) {
    let fix = |s: &str| Some(s.to_string());
    let location = causes
        .iter()
        .find_map(|c| c.location.as_deref())
        .map(|l| format!(" at {l}"))
        .unwrap_or_default();
    match signature {
        Signature::DidNotStart => (
            "the server did not start, or never listened on the port it was given".into(),
            fix("check its output below: it must bind the `{port}` it is given and keep running"),
        ),
        Signature::Died { ending, exception } => died(ending, exception.as_deref(), &location),
        Signature::Exception { name } => (
            format!(
                "connections are dropped after an uncaught `{name}`{location} in the server, which \
                 stays up"
            ),
            exception_fix(name),
        ),
        Signature::AcceptQueueOverflow => (
            "the listen backlog is too short for clients that connect at once: the kernel dropped \
             connections before the server accepted them"
                .into(),
            fix(
                "listen with a backlog of 128 or more (Python's socketserver: set \
                 `request_queue_size = 128`)",
            ),
        ),
        Signature::CannotRestart { port_in_use: true } => (
            "stopped, the server cannot start again on its port: its bind fails with \
             EADDRINUSE while the old connections linger (TIME_WAIT)"
                .into(),
            fix("set SO_REUSEADDR before bind (Python's socketserver: `allow_reuse_address = True`)"),
        ),
        Signature::CannotRestart { port_in_use: false } => (
            "stopped, the server cannot start again on its port".into(),
            fix("remove what a run leaves behind (a pid file, a socket file) on start or exit"),
        ),
        Signature::Leak { what } => (
            format!("the server keeps {what} after its connections end"),
            leak_fix(what),
        ),
        Signature::Privilege => {
            let mut checks: Vec<&str> = Vec::new();
            for c in causes.iter().filter_map(|c| c.check.as_deref()) {
                if !checks.contains(&c) {
                    checks.push(c);
                }
            }
            let named: Vec<String> = checks.iter().map(|c| format!("`{c}`")).collect();
            (
                format!(
                    "the privilege drop is incomplete: {} {} not hold",
                    named.join(", "),
                    if named.len() == 1 { "does" } else { "do" }
                ),
                // The fix of the most specific check that failed (the first is the primary's).
                checks.iter().find_map(|c| privilege_fix(c)),
            )
        }
        _ => unreachable!("diagnose hands server only its own signatures"),
    }
}

/// The rest: refused connects, unanswered datagrams, wedges between cases, and classes with no
/// diagnosis of their own.
fn others(signature: &Signature) -> (String, Option<String>) {
    let fix = |s: &str| Some(s.to_string());
    match signature {
        Signature::Refused => (
            "connections are refused: nothing listens on the address the client connects to (a \
             family or an address the server does not bind)"
                .into(),
            fix("bind the address the cases use (for dual-stack, :: with IPV6_V6ONLY off)"),
        ),
        Signature::Unanswered => (
            "datagrams go unanswered".into(),
            fix("answer every datagram, the empty one included, with one datagram"),
        ),
        Signature::Interaction => (
            "after some cases, the server stops serving other clients".into(),
            None,
        ),
        Signature::Other { class, step } => (
            if step == "udp" {
                format!("{class} failures of the UDP answers")
            } else if step.is_empty() {
                format!("{class} failures")
            } else {
                format!("{class} failures at the `{step}` step")
            },
            None,
        ),
        _ => unreachable!("diagnose hands others only its own signatures"),
    }
}

fn died(ending: &str, exception: Option<&str>, location: &str) -> (String, Option<String>) {
    match (ending, exception) {
        ("SIGPIPE", _) => (
            "the server is killed by SIGPIPE: it writes to a connection its client has reset"
                .into(),
            Some(
                "ignore SIGPIPE (or send with MSG_NOSIGNAL) and treat EPIPE and ECONNRESET as the \
                 end of that one connection"
                    .into(),
            ),
        ),
        ("together", _) => (
            "the server dies when certain cases run together, though neither kills it alone".into(),
            None,
        ),
        (ending, Some(name)) => (
            format!("the server dies ({ending}) on an uncaught `{name}`{location}"),
            exception_fix(name),
        ),
        (ending, None) if ending.starts_with("SIG") => (
            format!("the server is killed by {ending} while serving"),
            None,
        ),
        (ending, None) => (format!("the server ends ({ending}) while serving"), None),
    }
}

fn exception_fix(name: &str) -> Option<String> {
    let s = match name {
        "ConnectionResetError" | "BrokenPipeError" | "ConnectionAbortedError" => {
            "catch the errors of one connection (ConnectionResetError, BrokenPipeError) around \
             its recv and send, and close only that connection"
        }
        "UnicodeDecodeError" | "UnicodeEncodeError" => {
            "echo the bytes as received: do not decode them as text"
        }
        _ => return None,
    };
    Some(s.into())
}

fn added(bytes: &str, causes: &[&crate::cause::Cause]) -> (String, Option<String>) {
    // Bytes at offset 0 came before anything was echoed, whether or not anything was owed yet.
    let at_start = causes.iter().filter(|c| c.offset == Some(0)).count();
    let at_end = causes
        .iter()
        .filter(|c| c.end_of_reply && c.offset != Some(0))
        .count();
    let within = causes.len() - at_end - at_start;
    if bytes == "many" {
        return (
            "the server sends bytes this connection never sent: a banner, a flood, or another \
             connection's data"
                .into(),
            Some("send nothing but the echo of what each read returns".into()),
        );
    }
    let raw: Vec<u8> = bytes
        .split(' ')
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect();
    let shown = format!("[{bytes}]{}", quoted(&raw, 16));
    let n = raw.len();
    let what = if n == 1 {
        format!("one extra byte {shown}")
    } else {
        format!("{n} extra bytes {shown}")
    };
    let mut places = Vec::new();
    if at_end > 0 {
        places.push(format!("at the end of a reply in {at_end} case(s)"));
    }
    if at_start > 0 {
        places.push(format!("before the first reply in {at_start}"));
    }
    if within > 0 {
        let offsets: Vec<u64> = causes
            .iter()
            .filter(|c| !c.end_of_reply)
            .filter_map(|c| c.offset)
            .filter(|&o| o != 0)
            .collect();
        let mut distinct = offsets.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let at = match distinct.as_slice() {
            [one] => format!(" at offset {one}, where one of the server's reads ended"),
            _ => String::new(),
        };
        places.push(format!("inside a longer stream in {within}{at}"));
    }
    let line_ending = raw.iter().all(|b| matches!(b, b'\r' | b'\n'));
    let diagnosis = if at_end > 0 && at_start == 0 {
        format!("every reply has {what} after it ({})", places.join("; "))
    } else if at_start > 0 && at_end == 0 && within == 0 {
        format!("the server sends {what} before the echo (a banner or greeting)")
    } else {
        format!("the echo has {what} added ({})", places.join("; "))
    };
    let fix = if line_ending {
        "send back exactly the bytes received: do not add a line ending"
    } else {
        "send back exactly the bytes received, with nothing added"
    };
    (diagnosis, Some(fix.into()))
}

/// `, after N B on the connection in every case` when every cut came after the same count.
fn same_length(causes: &[&crate::cause::Cause]) -> String {
    let counts: Vec<u64> = causes.iter().filter_map(|c| c.received).collect();
    match counts.split_first() {
        Some((0, rest)) if rest.iter().all(|c| *c == 0) => ", before any echo".into(),
        Some((first, rest)) if rest.iter().all(|c| c == first) => {
            let every = if counts.len() > 1 {
                " in every case"
            } else {
                ""
            };
            format!(", after {first} B on the connection{every}")
        }
        Some(_) => {
            let (lo, hi) = (counts.iter().min(), counts.iter().max());
            match (lo, hi) {
                (Some(lo), Some(hi)) => format!(", after {lo} to {hi} B on the connection"),
                _ => String::new(),
            }
        }
        None => String::new(),
    }
}

fn leak_fix(what: &str) -> Option<String> {
    let s = match what {
        "file descriptors" => "close each connection's socket when the connection ends",
        "sockets in CLOSE_WAIT" => "close the socket when recv() returns 0 (the client closed)",
        "zombie children" => "reap every child (waitpid, or SIGCHLD set to SIG_IGN)",
        "threads" => "let each connection's thread end when its connection ends",
        _ => return None,
    };
    Some(s.into())
}

fn privilege_fix(check: &str) -> Option<String> {
    let s = match check {
        "uid-all-four" | "no-regain" => {
            "drop the real, effective and saved uid (setresuid or setuid as root), after the gid, \
             and check each call's result"
        }
        "gid-all-four" => "call setgid (or setresgid) before setuid, while still root",
        "groups-subset" | "groups-empty" => "call setgroups([]) before setgid and setuid",
        "umask" => "set the umask in octal: umask(0o007)",
        "all-tasks" => {
            "drop before starting any thread or process, so that every task of the server drops"
        }
        "listen-bound-by-root" | "udp-bound-by-root" => {
            "bind the privileged port as root first, then drop, in the process that serves"
        }
        "caps-zero" => "drop to the target user with setuid so the kernel clears the capabilities",
        "accepted-by-target" => "drop before accepting any connection",
        _ => return None,
    };
    Some(s.into())
}
