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
use crate::report::{CaseResult, Grade};
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
    /// Reads and checks the gating flags; every error is a usage error naming the flag and file.
    pub fn from_args(
        args: &crate::flags::RunArgs,
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

/// The exit code of a finished run: 3 when the server had problems, then 5 for a regression of a
/// claimed case (any level), then 1 for a gating failure that the baseline does not already know,
/// else 0.
///
/// A FLAKY case gates like a FAIL: a server that sometimes fails a MUST is not conformant. An XPASS
/// gates only under `--strict`; an XFAIL never does.
pub fn exit_code(
    results: &[CaseResult],
    server_problems: &[String],
    strict: bool,
    gate: Option<&GateReport>,
) -> i32 {
    if !server_problems.is_empty() {
        return exit::SERVER;
    }
    let gates = |r: &CaseResult| r.claimed && gating_level(r.level, strict);
    let listed = |ids: &[String], id: &str| ids.iter().any(|x| x == id);
    // Any claimed regression gates, whatever its level: the baseline is a ratchet.
    if let Some(g) = gate {
        if results
            .iter()
            .any(|r| r.claimed && listed(&g.regressions, &r.id))
        {
            return exit::REGRESSION;
        }
    }
    let known = |id: &str| gate.is_some_and(|g| listed(&g.known_failures, id));
    let failed = results.iter().any(|r| {
        (gates(r) && failing(r.grade) && !known(&r.id))
            || (strict && r.claimed && r.grade == Grade::XPass)
    });
    if failed {
        exit::CASE_FAILED
    } else {
        exit::OK
    }
}

/// The gating section of the human summary; empty when there is nothing to say.
pub fn summary_text(g: &GateReport) -> String {
    let mut text = String::new();
    let list = |title: &str, ids: &[String], text: &mut String| {
        if !ids.is_empty() {
            text.push_str(&format!("{title} ({}):\n", ids.len()));
            for id in ids {
                text.push_str(&format!("    {id}\n"));
            }
        }
    };
    if g.repeat > 1 {
        text.push_str(&format!("each case ran {} times\n", g.repeat));
    }
    list("FLAKY, passed only some runs", &g.flaky, &mut text);
    if let Some(b) = &g.baseline {
        text.push_str(&format!("baseline: {b}\n"));
        list(
            "REGRESSIONS, passed in the baseline and fail now",
            &g.regressions,
            &mut text,
        );
        list(
            "known failures, failing in the baseline too (not gating)",
            &g.known_failures,
            &mut text,
        );
        list(
            "new cases, not in the baseline (gating as usual)",
            &g.new_cases,
            &mut text,
        );
        list(
            "IMPROVEMENTS, failing in the baseline and passing now",
            &g.improvements,
            &mut text,
        );
        if !g.improvements.is_empty() {
            text.push_str(&format!(
                "    to bake them in: re-run with --write-baseline {b}\n"
            ));
        }
    }
    for e in &g.expected {
        match e.grade {
            Grade::XPass => text.push_str(&format!(
                "XPASS {}: listed in --expect-fail ({}) but passed; remove it from the list\n",
                e.id, e.reason
            )),
            _ => text.push_str(&format!("XFAIL {}: expected failure: {}\n", e.id, e.reason)),
        }
    }
    for n in &g.notes {
        text.push_str(&format!("note: {n}\n"));
    }
    text
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
            exit_code(&results, &["died".into()], false, Some(&gate)),
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
