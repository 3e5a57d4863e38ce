//! Mutants whose defect is in the bytes they send back: each is a thread-per-connection stream
//! echo server with one change to what it writes, or when. The replies of `drop-nul`, `newline`
//! and `strip` are shared with the double mutants.

use std::io::Write;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::PollFlags;

use super::{echo_with, serve_threaded, Flags, Mutant};
use crate::os::wait_ready;
use crate::session::read_some;

/// The echo-defect mutants.
pub fn mutants() -> Vec<Mutant> {
    vec![
        Mutant { name: "truncate", case: "echo.stream.1mib", defect: "stops echoing after the first 64 KiB of each connection (keeps reading, discards the rest)", run: truncate },
        Mutant { name: "drop-nul", case: "echo.binary.all-bytes", defect: "drops every 0x00 byte", run: drop_nul },
        Mutant { name: "store-and-forward", case: "stream.not-store-and-forward", defect: "buffers everything until the client's EOF, then echoes it all", run: store_and_forward },
        Mutant { name: "never-answer", case: "echo.text.short", defect: "accepts and reads but never writes anything", run: never_answer },
        Mutant { name: "flood", case: "echo.no-banner", defect: "on connect sends an endless stream of bytes (stops after 64 MiB or when the peer is gone)", run: flood },
        Mutant { name: "banner", case: "echo.no-banner", defect: "writes \"hello\\r\\n\" on connect, then echoes correctly", run: banner },
        Mutant { name: "crlf", case: "echo.nothing-added", defect: "translates every \"\\n\" into \"\\r\\n\"", run: crlf },
        Mutant { name: "newline", case: "echo.nothing-added", defect: "appends \"\\n\" after the echo of every read, as a server that writes each reply as a line does", run: newline },
        Mutant { name: "strip", case: "echo.nothing-removed", defect: "strips ASCII whitespace from both ends of every read before echoing it, as the seed's loop does with `recv(1024).strip()`", run: strip },
        Mutant { name: "close-on-half-close", case: "stream.half-close.flush-then-eof", defect: "writes in 5 ms batches and closes at the client's FIN, dropping echo data still pending", run: close_on_half_close },
        Mutant { name: "slow-drip", case: "echo.exchange.100", defect: "echoes correctly but sleeps 50 ms before each write", run: slow_drip },
    ]
}

/// The correct reply to a read: the read itself.
pub fn unchanged(chunk: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(chunk);
}

/// The reply of `drop-nul`: the read without its 0x00 bytes.
pub fn without_nul(chunk: &[u8], out: &mut Vec<u8>) {
    out.extend(chunk.iter().copied().filter(|&b| b != 0));
}

/// The reply of `newline`: the read, then "\n".
pub fn with_newline(chunk: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(chunk);
    out.push(b'\n');
}

/// The reply of `strip`: the read without the ASCII whitespace at either end.
pub fn trimmed(chunk: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(chunk.trim_ascii());
}

const TRUNCATE_AT: usize = 64 * 1024;

fn truncate(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "truncate", |mut stream| {
        let mut echoed = 0usize;
        echo_with(&mut stream, move |chunk, out| {
            let keep = chunk.len().min(TRUNCATE_AT.saturating_sub(echoed));
            out.extend_from_slice(&chunk[..keep]);
            echoed += keep;
        });
    })
}

fn drop_nul(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "drop-nul", |mut stream| {
        echo_with(&mut stream, without_nul)
    })
}

/// The most a store-and-forward connection holds before it gives up, so a client cannot make
/// the mutant exhaust memory.
const STORE_LIMIT: usize = 256 * 1024 * 1024;

fn store_and_forward(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "store-and-forward", |mut stream| {
        let mut stored = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        while let Ok(Some(n)) = read_some(&mut stream, &mut buf) {
            if n == 0 {
                let _ = stream.write_all(&stored);
                let _ = stream.shutdown(Shutdown::Write);
                return;
            }
            if stored.len() + n > STORE_LIMIT {
                return;
            }
            stored.extend_from_slice(&buf[..n]);
        }
    })
}

fn never_answer(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "never-answer", |mut stream| {
        echo_with(&mut stream, |_, _| {})
    })
}

const FLOOD_LIMIT: usize = 64 * 1024 * 1024;

fn flood(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "flood", |mut stream| {
        let block = [b'x'; 16 * 1024];
        let mut sent = 0;
        while sent < FLOOD_LIMIT && !crate::shutdown::grace_over() {
            if stream.write_all(&block).is_err() {
                return; // The peer is gone.
            }
            sent += block.len();
        }
    })
}

fn banner(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "banner", |mut stream| {
        if stream.write_all(b"hello\r\n").is_ok() {
            echo_with(&mut stream, unchanged);
        }
    })
}

fn crlf(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "crlf", |mut stream| {
        echo_with(&mut stream, |chunk, out| {
            for &b in chunk {
                if b == b'\n' {
                    out.push(b'\r');
                }
                out.push(b);
            }
        });
    })
}

fn newline(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "newline", |mut stream| {
        echo_with(&mut stream, with_newline)
    })
}

fn strip(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "strip", |mut stream| echo_with(&mut stream, trimmed))
}

const BATCH: Duration = Duration::from_millis(5);

fn close_on_half_close(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "close-on-half-close", |mut stream| {
        let mut pending = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        let mut next_flush = Instant::now() + BATCH;
        loop {
            let left = next_flush.saturating_duration_since(Instant::now());
            match wait_ready(stream.as_fd(), PollFlags::POLLIN, left) {
                Ok(true) => match std::io::Read::read(&mut stream, &mut buf) {
                    // The defect: the FIN closes the connection with `pending` never written.
                    Ok(0) | Err(_) => return,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                },
                Ok(false) => {}
                Err(_) => return,
            }
            if Instant::now() >= next_flush {
                if stream.write_all(&pending).is_err() {
                    return;
                }
                pending.clear();
                next_flush = Instant::now() + BATCH;
            }
        }
    })
}

fn slow_drip(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "slow-drip", |mut stream| {
        echo_with(&mut stream, |chunk, out| {
            std::thread::sleep(Duration::from_millis(50));
            unchanged(chunk, out);
        });
    })
}
