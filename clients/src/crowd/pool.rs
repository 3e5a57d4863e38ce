//! How many clients a server serves at once: idle holders occupy what serves them, then one more
//! client asks for an echo. The largest count for which that client is still answered is the
//! server's pool size; a thread-per-connection server reaches the search's ceiling, a sequential
//! loop stops at one.
//!
//! Holders connect one at a time, so the kernel's accept queue (first in, first out) hands them to
//! the server before the probing client. Every socket is closed with a FIN, never a reset: some
//! pre-forked workers die on a reset, which would shrink the pool under measurement.

use std::fmt;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The pause after each holder's connect.
const HOLDER_PACE: Duration = Duration::from_millis(1);

/// The result of [`measure_pool`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSize {
    /// The most clients served at once that the search saw.
    pub served_at_once: u32,
    /// The search's ceiling (`max`); `served_at_once == max` means "at least".
    pub max: u32,
    /// Each trial: idle holders, whether one more client was answered, and how long it waited.
    pub trials: Vec<(u32, bool, Duration)>,
}

impl PoolSize {
    /// True when the server served the search's ceiling: no pool limit below it.
    pub fn reached_max(&self) -> bool {
        self.served_at_once >= self.max
    }
}

impl fmt::Display for PoolSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reached_max() {
            write!(f, "served at least {} clients at once", self.max)?;
        } else {
            let n = self.served_at_once;
            write!(
                f,
                "served {n} client{} at once",
                if n == 1 { "" } else { "s" }
            )?;
            let refused = self
                .trials
                .iter()
                .filter(|(_, answered, _)| !answered)
                .min_by_key(|(held, _, _)| *held);
            if let Some((held, _, waited)) = refused {
                write!(
                    f,
                    "; with {held} idle client{} held, one more got no answer in {:.1} s",
                    if *held == 1 { "" } else { "s" },
                    waited.as_secs_f64()
                )?;
            }
        }
        let tried: Vec<String> = self
            .trials
            .iter()
            .map(|(held, ok, _)| format!("{held}{}", if *ok { "+" } else { "-" }))
            .collect();
        write!(
            f,
            " (trials, holders and whether one more was served: {})",
            tried.join(" ")
        )
    }
}

/// Searches for the most clients `addr` serves at once, up to `max` (at least 2). Each trial holds
/// some idle clients and waits up to `wait` for one more client's echo; connects time out after
/// `connect_timeout`. Doubling, then bisection: about 2·log2(`max`) trials. Stops searching at
/// `deadline` and reports what it knows.
pub fn measure_pool(
    addr: SocketAddr,
    max: u32,
    wait: Duration,
    connect_timeout: Duration,
    deadline: Instant,
) -> PoolSize {
    let max = max.max(2);
    let mut trials = Vec::new();
    let mut trial = |held: u32| -> bool {
        let (answered, waited) = one_more_served(addr, held, wait, connect_timeout, deadline);
        trials.push((held, answered, waited));
        answered
    };
    // `lo` holders left room for one more; `hi` holders did not.
    let (mut lo, mut hi) = (0u32, None);
    let mut held = 1;
    while Instant::now() < deadline {
        if trial(held) {
            lo = held;
            if held >= max - 1 {
                break;
            }
            held = (held * 2).min(max - 1);
        } else {
            hi = Some(held);
            break;
        }
    }
    if let Some(mut hi) = hi {
        while hi - lo > 1 && Instant::now() < deadline {
            let mid = lo + (hi - lo) / 2;
            if trial(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
    }
    PoolSize {
        served_at_once: lo + 1,
        max,
        trials,
    }
}

/// Holds `held` idle clients, then asks one more for an echo: whether any byte came back within
/// `wait` (without a half-close), and how long the client waited.
fn one_more_served(
    addr: SocketAddr,
    held: u32,
    wait: Duration,
    connect_timeout: Duration,
    deadline: Instant,
) -> (bool, Duration) {
    // One at a time: the accept queue then orders the holders before the probe. The first holder
    // the server does not take within `connect_timeout` (a full accept queue) already means "not
    // served"; the rest are not tried.
    let mut holders = Vec::with_capacity(held as usize);
    for _ in 0..held {
        if Instant::now() >= deadline {
            return (false, Duration::ZERO);
        }
        match TcpStream::connect_timeout(&addr, connect_timeout) {
            Ok(s) => holders.push(s),
            Err(_) => return (false, Duration::ZERO),
        }
        // A pause for the server to accept: a short listen backlog (5, as the seed's servers
        // use) must not overflow from the kit's pace alone, which would cost a SYN retry (1 s).
        std::thread::sleep(HOLDER_PACE);
    }
    let start = Instant::now();
    let answered = TcpStream::connect_timeout(&addr, connect_timeout)
        .ok()
        .is_some_and(|mut probe| {
            let _ = probe.set_read_timeout(Some(wait));
            let mut byte = [0u8; 64];
            // No half-close: a server that mishandles one (some relays close without echoing)
            // must not read as "not served" here; its own cases find that.
            probe.write_all(b"pool probe\n").is_ok()
                && matches!(probe.read(&mut byte), Ok(n) if n > 0)
        });
    let waited = start.elapsed();
    for h in holders {
        let _ = h.shutdown(Shutdown::Both);
    }
    (answered, waited)
}
