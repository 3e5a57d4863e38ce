//! Choosing a free port for a launched server.

use super::{LaunchError, LaunchSpec};
use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Mutex, MutexGuard};

/// The ports this runner's servers hold, launched or between a stop and a restart: no other
/// launch of the run may take one, even while nothing is bound to it.
static HELD: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

fn held() -> MutexGuard<'static, BTreeSet<u16>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// A port held for one server (and its restarts) until dropped.
#[derive(Debug)]
pub struct PortHold(u16);

impl PortHold {
    /// The port held.
    pub fn port(&self) -> u16 {
        self.0
    }
}

impl Drop for PortHold {
    fn drop(&mut self) {
        held().remove(&self.0);
    }
}

/// A free port for a launched server, below the kernel's ephemeral range (so no client socket of
/// this run can take it between the probe and the server's bind), tried from a pseudo-random start,
/// and held from other launches of this run until the hold is dropped. Falls back to a
/// kernel-chosen port when the range below holds nothing free.
pub fn free_port(spec: &LaunchSpec) -> Result<PortHold, LaunchError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    hold_free_port(spec, nanos ^ std::process::id().rotate_left(16))
}

/// [`free_port`] from the pseudo-random start `seed`.
fn hold_free_port(spec: &LaunchSpec, seed: u32) -> Result<PortHold, LaunchError> {
    let mut held = held();
    let port = unheld_free_port(spec, &held, seed)?;
    held.insert(port);
    Ok(PortHold(port))
}

fn unheld_free_port(
    spec: &LaunchSpec,
    held: &BTreeSet<u16>,
    seed: u32,
) -> Result<u16, LaunchError> {
    let host = spec.host;
    // The port must be free on every address the server may bind, over every transport it serves.
    let mut hosts = vec![host];
    if spec.bind != host {
        hosts.push(spec.bind);
    }
    let free = |port: u16| {
        !held.contains(&port)
            && hosts.iter().all(|&h| {
                let addr = SocketAddr::new(h, port);
                (!spec.tcp || TcpListener::bind(addr).is_ok())
                    && (!spec.udp || std::net::UdpSocket::bind(addr).is_ok())
            })
    };
    let (low, high) = below_ephemeral();
    if high > low {
        let span = u32::from(high - low);
        for k in 0..256u32 {
            let port = low + ((seed.wrapping_add(k.wrapping_mul(7919))) % span) as u16;
            if free(port) {
                return Ok(port);
            }
        }
    }
    let listener = TcpListener::bind(SocketAddr::new(host, 0))
        .map_err(|source| LaunchError::NoPort { host, source })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| LaunchError::NoPort { host, source })
}

/// The ports between 10000 and the start of `ip_local_port_range` (32768 when it cannot be read).
fn below_ephemeral() -> (u16, u16) {
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    (10_000, start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn spec() -> LaunchSpec {
        LaunchSpec {
            argv: vec!["true".into()],
            host: "127.0.0.1".parse().expect("host"),
            bind: "127.0.0.1".parse().expect("bind"),
            tcp: true,
            udp: false,
            ready_line: None,
            ready_timeout: Duration::from_secs(1),
            grace: Duration::from_secs(1),
            port: None,
            launch_groups: None,
            privilege: None,
            rlimit_nofile: None,
            inherited_nofile: None,
        }
    }

    #[test]
    fn a_held_port_is_not_given_to_another_launch_until_released() {
        let spec = spec();
        let first = hold_free_port(&spec, 4242).expect("a free port");
        // The same start would pick the same port, were it not held (nothing is bound to it).
        let second = hold_free_port(&spec, 4242).expect("another free port");
        assert_ne!(first.port(), second.port());
        let port = first.port();
        drop(first);
        let again = hold_free_port(&spec, 4242).expect("the released port");
        assert_eq!(again.port(), port);
    }
}
