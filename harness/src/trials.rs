//! From a [`Suite`] and libtest's arguments to trials: plan the cases, keep the ones libtest
//! selects, run them through the CLI's pipeline, and give each trial its case's verdict.

use crate::{Server, SetupError, Suite};
use clap::Parser;
use echo_conform::findings::Finding;
use echo_conform::flags::{Cli, Command, RunArgs};
use echo_conform::gate::gating_level;
use echo_conform::outcome::{CaseResult, Grade};
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

fn parse(argv: &[String]) -> Result<RunArgs, SetupError> {
    let args = match Cli::try_parse_from(argv)
        .map_err(|e| setup(e.render()))?
        .command
    {
        Command::Run(args) => args,
        _ => return Err(setup("the harness builds a `run` command line")),
    };
    // libtest renders the results; `--report-dir` writes the report files as well.
    if args.output.is_some() || args.format != echo_conform::flags::Format::Human {
        return Err(setup(
            "--output and --format are libtest's to choose here (`cargo test -- --format json`); \
             use --report-dir for the report files",
        ));
    }
    Ok(args)
}

/// One run of the pipeline at a time in a process: the runner reaps the zombies it adopts
/// process-wide, so two runs at once could take each other's server exits.
static ONE_RUN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The trials of `suite` under `args`. Nothing is launched when libtest only lists, or when the
/// filters leave no case.
pub fn build(mut suite: Suite, args: &Arguments) -> Result<Vec<Trial>, SetupError> {
    // Heavy cases are planned too, so that every case of the spec is listed; unless the suite
    // asks for them, they are ignored trials that `--include-ignored` runs.
    let picks_heavy = suite
        .flags
        .iter()
        .any(|f| f == "--heavy" || f == "--case" || f.starts_with("--case="));
    let mut plan_flags = suite.flags.clone();
    push_once(&mut plan_flags, "--heavy");
    let run_args = parse(&crate::argv(suite.target(), &plan_flags))?;
    let spec = echo_conform::cli::load(run_args.spec.as_deref()).map_err(setup)?;
    let cfg = echo_conform::config::run_config(&run_args, &spec).map_err(setup)?;
    let named: Vec<Named> = cfg
        .plan
        .cases
        .iter()
        .map(|p| {
            let group = p.case.origin.file.trim_end_matches(".toml");
            Named {
                name: format!("{group}/{}", p.case.id),
                base_id: p.case.id.split('@').next().unwrap_or_default().to_string(),
                id: p.case.id.clone(),
                ignored: p.case.is_heavy() && !picks_heavy,
                unclaimed: (!p.claimed).then(|| {
                    let missing: Vec<&str> = p
                        .case
                        .requires
                        .iter()
                        .filter(|c| !cfg.plan.claims.contains(**c))
                        .map(|c| c.as_str())
                        .collect();
                    format!(
                        "NOT-CLAIMED: the case requires {}; the server claims {} \
                         (--include-ignored runs it, as --detect does)",
                        missing.join(","),
                        cfg.plan.claims
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
    suite.flags = without_case_flags(&suite.flags);
    for id in &chosen {
        suite.flags.extend(["--case".to_string(), id.to_string()]);
    }
    if args.ignored || args.include_ignored {
        push_once(&mut suite.flags, "--detect");
        push_once(&mut suite.flags, "--heavy");
    }
    let ran = run(suite);
    let mut trials = Vec::new();
    let (results, strict) = match ran {
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
    let Ran {
        by_id,
        problems,
        gate,
        findings,
    } = results;
    // A server problem (it crashed, or an instance would not start) makes the CLI exit 3 whatever
    // the cases say: here it fails every selected trial that ran, so no filter can hide it.
    let problems = (!problems.is_empty()).then(|| {
        format!(
            "the server had problems during the run (echo-conform would exit 3):\n{}",
            problems.join("\n")
        )
    });
    for n in &named {
        let result = by_id.get(&n.id).cloned();
        let finding = echo_conform::findings::line(&findings, &n.id);
        let unclaimed = n.unclaimed.clone();
        let problems = problems.clone();
        let gate = gate.clone();
        trials.push(
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
            .with_ignored_flag(n.ignored),
        );
    }
    Ok(trials)
}

/// What a run left for the trials: each case's result by id, the server's problems, what the
/// gate (`--baseline`, `--expect-fail`) made of the results, and the findings that explain the
/// failures.
struct Ran {
    by_id: BTreeMap<String, CaseResult>,
    problems: Vec<String>,
    gate: Option<echo_conform::gate::GateReport>,
    findings: Vec<Finding>,
}

/// Launches an in-process server when there is one, then runs the pipeline. `Err` when the
/// server cannot be started or reached.
fn run(suite: Suite) -> Result<(Ran, bool), String> {
    let _one = ONE_RUN.lock().unwrap_or_else(|e| e.into_inner());
    let target = suite.target();
    let Suite { server, flags } = suite;
    let (target, handle) = match server {
        Server::InProcess(launcher) => {
            let (addr, handle) = launcher.start()?;
            (["--addr".to_string(), addr.to_string()], Some(handle))
        }
        _ => (target, None),
    };
    let run_args = parse(&crate::argv(target, &flags)).map_err(|e| e.to_string())?;
    let spec = echo_conform::cli::load(run_args.spec.as_deref()).map_err(|e| e.to_string())?;
    let cfg = echo_conform::config::run_config(&run_args, &spec).map_err(|e| e.to_string())?;
    let (report, gating) =
        echo_conform::cli::evaluate(&run_args, &spec, &cfg, &|_| {}).map_err(|e| e.to_string())?;
    drop(handle);
    echo_conform::cli::write_files(&run_args, &report, &gating).map_err(|e| e.to_string())?;
    let by_id = report
        .cases
        .iter()
        .map(|r| (r.id.clone(), r.clone()))
        .collect();
    let ran = Ran {
        by_id,
        problems: report.server_problems,
        gate: report.gate,
        findings: report.findings,
    };
    Ok((ran, cfg.strict))
}

/// Adds a switch to `flags` unless it is there (clap refuses a switch given twice).
fn push_once(flags: &mut Vec<String>, switch: &str) {
    if !flags.iter().any(|f| f == switch) {
        flags.push(switch.to_string());
    }
}

/// `flags` without any `--case GLOB` (the harness selects the cases itself, from the ones
/// those globs already chose).
fn without_case_flags(flags: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_next = false;
    for f in flags {
        if skip_next {
            skip_next = false;
        } else if f == "--case" {
            skip_next = true;
        } else if !f.starts_with("--case=") {
            out.push(f.clone());
        }
    }
    out
}

/// A case's result as a trial's outcome, judged as the CLI's exit code judges it: a claimed
/// regression against `--baseline` fails whatever its level, and a failure the baseline already
/// knows does not. A failure's message opens with `finding`, the line naming the finding that
/// explains the case, when one does.
fn verdict(
    r: &CaseResult,
    strict: bool,
    gate: Option<&echo_conform::gate::GateReport>,
    finding: Option<String>,
) -> Result<Completion, Failed> {
    verdict_of(r, strict, gate).map_err(|failed| match finding {
        Some(line) => Failed::from(format!("{line}\n{}", failed.message().unwrap_or_default())),
        None => failed,
    })
}

/// [`verdict`] without the finding.
fn verdict_of(
    r: &CaseResult,
    strict: bool,
    gate: Option<&echo_conform::gate::GateReport>,
) -> Result<Completion, Failed> {
    let evidence = r.evidence.as_deref().unwrap_or("");
    let first_line = evidence.lines().next().unwrap_or("");
    let listed = |ids: &[String]| ids.contains(&r.id);
    if let Some(g) = gate {
        if r.claimed && listed(&g.regressions) {
            return Err(Failed::from(format!(
                "REGRESSION against the baseline ({}): {}",
                r.grade.label(),
                failure_text(r)
            )));
        }
        if r.claimed && r.grade.is_failing() && listed(&g.known_failures) {
            return Ok(Completion::ignored_with(format!(
                "known failure (the baseline has it): {first_line}"
            )));
        }
    }
    // An unclaimed case runs only under `--include-ignored`, as `--detect` runs it: it never gates.
    let gates = r.claimed && gating_level(r.level, strict);
    match r.grade {
        Grade::Pass | Grade::Info => Ok(Completion::Completed),
        Grade::NotClaimed => Ok(Completion::ignored_with("not claimed by the server")),
        Grade::Skip => Ok(Completion::ignored_with(format!("SKIP: {first_line}"))),
        Grade::XFail => Ok(Completion::ignored_with(format!("XFAIL: {first_line}"))),
        Grade::XPass if strict && r.claimed => Err(Failed::from(
            "XPASS: listed as expected to fail, and passed: remove it from the list",
        )),
        Grade::XPass => Ok(Completion::Completed),
        Grade::Fail | Grade::Flaky if gates => Err(Failed::from(failure_text(r))),
        Grade::Fail | Grade::Flaky if !r.claimed => Ok(Completion::ignored_with(format!(
            "{} of a case the server does not claim (never gates): {first_line}",
            r.grade.label()
        ))),
        Grade::Fail | Grade::Flaky => Ok(Completion::ignored_with(format!(
            "{} of a {} case, which does not gate: {first_line}",
            r.grade.label(),
            r.level.as_str()
        ))),
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
