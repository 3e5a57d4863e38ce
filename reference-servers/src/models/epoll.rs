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
use crate::transform::Transformer;
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

/// Everything the loop keeps between wake-ups: the epoll instance and what is registered in it.
/// Fields drop in declaration order, so at the end the connections close first, then the UDP
/// socket, the epoll instance and the listener.
struct EventLoop<'a> {
    config: &'a Config,
    /// The connections this wake-up handled: only they can have changed.
    touched: Vec<RawFd>,
    conns: HashMap<RawFd, Entry>,
    udp_stats: udp::Stats,
    udp_buf: Vec<u8>,
    /// The UDP socket, until SIGTERM closes it.
    datagrams: Option<UdpSocket>,
    epoll: Epoll,
    gate: ListenerGate,
    /// Whether the listener is on the interest list now.
    listening: bool,
    /// When every connection is looked at next, for the timers.
    next_sweep: Instant,
    /// The one read buffer every connection reads into ([`super::evloop::READ_BUF`] bytes).
    read_buf: Vec<u8>,
    transform: Transformer,
}

/// Runs the loop until SIGTERM and the end of the grace period (or of every connection).
pub fn run(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    serve(config, Some(listener), None)
}

/// Runs the loop over a TCP listener, a UDP socket, or both, until SIGTERM and the end of the
/// grace period (or of every connection). The UDP service stops at SIGTERM itself.
///
/// Each round waits for readiness, then dispatches each ready descriptor by its token; new
/// connections are accepted after the round's connections are served.
pub fn serve(
    config: &Config,
    listener: Option<TcpListener>,
    datagrams: Option<UdpSocket>,
) -> anyhow::Result<()> {
    let mut el = EventLoop::new(config, listener, datagrams)?;
    let mut events = vec![EpollEvent::empty(); 1024];
    loop {
        if shutdown::requested() {
            el.stop_listening();
            if el.conns.is_empty() || shutdown::grace_over() {
                return Ok(());
            }
        }
        el.watch_listener()?;
        let ready = match el.epoll.wait(&mut events, TICK_MS) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e).context("epoll_wait"),
        };
        let mut accept_now = false;
        el.touched.clear();
        for event in &events[..ready] {
            match event.data() {
                LISTENER => accept_now = true,
                DATAGRAMS => el.answer_datagrams(),
                token => el.on_conn_ready(token as RawFd, event.events()),
            }
        }
        if accept_now {
            el.accept_new()?;
        }
        el.settle_touched()?;
    }
}

impl<'a> EventLoop<'a> {
    /// Makes the listener and the UDP socket non-blocking, creates the epoll instance and
    /// registers the UDP socket; the listener is registered by [`EventLoop::watch_listener`].
    fn new(
        config: &'a Config,
        listener: Option<TcpListener>,
        datagrams: Option<UdpSocket>,
    ) -> anyhow::Result<EventLoop<'a>> {
        let transform = config.transform.for_current_thread();
        let read_buf = vec![0u8; super::evloop::READ_BUF];
        let gate = match listener {
            Some(listener) => ListenerGate::new(listener)?,
            None => ListenerGate::empty(),
        };
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1")?;
        if let Some(socket) = &datagrams {
            socket.set_nonblocking(true)?;
            epoll.add(socket, EpollEvent::new(EpollFlags::EPOLLIN, DATAGRAMS))?;
        }
        let udp_buf = vec![
            0u8;
            if datagrams.is_some() {
                udp::RECV_BUF
            } else {
                0
            }
        ];
        Ok(EventLoop {
            config,
            touched: Vec::new(),
            conns: HashMap::new(),
            udp_stats: udp::Stats::default(),
            udp_buf,
            datagrams,
            epoll,
            gate,
            listening: false,
            next_sweep: Instant::now(),
            read_buf,
            transform,
        })
    }

    /// Closes the listener and the UDP socket (SIGTERM). Closing a descriptor also removes it
    /// from the interest list.
    fn stop_listening(&mut self) {
        self.gate.close();
        self.datagrams = None;
        self.listening = false;
    }

    /// Puts the listener on the interest list or takes it off: it is watched only while below
    /// the connection cap and not backing off from EMFILE.
    fn watch_listener(&mut self) -> anyhow::Result<()> {
        let watch = self.gate.watch(self.conns.len(), self.config.max_conns);
        match (watch, self.listening) {
            (Some(l), false) => {
                self.epoll
                    .add(l, EpollEvent::new(EpollFlags::EPOLLIN, LISTENER))?;
                self.listening = true;
            }
            (None, true) => {
                if let Some(l) = &self.gate.listener {
                    self.epoll.delete(l)?;
                }
                self.listening = false;
            }
            _ => {}
        }
        Ok(())
    }

    /// Answers the datagrams waiting on the UDP socket, at most [`udp::BATCH`] of them.
    fn answer_datagrams(&mut self) {
        // EPOLLERR here is a pending socket error; the next receive reports and clears it.
        if let Some(socket) = &self.datagrams {
            udp::answer_ready(socket, &mut self.udp_buf, &mut self.udp_stats);
        }
    }

    /// Reads from and writes to the connection `fd` as its events say, and notes it as
    /// touched. Hang-up and error wake both sides: the read or write reports what happened.
    fn on_conn_ready(&mut self, fd: RawFd, flags: EpollFlags) {
        let Some(entry) = self.conns.get_mut(&fd) else {
            return;
        };
        let broken = flags.intersects(EpollFlags::EPOLLHUP | EpollFlags::EPOLLERR);
        if flags.contains(EpollFlags::EPOLLIN) || broken {
            entry.conn.on_readable(&self.transform, &mut self.read_buf);
        }
        if flags.contains(EpollFlags::EPOLLOUT) || broken {
            entry.conn.on_writable();
        }
        self.touched.push(fd);
    }

    /// Accepts the waiting connections, up to the connection cap, and registers each one for
    /// reading, with its descriptor number as its token.
    fn accept_new(&mut self) -> anyhow::Result<()> {
        let room = self.config.max_conns - self.conns.len();
        let mut fresh = Vec::new();
        self.gate.accept_batch(room, |stream| fresh.push(stream));
        for stream in fresh {
            let fd = stream.as_raw_fd();
            let registered = EpollFlags::EPOLLIN;
            self.epoll
                .add(&stream, EpollEvent::new(registered, fd as u64))?;
            let conn = Conn::new(stream, self.config.session);
            self.conns.insert(fd, Entry { conn, registered });
        }
        Ok(())
    }

    /// Moves the touched connections on: drops the finished ones and changes the registered
    /// interest of the others where their wishes changed (`EPOLL_CTL_MOD`).
    fn settle_touched(&mut self) -> anyhow::Result<()> {
        let now = Instant::now();
        // Only the connections this wake-up touched can have changed, so only they are looked at;
        // once per tick every connection is, for the timers (a oneshot drain that expires).
        if now >= self.next_sweep {
            self.touched.clear();
            self.touched.extend(self.conns.keys().copied());
            self.next_sweep = now + Duration::from_millis(u64::from(TICK_MS));
        }
        for &fd in &self.touched {
            let Some(entry) = self.conns.get_mut(&fd) else {
                continue;
            };
            entry.conn.advance(now);
            if entry.conn.is_done() {
                // Dropping a connection closes its descriptor, which takes it off the interest list.
                self.conns.remove(&fd);
                continue;
            }
            let wanted = interest(&entry.conn);
            if wanted != entry.registered {
                self.epoll
                    .modify(&entry.conn.stream, &mut EpollEvent::new(wanted, fd as u64))?;
                entry.registered = wanted;
            }
        }
        Ok(())
    }
}

/// The events `conn` waits for now: readable, writable, both or neither.
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
