//! What the report records about where it ran, so a verdict can be reproduced.

use crate::privilege::PrivTarget;
use serde::Serialize;

/// The machine and runner, recorded in every report.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Environment {
    /// echo-conform's version.
    pub version: &'static str,
    /// The runner's effective uid.
    pub euid: u32,
    /// The runner's effective capabilities (`CapEff:` of /proc/self/status, hex).
    pub cap_eff: Option<String>,
    /// The kernel release.
    pub kernel: String,
    /// `net.ipv4.ip_unprivileged_port_start` in the runner's (and the servers') network namespace.
    pub ip_unprivileged_port_start: Option<u32>,
    /// The network namespace the servers ran in: `private …` or `host (reason)`.
    pub netns: String,
    /// Hints that the runner is in a container (`/.dockerenv`, `/proc/1/cgroup`).
    pub container_hints: Vec<String>,
    /// The uid of `nobody`, if that user exists.
    pub nobody_uid: Option<u32>,
    /// The gid of `nogroup`, if that group exists.
    pub nogroup_gid: Option<u32>,
    /// The privilege target the `priv.*` cases judge against, if resolved.
    pub privilege_target: Option<PrivTarget>,
    /// Why the `priv.*` cases cannot run here, if they cannot.
    pub privilege_skip: Option<String>,
    /// CPUs available to the runner.
    pub cpus: usize,
    /// The runner's RLIMIT_NOFILE soft limit (raised to the hard limit at start; servers inherit it).
    pub nofile_limit: u64,
    /// The `--time-scale` factor.
    pub time_scale: f64,
}

impl Environment {
    /// Reads the environment now.
    pub fn probe(time_scale: f64) -> Environment {
        let kernel = nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into());
        let cap_eff = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("CapEff:"))
                    .map(|v| v.trim().to_string())
            });
        Environment {
            version: env!("CARGO_PKG_VERSION"),
            euid: nix::unistd::geteuid().as_raw(),
            cap_eff,
            kernel,
            ip_unprivileged_port_start: crate::os::unprivileged_port_start(),
            netns: crate::os::netns::status(),
            container_hints: container_hints(),
            nobody_uid: crate::privilege::uid_of("nobody"),
            nogroup_gid: crate::privilege::gid_of("nogroup"),
            privilege_target: None,
            privilege_skip: None,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            nofile_limit: nix::sys::resource::getrlimit(
                nix::sys::resource::Resource::RLIMIT_NOFILE,
            )
            .map_or(0, |(soft, _)| soft),
            time_scale,
        }
    }

    /// One line for people: who ran, where, and against what privilege target.
    pub fn summary_line(&self) -> String {
        let target = match (&self.privilege_target, &self.privilege_skip) {
            (_, Some(skip)) => format!("privilege cases skipped: {skip}"),
            (Some(t), None) => format!(
                "privilege target {}({})/{}({}) umask {:04o} port {}{}",
                t.user,
                t.uid,
                t.group,
                t.gid,
                t.umask,
                t.port,
                t.group_fallback
                    .as_deref()
                    .map(|n| format!(" [{n}]"))
                    .unwrap_or_default()
            ),
            (None, None) => "no privilege target".into(),
        };
        format!(
            "environment: euid {}, CapEff {}, kernel {}, RLIMIT_NOFILE {}, ip_unprivileged_port_start {}, netns {}{}; {target}\n",
            self.euid,
            self.cap_eff.as_deref().unwrap_or("?"),
            self.kernel,
            self.nofile_limit,
            self.ip_unprivileged_port_start
                .map_or_else(|| "?".into(), |v| v.to_string()),
            self.netns,
            if self.container_hints.is_empty() {
                String::new()
            } else {
                format!(", container ({})", self.container_hints.join("; "))
            },
        )
    }
}

fn container_hints() -> Vec<String> {
    let mut hints = Vec::new();
    if std::path::Path::new("/.dockerenv").exists() {
        hints.push("/.dockerenv exists".into());
    }
    if std::path::Path::new("/run/.containerenv").exists() {
        hints.push("/run/.containerenv exists".into());
    }
    if let Ok(text) = std::fs::read_to_string("/proc/1/cgroup") {
        let words = ["docker", "containerd", "kubepods", "libpod", "lxc"];
        if let Some(line) = text.lines().find(|l| words.iter().any(|w| l.contains(w))) {
            hints.push(format!("/proc/1/cgroup: {line}"));
        }
    }
    hints
}
