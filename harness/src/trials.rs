//! From a [`Suite`] and libtest's arguments to trials: plan the cases, keep the ones libtest
//! selects, run them through the library's [`echo_conform::Run`], and give each trial its case's
//! verdict, gated by [`echo_conform::gate::case_gate`] as the CLI's exit code is.

use crate::{SetupError, Suite};
use echo_conform::findings::Finding;
use echo_conform::gate::{case_gate, CaseGate, GateReport};
use echo_conform::notes::ServerProblem;
use echo_conform::outcome::{CaseResult, Grade};
use echo_conform::{RunBuilder, Server};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::collections::{BTreeMap, BTreeSet};

/// One planned case: its trial name, the id `--case` selects it by, whether it is left out
/// unless asked for (a heavy case the suite did not pick), and why the server does not claim it.
struct Named {
    name: String,
    base_id: String,
    id: String,
    ignored: bool,
    unclaimed: Option<String>,
}

fn setup(e: impl std::fmt::Display) -> SetupError {
    SetupError(e.to_string())
}

/// One run of the pipeline at a time in a process: the runner reaps the zombies it adopts
/// process-wide, so two runs at once could take each other's server exits.
static ONE_RUN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The trials of `suite` under `args`. Nothing is launched when libtest only lists, or when the
/// filters leave no case.
pub fn build(suite: Suite, args: &Arguments) -> Result<Vec<Trial>, SetupError> {
    let Suite { launcher, run } = suite;
    let run = crate::with_seed_from_env(run)?;
    // Heavy cases are planned too, so that every case of the spec is listed; unless the suite
    // asks for them, they are ignored trials that `--include-ignored` runs.
    let picks_heavy = run.is_heavy() || run.has_case_filter();
    let planned = run.clone().heavy(true).build().map_err(setup)?;
    let plan = planned.plan();
    let named: Vec<Named> = plan
        .cases
        .iter()
        .map(|p| {
            let group = p.case.origin.file.trim_end_matches(".toml");
            Named {
                name: format!("{group}/{}", p.id()),
                base_id: p.case.id.clone(),
                id: p.id(),
                ignored: p.case.is_heavy() && !picks_heavy,
                unclaimed: (!p.claimed).then(|| {
                    let missing: Vec<&str> = p
                        .case
                        .requires
                        .iter()
                        .filter(|c| !plan.claims.contains(**c))
                        .map(|c| c.as_str())
                        .collect();
                    format!(
                        "NOT-CLAIMED: the case requires {}; the server claims {} \
                         (--include-ignored runs it, as --detect does)",
                        missing.join(","),
                        plan.claims
                    )
                }),
            }
        })
        .collect();
    let placeholder =
        |n: &Named| Trial::test(n.name.clone(), || Ok(())).with_ignored_flag(n.ignored);
    let chosen: BTreeSet<&str> = named
        .iter()
        .filter(|n| {
            let t = placeholder(n);
            // `--ignored` runs only the ignored trials, as libtest does.
            !args.is_filtered_out(&t) && !args.is_ignored(&t) && (!args.ignored || n.ignored)
        })
        .map(|n| n.base_id.as_str())
        .collect();
    if args.list || chosen.is_empty() {
        return Ok(named.iter().map(placeholder).collect());
    }
    // Only the chosen cases run; `--ignored` runs the heavy ones, and `--include-ignored` the
    // heavy and the unclaimed ones, as `--detect --heavy` does.
    let mut run = run.cases(chosen.iter().map(|id| id.to_string()).collect());
    if args.ignored || args.include_ignored {
        run = run.detect(true).heavy(true);
    }
    let ran = match execute(run, launcher) {
        Ok(r) => r,
        Err(why) => {
            // The server could not be started or reached: every chosen case fails with why.
            return Ok(named
                .iter()
                .map(|n| {
                    let why = why.clone();
                    Trial::test(n.name.clone(), move || Err(Failed::from(why)))
                        .with_ignored_flag(n.ignored)
                })
                .collect());
        }
    };
    Ok(trials(&named, ran))
}

/// Each planned case's trial, judged from what the run left.
fn trials(named: &[Named], ran: Ran) -> Vec<Trial> {
    let Ran {
        by_id,
        problems,
        gate,
        findings,
        strict,
    } = ran;
    // A server problem (it crashed, or an instance would not start) makes the CLI exit 3 whatever
    // the cases say: here it fails every selected trial that ran, so no filter can hide it.
    let problems = (!problems.is_empty()).then(|| {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        format!(
            "the server had problems during the run (echo-conform would exit 3):\n{}",
            lines.join("\n")
        )
    });
    named
        .iter()
        .map(|n| {
            let result = by_id.get(&n.id).cloned();
            let finding = echo_conform::findings::line(&findings, &n.id);
            let unclaimed = n.unclaimed.clone();
            let problems = problems.clone();
            let gate = gate.clone();
            Trial::ignorable_test(n.name.clone(), move || match result {
                Some(r) if r.grade == Grade::NotClaimed => Ok(Completion::ignored_with(
                    unclaimed.unwrap_or_else(|| "NOT-CLAIMED".into()),
                )),
                Some(r) => match (verdict(&r, strict, gate.as_ref(), finding), problems) {
                    (Ok(Completion::Completed), Some(p)) => Err(Failed::from(p)),
                    (Err(e), Some(p)) => Err(Failed::from(format!(
                        "{}\n{p}",
                        e.message().unwrap_or_default()
                    ))),
                    (outcome, _) => outcome,
                },
                None => Ok(Completion::ignored_with("not selected")),
            })
            .with_ignored_flag(n.ignored)
        })
        .collect()
}

/// What a run left for the trials: each case's result by id, the server's problems, what the
/// gate (`--baseline`, `--expect-fail`) made of the results, the findings that explain the
/// failures, and whether SHOULD cases gate.
struct Ran {
    by_id: BTreeMap<String, CaseResult>,
    problems: Vec<ServerProblem>,
    gate: Option<GateReport>,
    findings: Vec<Finding>,
    strict: bool,
}

/// Launches an in-process server when there is one, then carries the run out. `Err` when the
/// server cannot be started or reached.
fn execute(run: RunBuilder, launcher: Option<crate::launcher::Launcher>) -> Result<Ran, String> {
    let _one = ONE_RUN.lock().unwrap_or_else(|e| e.into_inner());
    let (run, handle) = match launcher {
        Some(launcher) => {
            let (addr, handle) = launcher.start()?;
            (run.server(Server::Addr(addr.to_string())), Some(handle))
        }
        None => (run, None),
    };
    let run = run.build().map_err(|e| e.to_string())?;
    let report = run.execute(&|_| {}).map_err(|e| e.to_string())?;
    drop(handle);
    let by_id = report
        .cases
        .iter()
        .map(|r| (r.id.clone(), r.clone()))
        .collect();
    Ok(Ran {
        by_id,
        problems: report.server_problems,
        gate: report.gate,
        findings: report.findings,
        strict: run.strict(),
    })
}

/// A case's result as a trial's outcome, judged as the CLI's exit code judges it: a claimed
/// regression against `--baseline` fails whatever its level, and a failure the baseline already
/// knows does not. A failure's message opens with `finding`, the line naming the finding that
/// explains the case, when one does.
fn verdict(
    r: &CaseResult,
    strict: bool,
    gate: Option<&GateReport>,
    finding: Option<String>,
) -> Result<Completion, Failed> {
    verdict_of(r, strict, gate).map_err(|failed| match finding {
        Some(line) => Failed::from(format!("{line}\n{}", failed.message().unwrap_or_default())),
        None => failed,
    })
}

/// [`verdict`] without the finding: [`case_gate`] decides, and the trial says why.
fn verdict_of(
    r: &CaseResult,
    strict: bool,
    gate: Option<&GateReport>,
) -> Result<Completion, Failed> {
    let evidence = r.evidence.as_deref().unwrap_or("");
    let first_line = evidence.lines().next().unwrap_or("");
    match case_gate(r, strict, gate) {
        CaseGate::Regression => Err(Failed::from(format!(
            "REGRESSION against the baseline ({}): {}",
            r.grade.label(),
            failure_text(r)
        ))),
        CaseGate::Fails => Err(Failed::from(failure_text(r))),
        CaseGate::UnexpectedPass => Err(Failed::from(
            "XPASS: listed as expected to fail, and passed: remove it from the list",
        )),
        CaseGate::Known => Ok(Completion::ignored_with(format!(
            "known failure (the baseline has it): {first_line}"
        ))),
        // An unclaimed case runs only under `--include-ignored`, as `--detect` runs it.
        CaseGate::NotGating if !r.claimed => Ok(Completion::ignored_with(format!(
            "{} of a case the server does not claim (never gates): {first_line}",
            r.grade.label()
        ))),
        CaseGate::NotGating => Ok(Completion::ignored_with(format!(
            "{} of a {} case, which does not gate: {first_line}",
            r.grade.label(),
            r.level.as_str()
        ))),
        CaseGate::Fine => Ok(match r.grade {
            Grade::NotClaimed => Completion::ignored_with("not claimed by the server"),
            Grade::Skip => Completion::ignored_with(format!("SKIP: {first_line}")),
            Grade::XFail => Completion::ignored_with(format!("XFAIL: {first_line}")),
            _ => Completion::Completed,
        }),
    }
}

/// The message of a failing trial: grade, class, level, evidence, and how to replay a seed.
fn failure_text(r: &CaseResult) -> String {
    let class = r
        .failure
        .map(|f| format!(" {}", f.label()))
        .unwrap_or_default();
    let mut text = format!(
        "{}{class} ({}): {}\n{}",
        r.grade.label(),
        r.level.as_str(),
        r.title,
        r.evidence.as_deref().unwrap_or("(no evidence)")
    );
    if let Some(seed) = r.seed {
        text.push_str(&format!(
            "\nreplay with {}={seed} cargo test -- --exact <this trial>",
            crate::SEED_VAR
        ));
    }
    text
}
