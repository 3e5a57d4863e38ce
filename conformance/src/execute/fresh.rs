//! One case on a fresh instance of its own (or, with `--addr`, on the given server): launch,
//! run the steps (observed, for `process` cases), and say what happened to the server.

use super::steps::{run_steps, script_config};
use super::Death;
use crate::events::{Attempt, Event, Sink};
use crate::grade::{self, ClientFailure, ServerFate, StepsOutcome};
use crate::observer::Observer;
use crate::os::net;
use crate::outcome::Verdict;
use crate::plan::{Plan, Planned, Target};
use crate::server::{describe, ending, LaunchError, LaunchSpec, Server};
use echo_clients::{FailureKind, ProcessHooks};
use echo_spec::{CaseKind, Claim, Step};
use std::time::Duration;

/// How long to wait for a server's exit after a failed case: a server still dying when the case
/// ends has its death, not a bare RESET, recorded as the cause.
pub const DEATH_SETTLE: Duration = Duration::from_millis(300);

/// Runs `p` on a fresh instance. `Err` when the instance could not be launched; the caller
/// decides whether that is the case's verdict or a reason to retry alone.
pub fn run(
    plan: &Plan,
    p: &Planned,
    sink: Sink<'_>,
    attempt: Attempt,
) -> Result<(Verdict, Option<Death>), LaunchError> {
    sink(Event::CaseStarted {
        id: p.id(),
        attempt,
    });
    let spec = match &plan.target {
        Target::Addr(addr) => {
            let cfg = script_config(&p.case, p.at(*addr), &plan.transform, plan.time_scale);
            let steps = run_steps(&p.case, &cfg, None, plan.regressions.as_deref());
            return Ok((grade::decide(p, steps, ServerFate::Fine), None));
        }
        Target::Launch(spec) => spec,
    };
    let steps = p.case.kind.steps();
    if matches!(steps.first(), Some(Step::ExpectBindDenied)) {
        return Ok((bind_denied(plan, p, spec), None));
    }
    let launch = LaunchSpec {
        rlimit_nofile: p.case.rlimit_nofile,
        // Heavy cases (C10k) keep the runner's raised limit; the others get the original.
        inherited_nofile: if p.case.is_heavy() {
            None
        } else {
            spec.inherited_nofile
        },
        ..spec.clone()
    };
    let mut server = Server::launch(&launch)?;
    sink(Event::Relaunched {
        reason: format!("`{}` runs on a fresh instance", p.id()),
    });
    let cfg = script_config(&p.case, p.at(server.addr), &plan.transform, plan.time_scale);
    let process = matches!(p.case.kind, CaseKind::Process { .. });
    let outcome = if process {
        let mut observer = Observer::new(&mut server);
        run_steps(
            &p.case,
            &cfg,
            Some(&mut observer as &mut dyn ProcessHooks),
            plan.regressions.as_deref(),
        )
    } else {
        run_steps(&p.case, &cfg, None, plan.regressions.as_deref())
    };
    // A rerun looks for a crash even when the case passed: the death may follow its last step.
    let settle = outcome.failure.is_some() || attempt != Attempt::Scheduled;
    let (fate, death) = fate_after(plan, p, &mut server, &outcome, process, settle);
    Ok((grade::decide(p, outcome, fate), death))
}

/// What happened to a fresh instance during `p`.
fn fate_after(
    plan: &Plan,
    p: &Planned,
    server: &mut Server,
    outcome: &StepsOutcome,
    process: bool,
    settle: bool,
) -> (ServerFate, Option<Death>) {
    let failed = outcome.failure.is_some();
    if process {
        // A process case observes the server itself, so an exit may be what it expects; when the
        // case failed, a death is the evidence that matters, and otherwise what the server said
        // (a limit it hit, say) often explains the failure.
        let expects_exit = p.case.kind.steps().iter().any(|s| match s {
            Step::ExpectExit { .. } | Step::Restart { .. } => true,
            Step::Signal { signal } => signal.may_end(),
            _ => false,
        });
        if !failed {
            return (ServerFate::Fine, None);
        }
        // A failure is often the first sign of a death: give the exit a moment to be seen.
        let settle = if expects_exit {
            Duration::ZERO
        } else {
            DEATH_SETTLE
        };
        return match server.exit_within(settle) {
            Some(status) if !expects_exit => (
                ServerFate::Died {
                    status: describe(status),
                    ending: ending(status),
                    tail: server.final_output(),
                },
                Some(Death::of(status, false)),
            ),
            _ => (ServerFate::Said(server.output_tail()), None),
        };
    }
    let settle = if settle && !refused_by_design(server, outcome) {
        DEATH_SETTLE
    } else {
        Duration::ZERO
    };
    match server.exit_within(settle) {
        // A server that claims `single` may exit 0 after its one connection.
        Some(status) if status.code() == Some(0) && plan.claims.contains(Claim::Single) => {
            (ServerFate::Fine, None)
        }
        Some(status) => (
            ServerFate::Died {
                status: describe(status),
                ending: ending(status),
                tail: server.final_output(),
            },
            // Deaths in unclaimed cases (run by --detect) are evidence, not crashes of the run.
            Some(Death::of(status, p.claimed)),
        ),
        // A server that stays up after a failure may have printed why it dropped the connection:
        // an exception's traceback is evidence (and names the failure's cause).
        None if failed => {
            let tail = server.output_tail();
            if crate::cause::exception_in(&tail).is_some() {
                (ServerFate::Said(tail), None)
            } else {
                (ServerFate::Fine, None)
            }
        }
        None => (ServerFate::Fine, None),
    }
}

/// A refusal on one transport from a server that is up on the other: it holds a TCP listener but
/// no UDP socket on its port, or the reverse. Such a server never served what the case asked for,
/// so the refusal is not the first sign of a death and needs no settling time: the case fails at
/// once.
fn refused_by_design(server: &Server, outcome: &StepsOutcome) -> bool {
    let refused = matches!(
        &outcome.failure,
        Some(ClientFailure::Step {
            kind: FailureKind::Refused,
            ..
        })
    );
    if !refused {
        return false;
    }
    let (pids, port) = (server.processes(), server.addr.port());
    let tcp = !net::listeners_of(&pids, port).is_empty();
    let udp = !net::udp_sockets_of(&pids, port).is_empty();
    tcp != udp
}

/// A case that starts with `expect_bind_denied`: the server is started as the target user (not
/// root), on the privileged port, and the steps then observe it refusing to start.
fn bind_denied(plan: &Plan, p: &Planned, spec: &LaunchSpec) -> Verdict {
    let Some(target) = &spec.privilege else {
        return grade::skip("no privilege target is known (see the report's environment)");
    };
    let port = spec.port.unwrap_or(target.port);
    match crate::os::unprivileged_port_start() {
        Some(start) if u32::from(port) >= start => {
            return grade::skip(format!(
                "net.ipv4.ip_unprivileged_port_start is {start} here, so an unprivileged bind to port {port} \
                 is allowed and a refusal cannot be expected (containers often set it to 0)"
            ));
        }
        _ => {}
    }
    if port >= 1024 {
        return grade::skip(format!(
            "the server is given port {port}, which is not privileged (claims without `privileged`, or not root)"
        ));
    }
    let mut spec = spec.clone();
    spec.port = Some(port);
    let mut server = match Server::start(&spec, Some((target.uid, target.gid))) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!(
                "cannot start the server as {}({}): {e}",
                target.user, target.uid
            );
            return grade::decide(p, StepsOutcome::default(), ServerFate::LaunchFailed(msg));
        }
    };
    let cfg = script_config(&p.case, server.addr, &plan.transform, plan.time_scale);
    let mut observer = Observer::new(&mut server);
    let outcome = run_steps(
        &p.case,
        &cfg,
        Some(&mut observer as &mut dyn ProcessHooks),
        None,
    );
    grade::decide(p, outcome, ServerFate::Fine)
}
