//! An echo server (RFC 862) with a thread per connection: the example that shows a server's own
//! `cargo test` running the echo-conform suite (see `tests/conformance.rs`).
//!
//! Usage: `threaded-echo PORT`. It listens on 127.0.0.1:PORT, echoes every byte back until the
//! client closes. On SIGTERM or SIGINT it stops accepting, lets the open connections finish (for
//! up to 10 s) and exits 0.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long open connections may take to finish after a stop signal.
const GRACE: Duration = Duration::from_secs(10);

fn serve(mut conn: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if conn.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1).map(|p| p.parse()) {
        Some(Ok(p)) => p,
        _ => {
            eprintln!("usage: threaded-echo PORT");
            std::process::exit(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    // Non-blocking accept, polled, so that a signal is noticed within 50 ms.
    listener.set_nonblocking(true)?;
    let open = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false)?;
                let open = Arc::clone(&open);
                open.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    serve(conn);
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Err(e) => {
                // Nothing pending, or a passing failure (EMFILE when out of descriptors): wait
                // a little instead of spinning.
                if e.kind() != std::io::ErrorKind::WouldBlock {
                    eprintln!("threaded-echo: accept: {e}");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    drop(listener);
    let deadline = Instant::now() + GRACE;
    while open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
