//! The ledger of one sender: what each datagram carries, which are in flight, and what every
//! answer turns out to be. Datagrams live in a ring of slots indexed by sequence number, so the
//! ledger's memory is fixed whatever the rate and an answer is looked up in constant time.
//!
//! A datagram is `HEADER` bytes (sender id, u32 little-endian; sequence number, u64
//! little-endian) followed by filler seeded by both, so an answer meant for another datagram or
//! another sender never passes for this one.
//!
//! Two limits of the ring, both rare at the rates measured here: an answer that arrives after
//! its slot was reused (16 384 datagrams later) counts as a mismatch, not as late; and a datagram
//! answered wrongly, then rightly, counts one mismatch and one duplicate, not an answer, so
//! `sent` can exceed `answered + lost` by the wrongly answered ones.

use crate::payload::{fill_seeded, hex};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Bytes of the header every datagram starts with; shorter payloads are raised to it.
pub(crate) const HEADER: usize = 12;

/// Slots in the ring: a sender's window is at most half of it.
pub(crate) const RING: usize = 1 << 14;

/// Writes datagram `seq` of `sender` into `buf` (whose length is the datagram's, at least `HEADER`).
pub(crate) fn compose(sender: u32, seq: u64, buf: &mut [u8]) {
    let mut head = [0u8; HEADER];
    head[..4].copy_from_slice(&sender.to_le_bytes());
    head[4..].copy_from_slice(&seq.to_le_bytes());
    let n = buf.len().min(HEADER);
    buf[..n].copy_from_slice(&head[..n]);
    if let Some(rest) = buf.get_mut(HEADER..) {
        let seed = 0xda7a_u64 << 32 | u64::from(sender);
        fill_seeded(seed, seq.wrapping_mul(rest.len() as u64), rest);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Empty,
    InFlight,
    Answered,
    Lost,
    /// Answered after it was declared lost.
    Late,
    /// Answered with the wrong bytes.
    Wrong,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: u64,
    sent: Instant,
    measured: bool,
    state: State,
}

/// What one sender counted; datagrams sent during the warm-up are tracked but not counted,
/// while every mismatch is counted (corruption is never hidden).
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    pub(crate) sent: u64,
    pub(crate) answered: u64,
    pub(crate) lost: u64,
    pub(crate) duplicates: u64,
    pub(crate) late: u64,
    pub(crate) reordered: u64,
    pub(crate) mismatches: u64,
    pub(crate) sample: Option<String>,
}

/// One sender's datagrams: the ring, the in-flight ones in send order, and the tally.
pub(crate) struct Ledger {
    sender: u32,
    server: SocketAddr,
    loss_timeout: Duration,
    slots: Vec<Slot>,
    order: VecDeque<u64>,
    in_flight: usize,
    next_seq: u64,
    highest_answered: Option<u64>,
    expected: Vec<u8>,
    pub(crate) tally: Tally,
}

impl Ledger {
    /// A ledger for `sender`, whose datagrams are `len` bytes (at least `HEADER`).
    pub(crate) fn new(sender: u32, len: usize, server: SocketAddr, loss_timeout: Duration) -> Self {
        let now = Instant::now();
        let empty = Slot {
            seq: 0,
            sent: now,
            measured: false,
            state: State::Empty,
        };
        Ledger {
            sender,
            server,
            loss_timeout,
            slots: vec![empty; RING],
            order: VecDeque::new(),
            in_flight: 0,
            next_seq: 0,
            highest_answered: None,
            expected: vec![0; len.max(HEADER)],
            tally: Tally::default(),
        }
    }

    /// How long an answer may take before its datagram is lost.
    pub(crate) fn loss_timeout(&self) -> Duration {
        self.loss_timeout
    }

    /// Datagrams sent and neither answered nor declared lost.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Writes the next datagram into `buf` (the datagram's length).
    pub(crate) fn compose_next(&self, buf: &mut [u8]) {
        compose(self.sender, self.next_seq, buf);
    }

    /// Records that the datagram last composed left at `now`; it counts when `now >= from`.
    pub(crate) fn record_sent(&mut self, now: Instant, from: Instant) {
        let seq = self.next_seq;
        let i = (seq % RING as u64) as usize;
        // A datagram still in flight a whole ring later is long overdue: lost, before its slot
        // is taken.
        if self.slots[i].state == State::InFlight {
            self.declare_lost(i);
        }
        self.slots[i] = Slot {
            seq,
            sent: now,
            measured: now >= from,
            state: State::InFlight,
        };
        self.order.push_back(seq);
        self.in_flight += 1;
        self.next_seq += 1;
        if now >= from {
            self.tally.sent += 1;
        }
    }

    fn slot_of(&self, seq: u64) -> Option<usize> {
        let i = (seq % RING as u64) as usize;
        (self.slots[i].seq == seq && self.slots[i].state != State::Empty).then_some(i)
    }

    fn declare_lost(&mut self, i: usize) {
        self.slots[i].state = State::Lost;
        self.in_flight -= 1;
        if self.slots[i].measured {
            self.tally.lost += 1;
        }
    }

    /// Declares lost every datagram in flight for `loss_timeout` or longer at `now` (all of
    /// them when `all`), and returns when the oldest one left will be overdue.
    pub(crate) fn expire(&mut self, now: Instant, all: bool) -> Option<Instant> {
        while let Some(&seq) = self.order.front() {
            match self.slot_of(seq) {
                Some(i) if self.slots[i].state == State::InFlight => {
                    let due = self.slots[i].sent + self.loss_timeout;
                    if !all && now < due {
                        return Some(due);
                    }
                    self.declare_lost(i);
                }
                _ => {}
            }
            self.order.pop_front();
        }
        None
    }

    fn mismatch(&mut self, evidence: String) {
        self.tally.mismatches += 1;
        if self.tally.sample.is_none() {
            self.tally.sample = Some(evidence);
        }
    }

    /// Classifies an answer from `peer`; returns when its datagram was sent if it is the first
    /// correct answer to a datagram in flight.
    pub(crate) fn answer(&mut self, peer: SocketAddr, data: &[u8]) -> Option<Instant> {
        if peer != self.server {
            self.mismatch(format!(
                "sender {}: {} bytes from {peer}, not from the server {}",
                self.sender,
                data.len(),
                self.server
            ));
            return None;
        }
        let (Some(id), Some(seq)) = (data.get(..4), data.get(4..HEADER)) else {
            self.mismatch(format!(
                "sender {}: {} bytes ({}), shorter than the {HEADER}-byte header",
                self.sender,
                data.len(),
                hex(data, HEADER)
            ));
            return None;
        };
        let id = u32::from_le_bytes(id.try_into().unwrap_or_default());
        let seq = u64::from_le_bytes(seq.try_into().unwrap_or_default());
        let Some(i) = (id == self.sender).then(|| self.slot_of(seq)).flatten() else {
            self.mismatch(format!(
                "sender {}: answer for sender {id}, datagram {seq} matches nothing sent",
                self.sender
            ));
            return None;
        };
        compose(self.sender, seq, &mut self.expected);
        if data != self.expected {
            let evidence = match data.iter().zip(&self.expected).position(|(a, b)| a != b) {
                Some(at) => format!(
                    "sender {}, datagram {seq}: byte {at} is {:02x}, {:02x} was sent",
                    self.sender, data[at], self.expected[at]
                ),
                None => format!(
                    "sender {}, datagram {seq}: {} bytes back, {} sent",
                    self.sender,
                    data.len(),
                    self.expected.len()
                ),
            };
            self.mismatch(evidence);
            if self.slots[i].state == State::InFlight {
                self.slots[i].state = State::Wrong;
                self.in_flight -= 1;
            }
            return None;
        }
        let slot = self.slots[i];
        let count = |n: &mut u64| *n += u64::from(slot.measured);
        match slot.state {
            State::InFlight => {
                self.slots[i].state = State::Answered;
                self.in_flight -= 1;
                count(&mut self.tally.answered);
                if self.highest_answered.is_some_and(|h| seq < h) {
                    count(&mut self.tally.reordered);
                }
                self.highest_answered = self.highest_answered.max(Some(seq));
                Some(slot.sent)
            }
            State::Lost => {
                self.slots[i].state = State::Late;
                count(&mut self.tally.late);
                None
            }
            State::Answered | State::Late | State::Wrong | State::Empty => {
                count(&mut self.tally.duplicates);
                None
            }
        }
    }
}
