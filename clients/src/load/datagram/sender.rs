//! One thread's loop: its senders' sockets, each with its ledger and pace, driven by one `ppoll`
//! that wakes for an answer, the next paced send or the next loss deadline, whichever is first.

use super::ledger::{Ledger, Tally, HEADER};
use super::{Plan, MAX_SENDERS, MAX_WINDOW};
use crate::load::{kind_of, LoadConfig, Worker};
use nix::poll::{ppoll, PollFd, PollFlags};
use nix::sys::time::TimeSpec;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// Drives the senders `ids` until `end` (and the loss timeout after it); returns this thread's
/// worker (latencies, errors) and each sender's tally.
pub(super) fn drive(
    cfg: &LoadConfig,
    plan: Plan,
    ids: &[u32],
    from: Instant,
    end: Instant,
) -> (Worker, Vec<Tally>) {
    let mut w = Worker::new();
    let len = plan.payload.max(HEADER);
    let window = plan.window.clamp(1, MAX_WINDOW);
    // Each sender paces its share of the total rate; `None` sends as fast as the window allows.
    let interval = plan
        .rate
        .filter(|&r| r > 0)
        .map(|r| Duration::from_secs_f64(plan.senders.clamp(1, MAX_SENDERS) as f64 / r as f64));
    let mut senders: Vec<Sender> = ids
        .iter()
        .filter_map(|&id| match Sender::open(cfg, plan, id, len) {
            Ok(s) => Some(s),
            Err(e) => {
                w.error(kind_of(&e));
                None
            }
        })
        .collect();
    let mut out = vec![0u8; len];
    let mut inbuf = vec![0u8; 64 * 1024];
    let hard_end = end + plan.loss_timeout;
    loop {
        let now = Instant::now();
        let mut wake = hard_end;
        let mut live = false;
        let mut backoff = false;
        for s in &mut senders {
            let due = s.ledger.expire(now, now >= hard_end);
            live |= now < end || s.ledger.in_flight() > 0;
            let (d, b) = s.send_burst(cfg.addr, window, interval, &mut out, from, end, &mut w);
            backoff |= b;
            wake = wake.min(due.or(d).unwrap_or(hard_end));
            if now < end && s.ledger.in_flight() < window {
                wake = wake.min(if interval.is_some() { s.next_send } else { end });
            }
        }
        if now >= hard_end || !live {
            break;
        }
        let mut wait = wake.saturating_duration_since(Instant::now());
        if backoff {
            wait = wait.min(Duration::from_micros(200));
        }
        let ready = readable(&senders, wait);
        match ready {
            Ok(ready) => {
                for (s, r) in senders.iter_mut().zip(ready) {
                    if r {
                        s.drain(window, len, from, &mut inbuf, &mut w);
                    }
                }
            }
            Err(e) => {
                w.error(kind_of(&e.into()));
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    let tallies: Vec<Tally> = senders
        .iter_mut()
        .map(|s| {
            s.ledger.expire(Instant::now(), true);
            s.ledger.tally.clone()
        })
        .collect();
    for t in &tallies {
        w.errors_n("mismatch", t.mismatches);
        w.errors_n("duplicate", t.duplicates);
        w.errors_n("late", t.late);
    }
    (w, tallies)
}

/// Waits up to `wait` (to the microsecond: ppoll's timer, unlike a socket timeout, is not
/// rounded to the kernel's tick) and says which sockets have something to read.
fn readable(senders: &[Sender], wait: Duration) -> nix::Result<Vec<bool>> {
    let mut fds: Vec<PollFd> = senders
        .iter()
        .map(|s| PollFd::new(s.socket.as_fd(), PollFlags::POLLIN))
        .collect();
    match ppoll(&mut fds, Some(TimeSpec::from_duration(wait)), None) {
        Ok(_) => Ok(fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect()),
        Err(nix::errno::Errno::EINTR) => Ok(vec![false; senders.len()]),
        Err(e) => Err(e),
    }
}

/// One sender: its socket (not connected, so strangers are seen), its ledger and its pace.
struct Sender {
    socket: UdpSocket,
    ledger: Ledger,
    next_send: Instant,
}

impl Sender {
    /// A non-blocking socket on the loopback address of the server's family.
    fn open(cfg: &LoadConfig, plan: Plan, id: u32, len: usize) -> std::io::Result<Sender> {
        let local: SocketAddr = if cfg.addr.is_ipv4() {
            (Ipv4Addr::LOCALHOST, 0).into()
        } else {
            (Ipv6Addr::LOCALHOST, 0).into()
        };
        let socket = UdpSocket::bind(local)?;
        // Every wait is the loop's ppoll, bounded by the next deadline.
        socket.set_nonblocking(true)?;
        Ok(Sender {
            socket,
            ledger: Ledger::new(id, len, cfg.addr, plan.loss_timeout),
            next_send: Instant::now(),
        })
    }

    /// Sends while the window and the pace allow, at most a window's worth; returns the loss
    /// deadline of the first datagram sent and whether the kernel pushed back.
    #[allow(clippy::too_many_arguments)]
    fn send_burst(
        &mut self,
        server: SocketAddr,
        window: usize,
        interval: Option<Duration>,
        out: &mut [u8],
        from: Instant,
        end: Instant,
        w: &mut Worker,
    ) -> (Option<Instant>, bool) {
        let mut due = None;
        for _ in 0..window {
            let now = Instant::now();
            let paced = interval.is_some() && now < self.next_send;
            if now >= end || self.ledger.in_flight() >= window || paced {
                break;
            }
            self.ledger.compose_next(out);
            match self.socket.send_to(out, server) {
                Ok(_) => self.ledger.record_sent(Instant::now(), from),
                Err(e) => {
                    // A full send buffer is the kernel's back-pressure, not an error.
                    if e.kind() != ErrorKind::WouldBlock {
                        w.error(kind_of(&e));
                    }
                    return (due, true);
                }
            }
            if let Some(iv) = interval {
                // A sender that fell behind (descheduled, or held back by its window) catches up
                // by at most a window's worth of datagrams, never by an unbounded burst.
                let backlog = iv * window as u32;
                self.next_send = (self.next_send + iv).max(now.checked_sub(backlog).unwrap_or(now));
            }
            due = due.or(Some(now + self.ledger.loss_timeout()));
        }
        (due, false)
    }

    /// Reads every answer waiting, up to a bounded number, into the ledger and the worker.
    fn drain(&mut self, window: usize, len: usize, from: Instant, buf: &mut [u8], w: &mut Worker) {
        for _ in 0..2 * window + 64 {
            match self.socket.recv_from(buf) {
                Ok((n, peer)) => {
                    if let Some(sent) = self.ledger.answer(peer, &buf[..n]) {
                        w.completed(sent, from, len);
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                    return
                }
                Err(e) => {
                    w.error(kind_of(&e));
                    return;
                }
            }
        }
    }
}
