//! What the executor tells reporters as a run goes. Reporters consume these and nothing else
//! while the run is under way; the CLI only wires them up.

use crate::outcome::CaseResult;
use std::time::Duration;

/// Why a case is being run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Its run as scheduled.
    Scheduled,
    /// Again, alone on a fresh instance, to confirm a failure seen beside other cases.
    Confirm,
    /// Again, while looking for the case that crashed or wedged the server.
    Attribution,
}

/// One event of a run.
#[derive(Debug, Clone)]
pub enum Event {
    /// The run starts with this many cases to execute.
    RunStarted {
        /// Cases that will run (not settled in advance).
        to_run: usize,
    },
    /// A case started.
    CaseStarted {
        /// Its id.
        id: String,
        /// Why it runs.
        attempt: Attempt,
    },
    /// A case has its final grade. A case whose grade attribution revises later is reported
    /// again.
    CaseFinished(CaseResult),
    /// The server died.
    ServerDied {
        /// How (`was killed by signal 11 (SIGSEGV)`).
        status: String,
        /// The cases that were running against it.
        during: Vec<String>,
    },
    /// A server was started (after a death, or for a case that needs a fresh one).
    Relaunched {
        /// Why.
        reason: String,
    },
    /// Every case has its grade.
    RunFinished {
        /// How long the run took.
        took: Duration,
    },
}

/// Where events go: a function the reporters share across the executor's threads.
pub type Sink<'a> = &'a (dyn Fn(Event) + Sync);
