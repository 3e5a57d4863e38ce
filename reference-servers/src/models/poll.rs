//! The poll(2) event loop: one thread, non-blocking sockets, and an array of `pollfd` rebuilt
//! before every call — `POLLIN` for the listener and for connections with room in their
//! buffer, `POLLOUT` for connections with output pending.
//!
//! Profile: `stream,forever,concurrent,c10k`. Unlike select there is no FD_SETSIZE ceiling;
//! the cost is that every call passes the whole array to the kernel, so the work per wake-up
//! grows with the number of connections (epoll removes that).
//!
//! Run it: `echo-server --model poll --port 50007`.
//!
//! The seed is Python's `selectors` loop forced to `selectors.PollSelector`.
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

/// Runs the loop until SIGTERM and the end of the grace period (or of every connection).
pub fn run(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    let transform = config.transform.for_current_thread();
    let mut read_buf = vec![0u8; super::evloop::READ_BUF];
    let mut gate = ListenerGate::new(listener)?;
    let mut conns: HashMap<RawFd, Conn> = HashMap::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        if shutdown::requested() {
            gate.close();
            if conns.is_empty() || shutdown::grace_over() {
                return Ok(());
            }
        }
        // Slot 0 is the listener; a negative descriptor tells poll to skip the slot.
        fds.clear();
        let listen_fd = gate
            .watch(conns.len(), config.max_conns)
            .map_or(-1, AsRawFd::as_raw_fd);
        fds.push(pollfd(listen_fd, libc::POLLIN));
        for (&fd, conn) in &conns {
            let mut events = 0;
            if conn.wants_read() {
                events |= libc::POLLIN;
            }
            if conn.wants_write() {
                events |= libc::POLLOUT;
            }
            fds.push(pollfd(fd, events));
        }
        // SAFETY: `fds` is a valid, initialised array of `fds.len()` pollfd structures.
        let ready = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                i32::from(TICK_MS),
            )
        };
        if ready < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err.into());
        }
        let now = Instant::now();
        for entry in &fds[1..] {
            let Some(conn) = conns.get_mut(&entry.fd) else {
                continue;
            };
            // Hang-up and error wake both sides: the read or write reports what happened.
            let broken = entry.revents & (libc::POLLHUP | libc::POLLERR) != 0;
            if entry.revents & libc::POLLIN != 0 || broken {
                conn.on_readable(&transform, &mut read_buf);
            }
            if entry.revents & libc::POLLOUT != 0 || broken {
                conn.on_writable();
            }
            conn.advance(now);
        }
        if fds[0].revents & libc::POLLIN != 0 {
            let room = config.max_conns - conns.len();
            gate.accept_batch(room, |stream| {
                conns.insert(stream.as_raw_fd(), Conn::new(stream, config.session));
            });
        }
        conns.retain(|_, conn| !conn.is_done());
    }
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}
