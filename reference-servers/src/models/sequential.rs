//! The sequential server: an accept loop that serves one connection at a time with one read of
//! up to 1024 bytes, one reply, and a close.
//!
//! Profile: `oneshot,forever,sequential`. A client that connects and sends nothing holds up
//! everyone behind it (head-of-line blocking): that is the model, and the reason the threaded
//! and event-loop models exist. `--stream` turns each connection into a full echo.
//!
//! Run it: `echo-server --model sequential --port 9999`.
//!
//! With `--udp` it is the classic blocking UDP echo instead: `recv_from` into a 64 KiB buffer,
//! `send_to` the same bytes back to the sender, forever (see [`crate::udp`]). One socket, one
//! loop, so it serves UDP alone; `--transport both` needs an event loop (epoll or tokio).
//!
//! The seed is `while True: conn, addr = s.accept(); data = conn.recv(1024).strip();
//! conn.sendall(data)`. Unlike the seed we do **not** strip: a reference server for a
//! conformance kit must echo byte-exact, whitespace and newlines included.

use std::net::{TcpListener, UdpSocket};
use std::ops::ControlFlow;

use crate::accept;
use crate::flags::Config;
use crate::session;
use crate::udp;

/// Serves connections one after another until SIGTERM.
pub fn run(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    serve_one_at_a_time(config, &listener)
}

/// The sequential loop itself: accept, serve the whole session, accept the next. The privdrop
/// model runs it after its drop, and every pre-fork worker runs it on the shared socket.
pub fn serve_one_at_a_time(config: &Config, listener: &TcpListener) -> anyhow::Result<()> {
    let transform = config.transform.for_current_thread();
    accept::accept_loop(
        listener,
        || true,
        |stream, _peer| {
            session::serve(stream, config.session, &transform);
            ControlFlow::Continue(())
        },
    )?;
    Ok(())
}

/// Serves the UDP echo with a blocking `recv_from`/`send_to` loop until SIGTERM.
pub fn run_udp(socket: &UdpSocket) -> anyhow::Result<()> {
    udp::serve_blocking(socket)
}
