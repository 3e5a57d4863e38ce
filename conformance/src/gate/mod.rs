//! CI gating beyond "a claimed MUST case failed": a baseline to ratchet against (`--baseline`,
//! `--write-baseline`), a list of known failures with reasons (`--expect-fail`), repeated runs that
//! expose flakiness (`--repeat`), and the one function that turns all of it into the exit code.
//!
//! Exit-code precedence, highest first: 2 usage > 4 environment > 3 server > 5 regression >
//! 1 case failed > 0. Usage and environment errors stop the run before it starts; the other three
//! are decided here, from the finished results.

pub mod baseline;
pub mod expect;
pub mod repeat;

use crate::exit;
use crate::outcome::{CaseResult, Grade};
use echo_spec::Level;
use serde::Serialize;

/// What the gating options made of a run, for the reports.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct GateReport {
    /// Runs per case (`--repeat`), 1 by default.
    pub repeat: u32,
    /// The baseline compared against, when `--baseline` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Claimed cases that passed in the baseline and now fail or are flaky.
    pub regressions: Vec<String>,
    /// Claimed cases that failed in the baseline and now pass: re-write the baseline to keep them.
    pub improvements: Vec<String>,
    /// Claimed cases that fail now and failed in the baseline too: known, they do not gate.
    pub known_failures: Vec<String>,
    /// Claimed cases the baseline does not know: they gate as usual.
    pub new_cases: Vec<String>,
    /// Cases listed by `--expect-fail`, with their reason and their grade (XFAIL or XPASS).
    pub expected: Vec<Expected>,
    /// Cases that passed only some of their runs, as "id: passed k of n".
    pub flaky: Vec<String>,
    /// Notes for people (for example a baseline written for other claims).
    pub notes: Vec<String>,
}

/// One `--expect-fail` entry as the run judged it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Expected {
    /// The case id.
    pub id: String,
    /// Why it is expected to fail.
    pub reason: String,
    /// XFAIL (it failed, as expected) or XPASS (it passed: remove it from the list).
    pub grade: Grade,
}

/// The gating flags of `run`, checked before anything runs.
#[derive(Debug, Default)]
pub struct Options {
    /// `--baseline`: the file and what it holds.
    pub baseline: Option<(std::path::PathBuf, baseline::Baseline)>,
    /// `--write-baseline`.
    pub write_baseline: Option<std::path::PathBuf>,
    /// `--expect-fail`, read.
    pub expect_fail: Vec<expect::ExpectFail>,
    /// `--repeat`.
    pub repeat: u32,
}

impl Options {
    /// Reads and checks the gating settings; every error is a usage error naming the flag and
    /// file.
    pub(crate) fn new(
        args: &crate::run::Settings,
        spec: &echo_spec::Spec,
    ) -> Result<Options, crate::config::UsageError> {
        if args.repeat == 0 || args.repeat > repeat::MAX_REPEAT {
            return Err(crate::config::UsageError(format!(
                "--repeat: {} is outside 1..={}",
                args.repeat,
                repeat::MAX_REPEAT
            )));
        }
        let baseline = match &args.baseline {
            Some(p) => Some((p.clone(), baseline::Baseline::read(p)?)),
            None => None,
        };
        let expect_fail = match &args.expect_fail {
            Some(p) => expect::read(p, spec)?,
            None => Vec::new(),
        };
        Ok(Options {
            baseline,
            write_baseline: args.write_baseline.clone(),
            expect_fail,
            repeat: args.repeat,
        })
    }

    /// Applies `--expect-fail` and `--baseline` to the folded results; `None` when no gating
    /// option was given, so the report stays as it was.
    pub fn judge(&self, claims: &str, results: &mut [CaseResult]) -> Option<GateReport> {
        if self.baseline.is_none() && self.expect_fail.is_empty() && self.repeat <= 1 {
            return None;
        }
        let mut gate = GateReport {
            repeat: self.repeat,
            ..GateReport::default()
        };
        expect::apply(&self.expect_fail, results, &mut gate);
        gate.flaky = results
            .iter()
            .filter(|r| r.grade == Grade::Flaky)
            .map(|r| match r.runs {
                Some(t) => format!("{}: passed {} of {} runs", r.id, t.passed, t.runs),
                None => r.id.clone(),
            })
            .collect();
        if let Some((path, base)) = &self.baseline {
            gate.baseline = Some(path.display().to_string());
            baseline::compare(base, claims, results, &mut gate);
        }
        Some(gate)
    }
}

/// Whether a case of this level gates the run.
pub fn gating_level(level: Level, strict: bool) -> bool {
    level == Level::Must || (strict && level == Level::Should)
}

/// A grade that counts as failing for gating and baselines.
pub fn failing(grade: Grade) -> bool {
    grade.is_failing()
}

/// How one finished case counts for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseGate {
    /// A claimed case that passed in the baseline and fails or is flaky now, whatever its level:
    /// exit 5.
    Regression,
    /// A failure that gates: a claimed case of a gating level that the baseline does not already
    /// know to fail: exit 1.
    Fails,
    /// Listed as expected to fail, and passed, under `--strict`: exit 1.
    UnexpectedPass,
    /// A claimed failure that the baseline has too: it does not gate.
    Known,
    /// A failure that does not gate: a case the server does not claim, or a level that does
    /// not gate (SHOULD without `--strict`, MAY).
    NotGating,
    /// Nothing to gate: a pass, an INFO, a SKIP, an XFAIL, an XPASS without `--strict`, or a
    /// case not run because it is not claimed.
    Fine,
}

impl CaseGate {
    /// True for the ways a case fails a run (exit 5 or 1).
    pub fn fails_the_run(self) -> bool {
        matches!(
            self,
            CaseGate::Regression | CaseGate::Fails | CaseGate::UnexpectedPass
        )
    }
}

/// How case `r` counts for the exit code: the one rule the exit code and the harness's trials
/// both apply.
///
/// A FLAKY case gates like a FAIL: a server that sometimes fails a MUST is not conformant. An
/// XPASS gates only under `--strict`; an XFAIL never does. Any claimed regression gates, whatever
/// its level: the baseline is a ratchet.
pub fn case_gate(r: &CaseResult, strict: bool, gate: Option<&GateReport>) -> CaseGate {
    let listed = |ids: &[String]| ids.contains(&r.id);
    if r.claimed && gate.is_some_and(|g| listed(&g.regressions)) {
        return CaseGate::Regression;
    }
    let known = gate.is_some_and(|g| listed(&g.known_failures));
    let failing = failing(r.grade);
    if failing && r.claimed && gating_level(r.level, strict) && !known {
        CaseGate::Fails
    } else if strict && r.claimed && r.grade == Grade::XPass {
        CaseGate::UnexpectedPass
    } else if failing && r.claimed && known {
        CaseGate::Known
    } else if failing {
        CaseGate::NotGating
    } else {
        CaseGate::Fine
    }
}

/// The exit code of a finished run: 3 when the server had problems, then 5 for a regression of a
/// claimed case (any level), then 1 for a case that fails the run (see [`case_gate`]), else 0.
pub fn exit_code(
    results: &[CaseResult],
    server_problems: &[crate::notes::ServerProblem],
    strict: bool,
    gate: Option<&GateReport>,
) -> i32 {
    if !server_problems.is_empty() {
        return exit::SERVER;
    }
    let gates: Vec<CaseGate> = results.iter().map(|r| case_gate(r, strict, gate)).collect();
    if gates.contains(&CaseGate::Regression) {
        exit::REGRESSION
    } else if gates.iter().any(|g| g.fails_the_run()) {
        exit::CASE_FAILED
    } else {
        exit::OK
    }
}

/// A claimed case result with nothing but an id, a level and a grade, for the gate's tests.
#[cfg(test)]
pub(crate) fn fixture(id: &str, level: echo_spec::Level, grade: Grade) -> CaseResult {
    CaseResult {
        id: id.into(),
        title: String::new(),
        level,
        claimed: true,
        grade,
        duration_ms: 0,
        failure: None,
        evidence: None,
        notes: Vec::new(),
        figures: Default::default(),
        seed: None,
        prop_cases: None,
        runs: None,
        cause: None,
        attribution: None,
        weight: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, level: Level, grade: Grade) -> CaseResult {
        super::fixture(id, level, grade)
    }

    #[test]
    fn precedence_server_then_regression_then_failure() {
        let results = [
            case("a", Level::Must, Grade::Fail),
            case("b", Level::Must, Grade::Fail),
        ];
        let gate = GateReport {
            regressions: vec!["a".into()],
            ..GateReport::default()
        };
        assert_eq!(
            exit_code(
                &results,
                &[crate::notes::ServerProblem::Crashed {
                    case: "a".into(),
                    status: "died".into(),
                    alone: false
                }],
                false,
                Some(&gate)
            ),
            exit::SERVER
        );
        assert_eq!(
            exit_code(&results, &[], false, Some(&gate)),
            exit::REGRESSION
        );
        assert_eq!(exit_code(&results, &[], false, None), exit::CASE_FAILED);
    }

    #[test]
    fn flaky_must_gates_and_should_only_under_strict() {
        let must = [case("a", Level::Must, Grade::Flaky)];
        assert_eq!(exit_code(&must, &[], false, None), exit::CASE_FAILED);
        let should = [case("a", Level::Should, Grade::Fail)];
        assert_eq!(exit_code(&should, &[], false, None), exit::OK);
        assert_eq!(exit_code(&should, &[], true, None), exit::CASE_FAILED);
    }

    #[test]
    fn known_failures_and_xfail_do_not_gate_but_xpass_does_under_strict() {
        let known = [case("a", Level::Must, Grade::Fail)];
        let gate = GateReport {
            known_failures: vec!["a".into()],
            ..GateReport::default()
        };
        assert_eq!(exit_code(&known, &[], false, Some(&gate)), exit::OK);
        let xfail = [case("a", Level::Must, Grade::XFail)];
        assert_eq!(exit_code(&xfail, &[], true, None), exit::OK);
        let xpass = [case("a", Level::Must, Grade::XPass)];
        assert_eq!(exit_code(&xpass, &[], false, None), exit::OK);
        assert_eq!(exit_code(&xpass, &[], true, None), exit::CASE_FAILED);
    }
}
