//! The epoll(7) event loop: one thread, non-blocking sockets, and a kernel-side interest list
//! that changes only when a connection's wishes change (`EPOLL_CTL_MOD`), so a wake-up costs
//! the number of ready descriptors, not the number of connections. Level-triggered, like
//! select and poll, so the per-connection code is the same.
//!
//! Profile: `stream,forever,concurrent,c10k`.
//!
//! Run it: `echo-server --model epoll --port 50007`.
//!
//! With `--transport udp` or `both` the UDP socket joins the same interest list: each wake-up
//! answers at most [`crate::udp::BATCH`] datagrams without blocking, so a datagram flood never
//! stalls the TCP connections, and an answer that would block is dropped (UDP allows it).
//!
//! The seed is Python's `selectors.DefaultSelector`, which is `EpollSelector` on Linux.
//!
//! The lesson: the readiness mechanism is the only thing that changes from select to epoll; the
//! per-connection state machine (`evloop.rs`) is shared, so the cost of a wake-up is what the
//! three models compare. The event loops read and echo 32 KiB at a time (`evloop::READ_BUF`) and
//! write each echo straight from the read buffer; `docs/model-tuning.md` has the measurements
//! behind both choices and the `cargo xtask bench` commands that repeat them.

use std::collections::HashMap;
use std::net::{TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};

use super::evloop::{Conn, ListenerGate, TICK_MS};
use crate::flags::Config;
use crate::shutdown;
use crate::udp;

/// The token of the listener; connections use their descriptor number.
const LISTENER: u64 = u64::MAX;
/// The token of the UDP socket.
const DATAGRAMS: u64 = u64::MAX - 1;

/// A connection and the interest currently registered for it.
struct Entry {
    conn: Conn,
    registered: EpollFlags,
}

/// Runs the loop until SIGTERM and the end of the grace period (or of every connection).
pub fn run(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    serve(config, Some(listener), None)
}

/// Runs the loop over a TCP listener, a UDP socket, or both, until SIGTERM and the end of the
/// grace period (or of every connection). The UDP service stops at SIGTERM itself.
pub fn serve(
    config: &Config,
    listener: Option<TcpListener>,
    datagrams: Option<UdpSocket>,
) -> anyhow::Result<()> {
    let transform = config.transform.for_current_thread();
    let mut read_buf = vec![0u8; super::evloop::READ_BUF];
    let mut gate = match listener {
        Some(listener) => ListenerGate::new(listener)?,
        None => ListenerGate::empty(),
    };
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1")?;
    let mut datagrams = datagrams;
    if let Some(socket) = &datagrams {
        socket.set_nonblocking(true)?;
        epoll.add(socket, EpollEvent::new(EpollFlags::EPOLLIN, DATAGRAMS))?;
    }
    let mut udp_buf = vec![
        0u8;
        if datagrams.is_some() {
            udp::RECV_BUF
        } else {
            0
        }
    ];
    let mut udp_stats = udp::Stats::default();
    let mut conns: HashMap<RawFd, Entry> = HashMap::new();
    let mut events = vec![EpollEvent::empty(); 1024];
    let mut listening = false;
    let mut touched: Vec<RawFd> = Vec::new();
    let mut next_sweep = Instant::now();
    loop {
        if shutdown::requested() {
            gate.close(); // Closing the descriptor also removes it from the interest list.
            datagrams = None;
            listening = false;
            if conns.is_empty() || shutdown::grace_over() {
                return Ok(());
            }
        }
        // Watch the listener only while below the cap and not backing off from EMFILE.
        let watch = gate.watch(conns.len(), config.max_conns);
        match (watch, listening) {
            (Some(l), false) => {
                epoll.add(l, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER))?;
                listening = true;
            }
            (None, true) => {
                if let Some(l) = &gate.listener {
                    epoll.delete(l)?;
                }
                listening = false;
            }
            _ => {}
        }
        let ready = match epoll.wait(&mut events, TICK_MS) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context("epoll_wait"),
        };
        let mut accept_now = false;
        touched.clear();
        for event in &events[..ready] {
            if event.data() == LISTENER {
                accept_now = true;
                continue;
            }
            if event.data() == DATAGRAMS {
                // EPOLLERR here is a pending socket error; the next receive reports and clears it.
                if let Some(socket) = &datagrams {
                    udp::answer_ready(socket, &mut udp_buf, &mut udp_stats);
                }
                continue;
            }
            let fd = event.data() as RawFd;
            let Some(entry) = conns.get_mut(&fd) else {
                continue;
            };
            let flags = event.events();
            let broken = flags.intersects(EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR);
            if flags.contains(EpollFlags::EPOLLIN) || broken {
                entry.conn.on_readable(&transform, &mut read_buf);
            }
            if flags.contains(EpollFlags::EPOLLOUT) || broken {
                entry.conn.on_writable();
            }
            touched.push(fd);
        }
        if accept_now {
            let room = config.max_conns - conns.len();
            let mut fresh = Vec::new();
            gate.accept_batch(room, |stream| fresh.push(stream));
            for stream in fresh {
                let fd = stream.as_raw_fd();
                let registered = EpollFlags::EPOLLIN;
                epoll.add(&stream, EpollEvent::new(registered, fd as u64))?;
                let conn = Conn::new(stream, config.session);
                conns.insert(fd, Entry { conn, registered });
            }
        }
        let now = Instant::now();
        // Only the connections this wake-up touched can have changed, so only they are looked at;
        // once per tick every connection is, for the timers (a oneshot drain that expires).
        if now >= next_sweep {
            touched.clear();
            touched.extend(conns.keys().copied());
            next_sweep = now + Duration::from_millis(u64::from(TICK_MS));
        }
        for &fd in &touched {
            let Some(entry) = conns.get_mut(&fd) else {
                continue;
            };
            entry.conn.advance(now);
            if entry.conn.is_done() {
                // Dropping a connection closes its descriptor, which takes it off the interest list.
                conns.remove(&fd);
                continue;
            }
            let wanted = interest(&entry.conn);
            if wanted != entry.registered {
                epoll.modify(&entry.conn.stream, &mut EpollEvent::new(wanted, fd as u64))?;
                entry.registered = wanted;
            }
        }
    }
}

fn interest(conn: &Conn) -> EpollFlags {
    let mut flags = EpollFlags::empty();
    if conn.wants_read() {
        flags |= EpollFlags::EPOLLIN;
    }
    if conn.wants_write() {
        flags |= EpollFlags::EPOLLOUT;
    }
    flags
}
