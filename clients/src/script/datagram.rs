//! The UDP steps of the script executor (`udp_open`, `udp_on`, `udp_send`, `udp_expect_echo`,
//! `udp_expect_none`, `udp_burst`, `udp_close`), on the script's table of named UDP sockets.

use super::Executor;
use crate::conn::Limits;
use crate::datagram::{burst, Burst, DatagramSocket};
use crate::failure::{Failure, FailureKind};
use crate::payload::with_seed_offset;
use crate::transcript::EventKind;
use echo_spec::{IpFamily, Payload, Step};
use std::time::Duration;

/// Seed of the datagrams `udp_burst` sends (plus the client's seed offset).
const BURST_SEED: u64 = 0x0B0B_57ED;

impl Executor<'_, '_> {
    /// Runs one `udp_*` step, within `limits`.
    pub(super) fn datagram_step(&mut self, step: &Step, limits: Limits) -> Result<(), Failure> {
        match step {
            Step::UdpOpen { name, family } => self.udp_open(name, *family),
            Step::UdpOn { name } => self.udp_on(name),
            Step::UdpClose => self.udp_close(),
            Step::UdpSend { payload } => self.udp_send(payload),
            Step::UdpExpectEcho => self.udp_expect_echo(limits),
            Step::UdpExpectNone { ms } => self.udp_expect_none(*ms),
            Step::UdpBurst {
                count,
                size,
                in_flight,
                max_loss_pct,
            } => self.udp_burst(*count, *size, *in_flight, *max_loss_pct, limits),
            other => unreachable!("`{}` is not a UDP step", other.name()),
        }
    }

    /// `udp_open`: opens UDP socket `name` towards the server over `family` (the run's address
    /// when `None`) and makes it current.
    fn udp_open(&mut self, name: &str, family: Option<IpFamily>) -> Result<(), Failure> {
        let sock = DatagramSocket::open(name, self.over(family))?;
        if let Some(local) = sock.local_addr() {
            let note = format!("udp socket `{name}` bound to {local}");
            self.transcript.record(name, EventKind::Note(note));
        }
        self.udp.insert(name.to_string(), sock);
        self.udp_current = Some(name.to_string());
        Ok(())
    }

    /// `udp_on`: makes the open UDP socket `name` current.
    fn udp_on(&mut self, name: &str) -> Result<(), Failure> {
        if !self.udp.contains_key(name) {
            return Err(Failure::new(
                FailureKind::Io,
                format!("no open UDP socket named `{name}`"),
            ));
        }
        self.udp_current = Some(name.to_string());
        Ok(())
    }

    /// The name of the current UDP socket.
    fn udp_name(&self) -> Result<String, Failure> {
        self.udp_current
            .clone()
            .ok_or_else(|| Failure::new(FailureKind::Io, "no open UDP socket"))
    }

    /// The current UDP socket, with its name.
    fn udp_socket(&mut self) -> Result<(String, &mut DatagramSocket), Failure> {
        let name = self.udp_name()?;
        let sock = self.udp.get_mut(&name).ok_or_else(|| {
            Failure::new(FailureKind::Io, format!("UDP socket `{name}` is closed"))
        })?;
        Ok((name, sock))
    }

    /// `udp_close`: closes the current UDP socket.
    fn udp_close(&mut self) -> Result<(), Failure> {
        let name = self.udp_name()?;
        self.udp.remove(&name);
        self.udp_current = None;
        self.transcript.record(&name, EventKind::Closed);
        Ok(())
    }

    /// `udp_send`: sends `payload` as one datagram and owes its answer.
    fn udp_send(&mut self, payload: &Payload) -> Result<(), Failure> {
        let cfg = self.cfg;
        let (name, sock) = self.udp_socket()?;
        // The parser bounds these; a step built by hand is checked here.
        if payload.len() > echo_spec::MAX_DATAGRAM {
            return Err(Failure::new(
                FailureKind::Io,
                format!(
                    "a datagram of {} B is over the UDP maximum of {}",
                    payload.len(),
                    echo_spec::MAX_DATAGRAM
                ),
            ));
        }
        let payload = with_seed_offset(payload, cfg.seed_offset);
        let mut data = vec![0u8; payload.len() as usize];
        crate::payload::fill(&payload, 0, &mut data);
        let len = data.len() as u64;
        sock.send(data)?;
        self.transcript.record(&name, EventKind::DatagramSent(len));
        Ok(())
    }

    /// `udp_expect_echo`: waits for every answer owed to the current socket.
    fn udp_expect_echo(&mut self, limits: Limits) -> Result<(), Failure> {
        let cfg = self.cfg;
        let (name, sock) = self.udp_socket()?;
        let arrivals = match sock.expect_answers(cfg.no_progress, limits.deadline) {
            Ok(a) => a,
            Err(mut f) => {
                if f.kind == FailureKind::Hang {
                    f.message.push_str(&self.misdelivered(&name));
                }
                return Err(f);
            }
        };
        for a in arrivals {
            self.transcript
                .record(&name, EventKind::DatagramReceived(a.len as u64, a.from));
        }
        Ok(())
    }

    /// `udp_expect_none`: no datagram may arrive on the current socket for `ms` (scaled).
    fn udp_expect_none(&mut self, ms: u64) -> Result<(), Failure> {
        let cfg = self.cfg;
        let (_, sock) = self.udp_socket()?;
        let window = Duration::from_secs_f64(ms as f64 / 1000.0 * cfg.time_scale);
        sock.expect_none(window)?;
        Ok(())
    }

    /// `udp_burst`: sends `count` datagrams of `size` B with at most `in_flight` unanswered, notes
    /// the tally, and fails on wrong or duplicate answers, an unfinished burst, or more than
    /// `max_loss_pct` lost.
    fn udp_burst(
        &mut self,
        count: u32,
        size: u32,
        in_flight: u32,
        max_loss_pct: f64,
        limits: Limits,
    ) -> Result<(), Failure> {
        let cfg = self.cfg;
        let (_, sock) = self.udp_socket()?;
        if count > echo_spec::MAX_BURST_DATAGRAMS
            || in_flight == 0
            || !(8..=echo_spec::MAX_DATAGRAM).contains(&u64::from(size))
        {
            return Err(Failure::new(
                FailureKind::Io,
                format!("udp_burst: count {count}, size {size}, in_flight {in_flight} are out of bounds"),
            ));
        }
        let shape = Burst {
            count,
            size: size as usize,
            in_flight,
            // The no-progress deadline, at most half a second (both scaled).
            loss_timeout: cfg
                .no_progress
                .min(Duration::from_millis(500).mul_f64(cfg.time_scale)),
            seed: BURST_SEED.wrapping_add(cfg.seed_offset),
        };
        let tally = burst(sock, &shape, limits.deadline)?;
        self.note(
            "udp_burst",
            format!("udp_burst: {tally}; tolerance {max_loss_pct}% lost"),
        );
        if tally.wrong > 0 || tally.duplicates > 0 {
            return Err(Failure::new(
                FailureKind::Mismatch,
                format!(
                    "{} wrong and {} duplicate answers: {tally}",
                    tally.wrong, tally.duplicates
                ),
            ));
        }
        if tally.unsent > 0 {
            return Err(Failure::new(
                FailureKind::Slow,
                format!("the step's deadline came before the burst was sent: {tally}"),
            ));
        }
        if tally.loss_pct() > max_loss_pct {
            return Err(Failure::new(
                FailureKind::Loss,
                format!(
                    "{:.2}% of the datagrams were lost, more than the {max_loss_pct}% tolerated: {tally}",
                    tally.loss_pct()
                ),
            ));
        }
        Ok(())
    }

    /// After a UDP answer owed to socket `name` did not come: whether it is waiting on another
    /// socket of this client (the server answered the wrong sender), as evidence.
    fn misdelivered(&mut self, name: &str) -> String {
        let Some(owed) = self
            .udp
            .get(name)
            .and_then(|s| s.first_owed().map(<[u8]>::to_vec))
        else {
            return String::new();
        };
        let mut found = Vec::new();
        for (other, sock) in self.udp.iter_mut().filter(|(n, _)| n.as_str() != name) {
            // A bounded look: the datagrams already queued on that socket, at most a few.
            for _ in 0..8 {
                let Some((data, from)) = sock.take_waiting() else {
                    break;
                };
                if data == owed {
                    let to = sock
                        .local_addr()
                        .map_or_else(String::new, |a| format!(" ({a})"));
                    found.push(format!(
                        "; its answer arrived on socket `{other}`{to} instead, from {from}: the server answered the wrong sender"
                    ));
                    break;
                }
            }
        }
        found.concat()
    }
}
