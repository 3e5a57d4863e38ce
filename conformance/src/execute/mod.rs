//! The executor: carries out a [`Schedule`] and hands every case its final verdict.
//!
//! Phases, in order: the `--family both` probe ([`family`]); the cases that may run side by side,
//! those on the shared instance ([`shared`]) at the same time as those on fresh instances of their
//! own ([`fresh`]), longest designed waits first; in one exclusive hold of the machine, the crowds
//! one at a time on the shared instance and the heavy fresh cases; the fresh cases alone only within
//! the run (a fixed port); and last [`attribution`], which confirms alone every
//! failure seen beside other cases and finds the case behind a crash or a wedge. [`steps`] runs one
//! case's steps against an address.

pub mod attribution;
pub mod family;
pub mod fresh;
mod phases;
pub mod shared;
pub mod steps;

use crate::events::{Attempt, Event, Sink};
use crate::grade::{self, ServerFate};
use crate::notes::{RunNote, ServerProblem};
use crate::outcome::{CaseResult, Grade, Verdict};
use crate::plan::{Plan, Planned};
use crate::schedule::{schedule, Placement, Schedule};
use crate::server::LaunchError;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the executor produced.
#[derive(Debug)]
pub struct Outcome {
    /// Results in plan order.
    pub results: Vec<CaseResult>,
    /// Server deaths and failed launches (exit 3).
    pub server_problems: Vec<ServerProblem>,
    /// Facts of the run that belong to no single case (a process that left the group).
    pub notes: Vec<RunNote>,
    /// What attribution tried and spent.
    pub attribution: Vec<String>,
}

/// A server death seen at the end of a case.
#[derive(Debug, Clone)]
pub struct Death {
    /// How it ended, for people.
    pub status: String,
    /// True when it is a crash of the run: a non-zero exit or a signal, during a claimed case.
    pub crash: bool,
}

impl Death {
    /// The death of a server that ended with `status` during a case (`claimed` or not).
    pub fn of(status: ExitStatus, claimed: bool) -> Death {
        Death {
            status: crate::server::describe(status),
            crash: claimed && status.code() != Some(0),
        }
    }
}

/// Which instance a case ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instance {
    /// The shared instance, in its n-th generation (0 when it could not be launched).
    Shared {
        /// Which launch of it.
        generation: u64,
        /// True when the case was the first on this launch and no other case started before it
        /// ended: it ran as if on a fresh instance of its own.
        alone: bool,
    },
    /// A fresh instance of its own, while other fresh instances ran beside it.
    FreshBeside,
    /// A fresh instance, with nothing else running: a verdict that needs no confirmation.
    FreshAlone,
}

/// One execution of a case, as the executor recorded it.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The case's index in the plan.
    pub idx: usize,
    /// Its verdict.
    pub verdict: Verdict,
    /// The server's death, when this case saw it.
    pub death: Option<Death>,
    /// Where it ran.
    pub instance: Instance,
    /// When it started.
    pub started: Instant,
    /// When it ended.
    pub ended: Instant,
    /// A launch that failed for it, a server problem of the run.
    pub launch_problem: Option<ServerProblem>,
}

/// Runs the plan, reporting through `sink`. Fails only when the server cannot be started at all.
pub fn run(plan: &Plan, sink: Sink<'_>) -> Result<Outcome, LaunchError> {
    let started = Instant::now();
    family::reachable(plan)?;
    let gaps = family::unanswered(plan)?;
    let sched = schedule(plan, &gaps);
    sink(Event::RunStarted {
        to_run: sched.to_run(),
    });
    let settled = settled(plan, &sched, sink);
    // A verdict that needs no confirmation is reported as soon as the case ends; attribution
    // reports the rest, and any it revises.
    let ran = Mutex::new(Vec::new());
    let record = |r: Ran| {
        if !needs_confirmation(&r, plan) {
            sink(Event::CaseFinished(result(
                &plan.cases[r.idx],
                r.verdict.clone(),
                r.ended - r.started,
            )));
        }
        ran.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    };
    phases::run_all(plan, &sched, sink, &record)?;
    let mut ran = ran.into_inner().unwrap_or_else(|e| e.into_inner());
    ran.sort_by_key(|r| r.idx);
    let outcome = conclude(plan, settled, &ran, sink);
    sink(Event::RunFinished {
        took: started.elapsed(),
    });
    Ok(outcome)
}

/// The verdicts the schedule settled before anything ran (each reported at once), by case.
fn settled(plan: &Plan, sched: &Schedule, sink: Sink<'_>) -> Vec<Option<Verdict>> {
    let mut settled: Vec<Option<Verdict>> = vec![None; plan.cases.len()];
    for (i, placement) in sched.placements.iter().enumerate() {
        if let Placement::Settled(v) = placement {
            settled[i] = Some(v.clone());
            sink(Event::CaseFinished(result(
                &plan.cases[i],
                v.clone(),
                Duration::ZERO,
            )));
        }
    }
    settled
}

/// From what ran to the outcome: attribution confirms and revises the failures seen beside
/// others, every case gets its result, and the revised ones are reported.
fn conclude(plan: &Plan, settled: Vec<Option<Verdict>>, ran: &[Ran], sink: Sink<'_>) -> Outcome {
    let mut verdicts = settled;
    let mut durations = vec![Duration::ZERO; plan.cases.len()];
    for r in ran {
        durations[r.idx] = r.ended - r.started;
        verdicts[r.idx] = Some(r.verdict.clone());
    }
    // Attribution reruns cases alone, to rule out everything else running: other runs included.
    let machine = ran
        .iter()
        .any(|r| needs_confirmation(r, plan))
        .then(crate::os::machine::alone);
    let attributed = attribution::attribute(plan, ran, sink);
    drop(machine);
    let mut problems: Vec<ServerProblem> = ran
        .iter()
        .filter_map(|r| r.launch_problem.clone())
        .collect();
    problems.extend(attributed.problems);
    for (idx, v) in &attributed.verdicts {
        verdicts[*idx] = Some(v.clone());
    }
    let results: Vec<CaseResult> = verdicts
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let v = v.unwrap_or_else(|| grade::skip("the case did not run (an executor error)"));
            result(&plan.cases[i], v, durations[i])
        })
        .collect();
    for r in ran {
        let revised = attributed.verdicts.iter().any(|(i, _)| *i == r.idx);
        if revised || needs_confirmation(r, plan) {
            sink(Event::CaseFinished(results[r.idx].clone()));
        }
    }
    Outcome {
        results,
        server_problems: problems,
        notes: crate::os::groups::take_escapes(),
        attribution: attributed.notes,
    }
}

/// A case that waits at least this long by design (ms) mostly waits: it gets a thread beyond the
/// `--jobs` count, since it leaves the CPU to the others.
pub(crate) const MOSTLY_WAITS_MS: u64 = 300;

/// At most this many cases that mostly wait run beyond the `--jobs` count at once.
const MAX_APART: usize = 8;

/// Runs `f` on each of `items`: those for which `apart` holds on threads beyond the count (at most
/// [`MAX_APART`] at once), the rest `workers` at a time.
fn in_parallel_apart(
    workers: usize,
    items: &[usize],
    apart: impl Fn(usize) -> bool,
    f: impl Fn(usize) + Sync,
) {
    let (own, rest): (Vec<usize>, Vec<usize>) = items.iter().partition(|&&i| apart(i));
    std::thread::scope(|scope| {
        if !own.is_empty() {
            let (own, f) = (&own, &f);
            scope.spawn(move || in_parallel(own.len().min(MAX_APART), own, f));
        }
        in_parallel(workers, &rest, &f);
    });
}

/// Runs `f` on each of `items`, `workers` at a time.
fn in_parallel(workers: usize, items: &[usize], f: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    let workers = workers.max(1).min(items.len().max(1));
    // Workers may end while servers they launched still serve others: every server is forked by
    // one long-lived thread (`server::keeper`), so its parent-death signal does not follow them.
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(&i) = items.get(next.fetch_add(1, Ordering::SeqCst)) {
                    f(i);
                }
            });
        }
    });
}

/// Runs case `idx` on a fresh instance and records how it went.
pub fn run_fresh(
    plan: &Plan,
    idx: usize,
    sink: Sink<'_>,
    instance: Instance,
) -> Result<Ran, LaunchError> {
    let started = Instant::now();
    let (verdict, death) = fresh::run(plan, &plan.cases[idx], sink, Attempt::Scheduled)?;
    Ok(Ran {
        idx,
        verdict,
        death,
        instance,
        started,
        ended: Instant::now(),
        launch_problem: None,
    })
}

/// A case that could not get a server: a FAIL of class SERVER, and a server problem of the run.
fn launch_failed(plan: &Plan, idx: usize, e: LaunchError) -> Ran {
    let p = &plan.cases[idx];
    let problem = ServerProblem::NotStarted {
        case: p.id(),
        why: e.to_string(),
        relaunch: false,
    };
    let msg = problem.to_string();
    let now = Instant::now();
    Ran {
        idx,
        verdict: grade::decide(p, Default::default(), ServerFate::LaunchFailed(msg.clone())),
        death: None,
        instance: Instance::FreshAlone,
        started: now,
        ended: now,
        launch_problem: Some(problem),
    }
}

/// The report row of one case.
pub fn result(p: &Planned, v: Verdict, took: Duration) -> CaseResult {
    CaseResult {
        id: p.id(),
        title: p.case.title.clone(),
        level: p.case.level,
        claimed: p.claimed,
        grade: v.grade,
        duration_ms: took.as_millis() as u64,
        failure: v.failure,
        // No case's evidence, in any format, outgrows this (a property transcript can).
        evidence: v
            .evidence
            .map(|e| crate::text::bounded(e, crate::text::MAX_EVIDENCE)),
        notes: v
            .notes
            .into_iter()
            .map(|n| crate::text::bounded(n, crate::text::MAX_EVIDENCE / 16))
            .collect(),
        figures: v.figures,
        seed: p.case.kind.property().map(|params| params.seed),
        prop_cases: p.case.kind.property().map(|params| params.cases),
        runs: None,
        cause: v.cause,
        attribution: v.attribution,
        weight: crate::findings::weight(&p.case),
    }
}

/// True for a grade that attribution must confirm alone.
pub fn needs_confirmation(r: &Ran, plan: &Plan) -> bool {
    r.verdict.grade == Grade::Fail
        && r.launch_problem.is_none()
        && match r.instance {
            // A case that had the instance to itself needs no confirmation, except for a death,
            // which attribution still reproduces so that the report can say so.
            Instance::Shared { generation, alone } => {
                generation > 0 && (!alone || r.death.is_some())
            }
            Instance::FreshBeside => plan.cases[r.idx].claimed,
            Instance::FreshAlone => false,
        }
}
