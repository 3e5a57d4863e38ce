//! The threaded server: the main thread accepts, and every connection gets its own thread,
//! named `Thread-N` as Python's `threading` names them.
//!
//! Profile: `stream,forever,concurrent` (`--oneshot` gives the seed's one read and reply).
//! `--transform prefix` puts `Thread-N: ` before each reply, like the seed. At `--max-conns`
//! live threads the loop stops accepting (clients wait in the backlog) until one ends. On
//! SIGTERM the listener closes and the connection threads get the grace period to finish.
//!
//! Run it: `echo-server --model threaded --port 50007 --transform prefix`.
//!
//! The seed is `socketserver.ThreadingTCPServer` with a handler that replies
//! `"{}: {}".format(threading.current_thread().name, data)`.
//!
//! The lesson: a thread per connection ends the head-of-line blocking of the sequential model,
//! at the price of a thread (and its stack) per client, which is why the live count is capped.

use std::net::TcpListener;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::accept;
use crate::flags::Config;
use crate::session;
use crate::shutdown;

/// Serves every connection on its own thread until SIGTERM, then waits out the grace period.
pub fn run(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    let live = Arc::new(AtomicUsize::new(0));
    let mut spawned: u64 = 0;
    let result = accept::accept_loop(
        &listener,
        || live.load(Ordering::SeqCst) < config.max_conns,
        |stream, _peer| {
            spawned += 1;
            let (session, transform) = (config.session, config.transform);
            let mine = Arc::clone(&live);
            live.fetch_add(1, Ordering::SeqCst);
            let spawn = std::thread::Builder::new()
                .name(format!("Thread-{spawned}"))
                .spawn(move || {
                    let transform = transform.for_current_thread();
                    session::serve(stream, session, &transform);
                    mine.fetch_sub(1, Ordering::SeqCst);
                });
            if let Err(e) = spawn {
                // The closure (and the stream in it) was dropped: the client sees a close.
                live.fetch_sub(1, Ordering::SeqCst);
                eprintln!("{}: cannot spawn a thread: {e}", crate::program());
                std::thread::sleep(accept::BACKOFF);
            }
            ControlFlow::Continue(())
        },
    );
    drop(listener);
    wait_for_threads(&live);
    result?;
    Ok(())
}

/// Waits until every connection thread has ended or the grace period is over; the threads
/// themselves close their connections when it runs out.
fn wait_for_threads(live: &AtomicUsize) {
    let deadline = shutdown::deadline().unwrap_or_else(|| Instant::now() + shutdown::GRACE);
    // A little beyond the deadline, so that threads can close their sockets with a FIN.
    let deadline = deadline + Duration::from_millis(200);
    while live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}
