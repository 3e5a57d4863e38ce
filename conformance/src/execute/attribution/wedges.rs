//! Phase 3 of attribution: a case that failed beside others and passes alone, on an instance
//! that did not die, was wedged by another case. The cases that ran before it are tried in front
//! of it on fresh instances; the one after which it fails, again and again, is the culprit.

use super::{run_alone, Attributed, Budget, Search};
use crate::events::{Attempt, Event, Sink};
use crate::execute::steps::{run_steps, script_config};
use crate::execute::{Instance, Ran};
use crate::grade::{self, ServerFate};
use crate::outcome::{Grade, Verdict};
use crate::plan::{Plan, Target};
use crate::server::Server;
use std::collections::BTreeMap;
use std::time::Duration;

/// Most cases tried in front of one wedged case.
const MAX_CULPRIT_TRIES: usize = 4;
/// Rounds of confirmation (the victim alone, then after the culprit) before a culprit found by
/// two failures is blamed. Against a server that fails half the time at random, blaming a given
/// candidate then needs eight results to fall one way: about 1 in 256.
const CONFIRM_ROUNDS: usize = 3;

/// Phase 3: for each victim whose instance did not die, the case that wedges it, confirmed, or
/// why none is blamed (into `causes`). Returns each culprit with the victims it wedges.
pub(super) fn culprits(
    s: &mut Search<'_, '_>,
    victims: &[&Ran],
    causes: &mut BTreeMap<usize, String>,
) -> BTreeMap<usize, Vec<usize>> {
    let mut culprits: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for v in victims {
        if causes.contains_key(&v.idx) {
            continue;
        }
        // The cause, and whether it leaves the failure unexplained (no case blamed, no variance
        // seen): then the victim runs alone once more before it is cleared.
        let (cause, unexplained) = match v.instance {
            Instance::Shared { generation, .. } => {
                match wedge_cause(s, v, generation, &mut culprits) {
                    Some(found) => found,
                    None => continue,
                }
            }
            _ => (
                "it failed while other fresh instances ran on this machine".to_string(),
                true,
            ),
        };
        if unexplained
            && fails_on_second_try(
                s.plan,
                v.idx,
                s.sink,
                &mut s.budget,
                &mut s.out,
                &mut s.final_,
            )
        {
            continue;
        }
        causes.insert(v.idx, cause);
    }
    culprits
}

/// What wedged victim `v` of the shared instance `generation`: the cause and whether it leaves
/// the failure unexplained; `None` when the victim failed alone after all (graded on that run).
fn wedge_cause(
    s: &mut Search<'_, '_>,
    v: &Ran,
    generation: u64,
    culprits: &mut BTreeMap<usize, Vec<usize>>,
) -> Option<(String, bool)> {
    let plan = s.plan;
    let sink = s.sink;
    let found = find_wedger(
        plan,
        s.ran,
        v,
        generation,
        culprits,
        sink,
        &mut s.budget,
        &s.final_,
    );
    // A culprit already confirmed with another victim needs one round more, not three.
    let rounds = match found {
        Some(c) if culprits.contains_key(&c) => 1,
        _ => CONFIRM_ROUNDS,
    };
    let (budget, out) = (&mut s.budget, &mut s.out);
    let confirmed = match (found, &plan.target) {
        (Some(c), Target::Launch(spec)) => confirm_culprit(rounds, |t| match t {
            Try::Alone => run_alone(plan, v.idx, sink, budget, out)
                .map(|a| (a.verdict.grade == Grade::Fail, Some(a.verdict))),
            Try::After => {
                victim_fails_after(plan, spec, c, v.idx, sink, budget).map(|failed| (failed, None))
            }
        }),
        _ => Confirmation::NotFound,
    };
    let cause = match (confirmed, found) {
        (Confirmation::FailsAlone(verdict), _) => {
            s.final_
                .insert(v.idx, grade::fails_alone_sometimes(verdict));
            return None;
        }
        (Confirmation::Culprit, Some(c)) => {
            culprits.entry(c).or_default().push(v.idx);
            format!(
                "it fails after `{}`, which stops the server serving other clients \
                 (in {} tries on fresh instances, each beside a pass alone)",
                plan.cases[c].id(),
                rounds + 2
            )
        }
        (Confirmation::Varies { failed, tries }, Some(c)) => format!(
            "its result varies: it failed after `{}` in {failed} of {tries} tries on \
             fresh instances and passed alone each time, so no case is blamed",
            plan.cases[c].id()
        ),
        (Confirmation::OutOfBudget, Some(c)) => format!(
            "it failed twice after `{}` on fresh instances, which the rerun budget \
             left unconfirmed, so no case is blamed",
            plan.cases[c].id()
        ),
        _ => {
            return Some((
                "no case that ran before it makes it fail on a fresh instance (within the rerun budget); \
                 the failure depends on what ran beside it"
                    .to_string(),
                true,
            ))
        }
    };
    Some((cause, false))
}

/// One try while a culprit is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Try {
    /// The victim alone on a fresh instance.
    Alone,
    /// The culprit, then the victim, on a fresh instance.
    After,
}

/// What the confirmation of a culprit decided.
#[derive(Debug, PartialEq)]
enum Confirmation<T> {
    /// The victim failed after the culprit every time and passed alone every time.
    Culprit,
    /// The victim failed alone: its result varies whatever runs before it (the failing run).
    FailsAlone(T),
    /// The victim passed after the culprit once: `failed` of `tries` runs after it failed.
    Varies { failed: usize, tries: usize },
    /// The rerun budget ran out before a decision.
    OutOfBudget,
    /// No culprit was found to confirm.
    NotFound,
}

/// Confirms a culprit that made the victim fail twice: `rounds` times, the victim alone (it must
/// pass), then the victim after the culprit (it must fail). `run` does one try and says whether
/// the victim failed (with what a run alone saw); `None` when the budget or a launch ran out.
fn confirm_culprit<T>(
    rounds: usize,
    mut run: impl FnMut(Try) -> Option<(bool, Option<T>)>,
) -> Confirmation<T> {
    let (mut failed, mut tries) = (2, 2);
    for _ in 0..rounds {
        match run(Try::Alone) {
            None => return Confirmation::OutOfBudget,
            Some((true, Some(seen))) => return Confirmation::FailsAlone(seen),
            Some(_) => {}
        }
        let Some((after, _)) = run(Try::After) else {
            return Confirmation::OutOfBudget;
        };
        tries += 1;
        if !after {
            return Confirmation::Varies { failed, tries };
        }
        failed += 1;
    }
    Confirmation::Culprit
}

/// Runs a victim that no case is blamed for alone once more: one pass alone is not enough against
/// a server whose result varies. True (and the victim graded on that run) when it fails then.
fn fails_on_second_try(
    plan: &Plan,
    idx: usize,
    sink: Sink<'_>,
    budget: &mut Budget,
    out: &mut Attributed,
    final_: &mut BTreeMap<usize, Verdict>,
) -> bool {
    match run_alone(plan, idx, sink, budget, out) {
        Some(a) if a.verdict.grade.is_failing() => {
            final_.insert(idx, grade::fails_alone_sometimes(a.verdict));
            true
        }
        _ => false,
    }
}

/// Looks for the case that, run first on a fresh instance, makes `victim` fail.
#[allow(clippy::too_many_arguments)]
fn find_wedger(
    plan: &Plan,
    ran: &[Ran],
    victim: &Ran,
    generation: u64,
    known: &BTreeMap<usize, Vec<usize>>,
    sink: Sink<'_>,
    budget: &mut Budget,
    final_: &BTreeMap<usize, Verdict>,
) -> Option<usize> {
    let Target::Launch(spec) = &plan.target else {
        return None;
    };
    let confirmed = |i: usize| final_.get(&i).is_some_and(|v| v.grade == Grade::Fail);
    let mut candidates: Vec<&Ran> = ran
        .iter()
        .filter(|r| {
            r.idx != victim.idx
                && matches!(r.instance, Instance::Shared { generation: g, .. } if g == generation)
                && r.started <= victim.ended
        })
        .collect();
    // Culprits found for other victims first, then confirmed failures, then the most recent.
    candidates.sort_by_key(|r| {
        (
            !known.contains_key(&r.idx),
            !confirmed(r.idx),
            std::cmp::Reverse(r.started),
        )
    });
    for c in candidates.into_iter().take(MAX_CULPRIT_TRIES) {
        // A candidate must make the victim fail twice, each time on a fresh instance, before it
        // is confirmed (`confirm_culprit`): one failure after it could be the victim's own variance.
        let mut failed_after = 0;
        for _ in 0..2 {
            match victim_fails_after(plan, spec, c.idx, victim.idx, sink, budget) {
                Some(true) => failed_after += 1,
                Some(false) => break,
                None => return None,
            }
        }
        if failed_after == 2 {
            return Some(c.idx);
        }
    }
    None
}

/// Runs `culprit`, then `victim`, on a fresh instance: whether the victim failed on a server that
/// did not die; `None` when the budget or a launch ran out.
fn victim_fails_after(
    plan: &Plan,
    spec: &crate::server::LaunchSpec,
    culprit: usize,
    victim: usize,
    sink: Sink<'_>,
    budget: &mut Budget,
) -> Option<bool> {
    if !budget.take() {
        return None;
    }
    let Ok(mut server) = Server::launch(spec) else {
        return None;
    };
    let run = |i: usize| {
        let p = &plan.cases[i];
        sink(Event::CaseStarted {
            id: p.id(),
            attempt: Attempt::Attribution,
        });
        let cfg = script_config(&p.case, p.at(server.addr), &plan.transform, plan.time_scale);
        run_steps(&p.case, &cfg, None, None)
    };
    let _ = run(culprit);
    let after = run(victim);
    let died = server.exit_within(Duration::ZERO).is_some();
    let v = grade::decide(&plan.cases[victim], after, ServerFate::Fine);
    Some(v.grade == Grade::Fail && !died)
}

#[cfg(test)]
mod tests {
    use super::{confirm_culprit, Confirmation, Try};

    /// Plays back scripted tries, recording which were asked for.
    fn scripted(alone: &[bool], after: &[bool]) -> (Confirmation<&'static str>, Vec<Try>) {
        let (mut a, mut b, mut asked) = (alone.iter(), after.iter(), Vec::new());
        let c = confirm_culprit(3, |t| {
            asked.push(t);
            match t {
                Try::Alone => a.next().map(|&f| (f, Some("alone run"))),
                Try::After => b.next().map(|&f| (f, None)),
            }
        });
        (c, asked)
    }

    #[test]
    fn a_wedge_that_always_shows_is_confirmed_after_three_rounds() {
        let (c, asked) = scripted(&[false; 3], &[true; 3]);
        assert_eq!(c, Confirmation::Culprit);
        assert_eq!(asked.len(), 6);
        assert_eq!(asked[0], Try::Alone);
    }

    #[test]
    fn a_failure_alone_ends_it_with_that_run() {
        let (c, asked) = scripted(&[false, true], &[true]);
        assert_eq!(c, Confirmation::FailsAlone("alone run"));
        assert_eq!(asked, vec![Try::Alone, Try::After, Try::Alone]);
    }

    #[test]
    fn a_pass_after_the_candidate_blames_nobody() {
        let (c, _) = scripted(&[false; 3], &[true, false]);
        assert_eq!(
            c,
            Confirmation::Varies {
                failed: 3,
                tries: 4
            }
        );
    }

    #[test]
    fn a_budget_that_runs_out_decides_nothing() {
        let (c, _) = scripted(&[false], &[]);
        assert_eq!(c, Confirmation::OutOfBudget);
    }

    /// Against a case that fails half the time whatever runs before it (ncat's relay did), a
    /// candidate that already made it fail twice is blamed in about 1 of 64 searches (six more
    /// results must fall one way); before the confirmation rounds, every such candidate was.
    #[test]
    fn a_coin_flipping_server_is_rarely_blamed_on_a_case() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut coin = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state & 1 == 1
        };
        let trials = 20_000;
        let blamed = (0..trials)
            .filter(|_| {
                let c: Confirmation<()> = confirm_culprit(3, |_| Some((coin(), Some(()))));
                c == Confirmation::Culprit
            })
            .count();
        // Expected 20 000 / 64 ≈ 312.
        assert!(blamed < trials / 40, "blamed {blamed} times in {trials}");
        assert!(blamed > 0, "the coin never fell the culprit's way");
    }
}
