//! Ping-pong on io_uring: per message one linked pair of entries per connection (a `send`, then
//! a `recv` with `MSG_WAITALL`), so that the client enters the kernel about once per round over
//! all its connections instead of three times per message.

use super::{bound_socket, push, ring, wait, BLOCK, TICK};
use crate::load::{kind_of, lean_congestion_control, LoadConfig, Worker};
use crate::payload::fill_seeded;
use io_uring::{opcode, squeue, types, IoUring};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// One connection and the message in flight on it.
struct Conn {
    /// `None` when the connect failed (the worker counted why).
    stream: Option<TcpStream>,
    worker: Worker,
    /// Where the message in flight starts in the block.
    at: usize,
    /// The echo of the message in flight, as it arrives.
    back: Vec<u8>,
    /// When the message in flight was submitted.
    started: Instant,
    n: u64,
    /// Entries submitted and not completed yet (0, 1 or 2).
    in_flight: u32,
    /// Bytes of the message the kernel has taken, and of the echo it has delivered.
    sent: usize,
    got: usize,
    alive: bool,
}

const SEND: u64 = 0;
const RECV: u64 = 1;

fn user_data(conn: usize, op: u64) -> u64 {
    (conn as u64) << 1 | op
}

/// Runs ping-pong over `connections` connections of `payload` bytes on io_uring, and names the
/// task-work mode it ran with. `Err` is why io_uring cannot be used here; nothing has been sent
/// then.
pub(in crate::load) fn ping_pong(
    cfg: &LoadConfig,
    connections: usize,
    payload: usize,
    from: Instant,
    end: Instant,
) -> Result<(Vec<Worker>, &'static str), String> {
    let entries = (2 * connections).next_power_of_two().clamp(8, 4096) as u32;
    let (mut ring, task_work) = ring(entries)?;
    if !ring.params().is_feature_ext_arg() {
        return Err("the kernel's io_uring lacks IORING_FEAT_EXT_ARG (timed waits)".into());
    }
    let mut block = vec![0u8; BLOCK + payload];
    fill_seeded(0x9e37, 0, &mut block);
    let mut conns: Vec<Conn> = (0..connections)
        .map(|i| open(cfg, i, payload, end))
        .collect();
    let len = u32::try_from(payload).map_err(|_| "payload too large".to_string())?;
    for (i, c) in conns.iter_mut().enumerate() {
        if c.alive {
            submit(&mut ring, c, i, &block, len);
        }
    }
    // Bounded: every message is bounded by op_timeout, and no new one starts after `end`.
    let stop = end + cfg.op_timeout + TICK;
    while conns.iter().any(|c| c.in_flight > 0) && Instant::now() < stop {
        let done = match wait(&mut ring, TICK) {
            Ok(done) => done,
            Err(e) => {
                for c in conns.iter_mut().filter(|c| c.alive) {
                    c.worker.error(kind_of(&e));
                    quit(c);
                }
                break;
            }
        };
        let now = Instant::now();
        for (data, res) in done {
            let i = (data >> 1) as usize;
            let c = &mut conns[i];
            c.in_flight -= 1;
            if !c.alive {
                continue;
            }
            if res < 0 {
                if res != -libc::ECANCELED {
                    c.worker
                        .error(kind_of(&std::io::Error::from_raw_os_error(-res)));
                    quit(c);
                }
                continue;
            }
            let res = res as usize;
            if data & 1 == SEND {
                c.sent += res;
                if c.sent < payload {
                    // A short send: the rest goes on its own; the linked recv is still waiting.
                    let rest = &block[c.at + c.sent..c.at + payload];
                    let send = opcode::Send::new(c.fd(), rest.as_ptr(), rest.len() as u32);
                    if push(&mut ring, &[send.build().user_data(user_data(i, SEND))]) {
                        c.in_flight += 1;
                    } else {
                        c.worker.error("submit");
                        quit(c);
                    }
                }
                continue;
            }
            if res == 0 {
                c.worker.error("early-eof");
                quit(c);
                continue;
            }
            c.got += res;
            if c.got < payload {
                let fd = c.fd();
                let rest = &mut c.back[c.got..];
                let recv = opcode::Recv::new(fd, rest.as_mut_ptr(), rest.len() as u32)
                    .flags(libc::MSG_WAITALL);
                if push(&mut ring, &[recv.build().user_data(user_data(i, RECV))]) {
                    c.in_flight += 1;
                } else {
                    c.worker.error("submit");
                    quit(c);
                }
                continue;
            }
            if c.back[..] != block[c.at..c.at + payload] {
                c.worker.error("mismatch");
                quit(c);
                continue;
            }
            c.worker.completed(c.started, from, payload);
            if now < end {
                submit(&mut ring, c, i, &block, len);
            }
        }
        for c in conns.iter_mut().filter(|c| c.alive && c.in_flight > 0) {
            if now.duration_since(c.started) > cfg.op_timeout {
                c.worker.error("timeout");
                quit(c);
            }
        }
    }
    // Whatever is still in the kernel ends with its socket; wait for it (bounded) before the
    // buffers it writes into are freed.
    for c in conns.iter_mut().filter(|c| c.in_flight > 0) {
        quit(c);
    }
    let drain_until = Instant::now() + Duration::from_secs(1);
    while conns.iter().any(|c| c.in_flight > 0) && Instant::now() < drain_until {
        // The ring itself fails: waiting on it again would only spin until the deadline.
        let Ok(done) = wait(&mut ring, TICK) else {
            break;
        };
        for (data, _) in done {
            conns[(data >> 1) as usize].in_flight -= 1;
        }
    }
    if conns.iter().any(|c| c.in_flight > 0) {
        // The kernel still holds buffers: leak them rather than free memory it may write.
        let workers = conns
            .iter_mut()
            .map(|c| std::mem::replace(&mut c.worker, Worker::new()))
            .collect();
        // Sends still in flight read from the block: it goes too.
        std::mem::forget(conns);
        std::mem::forget(block);
        return Ok((workers, task_work));
    }
    Ok((conns.into_iter().map(|c| c.worker).collect(), task_work))
}

/// Connects connection `i` (from the `i`-th source address, in turn), blocking, within the
/// operation timeout. A failure is counted and leaves the connection dead.
fn open(cfg: &LoadConfig, i: usize, payload: usize, end: Instant) -> Conn {
    let mut worker = Worker::new();
    let connect = || -> std::io::Result<TcpStream> {
        // The connects run one after another: none starts after the end of the run.
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the run ended",
            ));
        }
        let socket = bound_socket(cfg.addr, cfg.source(i))?;
        lean_congestion_control(&socket);
        socket.connect_timeout(&cfg.addr.into(), cfg.op_timeout.min(left))?;
        socket.set_tcp_nodelay(true)?;
        Ok(socket.into())
    };
    let stream = connect().map_err(|e| worker.error(kind_of(&e))).ok();
    let alive = stream.is_some();
    Conn {
        stream,
        worker,
        at: 0,
        back: vec![0u8; payload],
        started: Instant::now(),
        n: 0,
        in_flight: 0,
        sent: 0,
        got: 0,
        alive,
    }
}

impl Conn {
    /// The socket, for an entry (-1, which the kernel refuses, if there is none).
    fn fd(&self) -> types::Fd {
        types::Fd(self.stream.as_ref().map_or(-1, |s| s.as_raw_fd()))
    }
}

/// Submits connection `i`'s next message: a send linked to the recv of its echo.
fn submit(ring: &mut IoUring, c: &mut Conn, i: usize, block: &[u8], len: u32) {
    c.n += 1;
    c.at = ((i as u64 * 7919 + c.n * u64::from(len)) % BLOCK as u64) as usize;
    c.sent = 0;
    c.got = 0;
    c.started = Instant::now();
    let fd = c.fd();
    let send = opcode::Send::new(fd, block[c.at..].as_ptr(), len)
        .build()
        .flags(squeue::Flags::IO_LINK)
        .user_data(user_data(i, SEND));
    let recv = opcode::Recv::new(fd, c.back.as_mut_ptr(), len)
        .flags(libc::MSG_WAITALL)
        .build()
        .user_data(user_data(i, RECV));
    // The pair goes in together, so that a submission never cuts the link between them.
    if push(ring, &[send, recv]) {
        c.in_flight += 2;
    } else {
        c.worker.error("submit");
        quit(c);
    }
}

/// Ends a connection: shutting it down completes whatever the kernel still has queued on it.
fn quit(c: &mut Conn) {
    c.alive = false;
    if let Some(s) = &c.stream {
        let _ = s.shutdown(Shutdown::Both);
    }
}
