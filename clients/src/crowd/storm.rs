//! Connect storms: bursts of connections, each probed as soon as it is established and reset as
//! soon as its probe's echo is back.

use super::{in_bursts, ready_flags, start_burst, Tally};
use crate::verify::{EchoVerifier, Transform};
use echo_spec::Payload;
use nix::poll::{PollFd, PollFlags};
use socket2::Socket;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// One connection of a storm: connecting, then waiting for its probe's echo.
struct Stormer {
    socket: Socket,
    since: Instant,
    verifier: Option<EchoVerifier>,
}

/// A connect storm: `n` connections, `burst` at a time. Each writes a short probe as soon as it is
/// established and is reset as soon as the probe's echo (after `transform`) is back, so even a
/// sequential server can serve the whole burst; a connection that is not established, or not
/// echoed, within `timeout` of its connect counts against the tally. No burst starts after
/// `deadline`.
pub fn storm(
    addr: SocketAddr,
    n: u32,
    burst: u32,
    timeout: Duration,
    deadline: Instant,
    transform: &Transform,
) -> Tally {
    in_bursts(n, burst, Duration::ZERO, deadline, |first, this, tally| {
        let live = start_burst(addr, this, tally)
            .into_iter()
            .map(|p| Stormer {
                socket: p.socket,
                since: p.since,
                verifier: None,
            })
            .collect();
        storm_burst(live, first, timeout, transform, tally);
        true
    })
}

/// Drives one burst of storm connections (their probes numbered from `probe_base`) until each
/// is echoed, has failed or is past `timeout`, counting the outcomes in `tally`.
fn storm_burst(
    mut live: Vec<Stormer>,
    probe_base: u32,
    timeout: Duration,
    transform: &Transform,
    tally: &mut Tally,
) {
    let mut buf = [0u8; 256];
    let mut next_probe = probe_base;
    while !live.is_empty() {
        let revents: Vec<bool> = {
            let mut fds: Vec<PollFd> = live
                .iter()
                .map(|c| {
                    let ev = if c.verifier.is_some() {
                        PollFlags::POLLIN
                    } else {
                        PollFlags::POLLOUT
                    };
                    PollFd::new(c.socket.as_fd(), ev)
                })
                .collect();
            match ready_flags(&mut fds, 50) {
                Ok(r) => r,
                Err(e) => {
                    // Connections already counted as opened are unanswered, the rest failed.
                    let probing = live.iter().filter(|c| c.verifier.is_some()).count() as u32;
                    tally.unanswered += probing;
                    tally.failed += live.len() as u32 - probing;
                    tally.error(format!("poll: {e}"));
                    return;
                }
            }
        };
        let now = Instant::now();
        let mut still = Vec::with_capacity(live.len());
        for (mut c, ready) in live.into_iter().zip(revents) {
            let keep = match (&mut c.verifier, ready) {
                (None, true) => connected(&mut c, &mut next_probe, transform, tally),
                (Some(v), true) => answered(&c.socket, v, &mut buf, tally),
                (_, false) => true,
            };
            if !keep {
                let _ = c.socket.set_linger(Some(Duration::ZERO));
                continue;
            }
            if now.duration_since(c.since) >= timeout {
                if c.verifier.is_some() {
                    tally.unanswered += 1;
                    tally.error(format!(
                        "a probe was not echoed within {} ms of its connect",
                        timeout.as_millis()
                    ));
                } else {
                    tally.timed_out += 1;
                    tally.error(format!(
                        "a connect was still pending after {} ms",
                        timeout.as_millis()
                    ));
                }
                let _ = c.socket.set_linger(Some(Duration::ZERO));
                continue;
            }
            still.push(c);
        }
        live = still;
    }
}

/// A storm connection `c` whose connect finished: when it is established, writes its probe
/// (numbered `next_probe`, which then moves on) and owes the probe's echo. Returns whether the
/// connection is still live.
fn connected(
    c: &mut Stormer,
    next_probe: &mut u32,
    transform: &Transform,
    tally: &mut Tally,
) -> bool {
    match c.socket.take_error() {
        Ok(None) => {
            tally.opened += 1;
            let probe = format!("storm {next_probe:06}\n").into_bytes();
            *next_probe += 1;
            let mut v = EchoVerifier::new(transform.clone());
            v.owe_echo(Payload::Bytes(probe.clone()));
            c.verifier = Some(v);
            match c.socket.send(&probe) {
                Ok(n) if n == probe.len() => true,
                Ok(_) | Err(_) => {
                    tally.unanswered += 1;
                    tally.error("the probe could not be written".into());
                    false
                }
            }
        }
        Ok(Some(e)) | Err(e) => {
            tally.connect_failed(&e);
            false
        }
    }
}

/// A storm connection with its probe out whose `socket` is readable: feeds what arrived to `v`.
/// Returns whether the connection is still waiting for its echo.
fn answered(socket: &Socket, v: &mut EchoVerifier, buf: &mut [u8], tally: &mut Tally) -> bool {
    match (&*socket).read(buf) {
        Ok(0) => {
            tally.unanswered += 1;
            tally.error("the server closed a storm connection before echoing its probe".into());
            false
        }
        Ok(n) => match v.feed(&buf[..n]) {
            Ok(()) => !v.settled(),
            Err(m) => {
                tally.unanswered += 1;
                tally.error(format!("a probe came back wrong: {m}"));
                false
            }
        },
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            true
        }
        Err(e) => {
            tally.unanswered += 1;
            tally.error(format!("read: {e}"));
            false
        }
    }
}
