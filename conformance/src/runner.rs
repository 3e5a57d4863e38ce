//! Schedules the cases against the target: in parallel on one shared server where the claims
//! allow, alone on a fresh server where a case needs one, and relaunching a server that died.

use crate::exec::{execute, execute_with, script_config, Verdict};
use crate::report::{CaseResult, Event, Grade};
use crate::server::{describe, indent, LaunchError, LaunchSpec, Server};
use echo_clients::{ProcessHooks, Transform};
use echo_spec::{Case, CaseKind, Claim, ClaimSet, IpFamily, Step};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where the server under test is. Built once per run, so the size of `LaunchSpec` does not matter.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Target {
    /// Launched by the runner, once or many times.
    Launch(LaunchSpec),
    /// Started elsewhere.
    Addr(SocketAddr),
}

/// A case selected for the run, with whether the server claims it.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The case.
    pub case: Case,
    /// True when the server's claims satisfy the case's `requires`.
    pub claimed: bool,
    /// The family this copy of the case runs over, when it is the `--family both` twin; `None`
    /// runs it over the target's own address.
    pub over: Option<IpFamily>,
}

impl Planned {
    /// The address this case talks to, given the server's.
    pub fn at(&self, server: SocketAddr) -> SocketAddr {
        match self.over {
            Some(f) => SocketAddr::new(f.loopback(), server.port()),
            None => server,
        }
    }
}

/// Everything the scheduler needs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The target.
    pub target: Target,
    /// The server's claims.
    pub claims: ClaimSet,
    /// The declared transform.
    pub transform: Transform,
    /// Cases in spec order; unclaimed ones run only under `detect`.
    pub cases: Vec<Planned>,
    /// Run unclaimed cases too.
    pub detect: bool,
    /// Multiplies every deadline.
    pub time_scale: f64,
    /// Cases run at once on a shared concurrent server.
    pub jobs: usize,
    /// Why privilege cases cannot run here (not root, no target user), or `None` when they can.
    pub privilege_skip: Option<String>,
    /// Where failing property cases write their shrunk steps (`--emit-regressions`).
    pub regressions: Option<std::path::PathBuf>,
    /// With `--family both`: the second family, whose twins of the cases are in `cases`.
    pub twin: Option<IpFamily>,
}

/// What the scheduler produced.
#[derive(Debug)]
pub struct Outcome {
    /// Results in spec order.
    pub results: Vec<CaseResult>,
    /// Server deaths and failed relaunches, one line each.
    pub server_problems: Vec<String>,
}

/// Runs the plan, calling `sink` as cases finish. Fails only when the server cannot be started at all.
pub fn run(plan: &Plan, sink: &(dyn Fn(Event) + Sync)) -> Result<Outcome, LaunchError> {
    let single = plan.claims.contains(Claim::Single);
    let mut shared_idx = Vec::new();
    let mut alone_idx = Vec::new();
    let mut results: Vec<Option<CaseResult>> = vec![None; plan.cases.len()];
    let unanswered = unanswered_families(plan)?;
    let remote = matches!(plan.target, Target::Addr(a) if !a.ip().is_loopback());
    for (i, p) in plan.cases.iter().enumerate() {
        // The `family.*` cases pick their families themselves, and measure what the probe found.
        let family_gap = unanswered
            .iter()
            .find(|(over, _)| *over == p.over && !picks_families(&p.case))
            .map(|(_, reason)| reason.clone())
            .or_else(|| {
                (remote && picks_families(&p.case)).then(|| {
                    "connects over 127.0.0.1 and ::1 of this machine, and the server is remote"
                        .to_string()
                })
            });
        if let (Some(reason), true) = (family_gap, p.claimed || plan.detect) {
            results[i] = Some(result(p, Verdict::skip(reason), Duration::ZERO));
        } else if !p.claimed && !plan.detect {
            results[i] = Some(result(
                p,
                Verdict {
                    grade: Grade::NotClaimed,
                    failure: None,
                    evidence: None,
                    notes: Vec::new(),
                },
                Duration::ZERO,
            ));
        } else if p.claimed && !single && !matches!(p.case.kind, CaseKind::Process { .. }) {
            shared_idx.push(i);
        } else {
            alone_idx.push(i);
        }
    }
    sink(Event::Started {
        to_run: shared_idx.len() + alone_idx.len(),
    });
    let problems = Mutex::new(Vec::new());
    let results = Mutex::new(results);
    let record = |i: usize, r: CaseResult| {
        sink(Event::CaseFinished(r.clone()));
        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
    };

    // A first launch proves the command works at all; its failure is the run's failure (exit 3).
    // When every case runs on a fresh server of its own, each case records its own launch.
    let first = match &plan.target {
        Target::Launch(spec) if !shared_idx.is_empty() => Some(Server::launch(spec)?),
        _ => None,
    };
    let shared = Mutex::new(Shared {
        server: first,
        generation: 0,
    });
    let jobs = if plan.claims.contains(Claim::Concurrent) {
        plan.jobs.max(1)
    } else {
        1
    };
    let next = AtomicUsize::new(0);
    let shared_workers = jobs.min(shared_idx.len().max(1));
    let shared_done = std::sync::Barrier::new(shared_workers);
    std::thread::scope(|scope| {
        for _ in 0..shared_workers {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = shared_idx.get(k) else { break };
                    let p = &plan.cases[i];
                    let r = run_shared(plan, p, &shared, &problems, sink);
                    record(i, r);
                }
                // A server relaunched by this worker dies with it (parent-death signal): stay
                // until every worker is done with the shared server.
                shared_done.wait();
            });
        }
    });
    // Cases that need the server to themselves get a fresh one each (the shared one is stopped first).
    drop(
        shared
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .server,
    );
    // Fresh servers on ports of their own do not disturb each other, so those cases run `--jobs`
    // at a time; a fixed port (the privileged one), a heavy case (whose figures need a quiet
    // machine) or a server reached by address makes a case wait for its turn alone.
    let (parallel, serial): (Vec<usize>, Vec<usize>) = alone_idx
        .into_iter()
        .partition(|&i| can_run_beside_others(plan, &plan.cases[i]));
    let next = AtomicUsize::new(0);
    let deferred = Mutex::new(Vec::new());
    // At most one fresh server per CPU at a time: the cases measure the server, not the machine.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = plan.jobs.max(1).min(cpus).min(parallel.len().max(1));
    let done = std::sync::Barrier::new(workers);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = parallel.get(k) else { break };
                    match run_alone_or_defer(plan, &plan.cases[i], &problems, sink, true) {
                        Some(r) => record(i, r),
                        None => deferred.lock().unwrap_or_else(|e| e.into_inner()).push(i),
                    }
                }
                // A launched server's parent-death signal follows the thread that started it, so
                // no worker leaves while another may still be using a server.
                done.wait();
            });
        }
    });
    let mut serial = serial;
    serial.extend(deferred.into_inner().unwrap_or_else(|e| e.into_inner()));
    for i in serial {
        let p = &plan.cases[i];
        let r = run_alone(plan, p, &problems, sink);
        record(i, r);
    }
    let results = results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect();
    Ok(Outcome {
        results,
        server_problems: problems.into_inner().unwrap_or_else(|e| e.into_inner()),
    })
}

/// With `--family both`, the families the server does not answer on (`None` for the target's
/// own, `Some` for the twin's) and why, so their cases are skipped with that reason. A server
/// that claims `dual-stack` is not probed: its cases run, and fail where a family is missing.
fn unanswered_families(plan: &Plan) -> Result<Vec<(Option<IpFamily>, String)>, LaunchError> {
    let Some(twin) = plan.twin else {
        return Ok(Vec::new());
    };
    if plan.claims.contains(Claim::DualStack) {
        return Ok(Vec::new());
    }
    let (_probe_server, base) = match &plan.target {
        Target::Launch(spec) => {
            let server = Server::launch(spec)?;
            let addr = server.addr;
            (Some(server), addr)
        }
        Target::Addr(addr) => (None, *addr),
    };
    let primary = IpFamily::of(base.ip());
    let mut gaps = Vec::new();
    for (over, family, other) in [(None, primary, twin), (Some(twin), twin, primary)] {
        let addr = SocketAddr::new(family.loopback(), base.port());
        if let Err(why) = answers(plan, addr) {
            gaps.push((
                over,
                format!(
                    "the server does not answer on {addr} ({why}): it serves {} only \
                     (claim `dual-stack` to make this a failure)",
                    other.as_str()
                ),
            ));
        }
    }
    Ok(gaps)
}

/// True for a case whose steps choose their address family (`connect_over`, `udp_open_over`).
fn picks_families(case: &Case) -> bool {
    fn picks(steps: &[Step]) -> bool {
        steps.iter().any(|s| match s {
            Step::ConnectOver { .. }
            | Step::UdpOpen {
                family: Some(_), ..
            } => true,
            Step::Repeat { steps, .. } => picks(steps),
            _ => false,
        })
    }
    picks(case.kind.steps())
}

/// Whether the server answers at `addr`: a TCP connect, or for a UDP-only server one datagram.
fn answers(plan: &Plan, addr: SocketAddr) -> Result<(), String> {
    let wait = Duration::from_secs_f64(2.0 * plan.time_scale);
    if plan.claims.contains(Claim::Tcp) {
        return std::net::TcpStream::connect_timeout(&addr, wait)
            .map(drop)
            .map_err(|e| format!("TCP connect: {e}"));
    }
    let mut sock =
        echo_clients::datagram::DatagramSocket::open("probe", addr).map_err(|f| f.to_string())?;
    sock.send(b"family probe".to_vec())
        .and_then(|()| sock.expect_answers(wait, Instant::now() + wait))
        .map(drop)
        .map_err(|f| format!("UDP: {f}"))
}

/// True when a case that needs a fresh server may run while others run on theirs.
fn can_run_beside_others(plan: &Plan, p: &Planned) -> bool {
    let Target::Launch(spec) = &plan.target else {
        return false;
    };
    spec.port.is_none()
        && !p
            .case
            .kind
            .steps()
            .iter()
            .any(|s| s.is_privilege_step() || matches!(s, Step::Restart { .. }))
        && !p.case.tags.iter().any(|t| t == crate::config::HEAVY_TAG)
}

struct Shared {
    server: Option<Server>,
    generation: u64,
}

fn result(p: &Planned, v: Verdict, took: Duration) -> CaseResult {
    CaseResult {
        id: p.case.id.clone(),
        title: p.case.title.clone(),
        level: p.case.level,
        claimed: p.claimed,
        grade: v.grade,
        duration_ms: took.as_millis() as u64,
        failure: v.failure,
        evidence: v.evidence,
        notes: v.notes,
        seed: p.case.kind.property().map(|params| params.seed),
        prop_cases: p.case.kind.property().map(|params| params.cases),
    }
}

fn run_shared(
    plan: &Plan,
    p: &Planned,
    shared: &Mutex<Shared>,
    problems: &Mutex<Vec<String>>,
    sink: &(dyn Fn(Event) + Sync),
) -> CaseResult {
    let start = Instant::now();
    let (addr, generation) = {
        let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
        match &plan.target {
            Target::Addr(addr) => (*addr, 0),
            Target::Launch(spec) => {
                let addr = match &sh.server {
                    Some(server) => server.addr,
                    None => match Server::launch(spec) {
                        Ok(s) => {
                            let addr = s.addr;
                            sh.server = Some(s);
                            sh.generation += 1;
                            sink(Event::Relaunched {
                                reason: "the previous instance died".into(),
                            });
                            addr
                        }
                        Err(e) => {
                            let msg = format!("relaunch before `{}` failed: {e}", p.case.id);
                            return result(p, launch_failed(problems, msg), start.elapsed());
                        }
                    },
                };
                (addr, sh.generation)
            }
        }
    };
    let cfg = script_config(&p.case, p.at(addr), &plan.transform, plan.time_scale);
    let mut verdict = execute_with(&p.case, &cfg, None, plan.regressions.as_deref());
    let settle = death_settle(&verdict);
    let mut sh = shared.lock().unwrap_or_else(|e| e.into_inner());
    if sh.generation == generation {
        if let Some(server) = sh.server.as_mut() {
            if let Some(status) = server.exit_within(settle) {
                verdict = died(verdict, server, status, Some(problems), &p.case.id);
                sh.server = None;
            }
        }
    }
    result(p, verdict, start.elapsed())
}

fn run_alone(
    plan: &Plan,
    p: &Planned,
    problems: &Mutex<Vec<String>>,
    sink: &(dyn Fn(Event) + Sync),
) -> CaseResult {
    run_alone_or_defer(plan, p, problems, sink, false).unwrap_or_else(|| {
        result(
            p,
            Verdict::skip("deferred launch did not run"),
            Duration::ZERO,
        )
    })
}

/// Runs a case on a fresh server. With `tentative` (the case runs beside others), a failed launch
/// returns `None` instead of a verdict: the server may not allow two instances at once (a fixed
/// pid file, lock or second port), so the case is retried alone afterwards.
fn run_alone_or_defer(
    plan: &Plan,
    p: &Planned,
    problems: &Mutex<Vec<String>>,
    sink: &(dyn Fn(Event) + Sync),
    tentative: bool,
) -> Option<CaseResult> {
    let start = Instant::now();
    match &plan.target {
        Target::Addr(addr) => {
            if matches!(p.case.kind, CaseKind::Process { .. }) {
                return Some(result(
                    p,
                    Verdict::skip(
                        "observes the server process, which needs a launched server (--cmd)",
                    ),
                    start.elapsed(),
                ));
            }
            let cfg = script_config(&p.case, p.at(*addr), &plan.transform, plan.time_scale);
            let regressions = plan.regressions.as_deref();
            Some(result(
                p,
                execute_with(&p.case, &cfg, None, regressions),
                start.elapsed(),
            ))
        }
        Target::Launch(spec) => {
            let steps = p.case.kind.steps();
            if steps.iter().any(Step::is_privilege_step) {
                if let Some(reason) = &plan.privilege_skip {
                    return Some(result(p, Verdict::skip(reason.clone()), start.elapsed()));
                }
            }
            if matches!(steps.first(), Some(Step::ExpectBindDenied)) {
                return Some(result(p, bind_denied(plan, p, spec), start.elapsed()));
            }
            let heavy = p.case.tags.iter().any(|t| t == crate::config::HEAVY_TAG);
            let launch = LaunchSpec {
                rlimit_nofile: p.case.rlimit_nofile,
                // Heavy cases (C10k) keep the runner's raised limit; the others get the original.
                inherited_nofile: if heavy { None } else { spec.inherited_nofile },
                ..spec.clone()
            };
            let mut server = match Server::launch(&launch) {
                Ok(s) => s,
                Err(_) if tentative => return None,
                Err(e) => {
                    let msg = format!("launch for `{}` failed: {e}", p.case.id);
                    return Some(result(p, launch_failed(problems, msg), start.elapsed()));
                }
            };
            sink(Event::Relaunched {
                reason: format!("`{}` runs on a fresh server", p.case.id),
            });
            let cfg = script_config(&p.case, p.at(server.addr), &plan.transform, plan.time_scale);
            let is_process = matches!(p.case.kind, CaseKind::Process { .. });
            let mut verdict = execute_with(
                &p.case,
                &cfg,
                if is_process {
                    Some(&mut server as &mut dyn ProcessHooks)
                } else {
                    None
                },
                plan.regressions.as_deref(),
            );
            let expects_exit = steps.iter().any(|s| match s {
                Step::ExpectExit { .. } | Step::Restart { .. } => true,
                Step::Signal { signal } => signal.may_end(),
                _ => false,
            });
            if is_process && verdict.grade == Grade::Fail {
                // A process case observes the server itself, so an exit may be what it expects;
                // but when the case failed, a death is the evidence that matters most, and
                // otherwise what the server said (a limit it hit, say) often explains the failure.
                match server.exit_within(Duration::ZERO) {
                    Some(status) if !expects_exit => {
                        verdict = died(verdict, &server, status, None, &p.case.id);
                    }
                    _ => {
                        let tail = server.output_tail();
                        if !tail.trim().is_empty() {
                            let said = format!("the server's last output:\n{}", indent(&tail));
                            verdict.evidence = Some(match verdict.evidence.take() {
                                Some(e) => format!("{e}\n{said}"),
                                None => said,
                            });
                        }
                    }
                }
            }
            if !is_process {
                if let Some(status) = server.exit_within(death_settle(&verdict)) {
                    // A server that claims `single` may exit 0 after its one connection; anything else is a death.
                    let expected = status.code() == Some(0) && plan.claims.contains(Claim::Single);
                    if !expected {
                        // Deaths in unclaimed cases (run by --detect) are evidence, not crashes.
                        let crashes = if p.claimed { Some(problems) } else { None };
                        verdict = died(verdict, &server, status, crashes, &p.case.id);
                    }
                }
            }
            Some(result(p, verdict, start.elapsed()))
        }
    }
}

/// A case that starts with `expect_bind_denied`: the server is started as the target user (not
/// root), on the privileged port, and the steps then observe it refusing to start.
fn bind_denied(plan: &Plan, p: &Planned, spec: &LaunchSpec) -> Verdict {
    let Some(target) = &spec.privilege else {
        return Verdict::skip("no privilege target is known (see the report's environment)");
    };
    let port = spec.port.unwrap_or(target.port);
    match unprivileged_port_start() {
        Some(start) if u32::from(port) >= start => {
            return Verdict::skip(format!(
                "net.ipv4.ip_unprivileged_port_start is {start} here, so an unprivileged bind to port {port} \
                 is allowed and a refusal cannot be expected (containers often set it to 0)"
            ));
        }
        _ => {}
    }
    if port >= 1024 {
        return Verdict::skip(format!(
            "the server is given port {port}, which is not privileged (claims without `privileged`, or not root)"
        ));
    }
    let mut spec = spec.clone();
    spec.port = Some(port);
    let mut server = match Server::start(&spec, Some((target.uid, target.gid))) {
        Ok(s) => s,
        Err(e) => {
            return Verdict {
                grade: Grade::Fail,
                failure: Some("SERVER".into()),
                evidence: Some(format!(
                    "cannot start the server as {}({}): {e}",
                    target.user, target.uid
                )),
                notes: Vec::new(),
            }
        }
    };
    let cfg = script_config(&p.case, server.addr, &plan.transform, plan.time_scale);
    execute(&p.case, &cfg, Some(&mut server as &mut dyn ProcessHooks))
}

/// `net.ipv4.ip_unprivileged_port_start` in the runner's (and so the servers') network namespace.
pub fn unprivileged_port_start() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// A case that could not get a server: a FAIL of class SERVER, and a server problem of the run.
fn launch_failed(problems: &Mutex<Vec<String>>, msg: String) -> Verdict {
    problems
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(msg.clone());
    Verdict {
        grade: Grade::Fail,
        failure: Some("SERVER".into()),
        evidence: Some(msg),
        notes: Vec::new(),
    }
}

/// The server exited during case `id`: its death (status and last output) leads the evidence, and
/// a non-zero exit or a signal is a crash of the run when `crashes` collects them.
fn died(
    v: Verdict,
    server: &Server,
    status: std::process::ExitStatus,
    crashes: Option<&Mutex<Vec<String>>>,
    id: &str,
) -> Verdict {
    if let Some(crashes) = crashes.filter(|_| status.code() != Some(0)) {
        crashes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("`{id}`: the server {}", describe(status)));
    }
    let death = format!(
        "the server {} during this case; its last output:\n{}",
        describe(status),
        indent(&server.output_tail())
    );
    let evidence = match v.evidence {
        Some(e) => format!("{death}\n{e}"),
        None => death,
    };
    Verdict {
        grade: if v.grade == Grade::Info {
            Grade::Info
        } else {
            Grade::Fail
        },
        failure: Some(v.failure.unwrap_or_else(|| "DIED".into())),
        evidence: Some(evidence),
        notes: v.notes,
    }
}

/// How long to wait for a server's exit after a case: a failed case may have been failed by a
/// server that is still dying, and its death is the evidence that matters.
fn death_settle(v: &Verdict) -> Duration {
    if v.grade == Grade::Fail {
        Duration::from_millis(300)
    } else {
        Duration::ZERO
    }
}
