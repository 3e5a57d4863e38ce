//! The observer: everything that reads a launched server from outside during a case. It
//! implements the client library's [`ProcessHooks`] for `process` cases: the resource steps
//! ([`steps`]), exits, and the privilege checks ([`privilege`]), each through `/proc`.

pub mod backlog;
pub mod privilege;
pub mod steps;

use crate::os::{net, poll_until, resources::Usage};
use crate::server::{describe, Server};
use crate::text::indent;
use echo_clients::{Failure, FailureKind, ProcessHooks, Symptom};
use echo_spec::PrivCheck;
use regex::Regex;
use std::time::{Duration, Instant};

/// Watches one launched server for the length of a case.
#[derive(Debug)]
pub struct Observer<'a> {
    /// The server (replaced by a fresh instance on `restart`).
    pub server: &'a mut Server,
    /// The resources recorded by a `mark` step.
    pub baseline: Option<Usage>,
}

impl<'a> Observer<'a> {
    /// Starts observing `server`, with no baseline yet.
    pub fn new(server: &'a mut Server) -> Self {
        Observer {
            server,
            baseline: None,
        }
    }
}

impl ProcessHooks for Observer<'_> {
    fn mark(&mut self) -> Result<String, Failure> {
        steps::mark(self)
    }

    fn expect_resources(
        &mut self,
        fd_delta: u32,
        threads_delta: u32,
        settle: Duration,
    ) -> Result<String, Failure> {
        steps::expect_resources(self, fd_delta, threads_delta, settle)
    }

    fn expect_rss(
        &mut self,
        max_growth_kib: Option<u64>,
        max_kib: Option<u64>,
    ) -> Result<String, Failure> {
        steps::expect_rss(self, max_growth_kib, max_kib)
    }

    fn expect_cpu(&mut self, max: Duration) -> Result<String, Failure> {
        steps::expect_cpu(self, max)
    }

    fn signal(&mut self, signal: echo_spec::SignalName) -> Result<(), Failure> {
        steps::signal(self, signal)
    }

    fn expect_group_empty(&mut self, within: Duration) -> Result<(), Failure> {
        steps::expect_group_empty(self, within)
    }

    fn restart(&mut self, signal: echo_spec::SignalName) -> Result<String, Failure> {
        steps::restart(self, signal)
    }

    fn expect_exit(&mut self, status: i32, within: Duration) -> Result<(), Failure> {
        let server = &mut *self.server;
        match poll_until(Instant::now() + within, Duration::from_millis(10), || {
            server.launched_exit()
        }) {
            Some(st) if st.code() == Some(status) => Ok(()),
            Some(st) => Err(Failure::new(
                FailureKind::Process,
                format!("the server {} (expected status {status})", describe(st)),
            )),
            None => Err(Failure::new(
                FailureKind::Process,
                format!(
                    "the server was still running after {} ms (pids {:?})",
                    within.as_millis(),
                    server.processes()
                ),
            )),
        }
    }

    fn expect_priv(&mut self, check: PrivCheck, within: Duration) -> Result<(), Failure> {
        let Some(target) = self.server.spec().privilege.clone() else {
            return Err(Failure::new(
                FailureKind::Privilege,
                "no privilege target is known (see the report's environment)",
            ));
        };
        let leader = self.server.pgid();
        let port = self.server.addr.port();
        // A drop may still be in progress right after readiness: retry until `within` has passed.
        let mut last = String::new();
        let held = poll_until(Instant::now() + within, Duration::from_millis(25), || {
            let mut members = self.server.processes();
            if let Some(i) = members.iter().position(|&p| p == leader) {
                members.swap(0, i);
            }
            let subject = privilege::Subject {
                leader,
                members: &members,
                port,
                target: &target,
            };
            match privilege::check(&subject, check) {
                Ok(()) => Some(()),
                Err(evidence) => {
                    last = evidence;
                    None
                }
            }
        });
        held.ok_or_else(|| {
            Failure::new(
                FailureKind::Privilege,
                format!("`{check}` does not hold:\n{}", indent(&last)),
            )
            .with_symptom(Symptom::Privilege(check.to_string()))
        })
    }

    fn expect_bind_denied(&mut self, within: Duration) -> Result<(), Failure> {
        let server = &mut *self.server;
        let who = match server.started_as() {
            Some((uid, gid)) => format!("uid {uid}, gid {gid}"),
            None => "root".into(),
        };
        let Some(status) = poll_until(Instant::now() + within, Duration::from_millis(10), || {
            server.try_exit()
        }) else {
            let listening = net::listeners_of(&server.processes(), server.addr.port());
            return Err(Failure::new(
                FailureKind::Privilege,
                format!(
                    "started as {who}, the server was still running after {} ms{}",
                    within.as_millis(),
                    if listening.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " and listening on port {}: {listening:?}",
                            server.addr.port()
                        )
                    }
                ),
            ));
        };
        // Its last words: the output readers end when the pipes close.
        let tail = server.final_output();
        if status.success() {
            return Err(Failure::new(
                FailureKind::Privilege,
                format!(
                    "started as {who}, the server {}; a refused bind must exit non-zero; its output:\n{}",
                    describe(status),
                    indent(&tail)
                ),
            ));
        }
        let says_why = Regex::new(r"(?i)permission|eacces|errno 13|os error 13")
            .map(|re| re.is_match(&tail))
            .unwrap_or(false);
        if !says_why {
            return Err(Failure::new(
                FailureKind::Privilege,
                format!(
                    "started as {who}, the server {} but its output does not say why (no \"permission\" or \"EACCES\"):\n{}",
                    describe(status),
                    indent(&tail)
                ),
            ));
        }
        Ok(())
    }
}
