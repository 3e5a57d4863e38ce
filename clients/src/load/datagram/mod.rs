//! Datagram mode: `senders` UDP sockets, each keeping up to `window` datagrams in flight to the
//! server (optionally paced to a total `rate`), verifying every answer in full.
//!
//! The senders are non-blocking `std::net::UdpSocket`s driven by plain threads, one per core the
//! process may use, each a `ppoll` loop over its share of the sockets; not tokio tasks. A sender
//! does one `sendto` per datagram and drains every waiting answer after one wake-up, with no
//! reactor, waker or task switch in between, so on a loopback where a datagram costs a few
//! microseconds the figure is the server's and not the runtime's. One loop per core rather than
//! a thread per socket: pinned to one core (as the bench pins it), 4 threads × window 16 had a
//! p99 of 3 ms of scheduling delay where one loop over the same 64 datagrams in flight had 0.3 ms.
//! Pacing and loss deadlines are ppoll timeouts, precise to the microsecond (a socket read
//! timeout is rounded up to the kernel's tick, 4 ms here, which made pacing four times too slow).
//!
//! A datagram not answered within `loss_timeout` is declared lost and never resent, so a window
//! full of overdue datagrams frees itself and the run ends at most `loss_timeout` after the
//! measured window (the time left for answers still in flight). The socket is not connected, so
//! an answer from any other address or port is seen and counted as a mismatch.

mod ledger;
mod sender;
#[cfg(test)]
mod tests;

use super::{LoadConfig, Worker};
use ledger::{Tally, RING};
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

/// Runs the senders on one thread per core this process may use (each thread one `ppoll` loop
/// over its share of the sockets) until `end`, plus the loss timeout for answers in flight, and
/// merges what they counted.
pub(super) fn run(
    cfg: &LoadConfig,
    plan: Plan,
    from: Instant,
    end: Instant,
) -> (Vec<Worker>, DatagramReport) {
    let senders = plan.senders.clamp(1, MAX_SENDERS);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = senders.min(cores);
    let mut report = DatagramReport::default();
    let mut workers = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let ids: Vec<u32> = (t..senders).step_by(threads).map(|i| i as u32).collect();
                s.spawn(move || sender::drive(cfg, plan, &ids, from, end))
            })
            .collect();
        for h in handles {
            let (w, tallies) = h.join().unwrap_or_else(|_| {
                let mut w = Worker::new();
                w.error("task-panicked");
                (w, Vec::new())
            });
            workers.push(w);
            for t in tallies {
                report.add(t);
            }
        }
    });
    (workers, report)
}
