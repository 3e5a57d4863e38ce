//! Runs one case against an address and grades it.

use crate::report::Grade;
use echo_clients::{run_script, ProcessHooks, Rendezvous, ScriptConfig, ScriptOutcome, Transform};
use echo_spec::{Case, CaseKind, Level};
use std::net::SocketAddr;
use std::time::Duration;

/// Default no-progress deadline, before `--time-scale`.
pub const DEFAULT_NO_PROGRESS_MS: u64 = 2_000;
/// Default per-step budget, before `--time-scale`.
pub const DEFAULT_STEP_MS: u64 = 10_000;
/// Default per-case budget, before `--time-scale`.
pub const DEFAULT_CASE_MS: u64 = 60_000;

/// What running one case produced.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The grade.
    pub grade: Grade,
    /// HANG, STALL, MISMATCH, … for a FAIL.
    pub failure: Option<String>,
    /// What backs the grade.
    pub evidence: Option<String>,
    /// Measurements reported whatever the grade (connect counts, memory, CPU).
    pub notes: Vec<String>,
}

impl Verdict {
    /// A SKIP with its reason.
    pub fn skip(reason: impl Into<String>) -> Verdict {
        Verdict {
            grade: Grade::Skip,
            failure: None,
            evidence: Some(reason.into()),
            notes: Vec::new(),
        }
    }
}

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
        transform: transform.clone(),
        time_scale,
        no_progress: scale(t.no_progress_ms.unwrap_or(DEFAULT_NO_PROGRESS_MS)),
        step_budget: scale(t.step_ms.unwrap_or(DEFAULT_STEP_MS)),
        case_budget: scale(t.case_ms.unwrap_or(DEFAULT_CASE_MS)),
        seed_offset: 0,
    }
}

/// Runs `case` against `addr`; `hooks` observes the launched server for process steps.
pub fn execute(case: &Case, cfg: &ScriptConfig, hooks: Option<&mut dyn ProcessHooks>) -> Verdict {
    execute_with(case, cfg, hooks, None)
}

/// Like [`execute`]; a failing `property` case also writes its shrunk steps into `regressions`.
pub fn execute_with(
    case: &Case,
    cfg: &ScriptConfig,
    hooks: Option<&mut dyn ProcessHooks>,
    regressions: Option<&std::path::Path>,
) -> Verdict {
    let (failure, notes) = match &case.kind {
        CaseKind::Script { steps } | CaseKind::Process { steps } => {
            let outcome = run_script(steps, cfg, None, hooks);
            (failure_of(&outcome, None), outcome.notes)
        }
        CaseKind::Concurrent { clients, steps } => (concurrent(*clients, steps, cfg), Vec::new()),
        CaseKind::Property { params } => (
            crate::property::execute(case, params, cfg, regressions),
            Vec::new(),
        ),
    };
    let grade = match (&failure, case.level) {
        (_, Level::Info) => Grade::Info,
        (None, _) => Grade::Pass,
        (Some(_), _) => Grade::Fail,
    };
    let (failure, evidence) = failure.map_or((None, None), |(kind, ev)| (Some(kind), Some(ev)));
    Verdict {
        grade,
        failure,
        evidence,
        notes,
    }
}

fn failure_of(outcome: &ScriptOutcome, client: Option<u32>) -> Option<(String, String)> {
    let err = outcome.result.as_ref().err()?;
    let who = client.map(|i| format!("client {i}: ")).unwrap_or_default();
    let evidence = format!(
        "{who}{err}\ntranscript (last events):\n{}",
        crate::server::indent(&outcome.transcript.tail(10))
    );
    Some((err.failure.kind.label().to_string(), evidence))
}

fn concurrent(
    clients: u32,
    steps: &[echo_spec::Step],
    cfg: &ScriptConfig,
) -> Option<(String, String)> {
    let barrier = Rendezvous::new(clients as usize);
    let outcomes: Vec<Option<(String, String)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|i| {
                let mut cfg = cfg.clone();
                cfg.seed_offset = cfg.seed_offset.wrapping_add(u64::from(i));
                let barrier = &barrier;
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn_scoped(scope, move || {
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
                    .unwrap_or_else(|_| Some(("IO".into(), "a client thread panicked".into()))),
                Err(e) => Some(("IO".into(), format!("cannot start a client thread: {e}"))),
            })
            .collect()
    });
    let failed: Vec<_> = outcomes.into_iter().flatten().collect();
    let (kind, first) = failed.first()?.clone();
    Some((
        kind,
        format!(
            "{} of {clients} clients failed; the first:\n{first}",
            failed.len()
        ),
    ))
}
