//! What the runner needs to start a server ([`LaunchSpec`]) and why a start fails ([`LaunchError`]).

use crate::privilege::PrivTarget;
use regex::Regex;
use std::net::IpAddr;
use std::time::Duration;

/// How to start the server.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// Program and arguments; `{port}` is replaced by the chosen port and `{bind}` by
    /// [`LaunchSpec::bind`].
    pub argv: Vec<String>,
    /// The address clients connect to (loopback).
    pub host: IpAddr,
    /// What `{bind}` stands for: the address the server should bind for the run's families
    /// (127.0.0.1, ::1, or :: for both).
    pub bind: IpAddr,
    /// Readiness waits for a TCP listener on the port (the server claims `tcp`).
    pub tcp: bool,
    /// Readiness waits for a UDP socket bound on the port (the server claims `udp`).
    pub udp: bool,
    /// How readiness is recognised.
    pub ready_line: Option<Regex>,
    /// How long the server has to become ready.
    pub ready_timeout: Duration,
    /// How long SIGTERM has before SIGKILL.
    pub grace: Duration,
    /// A fixed port for `{port}` (the privileged port), instead of a free one.
    pub port: Option<u16>,
    /// Supplementary groups the server starts with (set when the runner is root), so that a
    /// server which forgets setgroups is caught.
    pub launch_groups: Option<Vec<u32>>,
    /// What a privileged server must drop to, for `expect_priv` and `expect_bind_denied`.
    pub privilege: Option<PrivTarget>,
    /// RLIMIT_NOFILE (soft and hard) for the server, when a case asks for a low one.
    pub rlimit_nofile: Option<u64>,
    /// The soft RLIMIT_NOFILE the runner itself was started with: the server gets it back (the
    /// runner raised its own for its crowds of clients), unless this is `None` (heavy cases).
    pub inherited_nofile: Option<u64>,
}

/// Why a launch failed (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The program could not be started at all.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It exited before it was ready.
    #[error("the server {status} before listening on port {port}{tail}")]
    ExitedEarly {
        /// Exit description.
        status: String,
        /// The port it was given.
        port: u16,
        /// Its last output lines.
        tail: String,
    },
    /// It was still running but not ready at the deadline.
    #[error("the server was not ready after {} ms: {what}{tail}", after.as_millis())]
    NotReady {
        /// How long the runner waited.
        after: Duration,
        /// What was missing.
        what: String,
        /// Its last output lines.
        tail: String,
    },
    /// A server reached by `--addr` did not answer at all: nothing to judge.
    #[error("nothing answers at {addr} ({why}); start the server first, or let the runner launch it with --cmd")]
    Unreachable {
        /// The address given.
        addr: std::net::SocketAddr,
        /// What the connect said.
        why: String,
    },
    /// No free port could be found.
    #[error("no free port on {host}: {source}")]
    NoPort {
        /// The host.
        host: IpAddr,
        /// Why.
        source: std::io::Error,
    },
}
