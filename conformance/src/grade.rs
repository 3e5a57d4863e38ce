//! The one place a grade is written. [`decide`] grades one execution of a case from what its
//! steps did and what happened to the server; the other functions are the typed transformations
//! applied afterwards: confirmation alone (crash and wedge attribution), `--repeat` folding and
//! `--expect-fail`. Nothing else in the crate sets [`Grade`] on a result.

use crate::cause::{client_cause, Around, Cause, Signature};
use crate::outcome::{CaseResult, FailureClass, Grade, RunTally, Verdict};
use crate::plan::Planned;
use echo_clients::{FailureKind, Figures, Symptom};
use echo_spec::Level;

/// What the client side of one execution produced.
#[derive(Debug, Clone, Default)]
pub struct StepsOutcome {
    /// Why it failed, if it did.
    pub failure: Option<ClientFailure>,
    /// Measurements the steps left, reported whatever the grade.
    pub notes: Vec<String>,
    /// Named figures the steps measured (`pool.served_at_once`), for `--detect`.
    pub figures: Figures,
}

/// A failure seen by the client side.
#[derive(Debug, Clone)]
pub enum ClientFailure {
    /// A step failed; `Environment` means the client could not run it here (a SKIP).
    Step {
        /// Its class.
        kind: FailureKind,
        /// What the client saw, with its transcript.
        evidence: String,
        /// The typed facts behind it, when the client knows them.
        symptom: Option<Symptom>,
        /// The failing step's name.
        step: Option<&'static str>,
    },
    /// The property generator gave up before testing anything.
    Abort(String),
}

/// What happened to the server during one execution.
#[derive(Debug, Clone, Default)]
pub enum ServerFate {
    /// Still running, or not ours to watch (`--addr`), or ended as the case or claims allow.
    #[default]
    Fine,
    /// Still running; the case failed and this is what the server last printed.
    Said(String),
    /// It died during the case: how (`exited with status 1`) and its last output.
    Died {
        /// The exit described for people.
        status: String,
        /// The exit in a word: the signal's name (`SIGPIPE`) or `exit N`.
        ending: String,
        /// Its last output lines.
        tail: String,
    },
    /// It could not be launched for the case.
    LaunchFailed(String),
}

/// Grades one execution of `planned`.
pub fn decide(planned: &Planned, steps: StepsOutcome, fate: ServerFate) -> Verdict {
    let StepsOutcome {
        failure,
        notes,
        figures,
    } = steps;
    if let ServerFate::LaunchFailed(msg) = fate {
        return Verdict {
            grade: Grade::Fail,
            failure: Some(FailureClass::Launch),
            evidence: Some(msg),
            notes,
            figures,
            cause: Some(Box::new(Cause::of(Signature::DidNotStart))),
            attribution: None,
        };
    }
    let around = match &fate {
        ServerFate::Died { ending, tail, .. } => Around::Died(ending, tail),
        ServerFate::Said(tail) => Around::Said(tail),
        _ => Around::Nothing,
    };
    let (class, evidence, cause) = match failure {
        Some(ClientFailure::Step {
            kind: FailureKind::Environment,
            evidence,
            ..
        }) => {
            return Verdict {
                grade: Grade::Skip,
                failure: None,
                evidence: Some(evidence),
                notes,
                figures,
                cause: None,
                attribution: None,
            }
        }
        Some(ClientFailure::Step {
            kind,
            evidence,
            symptom,
            step,
        }) => (
            Some(FailureClass::Client(kind)),
            Some(evidence),
            Some(client_cause(kind, symptom.as_ref(), step, around)),
        ),
        Some(ClientFailure::Abort(evidence)) => (
            Some(FailureClass::Abort),
            Some(evidence),
            Some(Cause::of(Signature::Other {
                class: FailureClass::Abort.label().into(),
                step: String::new(),
            })),
        ),
        None => (None, None, None),
    };
    // A death is the cause even of a case whose steps all passed.
    let cause = match (&fate, cause) {
        (ServerFate::Died { .. }, None) => Some(client_cause(FailureKind::Io, None, None, around)),
        (_, cause) => cause,
    };
    let (class, evidence) = match fate {
        ServerFate::Died { status, tail, .. } => {
            let death = format!(
                "DIED: the server {status} during this case; its last output:\n{}",
                crate::text::indent_or_nothing(&tail)
            );
            (
                Some(FailureClass::ServerDied),
                Some(join(Some(death), evidence)),
            )
        }
        ServerFate::Said(tail) if class.is_some() && !tail.trim().is_empty() => {
            let said = format!("the server's last output:\n{}", crate::text::indent(&tail));
            (class, Some(join(evidence, Some(said))))
        }
        _ => (class, evidence),
    };
    let grade = match (&class, planned.case.level) {
        (_, Level::Info) => Grade::Info,
        (None, _) => Grade::Pass,
        (Some(_), _) => Grade::Fail,
    };
    Verdict {
        grade,
        failure: class,
        evidence,
        notes,
        figures,
        cause: if grade == Grade::Pass {
            None
        } else {
            cause.map(Box::new)
        },
        attribution: None,
    }
}

/// A case decided without running: SKIP with its reason.
pub fn skip(reason: impl Into<String>) -> Verdict {
    Verdict {
        grade: Grade::Skip,
        failure: None,
        evidence: Some(reason.into()),
        notes: Vec::new(),
        figures: Figures::new(),
        cause: None,
        attribution: None,
    }
}

/// A case the server does not claim, left out of the run.
pub fn not_claimed() -> Verdict {
    Verdict {
        grade: Grade::NotClaimed,
        failure: None,
        evidence: None,
        notes: Vec::new(),
        figures: Figures::new(),
        cause: None,
        attribution: None,
    }
}

/// A failure seen beside other cases that the case also shows alone on a fresh instance: the
/// verdict alone, marked as reproduced.
pub fn reproduced_alone(alone: Verdict) -> Verdict {
    let line = "reproduced alone: the case fails on a fresh instance with nothing else running";
    Verdict {
        attribution: Some(line.into()),
        ..alone
    }
}

/// A failure seen beside other cases that passed alone once, then failed alone on a second fresh
/// instance: its result varies whatever runs before it, so no other case is blamed. Graded on the
/// failing run alone.
pub fn fails_alone_sometimes(alone: Verdict) -> Verdict {
    let line =
        "reproduced alone on a second try: the case passed alone once, then failed on another \
                fresh instance with nothing else running; its result varies from run to run";
    Verdict {
        evidence: Some(join(alone.evidence, Some(line.into()))),
        ..alone
    }
}

/// A failure seen beside other cases that the case does not show alone: it is graded on its
/// run alone, and what it saw beside the others is kept as a note.
pub fn innocent_alone(alone: Verdict, beside: &Verdict, cause: &str) -> Verdict {
    let first = beside
        .evidence
        .as_deref()
        .and_then(|e| e.lines().next())
        .unwrap_or("");
    let class = beside.failure.map(FailureClass::label).unwrap_or("FAIL");
    let mut notes = alone.notes;
    notes.push(format!(
        "failed beside other cases ({class}: {first}) and passes alone on a fresh instance; {cause}"
    ));
    Verdict { notes, ..alone }
}

/// The case that, run first on a fresh instance, makes `victims` fail although each passes
/// alone: the server stopped serving others after it. Its own verdict stays a FAIL if it already
/// failed alone; a case that passed alone becomes a FAIL of class INTERACTION.
pub fn culprit(own: Verdict, victims: &[String]) -> Verdict {
    let effect = format!(
        "after this case, the server no longer served other clients: {} failed after it on a fresh \
         instance and pass{} alone",
        victims
            .iter()
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if victims.len() == 1 { "es" } else { "" }
    );
    let failed_alone = own.grade == Grade::Fail;
    let effect = if failed_alone {
        effect
    } else {
        format!("{}: {effect}", FailureClass::Interaction.label())
    };
    Verdict {
        grade: if own.grade == Grade::Info {
            Grade::Info
        } else {
            Grade::Fail
        },
        failure: if failed_alone {
            own.failure
        } else {
            Some(FailureClass::Interaction)
        },
        evidence: Some(join(Some(effect), own.evidence)),
        notes: own.notes,
        figures: own.figures,
        cause: if failed_alone {
            own.cause
        } else {
            Some(Box::new(Cause::of(Signature::Interaction)))
        },
        attribution: own.attribution,
    }
}

/// Cases that kill the server only when they run together (`partners`), though neither does alone.
pub fn crash_together(own: Verdict, partners: &[String], death: &str) -> Verdict {
    let names = partners
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(" and ");
    Verdict {
        grade: Grade::Fail,
        failure: Some(FailureClass::ServerDied),
        evidence: Some(format!(
            "DIED: the server dies when this case runs together with {names} on a fresh instance \
             ({death}); neither kills it alone"
        )),
        notes: own.notes,
        figures: own.figures,
        cause: Some(Box::new(Cause::of(Signature::Died {
            ending: "together".into(),
            exception: None,
        }))),
        attribution: own.attribution,
    }
}

/// A failure seen beside other cases that could not be confirmed alone: it keeps its grade, and
/// the evidence says what was not ruled out.
pub fn unconfirmed(beside: Verdict, why: &str) -> Verdict {
    let line = format!(
        "not confirmed alone ({why}): another case running against the same server may have caused it"
    );
    Verdict {
        evidence: Some(join(beside.evidence, Some(line))),
        ..beside
    }
}

/// Folds one case's results over `n` repeated runs: all passed is PASS, none is FAIL (the first
/// failure's evidence), some is FLAKY with the tally.
pub fn fold_runs(results: Vec<CaseResult>, n: usize) -> CaseResult {
    let passed = results.iter().filter(|r| r.grade == Grade::Pass).count();
    let failed: Vec<&CaseResult> = results.iter().filter(|r| r.grade.is_failing()).collect();
    let mean = results.iter().map(|r| r.duration_ms).sum::<u64>() / results.len().max(1) as u64;
    let first = results[0].clone();
    if n <= 1 {
        return first;
    }
    let runs = Some(RunTally {
        passed: passed as u32,
        runs: n as u32,
    });
    match (passed, failed.first()) {
        (_, None) => CaseResult {
            duration_ms: mean,
            runs,
            ..first
        },
        (0, Some(f)) => CaseResult {
            duration_ms: mean,
            evidence: Some(format!(
                "failed all {n} runs; the first failure:\n{}",
                f.evidence.as_deref().unwrap_or("(no evidence)")
            )),
            runs,
            ..(*f).clone()
        },
        (k, Some(f)) => CaseResult {
            grade: Grade::Flaky,
            duration_ms: mean,
            evidence: Some(format!(
                "passed {k} of {n} runs; one failure:\n{}",
                f.evidence.as_deref().unwrap_or("(no evidence)")
            )),
            runs,
            ..(*f).clone()
        },
    }
}

/// Applies one `--expect-fail` entry to a result: a failure becomes XFAIL, a pass XPASS; other
/// grades stay. Returns the new grade when it changed.
pub fn expect_fail(r: &mut CaseResult, reason: &str) -> Option<Grade> {
    let grade = if r.grade.is_failing() {
        Grade::XFail
    } else if r.grade == Grade::Pass {
        Grade::XPass
    } else {
        return None;
    };
    r.grade = grade;
    let note = match grade {
        Grade::XFail => format!("expected failure: {reason}"),
        _ => format!("listed in --expect-fail ({reason}) but passed; remove it from the list"),
    };
    r.evidence = Some(join(Some(note), r.evidence.take()));
    Some(grade)
}

/// The grade a case counts as in the summary: unclaimed runs (under `--detect`) are counted apart.
pub fn summary_grade(r: &CaseResult) -> Grade {
    if r.claimed {
        r.grade
    } else {
        Grade::NotClaimed
    }
}

fn join(first: Option<String>, second: Option<String>) -> String {
    match (first, second) {
        (Some(a), Some(b)) => format!("{a}\n{b}"),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use echo_spec::Spec;

    fn planned(id: &str) -> Planned {
        let spec = Spec::embedded().expect("embedded spec");
        Planned {
            case: spec.get(id).expect("case").clone(),
            claimed: true,
            over: None,
        }
    }

    fn failed(kind: FailureKind) -> StepsOutcome {
        StepsOutcome {
            failure: Some(ClientFailure::Step {
                kind,
                evidence: "steps[1]: nothing came".into(),
                symptom: None,
                step: Some("expect_echo"),
            }),
            notes: vec!["measured".into()],
            figures: Default::default(),
        }
    }

    #[test]
    fn client_failures_pass_skip_and_info() {
        let p = planned("echo.text.short");
        let v = decide(&p, StepsOutcome::default(), ServerFate::Fine);
        assert_eq!((v.grade, v.failure), (Grade::Pass, None));
        let v = decide(&p, failed(FailureKind::Hang), ServerFate::Fine);
        assert_eq!(v.grade, Grade::Fail);
        assert_eq!(v.failure, Some(FailureClass::Client(FailureKind::Hang)));
        assert_eq!(v.notes, ["measured"]);
        let v = decide(&p, failed(FailureKind::Environment), ServerFate::Fine);
        assert_eq!(v.grade, Grade::Skip);
        let mut info = p.clone();
        info.case.level = Level::Info;
        let v = decide(&info, failed(FailureKind::Hang), ServerFate::Fine);
        assert_eq!(v.grade, Grade::Info);
    }

    #[test]
    fn a_death_is_the_cause_and_leads_the_evidence() {
        let p = planned("echo.text.short");
        let fate = ServerFate::Died {
            status: "was killed by signal 11 (SIGSEGV)".into(),
            ending: "SIGSEGV".into(),
            tail: "boom".into(),
        };
        let v = decide(&p, failed(FailureKind::Reset), fate);
        assert_eq!(v.grade, Grade::Fail);
        assert_eq!(v.failure, Some(FailureClass::ServerDied));
        let e = v.evidence.unwrap_or_default();
        assert!(
            e.starts_with("DIED: the server was killed by signal 11"),
            "{e}"
        );
        assert!(e.contains("boom") && e.contains("nothing came"), "{e}");
        // A death fails even a case whose steps all passed.
        let fate = ServerFate::Died {
            status: "exited with status 1".into(),
            ending: "exit 1".into(),
            tail: String::new(),
        };
        let v = decide(&p, StepsOutcome::default(), fate);
        assert_eq!(v.grade, Grade::Fail);
    }

    #[test]
    fn a_launch_failure_is_class_server() {
        let p = planned("echo.text.short");
        let v = decide(
            &p,
            StepsOutcome::default(),
            ServerFate::LaunchFailed("no".into()),
        );
        assert_eq!(
            (v.grade, v.failure),
            (Grade::Fail, Some(FailureClass::Launch))
        );
    }

    #[test]
    fn culprit_and_innocent() {
        let p = planned("echo.text.short");
        let pass = decide(&p, StepsOutcome::default(), ServerFate::Fine);
        let beside = decide(&p, failed(FailureKind::Hang), ServerFate::Fine);
        let v = innocent_alone(pass.clone(), &beside, "after `x`");
        assert_eq!(v.grade, Grade::Pass);
        assert!(v.notes[0].contains("HANG: steps[1]"), "{:?}", v.notes);
        let c = culprit(pass, &["a".into(), "b".into()]);
        assert_eq!(
            (c.grade, c.failure),
            (Grade::Fail, Some(FailureClass::Interaction))
        );
        assert!(c
            .evidence
            .unwrap_or_default()
            .contains("`a`, `b` failed after it"));
        let c = culprit(beside, &["a".into()]);
        assert_eq!(c.failure, Some(FailureClass::Client(FailureKind::Hang)));
    }

    fn r(grade: Grade, ev: &str) -> CaseResult {
        CaseResult {
            id: "a".into(),
            title: String::new(),
            level: Level::Must,
            claimed: true,
            grade,
            duration_ms: 10,
            failure: (grade == Grade::Fail).then_some(FailureClass::Client(FailureKind::Hang)),
            evidence: Some(ev.into()),
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

    #[test]
    fn repeats_fold_with_a_tally() {
        let all = fold_runs(vec![r(Grade::Pass, ""), r(Grade::Pass, "")], 2);
        assert_eq!(all.grade, Grade::Pass);
        assert_eq!(all.runs, Some(RunTally { passed: 2, runs: 2 }));
        let none = fold_runs(vec![r(Grade::Fail, "x"), r(Grade::Fail, "y")], 2);
        assert_eq!(none.grade, Grade::Fail);
        assert!(none
            .evidence
            .unwrap_or_default()
            .contains("failed all 2 runs"));
        let some = fold_runs(
            vec![
                r(Grade::Pass, ""),
                r(Grade::Fail, "boom"),
                r(Grade::Pass, ""),
            ],
            3,
        );
        assert_eq!(some.grade, Grade::Flaky);
        assert_eq!(some.runs, Some(RunTally { passed: 2, runs: 3 }));
        assert!(some.evidence.unwrap_or_default().contains("boom"));
    }

    #[test]
    fn expected_failures() {
        let mut f = r(Grade::Fail, "x");
        assert_eq!(expect_fail(&mut f, "why"), Some(Grade::XFail));
        assert!(f
            .evidence
            .unwrap_or_default()
            .starts_with("expected failure: why"));
        let mut p = r(Grade::Pass, "");
        assert_eq!(expect_fail(&mut p, "why"), Some(Grade::XPass));
        let mut s = r(Grade::Skip, "");
        assert_eq!(expect_fail(&mut s, "why"), None);
    }
}
