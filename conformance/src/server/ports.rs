//! Choosing a free port for a launched server.

use super::{LaunchError, LaunchSpec};
use std::net::{SocketAddr, TcpListener};

/// A free port for a launched server, below the kernel's ephemeral range (so no client socket of
/// this run can take it between the probe and the server's bind), tried from a pseudo-random start.
/// Falls back to a kernel-chosen port when the range below holds nothing free.
pub fn free_port(spec: &LaunchSpec) -> Result<u16, LaunchError> {
    let host = spec.host;
    // The port must be free on every address the server may bind, over every transport it serves.
    let mut hosts = vec![host];
    if spec.bind != host {
        hosts.push(spec.bind);
    }
    let free = |port: u16| {
        hosts.iter().all(|&h| {
            let addr = SocketAddr::new(h, port);
            (!spec.tcp || TcpListener::bind(addr).is_ok())
                && (!spec.udp || std::net::UdpSocket::bind(addr).is_ok())
        })
    };
    let (low, high) = below_ephemeral();
    if high > low {
        let span = u32::from(high - low);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let seed = nanos ^ std::process::id().rotate_left(16);
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
