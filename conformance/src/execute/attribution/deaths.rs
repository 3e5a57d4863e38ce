//! Phase 2 of attribution: a death of the shared instance that no case reproduced alone is
//! looked for further, each other case of that instance alone, then pairs of the cases in flight
//! at the death run together. What is not found is said.

use super::{Alone, Attributed, Budget, Search};
use crate::events::{Attempt, Event, Sink};
use crate::execute::steps::{run_steps, script_config};
use crate::execute::{fresh, Death, Instance, Ran};
use crate::grade;
use crate::notes::ServerProblem;
use crate::outcome::Verdict;
use crate::plan::{Plan, Target};
use crate::server::{describe, Server};
use std::collections::BTreeMap;

/// Most cases in flight at a death whose pairs are tried.
const MAX_PAIR_SET: usize = 5;
/// For each death of the shared instance, what the cases of that instance are told about it,
/// by case index.
pub(super) fn causes(s: &mut Search<'_, '_>) -> BTreeMap<usize, String> {
    let mut causes: BTreeMap<usize, String> = BTreeMap::new();
    for noticer in s.ran.iter().filter(|r| r.death.is_some()) {
        let Instance::Shared { generation, .. } = noticer.instance else {
            continue;
        };
        let death = noticer.death.clone().unwrap_or_else(|| Death {
            status: "died".into(),
            crash: false,
        });
        let on_gen: Vec<&Ran> = s
            .ran
            .iter()
            .filter(
                |r| matches!(r.instance, Instance::Shared { generation: g, .. } if g == generation),
            )
            .collect();
        let cause = find_killer(
            s.plan,
            &on_gen,
            noticer,
            &death,
            s.sink,
            &mut s.budget,
            &mut s.alone,
            &mut s.final_,
            &mut s.out,
        );
        for r in &on_gen {
            causes.entry(r.idx).or_insert_with(|| cause.clone());
        }
    }
    causes
}

/// Looks for the case (or pair of cases) that killed the shared instance of `on_gen`; returns
/// what the cases of that instance are told about the death.
#[allow(clippy::too_many_arguments)]
fn find_killer(
    plan: &Plan,
    on_gen: &[&Ran],
    noticer: &Ran,
    death: &Death,
    sink: Sink<'_>,
    budget: &mut Budget,
    alone: &mut BTreeMap<usize, Alone>,
    final_: &mut BTreeMap<usize, Verdict>,
    out: &mut Attributed,
) -> String {
    let id = |i: usize| plan.cases[i].id();
    let killed_alone = |alone: &BTreeMap<usize, Alone>| {
        on_gen
            .iter()
            .find(|r| alone.get(&r.idx).is_some_and(|a| a.death.is_some()))
            .map(|r| r.idx)
    };
    if let Some(k) = killed_alone(alone) {
        return format!("the server died under it: `{}` kills it alone", id(k));
    }
    // Each other case of the instance alone, the most recent first.
    let mut others: Vec<&&Ran> = on_gen
        .iter()
        .filter(|r| !alone.contains_key(&r.idx))
        .collect();
    others.sort_by_key(|r| std::cmp::Reverse(r.ended));
    for r in others {
        let Some(a) = super::run_alone(plan, r.idx, sink, budget, out) else {
            break;
        };
        let dead = a.death.clone();
        alone.insert(r.idx, a);
        if let Some(d) = dead {
            if d.crash || death.crash {
                out.problems.push(ServerProblem::Crashed {
                    case: id(r.idx),
                    status: d.status.clone(),
                    alone: true,
                });
            }
            if let Some(a) = alone.get(&r.idx) {
                final_.insert(r.idx, grade::reproduced_alone(a.verdict.clone()));
            }
            return format!("the server died under it: `{}` kills it alone", id(r.idx));
        }
    }
    // Pairs of the cases in flight when the death was seen.
    let in_flight: Vec<usize> = on_gen
        .iter()
        .filter(|r| r.started <= noticer.ended && r.ended >= noticer.started)
        .map(|r| r.idx)
        .take(MAX_PAIR_SET)
        .collect();
    for (k, &a) in in_flight.iter().enumerate() {
        for &b in &in_flight[k + 1..] {
            if !budget.take() {
                break;
            }
            if let Some(status) = together_kills(plan, &[a, b], sink) {
                let names = [id(a), id(b)];
                for (me, partner) in [(a, &names[1]), (b, &names[0])] {
                    let own = alone
                        .get(&me)
                        .map(|x| x.verdict.clone())
                        .unwrap_or_else(|| grade::skip(""));
                    final_.insert(
                        me,
                        grade::crash_together(own, std::slice::from_ref(partner), &status),
                    );
                }
                if death.crash {
                    out.problems.push(ServerProblem::CrashedTogether {
                        cases: names.clone(),
                        status: status.clone(),
                    });
                }
                return format!(
                    "the server died under it: `{}` and `{}` kill it together",
                    names[0], names[1]
                );
            }
        }
    }
    let unexplained = ServerProblem::CrashedUnexplained {
        cases: in_flight.iter().map(|&i| id(i)).collect(),
        status: death.status.clone(),
    };
    let what = unexplained.to_string();
    if death.crash {
        out.problems.push(unexplained);
    }
    what
}

/// Runs `cases` at once on one fresh instance; the server's death, if it died.
fn together_kills(plan: &Plan, cases: &[usize], sink: Sink<'_>) -> Option<String> {
    let Target::Launch(spec) = &plan.target else {
        return None;
    };
    let mut server = Server::launch(spec).ok()?;
    let addr = server.addr;
    std::thread::scope(|scope| {
        for &i in cases {
            let p = &plan.cases[i];
            sink(Event::CaseStarted {
                id: p.id(),
                attempt: Attempt::Attribution,
            });
            scope.spawn(move || {
                let cfg = script_config(&p.case, p.at(addr), &plan.transform, plan.time_scale);
                run_steps(&p.case, &cfg, None, None)
            });
        }
    });
    server.exit_within(fresh::DEATH_SETTLE).map(describe)
}
