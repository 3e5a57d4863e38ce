//! Crash and wedge attribution, a phase per module (`deaths`, `wedges`): a failure seen while cases shared a server (or ran beside other
//! fresh instances) is not trusted until the case shows it alone on a fresh instance.
//!
//! 1. Every such failure is run again alone. One that fails again is confirmed ("reproduced
//!    alone"); one that passes is graded on that run, and what it saw is kept as a note.
//! 2. A death of the shared instance that no confirmed case reproduces is looked for further:
//!    each other case of that instance alone, then pairs of the cases in flight at the death run
//!    together. What is not found is said: "the server died while A, B and C ran together".
//! 3. A case that failed beside others and passes alone, on an instance that did not die, was
//!    wedged by another case: the cases that ran before it are tried in front of it on a fresh
//!    instance, and the one after which it fails is the culprit (an INTERACTION failure).
//!
//! Every rerun counts against the plan's [`RerunBudget`](crate::plan::RerunBudget); what was
//! spent is a note of the run.

mod deaths;
mod wedges;

use super::{fresh, needs_confirmation, Death, Instance, Ran};
use crate::events::{Attempt, Sink};
use crate::grade;
use crate::notes::ServerProblem;
use crate::outcome::Verdict;
use crate::plan::{Plan, Target};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What attribution decided.
#[derive(Debug, Default)]
pub struct Attributed {
    /// Revised verdicts, by plan index.
    pub verdicts: Vec<(usize, Verdict)>,
    /// Crashes of the run, each naming its cause as far as it was found.
    pub problems: Vec<ServerProblem>,
    /// What attribution tried and spent.
    pub notes: Vec<String>,
}

pub(super) struct Budget {
    launches: usize,
    used: usize,
    started: Instant,
    until: Instant,
}

impl Budget {
    fn new(plan: &Plan) -> Budget {
        let started = Instant::now();
        Budget {
            launches: plan.rerun_budget.launches,
            used: 0,
            started,
            until: started + Duration::from_secs_f64(plan.rerun_budget.seconds * plan.time_scale),
        }
    }

    pub(super) fn take(&mut self) -> bool {
        if self.used >= self.launches || Instant::now() >= self.until {
            return false;
        }
        self.used += 1;
        true
    }

    pub(super) fn why(&self) -> String {
        format!(
            "the rerun budget of {} launches and {} s ran out",
            self.launches,
            (self.until - self.started).as_secs()
        )
    }
}

/// A run alone on a fresh instance.
pub(super) struct Alone {
    verdict: Verdict,
    death: Option<Death>,
}

/// What the search carries from phase to phase: the plan and what ran, the budget, what each
/// case did alone, the verdicts decided so far, and the problems and notes found.
struct Search<'a, 's> {
    plan: &'a Plan,
    ran: &'a [Ran],
    sink: Sink<'s>,
    budget: Budget,
    alone: BTreeMap<usize, Alone>,
    final_: BTreeMap<usize, Verdict>,
    out: Attributed,
}

/// Confirms, attributes and re-grades the failures in `ran`.
pub fn attribute(plan: &Plan, ran: &[Ran], sink: Sink<'_>) -> Attributed {
    let mut out = Attributed {
        problems: crashes_on_own_instances(plan, ran),
        ..Attributed::default()
    };
    let suspects: Vec<&Ran> = ran.iter().filter(|r| needs_confirmation(r, plan)).collect();
    if matches!(plan.target, Target::Addr(_)) {
        for r in &suspects {
            if matches!(r.instance, Instance::Shared { .. }) {
                let why = "the server is reached by --addr and cannot be relaunched";
                out.verdicts
                    .push((r.idx, grade::unconfirmed(r.verdict.clone(), why)));
            }
        }
        return out;
    }
    if suspects.is_empty() {
        return out;
    }
    let mut s = Search {
        plan,
        ran,
        sink,
        budget: Budget::new(plan),
        alone: BTreeMap::new(),
        final_: BTreeMap::new(),
        out,
    };
    let victims = s.again_alone(&suspects);
    let mut causes = deaths::causes(&mut s);
    let culprits = wedges::culprits(&mut s, &victims, &mut causes);
    s.settle(&victims, &causes, culprits);
    s.out.notes.push(format!(
        "attribution: {} failure(s) seen beside other cases were run again alone; {} fresh launch(es) in {} ms",
        suspects.len(),
        s.budget.used,
        s.budget.started.elapsed().as_millis()
    ));
    s.out.verdicts.extend(s.final_);
    s.out
}

/// The crashes of cases that ran on an instance of their own: each a server problem as it is.
fn crashes_on_own_instances(plan: &Plan, ran: &[Ran]) -> Vec<ServerProblem> {
    ran.iter()
        .filter(|r| !matches!(r.instance, Instance::Shared { .. }))
        .filter_map(|r| {
            let d = r.death.as_ref().filter(|d| d.crash)?;
            Some(ServerProblem::Crashed {
                case: plan.cases[r.idx].id(),
                status: d.status.clone(),
                alone: false,
            })
        })
        .collect()
}

impl<'a> Search<'a, '_> {
    /// Phase 1: every failure seen beside others, again alone. A failure that shows again is
    /// reproduced; the cases that pass alone are returned, as the victims of something else.
    fn again_alone(&mut self, suspects: &[&'a Ran]) -> Vec<&'a Ran> {
        let mut victims = Vec::new();
        for r in suspects {
            let Some(a) = self.run_alone(r.idx) else {
                let why = self.budget.why();
                self.final_
                    .insert(r.idx, grade::unconfirmed(r.verdict.clone(), &why));
                continue;
            };
            if a.verdict.grade.is_failing() {
                if let Some(d) = a.death.as_ref().filter(|d| d.crash) {
                    self.out.problems.push(ServerProblem::Crashed {
                        case: self.plan.cases[r.idx].id(),
                        status: d.status.clone(),
                        alone: true,
                    });
                }
                self.final_
                    .insert(r.idx, grade::reproduced_alone(a.verdict.clone()));
            } else {
                victims.push(*r);
            }
            self.alone.insert(r.idx, a);
        }
        victims
    }

    /// The last phase: each victim not graded yet is graded on its run alone, with the cause
    /// found for its failure beside others; each culprit is graded with the cases it wedges.
    fn settle(
        &mut self,
        victims: &[&Ran],
        causes: &BTreeMap<usize, String>,
        culprits: BTreeMap<usize, Vec<usize>>,
    ) {
        for v in victims {
            // A case already graded by the crash search (a crash that needs two cases) keeps it.
            if self.final_.contains_key(&v.idx) {
                continue;
            }
            if let Some(a) = self.alone.get(&v.idx) {
                let cause = causes.get(&v.idx).cloned().unwrap_or_default();
                self.final_.insert(
                    v.idx,
                    grade::innocent_alone(a.verdict.clone(), &v.verdict, &cause),
                );
            }
        }
        for (c, vs) in culprits {
            let names: Vec<String> = vs.iter().map(|&i| self.plan.cases[i].id()).collect();
            let own = self
                .final_
                .get(&c)
                .cloned()
                .or_else(|| self.alone.get(&c).map(|a| a.verdict.clone()))
                .or_else(|| {
                    self.ran
                        .iter()
                        .find(|r| r.idx == c)
                        .map(|r| r.verdict.clone())
                });
            if let Some(own) = own {
                self.final_.insert(c, grade::culprit(own, &names));
            }
        }
    }

    /// Runs case `idx` alone on a fresh instance, within the budget.
    fn run_alone(&mut self, idx: usize) -> Option<Alone> {
        run_alone(self.plan, idx, self.sink, &mut self.budget, &mut self.out)
    }
}

/// Runs case `idx` alone on a fresh instance, within the budget.
pub(super) fn run_alone(
    plan: &Plan,
    idx: usize,
    sink: Sink<'_>,
    budget: &mut Budget,
    out: &mut Attributed,
) -> Option<Alone> {
    if !budget.take() {
        return None;
    }
    match fresh::run(plan, &plan.cases[idx], sink, Attempt::Confirm) {
        Ok((verdict, death)) => Some(Alone { verdict, death }),
        Err(e) => {
            out.notes.push(format!(
                "`{}` could not be run again alone: {e}",
                plan.cases[idx].id()
            ));
            None
        }
    }
}
