//! Held crowds: the [`Crowd`] of idle connections a client keeps open, and the probe of every
//! one of them ([`Crowd::ping_all`]).

use super::ready_flags;
use crate::failure::{Failure, FailureKind};
use crate::symptom::{Symptom, WaitEnd, WaitState};
use crate::verify::{EchoVerifier, Transform};
use echo_spec::Payload;
use nix::poll::{PollFd, PollFlags};
use socket2::SockRef;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// Open connections kept by a client.
#[derive(Debug, Default)]
pub struct Crowd {
    pub(super) streams: Vec<TcpStream>,
}

impl Crowd {
    /// Number of connections held.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// True when none are held.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Adds the connections of `other`.
    pub fn extend(&mut self, other: Crowd) {
        self.streams.extend(other.streams);
    }

    /// Closes every connection with a reset (SO_LINGER 0), which leaves no TIME_WAIT behind.
    pub fn reset_all(self) {
        for s in self.streams {
            let _ = SockRef::from(&s).set_linger(Some(Duration::ZERO));
        }
    }

    /// Sends a short distinct probe (`ping 000042\n`) on every connection and checks each
    /// comes back, after `transform`, before `deadline`. At most `batch` connections are in
    /// flight at once. Fails with the first connection that did not answer correctly.
    pub fn ping_all(
        &mut self,
        transform: &Transform,
        batch: usize,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let batch = batch.max(1);
        for (b, chunk) in self.streams.chunks_mut(batch).enumerate() {
            let base = b * batch;
            let mut verifiers = Vec::with_capacity(chunk.len());
            for (i, s) in chunk.iter_mut().enumerate() {
                let probe = format!("ping {:06}\n", base + i).into_bytes();
                let mut v = EchoVerifier::new(transform.clone());
                v.owe_echo(Payload::Bytes(probe.clone()));
                verifiers.push(v);
                write_probe(s, &probe).map_err(|e| {
                    Failure::new(
                        FailureKind::Io,
                        format!("held connection {}: write: {e}", base + i),
                    )
                })?;
            }
            await_echoes(chunk, &mut verifiers, base, deadline)?;
        }
        Ok(())
    }
}

fn write_probe(s: &mut TcpStream, probe: &[u8]) -> io::Result<()> {
    // An empty socket buffer takes a dozen bytes at once; a short write here means the
    // connection is already broken.
    let n = s.write(probe)?;
    if n == probe.len() {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::WriteZero, "short write"))
    }
}

/// The state of a held connection whose probe's echo did not come: open, among others.
fn held_wait(v: &EchoVerifier, end: WaitEnd) -> Symptom {
    Symptom::Wait(WaitState {
        end,
        received: v.received(),
        owed: v.outstanding(),
        owed_head: v.owed_head(16),
        extra: v.ignored(),
        half_closed: false,
        others_open: true,
        signalled: false,
    })
}

fn await_echoes(
    streams: &mut [TcpStream],
    verifiers: &mut [EchoVerifier],
    base: usize,
    deadline: Instant,
) -> Result<(), Failure> {
    let mut buf = [0u8; 256];
    loop {
        let waiting: Vec<usize> = (0..streams.len())
            .filter(|&i| !verifiers[i].settled())
            .collect();
        let Some(&first) = waiting.first() else {
            return Ok(());
        };
        let now = Instant::now();
        if now >= deadline {
            let v = &verifiers[first];
            return Err(Failure::new(
                FailureKind::Hang,
                format!(
                    "{} held connections had not echoed their probe by the deadline (first: connection {})",
                    waiting.len(),
                    base + first
                ),
            )
            .with_symptom(held_wait(v, WaitEnd::Quiet)));
        }
        let ms = deadline
            .saturating_duration_since(now)
            .as_millis()
            .clamp(1, 100) as u16;
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd> = waiting
                .iter()
                .map(|&i| PollFd::new(streams[i].as_fd(), PollFlags::POLLIN))
                .collect();
            let flags = ready_flags(&mut fds, ms)
                .map_err(|e| Failure::new(FailureKind::Io, format!("poll: {e}")))?;
            flags
                .into_iter()
                .zip(&waiting)
                .filter(|(ready, _)| *ready)
                .map(|(_, &i)| i)
                .collect()
        };
        for i in ready {
            match streams[i].read(&mut buf) {
                Ok(0) => {
                    return Err(Failure::new(
                        FailureKind::EarlyEof,
                        format!(
                            "held connection {} was closed by the server before echoing its probe",
                            base + i
                        ),
                    )
                    .with_symptom(held_wait(&verifiers[i], WaitEnd::Eof)))
                }
                Ok(n) => verifiers[i].feed(&buf[..n]).map_err(|m| {
                    Failure::new(
                        FailureKind::Mismatch,
                        format!("held connection {}: {m}", base + i),
                    )
                    .with_symptom(Symptom::Bytes(m))
                })?,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    return Err(Failure::new(
                        if e.kind() == io::ErrorKind::ConnectionReset {
                            FailureKind::Reset
                        } else {
                            FailureKind::Io
                        },
                        format!("held connection {}: read: {e}", base + i),
                    ))
                }
            }
        }
    }
}
