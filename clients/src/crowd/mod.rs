//! Many connections at once: connect storms and crowds of idle holders.
//!
//! Connections are opened in bursts of non-blocking connects watched with one `poll(2)`, so a
//! full accept queue or a server that stopped accepting shows up as counts of refusals and
//! timeouts rather than as one long hang.
//!
//! This file holds the bursts of connects ([`open_many`], [`Tally`]) and the client's own limits
//! ([`crowd_out_of_reach`]); `held.rs` holds the [`Crowd`] of idle connections, `storm.rs` the
//! connect storms and `pool.rs` the search for a server's pool size.
//!
//! ```no_run
//! use echo_clients::crowd::{open_many, Crowd};
//! use std::time::{Duration, Instant};
//!
//! let addr = "127.0.0.1:7007".parse().unwrap();
//! let deadline = Instant::now() + Duration::from_secs(10);
//! let (crowd, tally) = open_many(addr, 1000, 200, Duration::from_secs(2), deadline);
//! println!("{tally}");
//! crowd.reset_all();
//! ```

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Protocol, Socket, Type};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

mod held;
mod pool;
mod storm;
pub use held::Crowd;
pub use pool::{measure_pool, PoolSize};
pub use storm::storm;

/// How a batch of connects went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Connections established.
    pub opened: u32,
    /// Connects refused (nothing listening, or the queue overflowed with a reset).
    pub refused: u32,
    /// Connects still pending after their timeout.
    pub timed_out: u32,
    /// Connects that failed otherwise (including the client's own descriptor limit).
    pub failed: u32,
    /// Connects never attempted because the overall deadline passed.
    pub not_attempted: u32,
    /// Connections established whose probe was not echoed in time (storms only).
    pub unanswered: u32,
    /// The first error seen, for evidence.
    pub first_error: Option<String>,
    /// True when the client itself ran out of descriptors (its RLIMIT_NOFILE): the count says where
    /// the client stopped, not the server.
    pub client_limit: bool,
    /// How long the whole batch took.
    pub elapsed: Duration,
}

impl Tally {
    /// Connects that did not succeed, for any reason.
    pub fn unsuccessful(&self) -> u32 {
        self.refused + self.timed_out + self.failed + self.not_attempted + self.unanswered
    }

    pub(super) fn error(&mut self, what: String) {
        self.first_error.get_or_insert(what);
    }

    /// Counts a connect that ended in error `e`: refused, or failed for another reason.
    pub(super) fn connect_failed(&mut self, e: &io::Error) {
        if e.kind() == io::ErrorKind::ConnectionRefused {
            self.refused += 1;
        } else {
            self.failed += 1;
        }
        self.error(format!("connect: {e}"));
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.opened + self.unsuccessful() - self.unanswered;
        write!(
            f,
            "{} of {total} connected in {:.2} s ({} refused, {} timed out, {} failed, {} not attempted",
            self.opened,
            self.elapsed.as_secs_f64(),
            self.refused,
            self.timed_out,
            self.failed,
            self.not_attempted
        )?;
        if self.unanswered > 0 {
            write!(f, ", {} connected but not echoed", self.unanswered)?;
        }
        f.write_str(")")?;
        if let Some(e) = &self.first_error {
            write!(f, "; first error: {e}")?;
        }
        Ok(())
    }
}

/// Names the client's own descriptor limit in an error, which also marks the tally.
const CLIENT_LIMIT_HINT: &str = "the client's own RLIMIT_NOFILE";

/// One `poll(2)` over `fds` for at most `ms`: which of them have any event. An interrupted call
/// counts as none ready.
pub(super) fn ready_flags(fds: &mut [PollFd], ms: u16) -> Result<Vec<bool>, nix::errno::Errno> {
    match poll(fds, PollTimeout::from(ms)) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
            .collect()),
        Err(e) => Err(e),
    }
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit, so that a crowd of thousands of
/// connections fits. Returns the soft limit before and after, or `None` when it cannot be read.
pub fn raise_nofile_limit() -> Option<(u64, u64)> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        Some((soft, hard))
    } else {
        Some((soft, soft))
    }
}

/// Descriptors the client keeps free for itself beside a crowd (files, pipes, the runner's own).
const SPARE_FDS: u64 = 64;

/// Why this process cannot hold `need` connections to one address at once, or `None` when it can,
/// judged from its limits before trying: the soft RLIMIT_NOFILE less the descriptors open now,
/// and the ephemeral port range (one source address and port per connection to one destination).
/// A case that asks for more is reported at once instead of running into the wall.
pub fn crowd_out_of_reach(need: u64) -> Option<String> {
    use nix::sys::resource::{getrlimit, Resource};
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    let fds = soft.saturating_sub(open + SPARE_FDS);
    let ports = ephemeral_ports();
    let mut limits = Vec::new();
    if need > fds {
        limits.push(format!(
            "its RLIMIT_NOFILE of {soft} leaves {fds} descriptors ({open} open, {SPARE_FDS} kept spare)"
        ));
    }
    if let Some(ports) = ports.filter(|p| need > *p) {
        limits.push(format!(
            "net.ipv4.ip_local_port_range gives {ports} source ports per destination"
        ));
    }
    (!limits.is_empty()).then(|| {
        format!(
            "the client cannot hold {need} connections here: {}",
            limits.join("; ")
        )
    })
}

/// How many ports `net.ipv4.ip_local_port_range` spans.
fn ephemeral_ports() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|n| n.parse::<u64>().ok());
    let (lo, hi) = (it.next()??, it.next()??);
    Some(hi.saturating_sub(lo) + 1)
}

/// A connect in progress, and when it started.
pub(super) struct Pending {
    pub(super) socket: Socket,
    pub(super) since: Instant,
}

/// Starts `count` non-blocking connects; those that fail at once are counted in `tally`.
pub(super) fn start_burst(addr: SocketAddr, count: u32, tally: &mut Tally) -> Vec<Pending> {
    let mut pending = Vec::with_capacity(count as usize);
    for _ in 0..count {
        match begin_connect(addr) {
            Ok(socket) => pending.push(Pending {
                socket,
                since: Instant::now(),
            }),
            Err((refused, e)) => {
                if refused {
                    tally.refused += 1;
                } else {
                    tally.failed += 1;
                }
                tally.client_limit |= e.contains(CLIENT_LIMIT_HINT);
                tally.error(e);
            }
        }
    }
    pending
}

/// Opens `n` connections to `addr`, `burst` at a time; each connect has `timeout`, and no
/// burst starts after `deadline` or after a burst in which a connect failed (the rest count as
/// not attempted). The established connections are returned (non-blocking, TCP_NODELAY) for the
/// caller to hold.
pub fn open_many(
    addr: SocketAddr,
    n: u32,
    burst: u32,
    timeout: Duration,
    deadline: Instant,
) -> (Crowd, Tally) {
    open_many_paced(addr, n, burst, Duration::ZERO, timeout, deadline)
}

/// [`open_many`] with a pause after each burst but the last (cut short at `deadline`): clients
/// that arrive over time, so that a server's short `listen` queue is not what is tested.
pub fn open_many_paced(
    addr: SocketAddr,
    n: u32,
    burst: u32,
    pause: Duration,
    timeout: Duration,
    deadline: Instant,
) -> (Crowd, Tally) {
    let mut crowd = Crowd::default();
    let tally = in_bursts(n, burst, pause, deadline, |_, this, tally| {
        let pending = start_burst(addr, this, tally);
        settle(pending, timeout, tally, &mut crowd);
        // Once a connect failed, not all `n` can be held: the answer is known, and another
        // burst would only wait out more connect timeouts. (With no descriptor left for another
        // socket, the rest would fail the same way.)
        tally.unsuccessful() == 0
    });
    (crowd, tally)
}

/// Runs `burst_of(first, count, tally)` for successive bursts of at most `burst` of `n`
/// connections, `pause` apart (cut short at `deadline`), and returns the tally with its elapsed
/// time. It stops early when `deadline` has passed before a burst or `burst_of` returns false;
/// the rest are counted as not attempted.
pub(super) fn in_bursts(
    n: u32,
    burst: u32,
    pause: Duration,
    deadline: Instant,
    mut burst_of: impl FnMut(u32, u32, &mut Tally) -> bool,
) -> Tally {
    let start = Instant::now();
    let mut tally = Tally::default();
    let burst = burst.max(1);
    let mut started = 0u32;
    while started < n {
        if started > 0 && !pause.is_zero() {
            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        }
        if Instant::now() >= deadline {
            tally.not_attempted = n - started;
            tally.error("the step's deadline passed before every connect was attempted".into());
            break;
        }
        let this = burst.min(n - started);
        let go_on = burst_of(started, this, &mut tally);
        started += this;
        if !go_on {
            tally.not_attempted = n - started;
            break;
        }
    }
    tally.elapsed = start.elapsed();
    tally
}

/// Starts one non-blocking connect: `Ok` in progress (or done), `Err((refused, why))` failed at once.
fn begin_connect(addr: SocketAddr) -> Result<Socket, (bool, String)> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| {
            let why = if e.raw_os_error() == Some(libc::EMFILE) {
                let limit =
                    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                        .map_or_else(
                            |_| "?".to_string(),
                            |(soft, hard)| format!("{soft} (hard {hard})"),
                        );
                format!("socket(): {e}: {CLIENT_LIMIT_HINT} of {limit} is reached")
            } else {
                format!("socket(): {e}")
            };
            (false, why)
        })?;
    socket
        .set_nonblocking(true)
        .map_err(|e| (false, format!("O_NONBLOCK: {e}")))?;
    match socket.connect(&addr.into()) {
        Ok(()) => Ok(socket),
        Err(e)
            if e.raw_os_error() == Some(libc::EINPROGRESS)
                || e.kind() == io::ErrorKind::WouldBlock =>
        {
            Ok(socket)
        }
        Err(e) => Err((
            e.kind() == io::ErrorKind::ConnectionRefused,
            format!("connect to {addr}: {e}"),
        )),
    }
}

/// Waits for every pending connect of a burst to finish or time out.
fn settle(mut pending: Vec<Pending>, timeout: Duration, tally: &mut Tally, crowd: &mut Crowd) {
    while !pending.is_empty() {
        let now = Instant::now();
        let oldest = pending.iter().map(|p| p.since).min().unwrap_or(now);
        let wait = (oldest + timeout).saturating_duration_since(now);
        let ms = wait.as_millis().clamp(1, 100) as u16;
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> = pending
                .iter()
                .map(|p| PollFd::new(p.socket.as_fd(), PollFlags::POLLOUT))
                .collect();
            match ready_flags(&mut fds, ms) {
                Ok(r) => r,
                Err(e) => {
                    tally.failed += pending.len() as u32;
                    tally.error(format!("poll: {e}"));
                    return;
                }
            }
        };
        let now = Instant::now();
        let mut still = Vec::with_capacity(pending.len());
        for (p, ready) in pending.into_iter().zip(ready) {
            if ready {
                finish(p.socket, tally, crowd);
            } else if now.duration_since(p.since) >= timeout {
                tally.timed_out += 1;
                tally.error(format!(
                    "a connect was still pending after {} ms",
                    timeout.as_millis()
                ));
            } else {
                still.push(p);
            }
        }
        pending = still;
    }
}

fn finish(socket: Socket, tally: &mut Tally, crowd: &mut Crowd) {
    match socket.take_error() {
        Ok(None) => {
            tally.opened += 1;
            let _ = socket.set_tcp_nodelay(true);
            crowd.streams.push(socket.into());
        }
        Ok(Some(e)) | Err(e) => tally.connect_failed(&e),
    }
}
