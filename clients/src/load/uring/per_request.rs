//! A connection per request on io_uring: each slot's request is one linked chain of entries (a
//! `connect`, a `send` and a `recv` with `MSG_WAITALL` of its echo, then a `close` hard-linked so
//! that it runs whatever the recv got), so that the client enters the kernel about once per round
//! over all its slots. Only opening the socket (and binding it to its source address) stays a
//! direct system call. As in the tokio mode, every request opens a new connection from the next
//! source address, sends a payload of its own and checks the whole echo before it counts.

use super::{bound_socket, push, ring, wait, BLOCK, DEFERRED, TICK};
use crate::load::{kind_of, LoadConfig, Worker};
use crate::payload::fill_seeded;
use io_uring::{opcode, squeue, types, IoUring};
use socket2::{SockAddr, Socket};
use std::net::Shutdown;
use std::os::fd::{FromRawFd, IntoRawFd, RawFd};
use std::time::{Duration, Instant};

/// The entries of one request, in the order they run; the low bits of their user data.
const CONNECT: u64 = 0;
const SEND: u64 = 1;
const RECV: u64 = 2;
const CLOSE: u64 = 3;
/// Entries per request: each posts one completion, cancelled or not.
const CHAIN: u32 = 4;

fn user_data(slot: usize, op: u64) -> u64 {
    (slot as u64) << 2 | op
}

/// How long a slot whose connect failed waits before its next request (as the tokio mode does),
/// so that a server that refuses is not hammered in a loop.
const BACKOFF: Duration = Duration::from_millis(5);

/// One request slot and the request in flight on it.
struct Slot {
    worker: Worker,
    /// The socket of the request in flight; the chain's `close` ends it.
    fd: RawFd,
    /// Where its payload starts in the block.
    at: usize,
    /// Its echo, as it arrives.
    back: Vec<u8>,
    started: Instant,
    /// When the request times out: `op_timeout` for its connect, then again for its exchange (as
    /// the tokio mode gives each its own).
    deadline: Instant,
    /// Its connect has completed.
    connected: bool,
    n: u64,
    /// Completions still due for the request in flight (0 to [`CHAIN`]).
    in_flight: u32,
    /// Set by the first error of the request in flight: the others it causes are not counted.
    failed: bool,
    /// Its recv has been reaped (the `close` may have run, and the descriptor's number may be
    /// another socket's now).
    received: bool,
    /// No new request before this.
    not_before: Instant,
}

/// Runs `concurrency` request slots of `payload` bytes on io_uring, and names the task-work mode
/// it ran with. `Err` is why it cannot run here (nothing has been sent then).
///
/// A request that times out is ended by shutting its socket down, which needs its descriptor to
/// still be its own. The loop makes sure of that by its order: this thread opens sockets only at
/// the top of an iteration, then waits and reaps every completion there is, and only then shuts
/// down requests whose recv it has not reaped. A close runs only after its recv completes, so a
/// descriptor it closed since the reap can have been reused by no socket of this thread (another
/// thread of the process opens only `/proc` files, on which shutdown fails harmlessly). Two
/// conditions keep that true: no completion may wait in the kernel's overflow list, so the
/// completion queue holds a whole chain per slot (at most 2048 slots); and the deferred task-work
/// mode (Linux 6.1+), under which the close of a recv completed in this thread's wait runs in that
/// wait, which is also the mode this engine was measured with.
pub(in crate::load) fn per_request(
    cfg: &LoadConfig,
    concurrency: usize,
    payload: usize,
    from: Instant,
    end: Instant,
) -> Result<(Vec<Worker>, &'static str), String> {
    let entries = (CHAIN as usize * concurrency)
        .next_power_of_two()
        .clamp(8, 4096) as u32;
    // The completion queue is twice the submission queue: room for every slot's whole chain.
    if CHAIN as usize * concurrency > 2 * entries as usize {
        return Err(format!(
            "{concurrency} requests in flight would overflow the completion queue (2048 at most)"
        ));
    }
    let (mut ring, task_work) = ring(entries)?;
    if task_work != DEFERRED {
        return Err(format!(
            "a connection per request needs deferred task work (Linux 6.1+), and the ring has \
             {task_work}"
        ));
    }
    if !ring.params().is_feature_ext_arg() {
        return Err("the kernel's io_uring lacks IORING_FEAT_EXT_ARG (timed waits)".into());
    }
    let len = u32::try_from(payload).map_err(|_| "payload too large".to_string())?;
    let mut block = vec![0u8; BLOCK + payload];
    fill_seeded(0x51ed, 0, &mut block);
    let server = SockAddr::from(cfg.addr);
    let now = Instant::now();
    let mut slots: Vec<Slot> = (0..concurrency)
        .map(|_| Slot {
            worker: Worker::new(),
            fd: -1,
            at: 0,
            back: vec![0u8; payload],
            started: now,
            deadline: now,
            connected: false,
            n: 0,
            in_flight: 0,
            failed: false,
            received: false,
            not_before: now,
        })
        .collect();
    // Bounded: no request starts after `end`, and each is ended by op_timeout at the latest.
    let stop = end + cfg.op_timeout + TICK;
    loop {
        let now = Instant::now();
        if now >= stop {
            break;
        }
        let mut limit = TICK;
        for (i, s) in slots.iter_mut().enumerate() {
            if s.in_flight > 0 || now >= end {
                continue;
            }
            if now < s.not_before {
                limit = limit.min(s.not_before - now);
                continue;
            }
            start(&mut ring, cfg, s, i, &server, &block, len);
        }
        if now >= end && slots.iter().all(|s| s.in_flight == 0) {
            break;
        }
        let done = match wait(&mut ring, limit) {
            Ok(done) => done,
            Err(e) => {
                for s in slots.iter_mut().filter(|s| s.in_flight > 0 && !s.received) {
                    fail(s, kind_of(&e));
                    cut(s);
                }
                break;
            }
        };
        let now = Instant::now();
        for (data, res) in done {
            let s = &mut slots[(data >> 2) as usize];
            s.in_flight -= 1;
            complete(s, data & 3, res, payload, &block);
            if data & 3 == CONNECT && res >= 0 {
                // The exchange gets an op_timeout of its own from the connect on.
                s.deadline = now + cfg.op_timeout;
            }
            if s.in_flight == 0 && !s.failed {
                s.worker.completed(s.started, from, payload);
            }
        }
        for s in slots.iter_mut().filter(|s| s.in_flight > 0 && !s.received) {
            if now > s.deadline {
                fail(
                    s,
                    if s.connected {
                        "timeout"
                    } else {
                        "connect-timeout"
                    },
                );
                cut(s);
            }
        }
    }
    // Whatever is still in the kernel ends with its socket; wait for it (bounded) before the
    // buffers it writes into are freed.
    for s in slots.iter_mut().filter(|s| s.in_flight > 0 && !s.received) {
        cut(s);
    }
    let drain_until = Instant::now() + Duration::from_secs(1);
    while slots.iter().any(|s| s.in_flight > 0) && Instant::now() < drain_until {
        // The ring itself fails: waiting on it again would only spin until the deadline.
        let Ok(done) = wait(&mut ring, TICK) else {
            break;
        };
        for (data, res) in done {
            let s = &mut slots[(data >> 2) as usize];
            s.in_flight -= 1;
            complete(s, data & 3, res, payload, &block);
            if s.in_flight == 0 && !s.failed {
                s.worker.completed(s.started, from, payload);
            }
        }
    }
    if slots.iter().any(|s| s.in_flight > 0) {
        // The kernel still holds buffers: leak them rather than free memory it may write.
        let workers = slots
            .iter_mut()
            .map(|s| std::mem::replace(&mut s.worker, Worker::new()))
            .collect();
        // (The server's address is copied by the kernel when an entry is submitted.)
        std::mem::forget(slots);
        std::mem::forget(block);
        return Ok((workers, task_work));
    }
    Ok((slots.into_iter().map(|s| s.worker).collect(), task_work))
}

/// Opens slot `i`'s next socket (from the next source address) and submits its request's chain.
/// A socket that cannot be opened or bound is counted, and the slot backs off.
fn start(
    ring: &mut IoUring,
    cfg: &LoadConfig,
    s: &mut Slot,
    i: usize,
    server: &SockAddr,
    block: &[u8],
    len: u32,
) {
    s.n += 1;
    s.started = Instant::now();
    s.deadline = s.started + cfg.op_timeout;
    s.connected = false;
    s.failed = false;
    s.received = false;
    // Nagle stays on: the request is one write.
    let fd = match bound_socket(cfg.addr, cfg.source(i + s.n as usize)) {
        Ok(socket) => socket.into_raw_fd(),
        Err(e) => {
            s.worker.error(kind_of(&e));
            s.not_before = s.started + BACKOFF;
            return;
        }
    };
    s.fd = fd;
    s.at = ((i as u64 * 7919 + s.n * u64::from(len)) % BLOCK as u64) as usize;
    let sock = types::Fd(fd);
    let connect = opcode::Connect::new(sock, server.as_ptr().cast(), server.len())
        .build()
        .flags(squeue::Flags::IO_LINK)
        .user_data(user_data(i, CONNECT));
    // MSG_WAITALL: a short send is retried by the kernel, as the recv's is.
    let send = opcode::Send::new(sock, block[s.at..].as_ptr(), len)
        .flags(libc::MSG_WAITALL)
        .build()
        .flags(squeue::Flags::IO_LINK)
        .user_data(user_data(i, SEND));
    // Hard-linked: the close runs whatever the recv got (but is cancelled with the recv when an
    // earlier entry fails; then `complete` closes the socket itself).
    let recv = opcode::Recv::new(sock, s.back.as_mut_ptr(), len)
        .flags(libc::MSG_WAITALL)
        .build()
        .flags(squeue::Flags::IO_HARDLINK)
        .user_data(user_data(i, RECV));
    let close = opcode::Close::new(sock)
        .build()
        .user_data(user_data(i, CLOSE));
    // The chain goes in together, so that a submission never cuts it.
    if push(ring, &[connect, send, recv, close]) {
        s.in_flight = CHAIN;
    } else {
        s.worker.error("submit");
        // SAFETY: the descriptor was opened above, and nothing was queued on it.
        drop(unsafe { Socket::from_raw_fd(fd) });
        s.not_before = s.started + BACKOFF;
    }
}

/// Takes the completion of entry `op` of a slot's request: counts the request's first error, and
/// checks the echo when the recv got all of it.
fn complete(s: &mut Slot, op: u64, res: i32, payload: usize, block: &[u8]) {
    match op {
        CLOSE => {
            if res < 0 {
                // Cancelled with an earlier entry: the socket is still open.
                // SAFETY: the chain's close did not run, and nothing else closes this descriptor.
                drop(unsafe { Socket::from_raw_fd(s.fd) });
            }
            s.fd = -1;
        }
        RECV => {
            s.received = true;
            if res >= 0 && (res as usize) < payload {
                fail(s, "early-eof");
            } else if res >= 0 && s.back[..] != block[s.at..s.at + payload] {
                fail(s, "mismatch");
            } else if res < 0 {
                os_error(s, res);
            }
        }
        _ => {
            if op == CONNECT && res < 0 {
                s.not_before = Instant::now() + BACKOFF;
            }
            s.connected |= op == CONNECT && res >= 0;
            if res < 0 {
                os_error(s, res);
            } else if op == SEND && (res as usize) < payload {
                fail(s, "short-send");
            }
        }
    }
}

/// Counts a failed entry's error, unless it was only cancelled by an earlier one.
fn os_error(s: &mut Slot, res: i32) {
    if res != -libc::ECANCELED {
        fail(s, kind_of(&std::io::Error::from_raw_os_error(-res)));
    } else {
        s.failed = true;
    }
}

/// Counts `kind` as the request's error, if it is its first.
fn fail(s: &mut Slot, kind: &str) {
    if !s.failed {
        s.failed = true;
        s.worker.error(kind);
    }
}

/// Ends a request whose recv has not been reaped: shutting its socket down completes its pending
/// entries, and its close then runs. Called only after a reap, with no socket opened since (see
/// [`per_request`]).
fn cut(s: &mut Slot) {
    s.failed = true;
    // SAFETY: borrowed only for the call, never closed here. The descriptor is this slot's socket,
    // or (if its close ran since the last reap) a number no socket of this thread has reused.
    let socket = std::mem::ManuallyDrop::new(unsafe { Socket::from_raw_fd(s.fd) });
    let _ = socket.shutdown(Shutdown::Both);
}
