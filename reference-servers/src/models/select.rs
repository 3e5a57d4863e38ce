//! The select(2) event loop: one thread, non-blocking sockets, and two `fd_set` bitmaps rebuilt
//! before every call — read interest for the listener and for connections with room in their
//! buffer, write interest for connections with output pending.
//!
//! Profile: `stream,forever,concurrent`, but **not** `c10k`: an `fd_set` holds descriptors
//! below FD_SETSIZE (1024), so at most [`MAX_CONNS`] connections are served and a connection
//! whose descriptor would not fit is closed at once. That limit is why poll and epoll exist.
//!
//! Run it: `echo-server --model select --port 50007`.
//!
//! The seed is Python's `selectors` loop (`sel.register(conn, EVENT_READ, data)`, then
//! `for key, mask in sel.select(): ...`), forced to `selectors.SelectSelector`.
//!
//! Shares the read path of `evloop.rs` with epoll: one read buffer per loop
//! (`evloop::READ_BUF`), the echo written straight from it, and
//! `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`; `docs/model-tuning.md` has the measurements.

use std::collections::HashMap;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use super::evloop::{Conn, ListenerGate, TICK_MS};
use crate::flags::Config;
use crate::shutdown;

/// The most connections select can watch: FD_SETSIZE minus room for stdio and the listener.
pub const MAX_CONNS: usize = libc::FD_SETSIZE - 24;

/// Runs the loop until SIGTERM and the end of the grace period (or of every connection).
pub fn run(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    let transform = config.transform.for_current_thread();
    let mut read_buf = vec![0u8; super::evloop::READ_BUF];
    let mut gate = ListenerGate::new(listener)?;
    let mut conns: HashMap<RawFd, Conn> = HashMap::new();
    let mut warned = false;
    let mut full_said = false;
    loop {
        if shutdown::requested() {
            gate.close();
            if conns.is_empty() || shutdown::grace_over() {
                return Ok(());
            }
        }
        let mut reads = FdSet::new();
        let mut writes = FdSet::new();
        let listen_fd = gate
            .watch(conns.len(), config.max_conns)
            .map(AsRawFd::as_raw_fd);
        if conns.len() >= config.max_conns && !full_said {
            eprintln!(
                "{}: {} connections open, the most an fd_set (FD_SETSIZE {}) allows here; \
                 not accepting more until one closes",
                crate::program(),
                conns.len(),
                libc::FD_SETSIZE
            );
            full_said = true;
        }
        if let Some(fd) = listen_fd {
            reads.insert(fd);
        }
        for (&fd, conn) in &conns {
            if conn.wants_read() {
                reads.insert(fd);
            }
            if conn.wants_write() {
                writes.insert(fd);
            }
        }
        let nfds = reads.max.max(writes.max) + 1;
        let mut timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: libc::suseconds_t::from(TICK_MS) * 1000,
        };
        // SAFETY: both sets are initialised fd_sets that outlive the call; the exception set
        // may be null.
        let ready = unsafe {
            libc::select(
                nfds,
                &mut reads.set,
                &mut writes.set,
                std::ptr::null_mut(),
                &mut timeout,
            )
        };
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue; // A signal: go round and look at the shutdown flag.
            }
            return Err(err.into());
        }
        if listen_fd.is_some_and(|fd| reads.contains(fd)) {
            let room = config.max_conns - conns.len();
            gate.accept_batch(room, |stream| {
                let fd = stream.as_raw_fd();
                if fd as usize >= libc::FD_SETSIZE {
                    if !warned {
                        eprintln!(
                            "{}: descriptor {fd} does not fit in an fd_set; closing it",
                            crate::program()
                        );
                        warned = true;
                    }
                    return; // Dropping the stream closes it.
                }
                conns.insert(fd, Conn::new(stream, config.session));
            });
        }
        let now = Instant::now();
        for (&fd, conn) in conns.iter_mut() {
            if reads.contains(fd) {
                conn.on_readable(&transform, &mut read_buf);
            }
            if writes.contains(fd) {
                conn.on_writable();
            }
            conn.advance(now);
        }
        conns.retain(|_, conn| !conn.is_done());
    }
}

/// A `libc::fd_set` with the highest descriptor it holds.
struct FdSet {
    set: libc::fd_set,
    max: RawFd,
}

impl FdSet {
    fn new() -> FdSet {
        // SAFETY: fd_set is plain data; FD_ZERO initialises it fully.
        let mut set = unsafe { std::mem::zeroed::<libc::fd_set>() };
        // SAFETY: `set` is a valid, writable fd_set.
        unsafe { libc::FD_ZERO(&mut set) };
        FdSet { set, max: -1 }
    }

    fn insert(&mut self, fd: RawFd) {
        debug_assert!((fd as usize) < libc::FD_SETSIZE);
        // SAFETY: `fd` is below FD_SETSIZE (connections above it are refused on accept).
        unsafe { libc::FD_SET(fd, &mut self.set) };
        self.max = self.max.max(fd);
    }

    fn contains(&self, fd: RawFd) -> bool {
        // SAFETY: `fd` is below FD_SETSIZE and the set is initialised.
        (fd as usize) < libc::FD_SETSIZE && unsafe { libc::FD_ISSET(fd, &self.set) }
    }
}
