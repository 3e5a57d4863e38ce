//! What a run decides, as data: the [`Grade`] of a case, the [`FailureClass`] of a failure, the
//! [`Verdict`] on one execution and the [`CaseResult`] a report shows. A leaf module: it imports
//! nothing from the runner but the leaf [`crate::cause`], so every phase can depend on it.
//!
//! Grades are written in one place only, [`crate::grade`]; this module only describes them.

use crate::cause::Cause;
use echo_clients::{FailureKind, Figures};
use echo_spec::Level;
use serde::{Deserialize, Serialize, Serializer};

/// The verdict on one case.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum Grade {
    /// The server did what the case requires.
    Pass,
    /// It did not; the evidence says how.
    Fail,
    /// The case could not run here; the evidence says why.
    Skip,
    /// The server does not claim what the case requires.
    NotClaimed,
    /// A measurement, never a failure.
    Info,
    /// Passed only some of the repeated runs ([`CaseResult::runs`] says how many).
    Flaky,
    /// Failed, as `--expect-fail` says it will; does not gate.
    #[serde(rename = "XFAIL")]
    XFail,
    /// Listed by `--expect-fail` but passed: remove it from the list (gates under `--strict`).
    #[serde(rename = "XPASS")]
    XPass,
}

impl Grade {
    /// The grade as printed.
    pub fn label(self) -> &'static str {
        match self {
            Grade::Pass => "PASS",
            Grade::Fail => "FAIL",
            Grade::Skip => "SKIP",
            Grade::NotClaimed => "NOT-CLAIMED",
            Grade::Info => "INFO",
            Grade::Flaky => "FLAKY",
            Grade::XFail => "XFAIL",
            Grade::XPass => "XPASS",
        }
    }

    /// A grade that counts as failing for gating and baselines.
    pub fn is_failing(self) -> bool {
        matches!(self, Grade::Fail | Grade::Flaky)
    }
}

/// Why a case failed: what the client saw, or what happened to the server or the run around it.
///
/// Serialised as its [`label`](FailureClass::label); its JSON Schema, the string enum of those
/// labels, is written by hand in the report's schema module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// A client step failed (HANG, MISMATCH, RESET, …).
    Client(FailureKind),
    /// The server died during the case.
    ServerDied,
    /// The server could not be launched (or relaunched) for the case.
    Launch,
    /// The property generator gave up before it could test anything.
    Abort,
    /// The case left the server unable to serve other clients (found by running cases side by
    /// side, then confirming alone).
    Interaction,
}

impl FailureClass {
    /// The upper-case label reports print.
    pub fn label(self) -> &'static str {
        match self {
            FailureClass::Client(kind) => kind.label(),
            FailureClass::ServerDied => "DIED",
            FailureClass::Launch => "SERVER",
            FailureClass::Abort => "ABORT",
            FailureClass::Interaction => "INTERACTION",
        }
    }
}

impl std::fmt::Display for FailureClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl Serialize for FailureClass {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

/// What one execution of a case produced: the grade with what backs it.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The grade.
    pub grade: Grade,
    /// The failure class, for a FAIL (and for an INFO whose measurement failed).
    pub failure: Option<FailureClass>,
    /// What backs the grade.
    pub evidence: Option<String>,
    /// Measurements reported whatever the grade (connect counts, memory, CPU).
    pub notes: Vec<String>,
    /// Named figures measured (`pool.served_at_once`), for `--detect`.
    pub figures: Figures,
    /// The typed cause of a failure, which findings group by.
    pub cause: Option<Box<Cause>>,
    /// How attribution confirmed the verdict (`reproduced alone: …`), when it did.
    pub attribution: Option<String>,
}

/// How many of a case's repeated runs (`--repeat`) passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RunTally {
    /// Runs that passed.
    pub passed: u32,
    /// Runs in all.
    pub runs: u32,
}

/// The verdict on one case, with what backs it: one row of every report.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CaseResult {
    /// The case id.
    pub id: String,
    /// The case title.
    pub title: String,
    /// The case level.
    pub level: Level,
    /// Whether the server claims what the case requires (only unclaimed cases run under `--detect`).
    pub claimed: bool,
    /// The verdict.
    pub grade: Grade,
    /// How long the case took.
    pub duration_ms: u64,
    /// The failure class (HANG, STALL, SLOW, MISMATCH, DIED, …) when the grade is FAIL.
    pub failure: Option<FailureClass>,
    /// What backs a FAIL or SKIP: the failing step, offsets and bytes, the transcript, the server's last words.
    pub evidence: Option<String>,
    /// Measurements reported whatever the grade (connect counts, memory, CPU).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Named figures measured (`pool.served_at_once`), for programs; `notes` says them for people.
    #[serde(skip_serializing_if = "Figures::is_empty")]
    pub figures: Figures,
    /// For a `property` case: the seed its sequences came from (`--seed` repeats the run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// For a `property` case: how many sequences it was to run (`--prop-cases`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prop_cases: Option<u32>,
    /// Under `--repeat`: how many runs passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<RunTally>,
    /// The typed cause of a failure, which findings group by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Box<Cause>>,
    /// How attribution confirmed the verdict (`reproduced alone: …`), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
    /// How much the case does (steps, bytes, clients): the simplest failing case of a finding is
    /// its primary case.
    #[serde(skip)]
    pub weight: u64,
}
