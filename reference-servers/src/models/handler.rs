//! The socketserver model: a [`Handler`] trait whose `handle` method gets one [`Request`],
//! served by a sequential server that makes a fresh handler for every connection.
//!
//! Profile: `oneshot,forever,sequential` (`--stream` makes the handler echo until EOF).
//! `--transform uppercase` reproduces the seed's upper-casing handler.
//!
//! Run it: `echo-server --model handler --port 9999 --transform uppercase`.
//!
//! The seed is Python's `MyTCPHandler(socketserver.BaseRequestHandler)` whose `handle()` does
//! `self.data = self.request.recv(1024).strip(); self.request.sendall(self.data.upper())` inside
//! `socketserver.TCPServer(...).serve_forever()`. Unlike the seed we do **not** strip: a
//! reference server must echo byte-exact.
//!
//! The lesson: a framework owns the accept loop and each connection's life, and the user writes
//! only what one request gets; the handler is still served one connection at a time.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::ControlFlow;

use crate::accept;
use crate::flags::Config;
use crate::session::{self, Session};
use crate::transform::Transformer;

/// What one connection is handed to, as in `socketserver.BaseRequestHandler`.
pub trait Handler {
    /// Serves the request; the server closes the connection afterwards.
    fn handle(&mut self, req: &mut Request) -> io::Result<()>;
}

/// One accepted connection: the seed's `self.request` and `self.client_address`.
pub struct Request {
    /// The connected socket.
    pub stream: TcpStream,
    /// The peer's address.
    pub client_address: SocketAddr,
}

/// The echo handler: one read and reply (the seed), or a full echo with `--stream`.
pub struct EchoHandler {
    session: Session,
    transform: Transformer,
}

impl Handler for EchoHandler {
    fn handle(&mut self, req: &mut Request) -> io::Result<()> {
        match self.session {
            Session::Oneshot => session::echo_oneshot(&mut req.stream, &self.transform),
            Session::Stream => session::echo_stream(&mut req.stream, &self.transform),
        }
    }
}

/// `TCPServer.serve_forever()`: accepts one connection at a time and runs a new handler on it.
pub fn serve_forever<H: Handler>(
    listener: &TcpListener,
    mut make_handler: impl FnMut() -> H,
) -> io::Result<()> {
    accept::accept_loop(
        listener,
        || true,
        |stream, client_address| {
            let mut req = Request {
                stream,
                client_address,
            };
            // A failed request (reset, broken pipe) ends only that request.
            let _ = make_handler().handle(&mut req);
            ControlFlow::Continue(())
        },
    )
}

/// Serves [`EchoHandler`]s until SIGTERM.
pub fn run(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    serve_forever(&listener, || EchoHandler {
        session: config.session,
        transform: config.transform.for_current_thread(),
    })?;
    Ok(())
}
