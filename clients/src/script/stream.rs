//! The TCP connection steps of the script executor: opening and choosing connections, sending,
//! the waits for echo, EOF and silence, half-closing, leaving, resetting and closing.

use super::Executor;
use crate::conn::{Connection, Limits, Outgoing};
use crate::failure::{Failure, FailureKind};
use crate::payload::with_seed_offset;
use crate::transcript::EventKind;
use crate::verify::Transform;
use echo_spec::{Chunking, IpFamily, Payload, Step};
use std::time::{Duration, Instant};

/// Seed of the stream `write_until_blocked` writes (plus the client's seed offset).
const BLOCKED_SEED: u64 = 0x0B10_C4ED;

impl Executor<'_, '_> {
    /// Runs one step that acts on a TCP connection (or opens one), within `limits`.
    pub(super) fn stream_step(&mut self, step: &Step, limits: Limits) -> Result<(), Failure> {
        match step {
            Step::Connect { name } => self.connect(name, None)?,
            Step::ConnectOver { name, family } => self.connect(name, Some(*family))?,
            Step::On { name } => self.on(name)?,
            Step::Send { payload, chunking } => self.send(payload, chunking, limits)?,
            Step::ExpectEcho => self.expect_owed(limits)?,
            Step::Expect { bytes } => {
                self.conn()?
                    .verifier()
                    .owe_exact(echo_spec::Payload::Bytes(bytes.clone()));
                self.expect_owed(limits)?;
            }
            Step::ExpectEchoPrefix => self.expect_echo_prefix(limits)?,
            Step::ShutdownWrite => self.shutdown_write()?,
            Step::ExpectEof => self.expect_eof(limits)?,
            Step::ExpectSilence { ms } => self.expect_silence(*ms)?,
            Step::Reset | Step::Close => self.end(step)?,
            Step::Leave { ms } => self.leave(*ms)?,
            Step::SetRcvbuf { bytes } => {
                self.conn()?
                    .set_rcvbuf(*bytes)
                    .map_err(|e| Failure::new(FailureKind::Io, format!("SO_RCVBUF: {e}")))?;
            }
            Step::PauseReading { ms } => {
                let until = Instant::now() + self.scaled(*ms);
                self.conn()?.pause_reading(until);
            }
            Step::ExpectRefused => self.expect_refused()?,
            Step::SendUrgent { byte } => {
                self.conn()?
                    .socket()
                    .send_out_of_band(&[*byte])
                    .map_err(|e| Failure::new(FailureKind::Io, format!("send MSG_OOB: {e}")))?;
            }
            Step::WriteUntilBlocked {
                max_bytes,
                stall_ms,
            } => self.write_until_blocked(*max_bytes, *stall_ms, limits)?,
            other => unreachable!("`{}` is not a connection step", other.name()),
        }
        Ok(())
    }

    /// Opens connection `name` to the server over `family` (the run's address when `None`) and
    /// makes it current.
    fn connect(&mut self, name: &str, family: Option<IpFamily>) -> Result<(), Failure> {
        let conn = Connection::connect(
            name,
            self.over(family),
            self.cfg.no_progress,
            self.cfg.transform.clone(),
        )?;
        self.transcript.record(name, EventKind::Connected);
        self.conns.insert(name.to_string(), conn);
        self.current = Some(name.to_string());
        Ok(())
    }

    /// `on`: makes the open connection `name` current.
    fn on(&mut self, name: &str) -> Result<(), Failure> {
        if !self.conns.contains_key(name) {
            return Err(Failure::new(
                FailureKind::Io,
                format!("no open connection named `{name}`"),
            ));
        }
        self.current = Some(name.to_string());
        Ok(())
    }

    /// `send`: owes the payload's echo, then writes it in `chunking`'s pieces (reading as it goes).
    fn send(
        &mut self,
        payload: &Payload,
        chunking: &Chunking,
        limits: Limits,
    ) -> Result<(), Failure> {
        let payload = with_seed_offset(payload, self.cfg.seed_offset);
        let mut out = Outgoing::new(payload.clone(), chunking.clone(), self.cfg.time_scale);
        let (conn, transcript) = self.conn_and_transcript()?;
        conn.verifier().owe_echo(payload);
        conn.drive(Some(&mut out), limits, transcript, |_, o| {
            o.is_some_and(Outgoing::done)
        })?;
        Ok(())
    }

    /// `expect_echo_prefix`: reads until the server closes; some of the echo must have come, and
    /// the rest is forgiven.
    fn expect_echo_prefix(&mut self, limits: Limits) -> Result<(), Failure> {
        let (conn, transcript) = self.conn_and_transcript()?;
        let before = conn.received();
        conn.drive(None, limits, transcript, |c, _| c.eof() || c.peer_reset())?;
        if conn.received() == before {
            return Err(Failure::new(
                FailureKind::EarlyEof,
                "the server closed without sending any part of the echo",
            ));
        }
        conn.verifier().forgive();
        Ok(())
    }

    /// `shutdown_write`: half-closes the current connection.
    fn shutdown_write(&mut self) -> Result<(), Failure> {
        let (conn, transcript) = self.conn_and_transcript()?;
        conn.shutdown_write().map_err(|e| {
            // ENOTCONN: the server's reset already tore the connection down.
            if e.kind() == std::io::ErrorKind::NotConnected {
                Failure::new(
                    FailureKind::Reset,
                    format!(
                        "shutdown(SHUT_WR): {e}: the server had already torn the connection down"
                    ),
                )
            } else {
                Failure::new(FailureKind::Io, format!("shutdown(SHUT_WR): {e}"))
            }
        })?;
        transcript.record(conn.name(), EventKind::ShutdownWrite);
        Ok(())
    }

    /// `expect_eof`: waits for the server's close, with every owed byte echoed before it.
    fn expect_eof(&mut self, limits: Limits) -> Result<(), Failure> {
        let (conn, transcript) = self.conn_and_transcript()?;
        conn.drive(None, limits, transcript, |c, _| c.eof() || c.peer_reset())?;
        let owed = conn.verifier().outstanding();
        if conn.peer_reset() {
            return Err(Failure::new(
                FailureKind::Reset,
                format!("the server reset the connection instead of closing it ({} B received, {owed} B still owed)", conn.received()),
            ));
        }
        if owed > 0 || !conn.verifier().settled() {
            return Err(Failure::new(
                FailureKind::EarlyEof,
                format!(
                    "EOF after {} B; {owed} B of echo still owed",
                    conn.received()
                ),
            ));
        }
        Ok(())
    }

    /// `expect_silence`: for `ms` (scaled), no byte may arrive and the connection must stay open.
    fn expect_silence(&mut self, ms: u64) -> Result<(), Failure> {
        let until = Instant::now() + self.scaled(ms);
        let window = Limits {
            no_progress: self.scaled(ms) + Duration::from_secs(1),
            deadline: until + Duration::from_secs(1),
        };
        let (conn, transcript) = self.conn_and_transcript()?;
        let before = conn.received();
        conn.drive(None, window, transcript, |c, _| {
            Instant::now() >= until || c.eof() || c.peer_reset()
        })?;
        if conn.received() > before {
            return Err(Failure::new(
                FailureKind::Mismatch,
                format!("{} B arrived during the silence", conn.received() - before),
            ));
        }
        if conn.eof() || conn.peer_reset() {
            return Err(Failure::new(
                FailureKind::EarlyEof,
                "the server closed the connection during the silence",
            ));
        }
        Ok(())
    }

    /// `reset` or `close` (`step`): ends the current connection with a reset or a plain close.
    fn end(&mut self, step: &Step) -> Result<(), Failure> {
        let (name, conn) = self.take_current()?;
        if matches!(step, Step::Reset) {
            conn.reset()
                .map_err(|e| Failure::new(FailureKind::Io, format!("SO_LINGER: {e}")))?;
            self.transcript.record(&name, EventKind::Reset);
        } else {
            drop(conn);
            self.transcript.record(&name, EventKind::Closed);
        }
        Ok(())
    }

    /// `leave`: half-close, wait up to `ms` for the server's close (never a failure by itself),
    /// then close.
    fn leave(&mut self, ms: u64) -> Result<(), Failure> {
        let wait = self.scaled(ms);
        let waits = self.leave_waits;
        // The wait ends at the case's budget too; the next step then fails on it.
        let full = Instant::now() + wait;
        let until = full.min(self.case_deadline);
        let (conn, transcript) = self.conn_and_transcript()?;
        conn.stop_checking();
        conn.resume_reading();
        // ENOTCONN: the server reset the connection already, which ends the wait as well.
        if conn.shutdown_write().is_ok() {
            transcript.record(conn.name(), EventKind::ShutdownWrite);
        }
        if waits {
            let window = Limits {
                no_progress: wait + Duration::from_secs(1),
                deadline: until + Duration::from_secs(1),
            };
            conn.drive(None, window, transcript, |c, _| {
                c.eof() || c.peer_reset() || Instant::now() >= until
            })?;
        }
        let closed_first = conn.eof() || conn.peer_reset();
        let (name, conn) = self.take_current()?;
        drop(conn);
        self.transcript.record(&name, EventKind::Closed);
        if waits && !closed_first && until == full {
            self.leave_waits = false;
            self.note(
                "leave",
                format!("leave: the server had not closed {name} {ms} ms after the client's FIN; the later clients leave without waiting"),
            );
        }
        Ok(())
    }

    /// `expect_refused`: a fresh connect to the server's address must be refused.
    fn expect_refused(&mut self) -> Result<(), Failure> {
        match Connection::connect(
            "probe",
            self.cfg.addr,
            self.cfg.no_progress,
            Transform::Identity,
        ) {
            Ok(_) => {
                return Err(Failure::new(
                    FailureKind::Accepted,
                    format!("{} still accepts connections", self.cfg.addr),
                ))
            }
            Err(f) if f.kind == FailureKind::Refused => {}
            Err(f) => return Err(f),
        }
        Ok(())
    }

    /// `write_until_blocked`: writes up to `max_bytes` without reading until the writes stall for
    /// `stall_ms` (scaled), owes the echo of what was taken, and notes how much that was.
    fn write_until_blocked(
        &mut self,
        max_bytes: u64,
        stall_ms: u64,
        limits: Limits,
    ) -> Result<(), Failure> {
        let payload = Payload::Seeded {
            seed: BLOCKED_SEED.wrapping_add(self.cfg.seed_offset),
            len: max_bytes,
        };
        let stall = self.scaled(stall_ms);
        let (conn, transcript) = self.conn_and_transcript()?;
        let written =
            conn.write_until_blocked(payload.clone(), stall, limits.deadline, transcript)?;
        if let Payload::Seeded { seed, .. } = payload {
            conn.verifier()
                .owe_echo(Payload::Seeded { seed, len: written });
        }
        conn.resume_reading();
        let note = if written == max_bytes {
            format!("write_until_blocked: all {written} B were taken without the client reading (writes never blocked)")
        } else {
            format!(
                "write_until_blocked: writes blocked after {written} B without the client reading"
            )
        };
        self.note("write_until_blocked", note);
        Ok(())
    }

    /// `expect_echo` (and the wait of `expect`): reads until everything owed has come back, and
    /// fails if the server closes or resets first.
    fn expect_owed(&mut self, limits: Limits) -> Result<(), Failure> {
        let (conn, transcript) = self.conn_and_transcript()?;
        let owed_at_start = conn.verifier().outstanding();
        let received_at_start = conn.received();
        conn.drive(None, limits, transcript, |c, _| {
            c.settled() || c.eof() || c.peer_reset()
        })
        .map_err(|mut f| {
            if f.kind != FailureKind::Mismatch {
                let owed = conn.verifier().outstanding();
                f.message = format!(
                    "{}; {owed} of the {} B owed still missing ({} B received on this connection)",
                    f.message,
                    owed_at_start,
                    conn.received().max(received_at_start)
                );
            }
            f
        })?;
        if conn.settled() {
            return Ok(());
        }
        let owed = conn.verifier().outstanding();
        let got = owed_at_start - owed;
        if conn.peer_reset() {
            Err(Failure::new(
                FailureKind::Reset,
                format!("the server reset the connection after {got} of {owed_at_start} owed B"),
            ))
        } else {
            Err(Failure::new(
                FailureKind::EarlyEof,
                format!("the server closed after {got} of {owed_at_start} owed B"),
            ))
        }
    }

    /// Removes the current connection from the script's table (to close or reset it).
    fn take_current(&mut self) -> Result<(String, Connection), Failure> {
        let name = self.current.take().unwrap_or_default();
        let conn = self
            .conns
            .remove(&name)
            .ok_or_else(|| Failure::new(FailureKind::Io, format!("no open connection `{name}`")))?;
        Ok((name, conn))
    }

    /// The current connection.
    fn conn(&mut self) -> Result<&mut Connection, Failure> {
        self.conn_and_transcript().map(|(conn, _)| conn)
    }
}
