//! Runs the steps of one case against an address and reports what the client side saw; the
//! grade is decided from that by [`crate::grade::decide`].

use crate::grade::{ClientFailure, StepsOutcome};
use crate::observer::backlog;
use crate::text::indent;
use echo_clients::{
    run_script, FailureKind, ProcessHooks, Rendezvous, ScriptConfig, ScriptOutcome, Symptom,
    Transform,
};
use echo_spec::{Case, CaseKind};
use std::net::SocketAddr;
use std::time::Duration;

/// Default no-progress deadline, before `--time-scale`.
pub const DEFAULT_NO_PROGRESS_MS: u64 = 2_000;
/// Default per-step budget, before `--time-scale`.
pub const DEFAULT_STEP_MS: u64 = 10_000;
/// Default per-case budget, before `--time-scale`.
pub const DEFAULT_CASE_MS: u64 = 60_000;

/// Builds the client configuration for `case`, with every time scaled.
pub fn script_config(
    case: &Case,
    addr: SocketAddr,
    transform: &Transform,
    time_scale: f64,
) -> ScriptConfig {
    let scale = |ms: u64| Duration::from_secs_f64(ms as f64 * time_scale / 1000.0);
    let t = case.timeouts;
    ScriptConfig {
        addr,
        transform: if case.echo_counted() {
            Transform::Count
        } else {
            transform.clone()
        },
        time_scale,
        no_progress: scale(t.no_progress_ms.unwrap_or(DEFAULT_NO_PROGRESS_MS)),
        step_budget: scale(t.step_ms.unwrap_or(DEFAULT_STEP_MS)),
        case_budget: scale(t.case_ms.unwrap_or(DEFAULT_CASE_MS)),
        seed_offset: 0,
    }
}

/// Runs the steps of `case` with `cfg`: one script, N concurrent clients, or a property run.
/// `hooks` observes the launched server for process steps; a failing `property` case also writes
/// its shrunk steps into `regressions`.
pub fn run_steps(
    case: &Case,
    cfg: &ScriptConfig,
    hooks: Option<&mut dyn ProcessHooks>,
    regressions: Option<&std::path::Path>,
) -> StepsOutcome {
    // A crowd that goes unserved is explained by what the kernel counted meanwhile.
    let before = if case.opens_crowd() {
        backlog::Before::now()
    } else {
        None
    };
    let mut outcome = steps_of(case, cfg, hooks, regressions);
    if let (
        Some(before),
        Some(ClientFailure::Step {
            kind,
            evidence,
            symptom,
            ..
        }),
    ) = (before, outcome.failure.as_mut())
    {
        // Overflows explain connections that were never served, not a wait on a connection
        // that was served (its echo came, at least in part).
        let served = matches!(
            symptom.as_ref(),
            Some(Symptom::Wait(w)) if w.received > 0 || w.owed == 0
        );
        if backlog::may_be_lost_connections(*kind) {
            let (line, overflow) = backlog::explain(cfg.addr, before);
            evidence.push('\n');
            evidence.push_str(&line);
            if let (Some((backlog, overflows)), false) = (overflow, served) {
                *symptom = Some(Symptom::AcceptQueueOverflow { backlog, overflows });
            }
        }
    }
    outcome
}

fn steps_of(
    case: &Case,
    cfg: &ScriptConfig,
    hooks: Option<&mut dyn ProcessHooks>,
    regressions: Option<&std::path::Path>,
) -> StepsOutcome {
    match &case.kind {
        CaseKind::Script { steps } | CaseKind::Process { steps } => {
            let outcome = run_script(steps, cfg, None, hooks);
            StepsOutcome {
                failure: failure_of(&outcome, None),
                notes: outcome.notes,
                figures: outcome.figures,
            }
        }
        CaseKind::Concurrent {
            clients,
            stagger_ms,
            steps,
        } => StepsOutcome {
            failure: concurrent(*clients, *stagger_ms, steps, cfg),
            ..StepsOutcome::default()
        },
        CaseKind::Property { params } => StepsOutcome {
            failure: crate::property::execute(case, params, cfg, regressions),
            ..StepsOutcome::default()
        },
    }
}

fn failure_of(outcome: &ScriptOutcome, client: Option<u32>) -> Option<ClientFailure> {
    let err = outcome.result.as_ref().err()?;
    let who = client.map(|i| format!("client {i}: ")).unwrap_or_default();
    let evidence = format!(
        "{who}{err}\ntranscript (last events):\n{}",
        indent(&outcome.transcript.tail(10))
    );
    Some(ClientFailure::Step {
        kind: err.failure.kind,
        evidence,
        symptom: err.failure.symptom.as_deref().cloned(),
        step: Some(err.step),
    })
}

fn concurrent(
    clients: u32,
    stagger_ms: u64,
    steps: &[echo_spec::Step],
    cfg: &ScriptConfig,
) -> Option<ClientFailure> {
    let stagger = Duration::from_secs_f64(stagger_ms as f64 * cfg.time_scale / 1000.0);
    let barrier = Rendezvous::new(clients as usize);
    let io = |evidence: String| ClientFailure::Step {
        kind: FailureKind::Io,
        evidence,
        symptom: None,
        step: None,
    };
    let outcomes: Vec<Option<ClientFailure>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|i| {
                let mut cfg = cfg.clone();
                cfg.seed_offset = cfg.seed_offset.wrapping_add(u64::from(i));
                let barrier = &barrier;
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn_scoped(scope, move || {
                        std::thread::sleep(stagger * i);
                        let outcome = run_script(steps, &cfg, Some(barrier), None);
                        failure_of(&outcome, Some(i))
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Some(io("a client thread panicked".into()))),
                Err(e) => Some(io(format!("cannot start a client thread: {e}"))),
            })
            .collect()
    });
    let failed: Vec<_> = outcomes.into_iter().flatten().collect();
    let count = failed.len();
    match failed.into_iter().next()? {
        ClientFailure::Step {
            kind,
            evidence,
            symptom,
            step,
        } => Some(ClientFailure::Step {
            kind,
            evidence: format!("{count} of {clients} clients failed; the first:\n{evidence}"),
            symptom,
            step,
        }),
        abort => Some(abort),
    }
}
