//! The results of a run, as data; the printers for people and machines live in the submodules.

pub mod dir;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod tap;

use crate::environment::Environment;
use echo_spec::Level;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The verdict on one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// Passed only some of the repeated runs.
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
}

/// The verdict on one case, with what backs it.
#[derive(Debug, Clone, Serialize)]
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
    /// The failure class (HANG, STALL, SLOW, MISMATCH, …) when the grade is FAIL.
    pub failure: Option<String>,
    /// What backs a FAIL or SKIP: the failing step, offsets and bytes, the transcript, the server's last words.
    pub evidence: Option<String>,
    /// Measurements reported whatever the grade (connect counts, memory, CPU).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// For a `property` case: the seed its sequences came from (`--seed` repeats the run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// For a `property` case: how many sequences it was to run (`--prop-cases`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prop_cases: Option<u32>,
}

/// How the server was reached.
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// `cmd` or `addr`.
    pub mode: &'static str,
    /// The command line or the address.
    pub value: String,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The server under test.
    pub target: TargetInfo,
    /// The machine and runner.
    pub environment: Environment,
    /// The claims the server was tested against.
    pub claims: String,
    /// Under `--detect`: the strongest claim set the server met.
    pub detected: Option<String>,
    /// Count of cases per grade.
    pub summary: BTreeMap<Grade, usize>,
    /// Every case, in spec order.
    pub cases: Vec<CaseResult>,
    /// Problems with the server process itself (did not start, crashed), each a line.
    pub server_problems: Vec<String>,
    /// Wall-clock duration of the run.
    pub duration_ms: u64,
    /// The exit code the run maps to.
    pub exit_code: i32,
    /// What `--baseline`, `--expect-fail` and `--repeat` made of the results, when any was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<crate::gate::GateReport>,
}

impl RunReport {
    /// Counts the grades of `cases` (claimed cases only; unclaimed runs are reported apart).
    pub fn summarise(cases: &[CaseResult]) -> BTreeMap<Grade, usize> {
        let mut summary = BTreeMap::new();
        for c in cases {
            let grade = if c.claimed {
                c.grade
            } else {
                Grade::NotClaimed
            };
            *summary.entry(grade).or_insert(0) += 1;
        }
        summary
    }
}

/// What the runner tells reporters as it goes.
#[derive(Debug, Clone)]
pub enum Event {
    /// The run starts with this many cases to execute.
    Started {
        /// Cases that will run.
        to_run: usize,
    },
    /// A case finished.
    CaseFinished(CaseResult),
    /// The server was started again (after it died, or for a case that needs a fresh one).
    Relaunched {
        /// Why.
        reason: String,
    },
}
