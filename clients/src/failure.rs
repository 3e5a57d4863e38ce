//! Why a client step failed, classified so a report can say HANG, STALL or SLOW rather than "timeout".

use crate::symptom::Symptom;
use std::fmt;

/// The class of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Bytes arrived that differ from what was owed, or arrived when nothing was owed.
    Mismatch,
    /// Nothing came within the deadline.
    Hang,
    /// Bytes came, then stopped for longer than the no-progress deadline.
    Stall,
    /// Bytes kept coming, but the step or case ran over its total budget.
    Slow,
    /// The server closed before everything owed arrived.
    EarlyEof,
    /// The server reset the connection.
    Reset,
    /// The connection was refused (nothing listening).
    Refused,
    /// A connection that should have been refused was accepted.
    Accepted,
    /// The server process did not behave as a `process` step expected.
    Process,
    /// A privilege check (`expect_priv`, `expect_bind_denied`) did not hold.
    Privilege,
    /// Many connects (a storm or a crowd of holders) did not all succeed.
    Connects,
    /// The server kept descriptors, threads, CLOSE_WAIT sockets or zombie children it should have released.
    Leak,
    /// The server's memory grew over its budget.
    Memory,
    /// The server used more CPU time than its budget (spinning).
    Cpu,
    /// More datagrams went unanswered than the case tolerates.
    Loss,
    /// The client's own environment cannot run the step (its descriptor limit, say): the case is
    /// skipped, not failed.
    Environment,
    /// Any other I/O error on the client side.
    Io,
}

impl FailureKind {
    /// A short upper-case label for reports.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Mismatch => "MISMATCH",
            FailureKind::Hang => "HANG",
            FailureKind::Stall => "STALL",
            FailureKind::Slow => "SLOW",
            FailureKind::EarlyEof => "EARLY-EOF",
            FailureKind::Reset => "RESET",
            FailureKind::Refused => "REFUSED",
            FailureKind::Accepted => "ACCEPTED",
            FailureKind::Process => "PROCESS",
            FailureKind::Privilege => "PRIVILEGE",
            FailureKind::Connects => "CONNECTS",
            FailureKind::Leak => "LEAK",
            FailureKind::Memory => "MEMORY",
            FailureKind::Cpu => "CPU",
            FailureKind::Loss => "LOSS",
            FailureKind::Environment => "ENVIRONMENT",
            FailureKind::Io => "IO",
        }
    }
}

/// A failure with its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Its class.
    pub kind: FailureKind,
    /// What happened, with the evidence (offsets, hex windows, timings).
    pub message: String,
    /// The typed facts behind it, when known: what a runner groups failures by.
    pub symptom: Option<Box<Symptom>>,
}

impl Failure {
    /// A failure of class `kind`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            symptom: None,
        }
    }

    /// The same failure, with the typed facts behind it.
    pub fn with_symptom(mut self, symptom: Symptom) -> Self {
        self.symptom = Some(Box::new(symptom));
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.label(), self.message)
    }
}

impl std::error::Error for Failure {}
