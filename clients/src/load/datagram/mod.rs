//! Datagram mode: `senders` UDP sockets, each keeping up to `window` datagrams in flight to the
//! server (optionally paced to a total `rate`), verifying every answer in full.
//!
//! Each sender is a plain thread with its own non-blocking `std::net::UdpSocket` and a `ppoll`
//! loop, not a tokio task: a sender does one `sendto` per datagram and drains every waiting
//! answer after one wake-up, with no reactor, waker or task switch in between, so on a loopback
//! where a datagram costs a few microseconds the figure is the server's and not the runtime's.
//! Pacing and loss deadlines are ppoll timeouts, precise to the microsecond (a socket read
//! timeout is rounded up to the kernel's tick, 4 ms here, which made pacing four times too slow).
//! The senders are few (one socket each), so a thread each costs nothing.
//!
//! A datagram not answered within `loss_timeout` is declared lost and never resent, so a window
//! full of overdue datagrams frees itself and the run ends at most `loss_timeout` after the
//! measured window (the time left for answers still in flight). The socket is not connected, so
//! an answer from any other address or port is seen and counted as a mismatch.

mod ledger;
#[cfg(test)]
mod tests;

use super::{kind_of, LoadConfig, Worker};
use ledger::{Ledger, Tally, HEADER, RING};
use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::time::TimeSpec;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// The largest datagram payload this mode sends (the IPv4 UDP limit).
pub const MAX_PAYLOAD: usize = 65_507;

/// The largest window: half the ring of slots each sender keeps.
pub const MAX_WINDOW: usize = RING / 2;

/// The most senders (threads) a run starts.
pub const MAX_SENDERS: usize = 1024;

/// The datagram figures of a run, beside the common ones in [`super::LoadReport`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatagramReport {
    /// Datagrams sent in the measured window.
    pub sent: u64,
    /// Of those, answered correctly (the first answer).
    pub answered: u64,
    /// Of those, not answered within the loss timeout.
    pub lost: u64,
    /// Extra correct answers to a datagram already answered.
    pub duplicates: u64,
    /// Correct answers to a datagram already declared lost.
    pub late: u64,
    /// Answers arriving after the answer to a later datagram of the same sender.
    pub reordered: u64,
    /// Answers that matched nothing sent, came from another address, or were truncated or
    /// altered (counted over the whole run, warm-up included).
    pub mismatches: u64,
    /// The evidence of the first mismatch.
    pub mismatch_sample: Option<String>,
}

impl DatagramReport {
    /// Lost datagrams as a percentage of those sent.
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            100.0 * self.lost as f64 / self.sent as f64
        }
    }

    fn add(&mut self, t: Tally) {
        self.sent += t.sent;
        self.answered += t.answered;
        self.lost += t.lost;
        self.duplicates += t.duplicates;
        self.late += t.late;
        self.reordered += t.reordered;
        self.mismatches += t.mismatches;
        if self.mismatch_sample.is_none() {
            self.mismatch_sample = t.sample;
        }
    }
}

/// What one sender does.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    pub(super) senders: usize,
    pub(super) payload: usize,
    pub(super) window: usize,
    pub(super) rate: Option<u64>,
    pub(super) loss_timeout: Duration,
}

/// Runs every sender on its own thread until `end` (plus the loss timeout for answers in
/// flight) and merges what they counted.
pub(super) fn run(
    cfg: &LoadConfig,
    plan: Plan,
    from: Instant,
    end: Instant,
) -> (Vec<Worker>, DatagramReport) {
    let mut report = DatagramReport::default();
    let mut workers = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..plan.senders.clamp(1, MAX_SENDERS))
            .map(|i| s.spawn(move || sender(cfg, plan, i as u32, from, end)))
            .collect();
        for h in handles {
            let (w, t) = h.join().unwrap_or_else(|_| {
                let mut w = Worker::new();
                w.error("task-panicked");
                (w, Tally::default())
            });
            workers.push(w);
            report.add(t);
        }
    });
    (workers, report)
}

/// Waits up to `wait` (to the microsecond: ppoll's timer, unlike a socket timeout, is not
/// rounded to the kernel's tick) for `socket` to be readable; false on a timeout or a signal.
fn readable(socket: &UdpSocket, wait: Duration) -> nix::Result<bool> {
    let mut fds = [PollFd::new(socket.as_fd(), PollFlags::POLLIN)];
    match ppoll(&mut fds, Some(TimeSpec::from_duration(wait)), None) {
        Ok(n) => Ok(n > 0),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(e) => Err(e),
    }
}

fn sender(cfg: &LoadConfig, plan: Plan, id: u32, from: Instant, end: Instant) -> (Worker, Tally) {
    let mut w = Worker::new();
    let local: SocketAddr = if cfg.addr.is_ipv4() {
        (Ipv4Addr::LOCALHOST, 0).into()
    } else {
        (Ipv6Addr::LOCALHOST, 0).into()
    };
    let socket = match UdpSocket::bind(local) {
        Ok(s) => s,
        Err(e) => {
            w.error(kind_of(&e));
            return (w, Tally::default());
        }
    };
    // Non-blocking: every wait is the ppoll below, bounded by the next deadline.
    if let Err(e) = socket.set_nonblocking(true) {
        w.error(kind_of(&e));
        return (w, Tally::default());
    }
    let len = plan.payload.max(HEADER);
    let window = plan.window.clamp(1, MAX_WINDOW);
    let mut ledger = Ledger::new(id, len, cfg.addr, plan.loss_timeout);
    let mut out = vec![0u8; len];
    let mut inbuf = vec![0u8; 64 * 1024];
    // Each sender paces its share of the total rate; `None` sends as fast as the window allows.
    let interval = plan
        .rate
        .filter(|&r| r > 0)
        .map(|r| Duration::from_secs_f64(plan.senders.clamp(1, MAX_SENDERS) as f64 / r as f64));
    let mut next_send = Instant::now();
    let hard_end = end + plan.loss_timeout;
    loop {
        let now = Instant::now();
        let mut due = ledger.expire(now, now >= hard_end);
        if now >= hard_end || (now >= end && ledger.in_flight() == 0) {
            break;
        }
        let mut backoff = false;
        // Sends while the window and the pace allow, at most a window's worth per turn.
        for _ in 0..window {
            let now = Instant::now();
            if now >= end || ledger.in_flight() >= window || interval.is_some() && now < next_send {
                break;
            }
            ledger.compose_next(&mut out);
            match socket.send_to(&out, cfg.addr) {
                Ok(_) => ledger.record_sent(Instant::now(), from),
                Err(e) => {
                    // A full send buffer is the kernel's back-pressure, not an error.
                    if e.kind() != ErrorKind::WouldBlock {
                        w.error(kind_of(&e));
                    }
                    backoff = true;
                    break;
                }
            }
            if let Some(iv) = interval {
                // A sender held back by its window does not burst to catch up later.
                next_send = (next_send + iv).max(now.checked_sub(iv).unwrap_or(now));
            }
            due = due.or(Some(now + plan.loss_timeout));
        }
        let mut wake = due.unwrap_or(hard_end).min(hard_end);
        if now < end && ledger.in_flight() < window {
            wake = wake.min(if interval.is_some() { next_send } else { end });
        }
        let mut wait = wake.saturating_duration_since(Instant::now());
        if backoff {
            wait = wait.min(Duration::from_micros(200));
        }
        match readable(&socket, wait) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                w.error(kind_of(&e.into()));
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
        }
        // Reads every answer waiting, up to a bounded number per turn.
        for _ in 0..2 * window + 64 {
            match socket.recv_from(&mut inbuf) {
                Ok((n, peer)) => {
                    if let Some(sent) = ledger.answer(peer, &inbuf[..n]) {
                        w.completed(sent, from, len);
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                    break
                }
                Err(e) => {
                    w.error(kind_of(&e));
                    break;
                }
            }
        }
    }
    ledger.expire(Instant::now(), true);
    let t = ledger.tally.clone();
    for (kind, n) in [
        ("mismatch", t.mismatches),
        ("duplicate", t.duplicates),
        ("late", t.late),
    ] {
        w.errors_n(kind, n);
    }
    (w, t)
}
