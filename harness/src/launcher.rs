//! A server started in the test process: the closure that starts it, a free loopback address to
//! give it, and the wait until it accepts.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

type Boxed = Box<dyn FnOnce(SocketAddr) -> std::io::Result<Handle> + Send>;

/// Whatever the launcher returned; dropping it stops the server.
pub type Handle = Box<dyn Send>;

/// How long a launched server has to accept its first connection.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// The closure, boxed, with its handle type erased.
pub struct Launcher(Boxed);

impl Launcher {
    /// Wraps a user's launcher.
    pub fn new<H, F>(launch: F) -> Launcher
    where
        H: Send + 'static,
        F: FnOnce(SocketAddr) -> std::io::Result<H> + Send + 'static,
    {
        Launcher(Box::new(move |addr| {
            launch(addr).map(|h| Box::new(h) as Handle)
        }))
    }

    /// Starts the server on a free port of 127.0.0.1 and waits until it accepts a connection.
    pub fn start(self) -> Result<(SocketAddr, Handle), String> {
        let addr = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("cannot find a free port on 127.0.0.1: {e}"))?;
        let handle =
            (self.0)(addr).map_err(|e| format!("the in-process launcher failed on {addr}: {e}"))?;
        let deadline = Instant::now() + READY_WITHIN;
        let ready = echo_conform::os::poll_until(deadline, Duration::from_millis(10), || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()
        });
        match ready {
            Some(_) => Ok((addr, handle)),
            None => Err(format!(
                "the in-process server did not accept a connection on {addr} within {}s",
                READY_WITHIN.as_secs()
            )),
        }
    }
}
