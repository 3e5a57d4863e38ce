//! The basic server: bind, listen, accept **one** connection, echo until the client closes,
//! exit 0.
//!
//! Profile: `stream,single,sequential`. The listener is closed as soon as the one connection is
//! accepted, so a second client is refused at once instead of waiting in the backlog of a
//! server that will never accept it.
//!
//! Run it: `echo-server --model basic --port 50007`, then `nc 127.0.0.1 50007`.
//!
//! The seed is the Python documentation's echo server: `s.accept()` once, then
//! `while True: data = conn.recv(1024); if not data: break; conn.sendall(data)`.
//!
//! The lesson: the whole life of a TCP server — bind, listen, accept, read to EOF, close — with
//! nothing in the way, and the difference a client sees between a closed listener (refused at
//! once) and an open one that never accepts (left waiting).

use std::net::TcpListener;

use crate::accept;
use crate::flags::Config;
use crate::session;

/// Serves one connection, then returns (the process exits 0).
pub fn run(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    let Some((stream, _peer)) = accept::accept_one(&listener)? else {
        return Ok(()); // SIGTERM before anyone connected.
    };
    drop(listener);
    let transform = config.transform.for_current_thread();
    session::serve(stream, config.session, &transform);
    Ok(())
}
