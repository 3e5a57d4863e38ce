//! `echo-clients` on its own, as a library user would use it: no runner, no reference server, just an
//! echo server written here on `127.0.0.1:0` and a script of spec steps.

use echo_clients::{payload, run_script, EventKind, FailureKind, ScriptConfig, ScriptOutcome};
use echo_spec::{Chunking, Payload, Step};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::thread::JoinHandle;

/// One seeded mebibyte: large enough that a client writing it all before reading would deadlock.
const MIB: u64 = 1 << 20;
const SEED: u64 = 862;

/// Serves one connection: echoes everything, with `corrupt` applied to each byte by its stream offset,
/// and half-closes at the client's EOF.
fn one_shot_server(corrupt: fn(u64, u8) -> u8) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 16 * 1024];
        let mut offset = 0u64;
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for b in &mut buf[..n] {
                *b = corrupt(offset, *b);
                offset += 1;
            }
            if stream.write_all(&buf[..n]).is_err() {
                return;
            }
        }
        let _ = stream.shutdown(Shutdown::Write);
    });
    (addr, handle)
}

/// The script passed; otherwise the failure and the transcript are the message.
fn assert_passed(outcome: &ScriptOutcome) {
    assert!(
        outcome.result.is_ok(),
        "{:?}\n{}",
        outcome.result,
        outcome.transcript
    );
}

fn script() -> Vec<Step> {
    vec![
        Step::Connect {
            name: "main".into(),
        },
        Step::Send {
            payload: Payload::Seeded {
                seed: SEED,
                len: MIB,
            },
            chunking: Chunking::default(),
        },
        Step::ExpectEcho,
        Step::ShutdownWrite,
        Step::ExpectEof,
    ]
}

#[test]
fn script_against_a_correct_echo_server_passes() {
    let (addr, server) = one_shot_server(|_, b| b);
    let outcome = run_script(&script(), &ScriptConfig::new(addr), None, None);
    assert_passed(&outcome);
    assert!(
        !outcome.transcript.events().is_empty(),
        "a transcript is kept"
    );
    server.join().expect("the server thread");
}

/// The byte the corrupting server flips: past the first socket buffer, not on a chunk boundary.
const FLIPPED: u64 = 300_007;

#[test]
fn script_against_a_byte_flipping_server_reports_the_offset() {
    let (addr, server) = one_shot_server(|off, b| if off == FLIPPED { !b } else { b });
    let outcome = run_script(&script(), &ScriptConfig::new(addr), None, None);
    let err = outcome
        .result
        .expect_err("a flipped byte must fail the script");
    assert_eq!(err.failure.kind, FailureKind::Mismatch, "{err}");
    // The executor reads while it writes, so the flip may be caught during the `send` already.
    assert!(["send", "expect_echo"].contains(&err.step), "{err}");
    assert_eq!(err.conn.as_deref(), Some("main"), "{err}");
    let message = err.failure.message.clone();
    assert!(
        message.contains(&format!("first difference at offset {FLIPPED}")),
        "{message}"
    );
    // The expected window starts with the true byte; the received one with its complement.
    let mut expected = [0u8; 1];
    payload::fill(
        &Payload::Seeded {
            seed: SEED,
            len: MIB,
        },
        FLIPPED,
        &mut expected,
    );
    let hex = |b: u8| format!("{b:02x}");
    assert!(
        message.contains(&format!("expected [{}", hex(expected[0]))),
        "{message}"
    );
    assert!(
        message.contains(&format!("received [{}", hex(!expected[0]))),
        "{message}"
    );
    drop(outcome.transcript);
    server.join().expect("the server thread");
}

/// Accepts `n` connections one at a time; `close_at_eof` decides whether each is closed when its
/// client's FIN arrives (after a parting word no echo owes) or kept open until the end.
fn sequential_server(n: usize, close_at_eof: bool) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    let handle = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for _ in 0..n {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let _ = stream.read(&mut [0u8; 64]);
            if close_at_eof {
                let _ = stream.write_all(b"bye\n");
            } else {
                kept.push(stream);
            }
        }
    });
    (addr, handle)
}

fn connect_and_leave(times: u32) -> Vec<Step> {
    vec![Step::Repeat {
        times,
        steps: vec![
            Step::Connect {
                name: "main".into(),
            },
            Step::Leave { ms: 300 },
        ],
    }]
}

#[test]
fn leave_waits_for_a_server_that_closes_and_stops_waiting_for_one_that_does_not() {
    let (addr, server) = sequential_server(50, true);
    let outcome = run_script(&connect_and_leave(50), &ScriptConfig::new(addr), None, None);
    assert_passed(&outcome);
    assert!(outcome.notes.is_empty(), "{:?}", outcome.notes);
    // Every client saw the server's close before it left: the wait is what paces them.
    let eofs = outcome
        .transcript
        .events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Eof))
        .count();
    assert_eq!(eofs, 50, "{}", outcome.transcript);
    server.join().expect("the server thread");

    let (addr, server) = sequential_server(3, false);
    let outcome = run_script(&connect_and_leave(3), &ScriptConfig::new(addr), None, None);
    assert_passed(&outcome);
    // One wait ran out, and only one: the note is not "the first of N such steps".
    assert_eq!(outcome.notes.len(), 1, "{:?}", outcome.notes);
    assert!(
        outcome.notes[0].contains("leave without waiting")
            && !outcome.notes[0].contains("such steps"),
        "{:?}",
        outcome.notes
    );
    server.join().expect("the server thread");
}

/// Serves one connection: echoes the stream it reads, with urgent data read in line when
/// `oob_inline` (SO_OOBINLINE), and half-closes at the client's EOF.
fn urgent_server(oob_inline: bool) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    let addr = listener.local_addr().expect("local_addr");
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        socket2::SockRef::from(&stream)
            .set_out_of_band_inline(oob_inline)
            .expect("SO_OOBINLINE");
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = stream.read(&mut buf) {
            if stream.write_all(&buf[..n]).is_err() {
                return;
            }
        }
        let _ = stream.shutdown(Shutdown::Write);
    });
    (addr, handle)
}

/// `before`, an urgent `!`, `after`, and the echo of the stream.
fn urgent_script() -> Vec<Step> {
    let text = |t: &str| Step::Send {
        payload: Payload::Bytes(t.as_bytes().to_vec()),
        chunking: Chunking::default(),
    };
    vec![
        Step::Connect {
            name: "main".into(),
        },
        text("before"),
        Step::SendUrgent { byte: b'!' },
        text("after"),
        Step::ExpectEcho,
        Step::ShutdownWrite,
        Step::ExpectEof,
    ]
}

#[test]
fn an_urgent_byte_is_out_of_band_and_owes_no_echo() {
    let (addr, server) = urgent_server(false);
    let outcome = run_script(&urgent_script(), &ScriptConfig::new(addr), None, None);
    assert_passed(&outcome);
    server.join().expect("the server thread");
}

#[test]
fn a_server_that_reads_urgent_data_in_line_echoes_a_byte_no_one_owes() {
    let (addr, server) = urgent_server(true);
    let outcome = run_script(&urgent_script(), &ScriptConfig::new(addr), None, None);
    let err = outcome.result.expect_err("the in-line `!` is not owed");
    assert_eq!(err.failure.kind, FailureKind::Mismatch, "{err}");
    assert!(err.failure.message.contains("offset 6"), "{err}");
    server.join().expect("the server thread");
}
