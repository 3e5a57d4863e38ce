//! Shrinking a failing sequence: proptest-state-machine's passes (drop the unseen tail, delete
//! operations from the back, simplify each operation), then passes of our own that delete a whole
//! connection's operations or single operations again, which the first passes cannot do when two
//! deletions are only valid together (a connection's `Open` and its `HalfClose`).

use super::map::to_steps;
use super::model::{apply, preconditions, ModelState, Transition};
use super::{Counterexample, Sequence, ShrinkLimits};
use crate::failure::FailureKind;
use crate::script::{run_script, ScriptConfig, StepError};
use crate::transcript::Transcript;
use echo_spec::Step;
use proptest::strategy::ValueTree;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// A failing run: the sequence, its steps, its error and transcript.
pub(super) struct Failed {
    init: ModelState,
    ops: Vec<Transition>,
    steps: Vec<Step>,
    error: StepError,
    transcript: Transcript,
}

/// What one run of a sequence gave.
pub(super) enum Trial {
    /// Every step passed.
    Pass,
    /// A step failed.
    Fail(Box<Failed>),
}

/// Runs one sequence; on failure, tells proptest how many operations it saw so the unseen tail is
/// dropped before shrinking.
pub(super) fn trial((init, ops, seen): &Sequence, cfg: &ScriptConfig) -> Trial {
    let mapped = to_steps(init, ops);
    let outcome = run_script(&mapped.steps, cfg, None, None);
    let Err(error) = outcome.result else {
        return Trial::Pass;
    };
    let at = step_index(&error.path).and_then(|i| mapped.origin.get(i).copied().flatten());
    if let Some(seen) = seen {
        seen.store(at.map_or(ops.len(), |i| i + 1), Ordering::SeqCst);
    }
    Trial::Fail(Box::new(Failed {
        init: init.clone(),
        ops: ops.clone(),
        steps: mapped.steps,
        error,
        transcript: outcome.transcript,
    }))
}

/// The budget of one shrink, shared by every pass.
struct Budget<'a> {
    limits: &'a ShrinkLimits,
    start: Instant,
    deadline: Instant,
    runs: u32,
    /// Set when the server refused a connection: nothing more can be learnt from it.
    gone: Option<String>,
}

impl Budget<'_> {
    fn left(&self) -> bool {
        self.gone.is_none()
            && self.runs < self.limits.max_iters
            && self.start.elapsed() < self.limits.max_time
            && Instant::now() < self.deadline
    }

    /// Runs `seq`; a refused connection ends the shrinking and counts as a pass.
    fn run(&mut self, seq: &Sequence, cfg: &ScriptConfig) -> Trial {
        self.runs += 1;
        match trial(seq, cfg) {
            Trial::Fail(f) if f.error.failure.kind == FailureKind::Refused => {
                self.gone = Some(format!(
                    "shrinking stopped after {} runs: the server refused a connection ({})",
                    self.runs, f.error
                ));
                Trial::Pass
            }
            other => other,
        }
    }
}

/// Shrinks `first` within `limits`, and runs the shortest failing steps once more for the evidence.
pub(super) fn shrink(
    tree: &mut impl ValueTree<Value = Sequence>,
    first: Box<Failed>,
    cfg: &ScriptConfig,
    limits: &ShrinkLimits,
    deadline: Instant,
) -> Counterexample {
    let original_steps = first.steps.len();
    let mut budget = Budget {
        limits,
        start: Instant::now(),
        deadline,
        runs: 0,
        gone: None,
    };
    let mut best = first;
    // Proptest's passes get half the budget, so the deletion passes always get a turn: a failure
    // that shows as a HANG costs a whole no-progress deadline per run.
    let half = ShrinkLimits {
        max_iters: limits.max_iters / 2,
        max_time: limits.max_time / 2,
        budget: limits.budget,
    };
    budget.limits = &half;
    let mut more = tree.simplify();
    while more && budget.left() {
        match budget.run(&tree.current(), cfg) {
            Trial::Fail(f) => {
                if f.steps.len() <= best.steps.len() {
                    best = f;
                }
                more = tree.simplify();
            }
            // Proptest's own loop stops for good when a complication fails; we go on simplifying.
            Trial::Pass => {
                if !tree.complicate() {
                    more = tree.simplify();
                }
            }
        }
    }
    budget.limits = limits;
    best = delete_passes(best, cfg, &mut budget);
    // One more run of the shortest failing steps proves they reproduce the failure; its error and
    // transcript are the evidence.
    let rerun = run_script(&best.steps, cfg, None, None);
    let (error, transcript, reproduced) = match rerun.result {
        Err(e) => (e, rerun.transcript, true),
        Ok(()) => (best.error, best.transcript, false),
    };
    Counterexample {
        steps: best.steps,
        original_steps,
        shrink_runs: budget.runs,
        error,
        transcript,
        reproduced,
        note: budget.gone,
    }
}

/// Repeats, until nothing changes or the budget is spent: delete every operation on one
/// connection at once, then each single operation from the back. A candidate must satisfy the
/// model's preconditions and still fail.
fn delete_passes(
    mut best: Box<Failed>,
    cfg: &ScriptConfig,
    budget: &mut Budget<'_>,
) -> Box<Failed> {
    let mut changed = true;
    while changed && budget.left() {
        changed = false;
        let mut conns: Vec<u16> = best.ops.iter().filter_map(conn_of).collect();
        conns.sort_unstable();
        conns.dedup();
        let mut candidates: Vec<Vec<Transition>> = conns
            .iter()
            .map(|c| {
                best.ops
                    .iter()
                    .filter(|t| conn_of(t) != Some(*c))
                    .cloned()
                    .collect()
            })
            .collect();
        candidates.extend((0..best.ops.len()).rev().map(|i| {
            let mut ops = best.ops.clone();
            ops.remove(i);
            ops
        }));
        for ops in candidates {
            if !budget.left() {
                break;
            }
            if ops.is_empty() || !valid(&best.init, &ops) {
                continue;
            }
            if let Trial::Fail(f) = budget.run(&(best.init.clone(), ops, None), cfg) {
                if f.steps.len() < best.steps.len() {
                    best = f;
                    changed = true;
                    break;
                }
            }
        }
    }
    best
}

/// True when every operation of `ops` satisfies the preconditions in turn.
fn valid(init: &ModelState, ops: &[Transition]) -> bool {
    let mut state = init.clone();
    for t in ops {
        if !preconditions(&state, t) {
            return false;
        }
        state = apply(state, t);
    }
    true
}

fn conn_of(t: &Transition) -> Option<u16> {
    match t {
        Transition::Open { conn }
        | Transition::Send { conn, .. }
        | Transition::ReadAll { conn }
        | Transition::PauseReading { conn, .. }
        | Transition::HalfClose { conn }
        | Transition::Reset { conn } => Some(*conn),
        Transition::Idle { .. } => None,
    }
}

/// The top-level step index of a failure path such as `steps[3]` or `steps[3].repeat[1].steps[0]`.
fn step_index(path: &str) -> Option<usize> {
    let rest = path.strip_prefix("steps[")?;
    rest[..rest.find(']')?].parse().ok()
}
