//! The load client's io_uring engines: one thread and one ring each, for the modes whose cost per
//! message is mostly system calls. [`ping_pong`] links each message's send to the recv of its
//! echo; [`per_request`] links a whole request (connect, send, recv, close). Both cut messages from
//! one precomputed seeded block and check echoes with a slice compare, allocating nothing per
//! message. When the ring cannot be set up (an old kernel, a seccomp filter,
//! `kernel.io_uring_disabled`), each says why and the caller uses tokio.

use super::{LoadConfig, LoadMode, Worker};
use io_uring::{squeue, types, IoUring};
use socket2::{Domain, Socket, Type};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

mod per_request;
mod ping_pong;

use per_request::per_request;
use ping_pong::ping_pong;

/// Runs the modes io_uring drives (ping-pong and a connection per request) and names the
/// task-work mode they ran with; `Err` is why the ring cannot be used here (nothing has been sent
/// then), and `None` a mode it does not drive.
pub(super) fn run(
    cfg: &LoadConfig,
    from: Instant,
    end: Instant,
) -> Option<Result<(Vec<Worker>, &'static str), String>> {
    match cfg.mode {
        LoadMode::PingPong {
            connections,
            payload,
        } => Some(ping_pong(cfg, connections, payload, from, end)),
        LoadMode::ConnPerRequest {
            concurrency,
            payload,
        } => Some(per_request(cfg, concurrency, payload, from, end)),
        _ => None,
    }
}

/// The precomputed block messages are cut from (plus one message, so a slice never wraps).
const BLOCK: usize = 64 * 1024;

/// How long one wait in the kernel lasts at most before the loop looks at the clock.
const TICK: Duration = Duration::from_millis(50);

/// The task-work mode that lets an engine know, between two waits, that nothing it submitted has
/// run: the first of [`TASK_WORK`].
const DEFERRED: &str = "deferred task work";

/// What a task-work mode asks of the ring's builder.
type Setup = fn(&mut io_uring::Builder);

/// How the ring runs the work the kernel hands back to this thread (a recv whose data arrived):
/// the cheapest the kernel offers, named in the report's engine.
const TASK_WORK: [(&str, Setup); 3] = [
    // Linux 6.1+: run only when this thread waits for completions, with no interrupt to kick it
    // and one wake-up per wait; the interrupts are otherwise the client's largest cost in
    // ping-pong (`docs/model-tuning.md` has the measurements).
    (DEFERRED, |b| {
        b.setup_single_issuer().setup_defer_taskrun();
    }),
    // Linux 5.19+: no interrupt, but run at the thread's next entry into the kernel.
    ("cooperative task work", |b| {
        b.setup_coop_taskrun();
    }),
    // Older kernels: the kernel interrupts this thread for each arrival.
    ("signalled task work", |_| {}),
];

/// A ring of `entries` with the cheapest task-work mode this kernel accepts, and its name.
pub(super) fn ring(entries: u32) -> Result<(IoUring, &'static str), String> {
    let mut why = String::new();
    for (name, setup) in TASK_WORK {
        let mut builder = IoUring::builder();
        setup(&mut builder);
        match builder.build(entries) {
            Ok(ring) => return Ok((ring, name)),
            // An older kernel refuses a setup flag it does not know: try the next mode.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                why = format!("io_uring_setup: {e}")
            }
            Err(e) => return Err(format!("io_uring_setup: {e}")),
        }
    }
    Err(why)
}

/// A TCP socket for `server`, bound to `source` when given, its port picked at connect time by the
/// whole 4-tuple (`IP_BIND_ADDRESS_NO_PORT`), as a plain connect picks it and as the tokio modes do.
fn bound_socket(server: SocketAddr, source: Option<IpAddr>) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(server), Type::STREAM, None)?;
    if let Some(ip) = source {
        if ip.is_ipv4() {
            let no_port = nix::sys::socket::sockopt::IpBindAddressNoPort;
            nix::sys::socket::setsockopt(&socket, no_port, &true).map_err(std::io::Error::from)?;
        }
        socket.bind(&SocketAddr::new(ip, 0).into())?;
    }
    Ok(socket)
}

/// Queues `entries` together, first submitting what is queued when there is no room for all of
/// them. `false` when the kernel took nothing in 100 tries: then none was queued, and the
/// caller ends that connection.
pub(super) fn push(ring: &mut IoUring, entries: &[squeue::Entry]) -> bool {
    for _ in 0..100 {
        let mut sq = ring.submission();
        if sq.capacity() - sq.len() >= entries.len() {
            for entry in entries {
                // SAFETY: every buffer an entry points into (the block, a connection's `back`)
                // outlives the entry: each engine keeps them until every entry in flight has
                // completed, and its drain leaks them rather than free them while the kernel holds
                // any (the ring itself may be dropped; the buffers stay). The server's address
                // for a connect is copied by the kernel when the entry is issued, within the
                // submitting call. Room for all of them was checked just above.
                if unsafe { sq.push(entry) }.is_err() {
                    return false;
                }
            }
            return true;
        }
        drop(sq);
        let _ = ring.submit();
    }
    false
}

/// Submits what is queued and waits up to `limit` for at least one completion; returns every
/// completion there is, as (user data, result). An expired wait, an interrupt, a full completion
/// queue (`EBUSY`) or a passing shortage (`EAGAIN`) is not an error: the caller looks at the clock
/// and waits again (its loop has a deadline).
/// `Err` is the ring itself failing.
pub(super) fn wait(ring: &mut IoUring, limit: Duration) -> std::io::Result<Vec<(u64, i32)>> {
    let limit = types::Timespec::from(limit.max(Duration::from_micros(100)));
    let args = types::SubmitArgs::new().timespec(&limit);
    match ring.submitter().submit_with_args(1, &args) {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
            ) => {}
        Err(e) => return Err(e),
    }
    Ok(ring
        .completion()
        .map(|cqe| (cqe.user_data(), cqe.result()))
        .collect())
}
