//! Building the listening socket: SO_REUSEADDR, IPV6_V6ONLY as fits the address, a deep backlog,
//! and one-line errors for the two failures users meet (port in use, privileged port).

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use crate::exit::{self, coded};

/// The listen backlog: deep enough for connection storms and the c10k case.
pub const BACKLOG: i32 = 4096;

/// Binds and listens on `addr`.
///
/// SO_REUSEADDR lets a restarted server bind at once while old connections sit in TIME_WAIT.
/// `::1` is bound IPv6-only; the unspecified `::` is bound dual-stack so that it also answers
/// IPv4 clients, as most servers do. EADDRINUSE and EACCES become one-line errors; EACCES exits
/// with [`exit::NO_PERMISSION`].
pub fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let socket = open(addr).map_err(|e| explain(addr, &e))?;
    Ok(socket.into())
}

fn open(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if let SocketAddr::V6(v6) = addr {
        socket.set_only_v6(!v6.ip().is_unspecified())?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket)
}

/// Turns a bind error into a one-line message with the exit code it deserves (TCP and UDP alike).
pub fn explain(addr: SocketAddr, err: &io::Error) -> anyhow::Error {
    let port = addr.port();
    match err.raw_os_error() {
        Some(libc::EADDRINUSE) => coded(
            exit::FAILURE,
            format!("cannot bind {addr}: address already in use (EADDRINUSE): another socket is listening on port {port}"),
        ),
        Some(libc::EACCES) => coded(
            exit::NO_PERMISSION,
            format!(
                "cannot bind {addr}: permission denied (EACCES): port {port} is privileged; \
                 run as root, grant CAP_NET_BIND_SERVICE, or lower net.ipv4.ip_unprivileged_port_start to {port} or below"
            ),
        ),
        Some(libc::EADDRNOTAVAIL) => coded(
            exit::FAILURE,
            format!("cannot bind {addr}: address not available on this host (EADDRNOTAVAIL)"),
        ),
        _ => coded(exit::FAILURE, format!("cannot bind {addr}: {err}")),
    }
}
