//! UDP clients: named datagram sockets that send to an echo server and check every answer (its
//! bytes, that it comes from the server's address and port, that it comes once), and a paced burst
//! that reports loss as a figure.
//!
//! ```no_run
//! use echo_clients::datagram::DatagramSocket;
//! use std::time::{Duration, Instant};
//!
//! let server = "127.0.0.1:7007".parse().unwrap();
//! let mut sock = DatagramSocket::open("main", server).unwrap();
//! sock.send(b"hello".to_vec()).unwrap();
//! let deadline = Instant::now() + Duration::from_secs(2);
//! sock.expect_answers(Duration::from_secs(1), deadline).unwrap();
//! ```

use crate::failure::{Failure, FailureKind};
use crate::payload::hex;
use nix::sys::socket::{setsockopt, sockopt};
use std::collections::VecDeque;
use std::fmt;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Room for the largest datagram plus one byte, so a longer answer cannot pass unnoticed.
const RECV_BUF: usize = 65_536;
/// Answers remembered to tell a duplicate from a stranger.
const REMEMBERED: usize = 64;

/// One UDP socket on a loopback address, not connected, with the datagrams it is owed.
#[derive(Debug)]
pub struct DatagramSocket {
    name: String,
    sock: UdpSocket,
    server: SocketAddr,
    owed: VecDeque<Vec<u8>>,
    answered: VecDeque<Vec<u8>>,
    buf: Vec<u8>,
}

/// What one call to [`DatagramSocket::expect_answers`] or [`DatagramSocket::expect_none`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Bytes in the datagram.
    pub len: usize,
    /// Where it came from.
    pub from: SocketAddr,
}

impl DatagramSocket {
    /// Binds an ephemeral port on the loopback address of `server`'s family.
    pub fn open(name: &str, server: SocketAddr) -> Result<DatagramSocket, Failure> {
        let local: IpAddr = if server.is_ipv4() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            Ipv6Addr::LOCALHOST.into()
        };
        let sock = UdpSocket::bind(SocketAddr::new(local, 0)).map_err(|e| {
            Failure::new(
                FailureKind::Environment,
                format!("cannot bind a UDP socket on {local}: {e}"),
            )
        })?;
        // IP_RECVERR makes an ICMP port unreachable visible on this unconnected socket (the next
        // recvfrom fails with ECONNREFUSED), so a port where nothing listens fails at once
        // instead of running out the wait.
        let recverr = if server.is_ipv4() {
            setsockopt(&sock, sockopt::Ipv4RecvErr, &true)
        } else {
            setsockopt(&sock, sockopt::Ipv6RecvErr, &true)
        };
        recverr.map_err(|e| Failure::new(FailureKind::Environment, format!("IP_RECVERR: {e}")))?;
        Ok(DatagramSocket {
            name: name.to_string(),
            sock,
            server,
            owed: VecDeque::new(),
            answered: VecDeque::new(),
            buf: vec![0; RECV_BUF],
        })
    }

    /// The socket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The socket's own address.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.sock.local_addr().ok()
    }

    /// Datagrams sent and not yet answered.
    pub fn owed(&self) -> usize {
        self.owed.len()
    }

    /// Sends `data` as one datagram to the server; its answer is owed.
    pub fn send(&mut self, data: Vec<u8>) -> Result<(), Failure> {
        self.send_raw(&data)?;
        self.owed.push_back(data);
        Ok(())
    }

    fn send_raw(&self, data: &[u8]) -> Result<(), Failure> {
        match self.sock.send_to(data, self.server) {
            Ok(n) if n == data.len() => Ok(()),
            Ok(n) => Err(Failure::new(
                FailureKind::Io,
                format!("sendto sent {n} of {} B", data.len()),
            )),
            // The error of an earlier datagram's ICMP port unreachable, reported on this send.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => Err(self.refused()),
            Err(e) => Err(Failure::new(
                FailureKind::Io,
                format!("sendto {} ({} B): {e}", self.server, data.len()),
            )),
        }
    }

    /// The failure of a datagram answered by an ICMP port unreachable: nothing is bound there.
    fn refused(&self) -> Failure {
        Failure::new(
            FailureKind::Refused,
            format!(
                "nothing listens on UDP {}: the kernel answered a datagram with ICMP port unreachable",
                self.server
            ),
        )
    }

    /// Waits for the next datagram until `until`: `None` when none came.
    fn recv_until(&mut self, until: Instant) -> Result<Option<(usize, SocketAddr)>, Failure> {
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .map_err(|e| Failure::new(FailureKind::Io, format!("SO_RCVTIMEO: {e}")))?;
            match self.sock.recv_from(&mut self.buf) {
                Ok(got) => return Ok(Some(got)),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Err(self.refused()),
                Err(e) => return Err(Failure::new(FailureKind::Io, format!("recvfrom: {e}"))),
            }
        }
    }

    /// Waits until every owed datagram is answered: one identical datagram each, from the server's
    /// address and port, in any order. A wait of more than `no_progress` for the next answer, or
    /// running past `deadline`, is a HANG.
    pub fn expect_answers(
        &mut self,
        no_progress: Duration,
        deadline: Instant,
    ) -> Result<Vec<Arrival>, Failure> {
        let mut arrivals = Vec::new();
        let total = self.owed.len();
        while !self.owed.is_empty() {
            let until = (Instant::now() + no_progress).min(deadline);
            let Some((len, from)) = self.recv_until(until)? else {
                let first = &self.owed[0];
                return Err(Failure::new(
                    FailureKind::Hang,
                    format!(
                        "{} of {total} datagram(s) got no answer within {} ms; the first unanswered is {} B [{}]",
                        self.owed.len(),
                        no_progress.as_millis(),
                        first.len(),
                        hex(first, 16)
                    ),
                ));
            };
            arrivals.push(Arrival { len, from });
            self.check_answer(len, from)?;
        }
        Ok(arrivals)
    }

    /// Takes a datagram already waiting on this socket, without waiting: where an answer owed to
    /// another socket went instead.
    pub fn take_waiting(&mut self) -> Option<(Vec<u8>, SocketAddr)> {
        self.sock.set_nonblocking(true).ok()?;
        let got = self.sock.recv_from(&mut self.buf).ok();
        let _ = self.sock.set_nonblocking(false);
        got.map(|(len, from)| (self.buf[..len].to_vec(), from))
    }

    /// The datagram owed first, if any.
    pub fn first_owed(&self) -> Option<&[u8]> {
        self.owed.front().map(Vec::as_slice)
    }

    /// Checks one arrived datagram against what is owed, and settles the datagram it answers.
    fn check_answer(&mut self, len: usize, from: SocketAddr) -> Result<(), Failure> {
        let got = &self.buf[..len];
        if from != self.server {
            return Err(Failure::new(
                FailureKind::Mismatch,
                format!(
                    "an answer of {len} B came from {from}, not from {} where the datagram was sent: \
                     a client that connect()s its socket never sees it",
                    self.server
                ),
            ));
        }
        if let Some(i) = self.owed.iter().position(|d| d.as_slice() == got) {
            let done = self.owed.remove(i).unwrap_or_default();
            if self.answered.len() >= REMEMBERED {
                self.answered.pop_front();
            }
            self.answered.push_back(done);
            return Ok(());
        }
        if self.answered.iter().any(|d| d.as_slice() == got) {
            return Err(Failure::new(
                FailureKind::Mismatch,
                format!("a second answer ({len} B) to a datagram already answered"),
            ));
        }
        Err(Failure::new(
            FailureKind::Mismatch,
            match self.owed.front() {
                Some(want) => describe_difference(want, got),
                None => format!("{len} B arrived [{}] when nothing was owed", hex(got, 16)),
            },
        ))
    }

    /// Fails when any datagram arrives within `window`; nothing is owed afterwards either way.
    pub fn expect_none(&mut self, window: Duration) -> Result<(), Failure> {
        let until = Instant::now() + window;
        if let Some((len, from)) = self.recv_until(until)? {
            let got = &self.buf[..len];
            let what = if self.answered.iter().any(|d| d.as_slice() == got) {
                "a second answer to a datagram already answered"
            } else {
                "a datagram nobody here asked for"
            };
            return Err(Failure::new(
                FailureKind::Mismatch,
                format!(
                    "{what}: {len} B [{}] from {from} within the {} ms of expected silence",
                    hex(got, 16),
                    window.as_millis()
                ),
            ));
        }
        Ok(())
    }
}

/// Says how an answer differs from the datagram it should echo.
fn describe_difference(want: &[u8], got: &[u8]) -> String {
    if got.len() < want.len() && want.starts_with(got) {
        return format!(
            "TRUNCATED: the answer holds the first {} of the {} B sent ({} B missing)",
            got.len(),
            want.len(),
            want.len() - got.len()
        );
    }
    if got.len() > want.len() && got.starts_with(want) {
        return format!(
            "the answer holds the {} B sent plus {} B more [{}]",
            want.len(),
            got.len() - want.len(),
            hex(&got[want.len()..], 16)
        );
    }
    let at = want.iter().zip(got).position(|(a, b)| a != b);
    match at {
        Some(i) => {
            let from = i.saturating_sub(4);
            format!(
                "the answer ({} B) differs from the datagram sent ({} B) at byte {i}: expected [{}], got [{}] (from byte {from}); \
                 it may be another sender's answer",
                got.len(),
                want.len(),
                hex(&want[from..want.len().min(from + 12)], 12),
                hex(&got[from..got.len().min(from + 12)], 12)
            )
        }
        None => format!(
            "the answer ({} B) and the datagram sent ({} B) differ in length",
            got.len(),
            want.len()
        ),
    }
}

/// What a burst saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BurstTally {
    /// Datagrams sent.
    pub sent: u32,
    /// Datagrams answered correctly.
    pub answered: u32,
    /// Datagrams given up on.
    pub lost: u32,
    /// Answers to datagrams already answered.
    pub duplicates: u32,
    /// Answers to datagrams already given up on.
    pub late: u32,
    /// Answers that arrived before the answer to an earlier datagram.
    pub reordered: u32,
    /// Answers that match no datagram sent (wrong bytes, truncated, another address).
    pub wrong: u32,
    /// Datagrams never sent: the step's deadline came first, or the burst stopped early.
    pub unsent: u32,
    /// The burst stopped after a window's worth of wrong or duplicate answers.
    pub stopped_early: bool,
    /// Datagrams still in flight when the burst stopped early (neither answered nor lost).
    pub abandoned: u32,
    /// Wall time of the burst in milliseconds.
    pub millis: u64,
}

impl BurstTally {
    /// Lost datagrams in percent of those sent (unsent ones are not lost: they are counted apart).
    pub fn loss_pct(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            f64::from(self.lost) * 100.0 / f64::from(self.sent)
        }
    }
}

impl fmt::Display for BurstTally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sent, {} answered, {} lost ({:.2}%), {} duplicate, {} late, {} reordered, {} wrong, {} unsent, in {} ms",
            self.sent,
            self.answered,
            self.lost,
            self.loss_pct(),
            self.duplicates,
            self.late,
            self.reordered,
            self.wrong,
            self.unsent,
            self.millis
        )?;
        if self.stopped_early {
            write!(
                f,
                " (stopped early on a window of wrong or duplicate answers, {} still in flight)",
                self.abandoned
            )?;
        }
        Ok(())
    }
}

/// The shape of a burst.
#[derive(Debug, Clone, Copy)]
pub struct Burst {
    /// Datagrams in all.
    pub count: u32,
    /// Bytes per datagram (at least 8; the first 8 carry the sequence number).
    pub size: usize,
    /// Datagrams unanswered at once, at most.
    pub in_flight: u32,
    /// A datagram unanswered for this long is lost.
    pub loss_timeout: Duration,
    /// Seeds the filler bytes after the sequence number.
    pub seed: u64,
}

/// The bytes of datagram `seq` of a burst: the sequence number, then seeded filler.
fn burst_datagram(burst: &Burst, seq: u32) -> Vec<u8> {
    let mut data = vec![0u8; burst.size.max(8)];
    data[..8].copy_from_slice(&u64::from(seq).to_be_bytes());
    crate::payload::fill_seeded(burst.seed ^ u64::from(seq), 0, &mut data[8..]);
    data
}

/// Sends a burst from `sock`, keeping at most `in_flight` (at least 1) unanswered, and tallies
/// the answers. Never runs past `deadline`: datagrams unanswered then count as lost, and those not
/// yet sent as `unsent`. It stops early once `in_flight` answers were wrong or duplicated. A send
/// or receive error ends the burst with an `Io` failure.
pub fn burst(
    sock: &mut DatagramSocket,
    b: &Burst,
    deadline: Instant,
) -> Result<BurstTally, Failure> {
    let start = Instant::now();
    let mut tally = BurstTally::default();
    let in_flight = b.in_flight.max(1) as usize;
    // seq -> when it was sent; answered and lost ones are removed.
    let mut pending: VecDeque<(u32, Instant)> = VecDeque::new();
    // What became of each datagram: answered or given up on.
    let mut answered = vec![false; b.count as usize];
    let mut given_up = vec![false; b.count as usize];
    let mut highest_answered: Option<u32> = None;
    let mut next = 0u32;
    while (next < b.count || !pending.is_empty()) && Instant::now() < deadline {
        // A window's worth of wrong or duplicate answers is evidence enough: stop there.
        if (tally.wrong + tally.duplicates) as usize >= in_flight {
            tally.stopped_early = true;
            break;
        }
        while next < b.count && pending.len() < in_flight {
            sock.send_raw(&burst_datagram(b, next))?;
            pending.push_back((next, Instant::now()));
            tally.sent += 1;
            next += 1;
        }
        // Give up on the oldest datagrams once they are overdue.
        while let Some(&(seq, at)) = pending.front() {
            if at.elapsed() < b.loss_timeout {
                break;
            }
            pending.pop_front();
            given_up[seq as usize] = true;
            tally.lost += 1;
        }
        let Some(&(_, oldest)) = pending.front() else {
            continue;
        };
        let until = (oldest + b.loss_timeout).min(deadline);
        let Some((len, from)) = sock.recv_until(until)? else {
            continue;
        };
        let got = &sock.buf[..len];
        let seq = (len >= 8 && from == sock.server)
            .then(|| u64::from_be_bytes(got[..8].try_into().unwrap_or_default()))
            .and_then(|s| u32::try_from(s).ok())
            .filter(|&s| s < next && got == burst_datagram(b, s).as_slice());
        let Some(seq) = seq else {
            tally.wrong += 1;
            continue;
        };
        match pending.iter().position(|&(s, _)| s == seq) {
            Some(i) => {
                pending.remove(i);
                answered[seq as usize] = true;
                tally.answered += 1;
                if highest_answered.is_some_and(|h| seq < h) {
                    tally.reordered += 1;
                }
                highest_answered = highest_answered.max(Some(seq));
            }
            None if answered[seq as usize] => tally.duplicates += 1,
            None if given_up[seq as usize] => tally.late += 1,
            None => tally.wrong += 1,
        }
    }
    // Datagrams still in flight at an early stop were not given their time: not counted lost.
    if tally.stopped_early {
        tally.abandoned = pending.len() as u32;
    } else {
        tally.lost += pending.len() as u32;
    }
    tally.unsent = b.count - next;
    tally.millis = start.elapsed().as_millis() as u64;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_named() {
        assert!(describe_difference(b"abcdef", b"abc")
            .starts_with("TRUNCATED: the answer holds the first 3 of the 6 B"));
        assert!(describe_difference(b"abc", b"abcd").contains("plus 1 B more"));
        assert!(describe_difference(b"abcdef", b"abXdef").contains("at byte 2"));
    }

    #[test]
    fn burst_datagrams_are_distinct_and_carry_their_number() {
        let b = Burst {
            count: 3,
            size: 16,
            in_flight: 1,
            loss_timeout: Duration::from_millis(10),
            seed: 1,
        };
        let (d0, d1) = (burst_datagram(&b, 0), burst_datagram(&b, 1));
        assert_ne!(d0, d1);
        assert_eq!(d1[..8], 1u64.to_be_bytes());
        assert_eq!(d0.len(), 16);
    }
}
