//! The UDP echo service of RFC 862: "when a datagram is received, the data from it is sent back
//! in an answering datagram". This module builds the socket and holds the two ways of answering
//! that the models share: a blocking loop ([`serve_blocking`]) and a non-blocking step for event
//! loops ([`answer_ready`]).
//!
//! Every answer carries exactly the received bytes (an empty datagram gets an empty answer) and
//! goes to exactly the sender's address and port, from the bound socket. The receive buffer is
//! [`RECV_BUF`] bytes, more than the largest UDP payload, so nothing is ever truncated.
//!
//! A receive error never ends the service: ECONNREFUSED (an ICMP port-unreachable reported on
//! the socket), EINTR and the like are logged in one line and the loop goes on; only SIGTERM
//! ends it. Linux reports ICMP errors on an unconnected UDP socket only when IP_RECVERR is set,
//! which the references do not set, but they would survive it.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;

use nix::poll::PollFlags;
use socket2::{Domain, Protocol, Socket, Type};

use crate::os::{wait_ready, TICK};
use crate::shutdown;

/// The receive buffer: 64 KiB, more than any UDP payload.
pub const RECV_BUF: usize = 64 * 1024;

/// The largest UDP payload over IPv6 without jumbograms (65 535 minus the 8-byte UDP header);
/// over IPv4 it is 65 507. A datagram this long still leaves room in [`RECV_BUF`].
pub const MAX_PAYLOAD: usize = 65_527;

// A read that fills the buffer could have been truncated (MSG_TRUNC); with this buffer none can.
const _: () = assert!(RECV_BUF > MAX_PAYLOAD);

/// The most datagrams an event loop answers per readiness event, so that a flood of datagrams
/// never stalls its TCP connections; level-triggered readiness brings it back for the rest.
pub const BATCH: usize = 64;

/// Opens a UDP socket on `addr` with SO_REUSEADDR; `::` is dual-stack, `::1` IPv6-only, as for
/// the TCP listener. Bind errors become the same one-line messages and exit codes.
pub fn bind(addr: SocketAddr) -> anyhow::Result<UdpSocket> {
    open(addr)
        .map(UdpSocket::from)
        .map_err(|e| crate::listener::explain(addr, &e))
}

fn open(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    if let SocketAddr::V6(v6) = addr {
        socket.set_only_v6(!v6.ip().is_unspecified())?;
    }
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Counts what a UDP service did, for its log lines.
#[derive(Debug, Default)]
pub struct Stats {
    /// Answers dropped because the socket's send buffer was full (EAGAIN).
    pub dropped: u64,
}

/// Logs a receive or send error in one line; the service goes on.
pub fn log_error(what: &str, err: &io::Error) {
    eprintln!("{}: udp {what}: {err}; still serving", crate::program());
}

/// Answers datagrams on a blocking socket until SIGTERM: the classic blocking UDP echo.
///
/// The socket is polled with a [`TICK`] timeout before each receive, so SIGTERM is noticed
/// while no datagram comes.
pub fn serve_blocking(socket: &UdpSocket) -> anyhow::Result<()> {
    socket.set_nonblocking(false)?;
    let mut buf = vec![0u8; RECV_BUF];
    while !shutdown::requested() {
        if !wait_ready(socket.as_fd(), PollFlags::POLLIN, TICK)? {
            continue;
        }
        match socket.recv_from(&mut buf) {
            Ok((n, peer)) => {
                if let Err(e) = socket.send_to(&buf[..n], peer) {
                    log_error("send_to", &e);
                }
            }
            Err(e) => log_error("recv_from", &e),
        }
    }
    Ok(())
}

/// Answers up to [`BATCH`] datagrams waiting on a non-blocking socket and returns.
///
/// An answer that would block is dropped and counted, as UDP allows; nothing spins on it.
pub fn answer_ready(socket: &UdpSocket, buf: &mut [u8], stats: &mut Stats) {
    for _ in 0..BATCH {
        match socket.recv_from(buf) {
            Ok((n, peer)) => send_or_drop(socket, &buf[..n], peer, stats),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) => log_error("recv_from", &e),
        }
    }
}

/// Sends one answer without blocking; EAGAIN drops it and counts it.
pub fn send_or_drop(socket: &UdpSocket, data: &[u8], peer: SocketAddr, stats: &mut Stats) {
    match socket.send_to(data, peer) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::WouldBlock => note_drop(stats),
        Err(e) => log_error("send_to", &e),
    }
}

/// Counts a dropped answer, logging the first and then every 1000th.
pub fn note_drop(stats: &mut Stats) {
    stats.dropped += 1;
    if stats.dropped % 1000 == 1 {
        eprintln!(
            "{}: udp: send buffer full, {} answer(s) dropped so far",
            crate::program(),
            stats.dropped
        );
    }
}
