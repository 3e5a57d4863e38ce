//! What the report records about where it ran, so a verdict can be reproduced.

use serde::Serialize;

/// The machine and runner, recorded in every report.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// echo-conform's version.
    pub version: &'static str,
    /// The runner's effective uid.
    pub euid: u32,
    /// The kernel release.
    pub kernel: String,
    /// `net.ipv4.ip_unprivileged_port_start`, if readable.
    pub ip_unprivileged_port_start: Option<u32>,
    /// CPUs available to the runner.
    pub cpus: usize,
    /// The `--time-scale` factor.
    pub time_scale: f64,
}

impl Environment {
    /// Reads the environment now.
    pub fn probe(time_scale: f64) -> Environment {
        let kernel = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into());
        let port_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|s| s.trim().parse().ok());
        Environment {
            version: env!("CARGO_PKG_VERSION"),
            euid: nix::unistd::geteuid().as_raw(),
            kernel,
            ip_unprivileged_port_start: port_start,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            time_scale,
        }
    }
}
