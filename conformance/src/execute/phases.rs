//! The run's phases, in order: the shared instance's cases side by side with the fresh instances
//! of the cases that may run beside others; then, with the machine to itself, the crowds on the
//! shared instance and the cases that keep the machine; then the cases that run alone.

use super::shared::Shared;
use super::{in_parallel_apart, launch_failed, run_fresh, Instance, Ran, MOSTLY_WAITS_MS};
use crate::events::Sink;
use crate::plan::Plan;
use crate::schedule::{after_launch_failure, AfterLaunchFailure, Placement, Schedule};
use crate::server::LaunchError;
use echo_spec::Claim;
use std::sync::Mutex;

/// Where each case of the schedule runs, and how many run at once.
struct Lanes {
    /// On the shared instance, side by side.
    side_by_side: Vec<usize>,
    /// On the shared instance, alone (crowds).
    crowds: Vec<usize>,
    /// On fresh instances that may run beside others.
    beside: Vec<usize>,
    /// On fresh instances, alone.
    alone: Vec<usize>,
    /// Cases at once on the shared instance.
    jobs: usize,
    /// Fresh instances at once.
    workers: usize,
    /// The shared and the fresh phase overlap (`--jobs` above 1).
    overlap: bool,
    /// The server claims to be concurrent.
    concurrent: bool,
    /// How a fresh case that may run beside others is judged: beside others when others run.
    beside_others: Instance,
}

impl Lanes {
    fn of(plan: &Plan, sched: &Schedule) -> Lanes {
        let side_by_side =
            longest_waits_first(plan, sched.indices(|p| matches!(p, Placement::Shared)));
        let crowds = sched.indices(|p| matches!(p, Placement::SharedAlone));
        let beside =
            longest_waits_first(plan, sched.indices(|p| matches!(p, Placement::FreshBeside)));
        let alone = sched.indices(|p| matches!(p, Placement::FreshAlone));
        let concurrent = plan.claims.contains(Claim::Concurrent);
        let jobs = if concurrent {
            plan.jobs.max(1)
        } else if let Some(n) = plan.claims.pool() {
            // Each case side by side may hold a connection or two of the pool.
            plan.jobs.max(1).min(n as usize / 2)
        } else {
            1
        };
        // At most one fresh server per CPU at a time, besides the shared one and those whose
        // cases mostly wait: the cases measure the server, not the machine.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let workers = plan.jobs.max(1).min(cpus);
        // `--jobs 1` runs one case at a time: the shared phase, then the fresh one.
        let overlap = plan.jobs > 1;
        let mut lanes = Lanes {
            side_by_side,
            crowds,
            beside,
            alone,
            jobs,
            workers,
            overlap,
            concurrent,
            beside_others: Instance::FreshAlone,
        };
        let at_once = workers > 1 || lanes.beside.iter().any(|&i| lanes.mostly_waits(plan, i));
        // With nothing else running, a fresh case's verdict needs no rerun.
        if (at_once && lanes.beside.len() > 1) || (overlap && !lanes.side_by_side.is_empty()) {
            lanes.beside_others = Instance::FreshBeside;
        }
        lanes
    }

    /// Case `i` mostly waits by design, so it gets a thread beyond the count (when cases overlap).
    fn mostly_waits(&self, plan: &Plan, i: usize) -> bool {
        self.overlap && plan.cases[i].case.waits_at_least_ms() >= MOSTLY_WAITS_MS
    }
}

/// `cases` with those that wait longest by design first (stable otherwise): a 2 s pause started
/// first overlaps the short cases instead of ending the phase 2 s after them.
fn longest_waits_first(plan: &Plan, mut cases: Vec<usize>) -> Vec<usize> {
    cases.sort_by_key(|&i| std::cmp::Reverse(plan.cases[i].case.waits_at_least_ms()));
    cases
}

/// Runs every phase, handing each finished case to `record`. Fails only when the shared
/// instance cannot be started at all.
pub(super) fn run_all(
    plan: &Plan,
    sched: &Schedule,
    sink: Sink<'_>,
    record: &(dyn Fn(Ran) + Sync),
) -> Result<(), LaunchError> {
    let lanes = Lanes::of(plan, sched);
    let shared = if lanes.side_by_side.is_empty() && lanes.crowds.is_empty() {
        None
    } else {
        Some(Shared::start(plan)?)
    };
    let deferred = beside_each_other(plan, sched, &lanes, shared.as_ref(), sink, record);
    let apart = keeping_the_machine(plan, &lanes, shared, deferred, sink, record);
    for i in apart {
        // A case alone only within this run (a fixed port) may overlap other runs of a matrix, in
        // network namespaces of their own: then a failure of it is confirmed alone, as beside.
        let (_machine, instance) = if crate::os::machine::shared_with_other_runs() {
            (crate::os::machine::shared(), Instance::FreshBeside)
        } else {
            (crate::os::machine::alone(), Instance::FreshAlone)
        };
        match run_fresh(plan, i, sink, instance) {
            Ok(r) => record(r),
            Err(e) => record(launch_failed(plan, i, e)),
        }
    }
    Ok(())
}

/// The shared instance's side-by-side cases and the fresh instances that may run beside others,
/// at the same time when cases overlap. Returns the cases whose launch failed beside others and
/// that are to be tried again alone.
fn beside_each_other(
    plan: &Plan,
    sched: &Schedule,
    lanes: &Lanes,
    shared: Option<&Shared>,
    sink: Sink<'_>,
    record: &(dyn Fn(Ran) + Sync),
) -> Vec<usize> {
    let deferred = Mutex::new(Vec::new());
    let mostly_waits = |i: usize| lanes.mostly_waits(plan, i);
    let shared_phase = || {
        if let Some(shared) = shared {
            // Only a concurrent server serves a waiting case's connection beside `--jobs` others.
            let apart = |i: usize| lanes.concurrent && mostly_waits(i);
            in_parallel_apart(lanes.jobs, &lanes.side_by_side, apart, |i| {
                record(shared.run(plan, i, sink))
            });
        }
    };
    let fresh_phase = || {
        in_parallel_apart(lanes.workers, &lanes.beside, mostly_waits, |i| {
            let placement = &sched.placements[i];
            match run_fresh(plan, i, sink, lanes.beside_others) {
                Err(_) if after_launch_failure(placement) == AfterLaunchFailure::RetryAlone => {
                    deferred.lock().unwrap_or_else(|e| e.into_inner()).push(i)
                }
                Err(e) => record(launch_failed(plan, i, e)),
                Ok(r) => record(r),
            }
        })
    };
    let _machine = crate::os::machine::shared();
    if lanes.overlap {
        // The shared instance's side-by-side cases and the fresh instances run at the same
        // time: attribution confirms alone every failure seen there.
        if let Some(shared) = shared {
            shared.fresh_beside(!lanes.beside.is_empty());
        }
        std::thread::scope(|scope| {
            scope.spawn(shared_phase);
            fresh_phase();
        });
    } else {
        shared_phase();
        fresh_phase();
    }
    deferred.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// The cases that keep the machine to themselves, in one exclusive hold (so that a run of a
/// matrix waits once for the others' cases in flight, not once per case): the crowds on the
/// shared instance, which then stops, the heavy cases, and those whose launch failed beside
/// others. Returns the rest of the cases that run alone.
fn keeping_the_machine(
    plan: &Plan,
    lanes: &Lanes,
    shared: Option<Shared>,
    deferred: Vec<usize>,
    sink: Sink<'_>,
    record: &(dyn Fn(Ran) + Sync),
) -> Vec<usize> {
    let (mut keeps, apart): (Vec<usize>, Vec<usize>) = lanes
        .alone
        .iter()
        .partition(|&&i| plan.cases[i].case.is_heavy());
    keeps.extend(deferred);
    let _machine = (!lanes.crowds.is_empty() || !keeps.is_empty()).then(crate::os::machine::alone);
    if let Some(shared) = shared {
        shared.fresh_beside(false);
        for &i in &lanes.crowds {
            record(shared.run(plan, i, sink));
        }
        shared.stop();
    }
    for &i in &keeps {
        match run_fresh(plan, i, sink, Instance::FreshAlone) {
            Ok(r) => record(r),
            Err(e) => record(launch_failed(plan, i, e)),
        }
    }
    apart
}
