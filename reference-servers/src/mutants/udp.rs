//! Mutants of the UDP echo service, and one of the address family. Each UDP mutant serves UDP
//! only on `--bind`:`--port`, announces itself like the models (`... listening on ADDR (udp)`),
//! and is a blocking `recv_from` loop with one defect; `v6only` is a TCP stream echo.
//!
//! Like the references, they survive receive errors (one line on stderr) unless the defect is
//! precisely that they do not (`udp-icmp-dies`).

use std::io::{self, ErrorKind};
use std::net::{Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::{announce, stream_echo, thread_per_connection, Flags, Mutant};
use crate::exit::{self, coded};
use crate::os::TICK;
use crate::shutdown;
use crate::udp::{log_error, RECV_BUF};

/// The UDP and address-family mutants.
pub fn mutants() -> Vec<Mutant> {
    vec![
        Mutant { name: "udp-truncate", case: "udp.echo.sizes", defect: "receives into an 8 KiB buffer, so a longer datagram is answered with its first 8192 bytes only", run: truncate },
        Mutant { name: "udp-drop-empty", case: "udp.echo.empty", defect: "takes a 0-byte datagram for nothing to do and never answers it", run: drop_empty },
        Mutant { name: "udp-cstring", case: "udp.echo.all-bytes", defect: "reads each datagram as a C string: the answer stops before the first NUL byte", run: cstring },
        Mutant { name: "udp-other-source", case: "udp.echo.one-datagram", defect: "answers from a second, unbound socket, so the answer comes from another port than the one the client sent to", run: other_source },
        Mutant { name: "udp-wrong-peer", case: "udp.reply-to-sender", defect: "sends every answer to the first peer it ever heard from", run: wrong_peer },
        Mutant { name: "udp-twice", case: "udp.one-answer", defect: "sends every answer twice", run: twice },
        Mutant { name: "udp-shared-peer", case: "udp.many-senders", defect: "two receiving threads share one last-peer slot and answer to whoever it holds 2 ms later, so concurrent senders get each other's answers", run: shared_peer },
        Mutant { name: "udp-lossy", case: "udp.burst", defect: "silently drops every 10th datagram it receives", run: lossy },
        Mutant { name: "udp-icmp-dies", case: "udp.icmp-unreachable", defect: "sets IP_RECVERR and exits at the first receive error, so one ICMP port-unreachable from a vanished sender ends the service", run: icmp_dies },
        Mutant { name: "v6only", case: "family.dual-stack", defect: "a TCP stream echo that binds [::] with IPV6_V6ONLY set whatever --bind says, so IPv4 clients are refused", run: v6only },
    ]
}

/// Binds the mutant's UDP socket on `--bind`:`--port`, with a [`TICK`] receive timeout so that
/// its loops notice SIGTERM, and prints the readiness line.
fn bind(flags: &Flags, name: &str) -> anyhow::Result<UdpSocket> {
    let port = flags
        .port
        .ok_or_else(|| coded(exit::USAGE, "--port is required"))?;
    let socket = crate::udp::bind(SocketAddr::new(flags.bind, port))?;
    socket.set_read_timeout(Some(TICK))?;
    eprintln!(
        "{}: {name} listening on {} (udp)",
        crate::program(),
        socket.local_addr()?
    );
    Ok(socket)
}

/// Receives one datagram. `Ok(None)` means nothing came within a [`TICK`] (or a signal came).
fn receive(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
    match socket.recv_from(buf) {
        Ok(got) => Ok(Some(got)),
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Sends one answer; an error is logged and the service goes on.
fn answer(socket: &UdpSocket, data: &[u8], peer: SocketAddr) {
    if let Err(e) = socket.send_to(data, peer) {
        log_error("send_to", &e);
    }
}

/// The loop most UDP mutants are: receive into a `buf_len`-byte buffer and hand each datagram
/// to `reply` until SIGTERM; receive errors are logged and survived.
fn serve(
    flags: &Flags,
    name: &str,
    buf_len: usize,
    mut reply: impl FnMut(&UdpSocket, &[u8], SocketAddr),
) -> anyhow::Result<()> {
    let socket = bind(flags, name)?;
    let mut buf = vec![0u8; buf_len];
    while !shutdown::requested() {
        match receive(&socket, &mut buf) {
            Ok(Some((n, peer))) => reply(&socket, &buf[..n], peer),
            Ok(None) => {}
            Err(e) => log_error("recv_from", &e),
        }
    }
    Ok(())
}

/// The receive buffer of `udp-truncate`.
const SHORT_BUF: usize = 8 * 1024;

fn truncate(flags: &Flags) -> anyhow::Result<()> {
    serve(flags, "udp-truncate", SHORT_BUF, answer)
}

fn drop_empty(flags: &Flags) -> anyhow::Result<()> {
    serve(flags, "udp-drop-empty", RECV_BUF, |socket, data, peer| {
        if !data.is_empty() {
            answer(socket, data, peer);
        }
    })
}

fn cstring(flags: &Flags) -> anyhow::Result<()> {
    serve(flags, "udp-cstring", RECV_BUF, |socket, data, peer| {
        let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
        answer(socket, &data[..end], peer);
    })
}

fn other_source(flags: &Flags) -> anyhow::Result<()> {
    let domain = Domain::for_address(SocketAddr::new(flags.bind, 0));
    // Never bound: the first send_to gives it an ephemeral port of its own.
    let other: UdpSocket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?.into();
    serve(flags, "udp-other-source", RECV_BUF, move |_, data, peer| {
        answer(&other, data, peer);
    })
}

fn wrong_peer(flags: &Flags) -> anyhow::Result<()> {
    let mut first = None;
    serve(
        flags,
        "udp-wrong-peer",
        RECV_BUF,
        move |socket, data, peer| {
            let to = *first.get_or_insert(peer);
            answer(socket, data, to);
        },
    )
}

fn twice(flags: &Flags) -> anyhow::Result<()> {
    serve(flags, "udp-twice", RECV_BUF, |socket, data, peer| {
        answer(socket, data, peer);
        answer(socket, data, peer);
    })
}

/// `udp-lossy` drops one datagram in this many.
const LOSS_PERIOD: u32 = 10;

fn lossy(flags: &Flags) -> anyhow::Result<()> {
    // Counts down to the next datagram to drop: the 10th, the 20th, and so on.
    let mut until_drop = LOSS_PERIOD;
    serve(flags, "udp-lossy", RECV_BUF, move |socket, data, peer| {
        until_drop -= 1;
        if until_drop == 0 {
            until_drop = LOSS_PERIOD;
        } else {
            answer(socket, data, peer);
        }
    })
}

/// How long a `udp-shared-peer` thread waits between storing the sender and reading it back:
/// long enough for the other thread to overwrite it when two senders are active at once.
const SHARED_PEER_GAP: Duration = Duration::from_millis(2);

fn shared_peer(flags: &Flags) -> anyhow::Result<()> {
    let socket = bind(flags, "udp-shared-peer")?;
    let slot: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
    let mut threads = Vec::new();
    for _ in 0..2 {
        let (socket, slot) = (socket.try_clone()?, Arc::clone(&slot));
        threads.push(std::thread::spawn(move || {
            let mut buf = vec![0u8; RECV_BUF];
            while !shutdown::requested() {
                let (n, peer) = match receive(&socket, &mut buf) {
                    Ok(Some(got)) => got,
                    Ok(None) => continue,
                    Err(e) => {
                        log_error("recv_from", &e);
                        continue;
                    }
                };
                store(&slot, peer);
                std::thread::sleep(SHARED_PEER_GAP);
                // The defect: the slot may hold another thread's sender by now.
                let to = load(&slot).unwrap_or(peer);
                answer(&socket, &buf[..n], to);
            }
        }));
    }
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

fn store(slot: &Mutex<Option<SocketAddr>>, peer: SocketAddr) {
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(peer);
}

fn load(slot: &Mutex<Option<SocketAddr>>) -> Option<SocketAddr> {
    *slot.lock().unwrap_or_else(|e| e.into_inner())
}

fn icmp_dies(flags: &Flags) -> anyhow::Result<()> {
    let socket = bind(flags, "udp-icmp-dies")?;
    set_recv_err(&socket, flags.bind.is_ipv6())?;
    let mut buf = vec![0u8; RECV_BUF];
    while !shutdown::requested() {
        match receive(&socket, &mut buf) {
            Ok(Some((n, peer))) => answer(&socket, &buf[..n], peer),
            Ok(None) => {}
            // The defect: a reported ICMP error (ECONNREFUSED) ends the whole service.
            Err(e) => return Err(anyhow::Error::new(e).context("udp recv_from")),
        }
    }
    Ok(())
}

/// Asks the kernel to report ICMP errors on this unconnected socket (Linux does not otherwise).
/// An IPv6 socket also gets IP_RECVERR, for the IPv4-mapped peers of a dual-stack `::`.
fn set_recv_err(socket: &UdpSocket, v6: bool) -> anyhow::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt};
    if v6 {
        setsockopt(socket, sockopt::Ipv6RecvErr, &true)?;
        let _ = setsockopt(socket, sockopt::Ipv4RecvErr, &true);
    } else {
        setsockopt(socket, sockopt::Ipv4RecvErr, &true)?;
    }
    Ok(())
}

fn v6only(flags: &Flags) -> anyhow::Result<()> {
    let port = flags
        .port
        .ok_or_else(|| coded(exit::USAGE, "--port is required"))?;
    let addr = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port);
    let listener = bind_v6only(addr).map_err(|e| crate::listener::explain(addr, &e))?;
    announce("v6only", &listener)?;
    thread_per_connection(&listener, stream_echo)
}

/// Binds and listens on `[::]` with IPV6_V6ONLY set: the defect of `v6only`.
fn bind_v6only(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_only_v6(true)?;
    socket.bind(&addr.into())?;
    socket.listen(crate::listener::BACKLOG)?;
    Ok(socket.into())
}
