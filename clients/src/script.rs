//! The script executor: runs spec steps on real sockets, with deadlines and a transcript.
//!
//! ```no_run
//! use echo_clients::{run_script, ScriptConfig};
//! use echo_spec::{Payload, Step, Chunking};
//!
//! let steps = vec![
//!     Step::Connect { name: "main".into() },
//!     Step::Send { payload: Payload::Seeded { seed: 1, len: 1 << 20 }, chunking: Chunking::default() },
//!     Step::ExpectEcho,
//!     Step::ShutdownWrite,
//!     Step::ExpectEof,
//! ];
//! let outcome = run_script(&steps, &ScriptConfig::new("127.0.0.1:7007".parse().unwrap()), None, None);
//! if let Err(e) = &outcome.result {
//!     eprintln!("{e}\n{}", outcome.transcript);
//! }
//! ```

use crate::barrier::Rendezvous;
use crate::conn::{Connection, Limits, Outgoing};
use crate::crowd::{open_many_paced, storm, Crowd};
use crate::datagram::{burst, Burst, DatagramSocket};
use crate::failure::{Failure, FailureKind};
use crate::hooks::ProcessHooks;
use crate::payload::with_seed_offset;
use crate::symptom::{Symptom, WaitEnd, WaitState};
use crate::transcript::{EventKind, Transcript};
use crate::verify::Transform;
use echo_spec::{IpFamily, Payload, Step};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Where and how a script runs.
#[derive(Debug, Clone)]
pub struct ScriptConfig {
    /// The server's address.
    pub addr: SocketAddr,
    /// What the server is declared to do to the echo.
    pub transform: Transform,
    /// Multiplies every time in the steps (pauses, silences, sleeps).
    pub time_scale: f64,
    /// A wait fails after this long without a byte moving (already scaled).
    pub no_progress: Duration,
    /// A single step fails after this long (already scaled).
    pub step_budget: Duration,
    /// The whole script fails after this long (already scaled).
    pub case_budget: Duration,
    /// Added to every seeded payload's seed (distinct streams for concurrent clients).
    pub seed_offset: u64,
}

impl ScriptConfig {
    /// Defaults: identity transform, 2 s without progress, 10 s per step, 60 s per script.
    pub fn new(addr: SocketAddr) -> Self {
        ScriptConfig {
            addr,
            transform: Transform::Identity,
            time_scale: 1.0,
            no_progress: Duration::from_secs(2),
            step_budget: Duration::from_secs(10),
            case_budget: Duration::from_secs(60),
            seed_offset: 0,
        }
    }
}

/// Connections a `hold` or `storm` step attempts at once.
const CROWD_BURST: u32 = 256;
/// Held connections probed at once by `ping_held`.
const PING_BATCH: usize = 1024;
/// How long a storm's connect (and probe) may take: past the SYN retries at 1 s and 3 s.
const STORM_CONNECT: Duration = Duration::from_millis(4_000);
/// Seed of the datagrams `udp_burst` sends (plus the client's seed offset).
const BURST_SEED: u64 = 0x0B0B_57ED;
/// Seed of the stream `write_until_blocked` writes (plus the client's seed offset).
const BLOCKED_SEED: u64 = 0x0B10_C4ED;
/// How long one more client waits for its echo in a `measure_pool` trial, before `--time-scale`.
const POOL_PROBE_WAIT_MS: u64 = 500;

/// The failing step of a script and why it failed.
#[derive(Debug, Clone)]
pub struct StepError {
    /// Where in the script: `steps[3]` or `steps[0].repeat[57].steps[2]`.
    pub path: String,
    /// The step's name.
    pub step: &'static str,
    /// The connection it acted on, if any.
    pub conn: Option<String>,
    /// What went wrong.
    pub failure: Failure,
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.conn {
            Some(c) => write!(
                f,
                "{} `{}` on `{c}`: {}",
                self.path, self.step, self.failure
            ),
            None => write!(f, "{} `{}`: {}", self.path, self.step, self.failure),
        }
    }
}

/// What a script run produced.
#[derive(Debug)]
pub struct ScriptOutcome {
    /// `Ok` when every step passed.
    pub result: Result<(), StepError>,
    /// What happened, with timestamps.
    pub transcript: Transcript,
    /// Measurements worth reporting even when the script passed (connect counts, memory, CPU).
    pub notes: Vec<String>,
    /// Figures a program can use, by name (`pool.served_at_once`).
    pub figures: Figures,
}

/// Named figures a script measured, for a program to use (notes are for people).
pub type Figures = std::collections::BTreeMap<String, u64>;

/// Runs `steps` against `cfg.addr`. `barrier` serves `barrier` steps; `hooks` serves process steps.
pub fn run_script<'a, 'h>(
    steps: &[Step],
    cfg: &'a ScriptConfig,
    barrier: Option<&'a Rendezvous>,
    hooks: Option<&'a mut (dyn ProcessHooks + 'h)>,
) -> ScriptOutcome {
    let mut ex = Executor {
        cfg,
        barrier,
        hooks,
        conns: HashMap::new(),
        current: None,
        case_deadline: Instant::now() + cfg.case_budget,
        transcript: Transcript::default(),
        held: Crowd::default(),
        notes: Vec::new(),
        figures: Figures::new(),
        udp: HashMap::new(),
        udp_current: None,
        leave_waits: true,
        signalled: false,
    };
    let result = ex.run(steps, "steps");
    if let Some(b) = barrier {
        b.depart();
    }
    std::mem::take(&mut ex.held).reset_all();
    let notes = ex
        .notes
        .into_iter()
        .map(|(_, text, count)| match count {
            1 => text,
            n => format!("{text} (the first of {n} such steps)"),
        })
        .collect();
    ScriptOutcome {
        result,
        transcript: ex.transcript,
        notes,
        figures: ex.figures,
    }
}

/// True for the steps that send on, or wait on, the current connection: a failure there says
/// something about that connection.
fn waits_on_connection(step: &Step) -> bool {
    matches!(
        step,
        Step::Send { .. }
            | Step::ExpectEcho
            | Step::Expect { .. }
            | Step::ExpectEchoPrefix
            | Step::ExpectEof
            | Step::ShutdownWrite
            | Step::Leave { .. }
            | Step::WriteUntilBlocked { .. }
            | Step::ExpectSilence { .. }
    )
}

struct Executor<'a, 'h> {
    cfg: &'a ScriptConfig,
    barrier: Option<&'a Rendezvous>,
    hooks: Option<&'a mut (dyn ProcessHooks + 'h)>,
    conns: HashMap<String, Connection>,
    current: Option<String>,
    case_deadline: Instant,
    transcript: Transcript,
    held: Crowd,
    /// Notes by step name: the first text and how many steps of that name made one.
    notes: Vec<(&'static str, String, u32)>,
    /// Figures by name, the last value of each.
    figures: Figures,
    /// UDP sockets by name.
    udp: HashMap<String, DatagramSocket>,
    /// The UDP socket `udp_*` steps act on.
    udp_current: Option<String>,
    /// False once a `leave` waited its whole time without the server closing: later ones do not
    /// wait.
    leave_waits: bool,
    /// True once a `signal` or `restart` step ran.
    signalled: bool,
}

impl Executor<'_, '_> {
    fn run(&mut self, steps: &[Step], path: &str) -> Result<(), StepError> {
        for (i, step) in steps.iter().enumerate() {
            let here = format!("{path}[{i}]");
            if let Step::Repeat { times, steps } = step {
                for k in 0..*times {
                    self.run(steps, &format!("{here}.repeat[{k}].steps"))?;
                }
                continue;
            }
            if matches!(step, Step::Signal { .. } | Step::Restart { .. }) {
                self.signalled = true;
            }
            self.step(step).map_err(|mut failure| {
                // The connection's state, from the wait as it ended (before the case budget's
                // relabelling below): only for steps that wait on the current connection.
                let over_budget = Instant::now() >= self.case_deadline;
                if failure.symptom.is_none() && waits_on_connection(step) {
                    if let Some(mut state) = self.wait_state(failure.kind) {
                        // Echo that kept coming until the case's budget ran out came too slowly.
                        if over_budget
                            && state.received > 0
                            && state.owed > 0
                            && state.end == WaitEnd::Quiet
                        {
                            state.end = WaitEnd::Slow;
                        }
                        failure.symptom = Some(Box::new(Symptom::Wait(state)));
                    }
                }
                if over_budget
                    && matches!(
                        failure.kind,
                        FailureKind::Hang | FailureKind::Stall | FailureKind::Slow
                    )
                {
                    failure = Failure {
                        kind: FailureKind::Slow,
                        message: format!(
                            "the case ran over its total budget of {} ms here ({})",
                            self.cfg.case_budget.as_millis(),
                            failure.message
                        ),
                        symptom: failure.symptom.take(),
                    };
                }
                self.transcript.record(
                    self.current.as_deref().unwrap_or(""),
                    EventKind::Error(failure.to_string()),
                );
                StepError {
                    path: here,
                    step: step.name(),
                    conn: self.current.clone(),
                    failure,
                }
            })?;
        }
        Ok(())
    }

    /// The state of the current connection when a wait on it failed with `kind`, if it was one.
    fn wait_state(&mut self, kind: FailureKind) -> Option<WaitState> {
        let end = match kind {
            FailureKind::EarlyEof => WaitEnd::Eof,
            FailureKind::Reset => WaitEnd::Reset,
            FailureKind::Hang | FailureKind::Stall => WaitEnd::Quiet,
            FailureKind::Slow => WaitEnd::Slow,
            _ => return None,
        };
        let others_open = self.conns.len() > 1 || self.barrier.is_some() || !self.held.is_empty();
        let signalled = self.signalled;
        let conn = self.conns.get_mut(self.current.as_deref()?)?;
        Some(WaitState {
            end,
            received: conn.received(),
            owed: conn.verifier().outstanding(),
            owed_head: conn.verifier().owed_head(16),
            extra: conn.verifier().ignored(),
            half_closed: conn.half_closed(),
            others_open,
            signalled,
        })
    }

    /// Records a measurement in the transcript, and in the outcome's notes once per step name
    /// (a step repeated 10 times gives one note and a count, not 10 lines).
    fn note(&mut self, step: &'static str, text: String) {
        self.transcript.record("", EventKind::Note(text.clone()));
        match self.notes.iter_mut().find(|(s, _, _)| *s == step) {
            Some((_, _, count)) => *count += 1,
            None => self.notes.push((step, text, 1)),
        }
    }

    /// `leave`: half-close, wait up to `ms` for the server's close (never a failure by itself),
    /// then close.
    fn leave(&mut self, ms: u64) -> Result<(), Failure> {
        let wait = self.scaled(ms);
        let waits = self.leave_waits;
        // The wait ends at the case's budget too; the next step then fails on it.
        let full = Instant::now() + wait;
        let until = full.min(self.case_deadline);
        let (conn, transcript) = self.conn_and_transcript()?;
        conn.stop_checking();
        conn.resume_reading();
        // ENOTCONN: the server reset the connection already, which ends the wait as well.
        if conn.shutdown_write().is_ok() {
            transcript.record(conn.name(), EventKind::ShutdownWrite);
        }
        if waits {
            let window = Limits {
                no_progress: wait + Duration::from_secs(1),
                deadline: until + Duration::from_secs(1),
            };
            conn.drive(None, window, transcript, |c, _| {
                c.eof() || c.peer_reset() || Instant::now() >= until
            })?;
        }
        let closed_first = conn.eof() || conn.peer_reset();
        let (name, conn) = self.take_current()?;
        drop(conn);
        self.transcript.record(&name, EventKind::Closed);
        if waits && !closed_first && until == full {
            self.leave_waits = false;
            self.note(
                "leave",
                format!("leave: the server had not closed {name} {ms} ms after the client's FIN; the later clients leave without waiting"),
            );
        }
        Ok(())
    }

    /// Removes the current connection from the script's table (to close or reset it).
    fn take_current(&mut self) -> Result<(String, Connection), Failure> {
        let name = self.current.take().unwrap_or_default();
        let conn = self
            .conns
            .remove(&name)
            .ok_or_else(|| Failure::new(FailureKind::Io, format!("no open connection `{name}`")))?;
        Ok((name, conn))
    }

    fn scaled(&self, ms: u64) -> Duration {
        Duration::from_secs_f64(ms as f64 / 1000.0 * self.cfg.time_scale)
    }

    fn limits(&self) -> Limits {
        Limits {
            no_progress: self.cfg.no_progress,
            deadline: (Instant::now() + self.cfg.step_budget).min(self.case_deadline),
        }
    }

    fn conn(&mut self) -> Result<&mut Connection, Failure> {
        self.conn_and_transcript().map(|(conn, _)| conn)
    }

    fn step(&mut self, step: &Step) -> Result<(), Failure> {
        if Instant::now() >= self.case_deadline {
            return Err(Failure::new(
                FailureKind::Slow,
                format!(
                    "the case ran over its budget of {} ms",
                    self.cfg.case_budget.as_millis()
                ),
            ));
        }
        self.transcript.record(
            self.current.as_deref().unwrap_or(""),
            EventKind::Step(step.name().into()),
        );
        let limits = self.limits();
        match step {
            Step::Connect { name } => self.connect(name, None)?,
            Step::ConnectOver { name, family } => self.connect(name, Some(*family))?,
            Step::UdpOpen { name, family } => {
                let sock = DatagramSocket::open(name, self.over(*family))?;
                if let Some(local) = sock.local_addr() {
                    let note = format!("udp socket `{name}` bound to {local}");
                    self.transcript.record(name, EventKind::Note(note));
                }
                self.udp.insert(name.clone(), sock);
                self.udp_current = Some(name.clone());
            }
            Step::UdpOn { .. }
            | Step::UdpSend { .. }
            | Step::UdpExpectEcho
            | Step::UdpExpectNone { .. }
            | Step::UdpClose
            | Step::UdpBurst { .. } => self.udp_step(step, limits)?,
            Step::On { name } => {
                if !self.conns.contains_key(name) {
                    return Err(Failure::new(
                        FailureKind::Io,
                        format!("no open connection named `{name}`"),
                    ));
                }
                self.current = Some(name.clone());
            }
            Step::Send { payload, chunking } => {
                let payload = with_seed_offset(payload, self.cfg.seed_offset);
                let mut out = Outgoing::new(payload.clone(), chunking.clone(), self.cfg.time_scale);
                let (conn, transcript) = self.conn_and_transcript()?;
                conn.verifier().owe_echo(payload);
                conn.drive(Some(&mut out), limits, transcript, |_, o| {
                    o.is_some_and(Outgoing::done)
                })?;
            }
            Step::ExpectEcho => self.expect_owed(limits)?,
            Step::Expect { bytes } => {
                self.conn()?
                    .verifier()
                    .owe_exact(echo_spec::Payload::Bytes(bytes.clone()));
                self.expect_owed(limits)?;
            }
            Step::ExpectEchoPrefix => {
                let (conn, transcript) = self.conn_and_transcript()?;
                let before = conn.received();
                conn.drive(None, limits, transcript, |c, _| c.eof() || c.peer_reset())?;
                if conn.received() == before {
                    return Err(Failure::new(
                        FailureKind::EarlyEof,
                        "the server closed without sending any part of the echo",
                    ));
                }
                conn.verifier().forgive();
            }
            Step::ShutdownWrite => {
                let (conn, transcript) = self.conn_and_transcript()?;
                conn.shutdown_write().map_err(|e| {
                    // ENOTCONN: the server's reset already tore the connection down.
                    if e.kind() == std::io::ErrorKind::NotConnected {
                        Failure::new(
                            FailureKind::Reset,
                            format!("shutdown(SHUT_WR): {e}: the server had already torn the connection down"),
                        )
                    } else {
                        Failure::new(FailureKind::Io, format!("shutdown(SHUT_WR): {e}"))
                    }
                })?;
                transcript.record(conn.name(), EventKind::ShutdownWrite);
            }
            Step::ExpectEof => {
                let (conn, transcript) = self.conn_and_transcript()?;
                conn.drive(None, limits, transcript, |c, _| c.eof() || c.peer_reset())?;
                let owed = conn.verifier().outstanding();
                if conn.peer_reset() {
                    return Err(Failure::new(
                        FailureKind::Reset,
                        format!("the server reset the connection instead of closing it ({} B received, {owed} B still owed)", conn.received()),
                    ));
                }
                if owed > 0 || !conn.verifier().settled() {
                    return Err(Failure::new(
                        FailureKind::EarlyEof,
                        format!(
                            "EOF after {} B; {owed} B of echo still owed",
                            conn.received()
                        ),
                    ));
                }
            }
            Step::ExpectSilence { ms } => {
                let until = Instant::now() + self.scaled(*ms);
                let window = Limits {
                    no_progress: self.scaled(*ms) + Duration::from_secs(1),
                    deadline: until + Duration::from_secs(1),
                };
                let (conn, transcript) = self.conn_and_transcript()?;
                let before = conn.received();
                conn.drive(None, window, transcript, |c, _| {
                    Instant::now() >= until || c.eof() || c.peer_reset()
                })?;
                if conn.received() > before {
                    return Err(Failure::new(
                        FailureKind::Mismatch,
                        format!("{} B arrived during the silence", conn.received() - before),
                    ));
                }
                if conn.eof() || conn.peer_reset() {
                    return Err(Failure::new(
                        FailureKind::EarlyEof,
                        "the server closed the connection during the silence",
                    ));
                }
            }
            Step::Reset | Step::Close => {
                let (name, conn) = self.take_current()?;
                if matches!(step, Step::Reset) {
                    conn.reset()
                        .map_err(|e| Failure::new(FailureKind::Io, format!("SO_LINGER: {e}")))?;
                    self.transcript.record(&name, EventKind::Reset);
                } else {
                    drop(conn);
                    self.transcript.record(&name, EventKind::Closed);
                }
            }
            Step::Leave { ms } => self.leave(*ms)?,
            Step::Sleep { ms } => {
                let until = Instant::now() + self.scaled(*ms);
                let window = Limits {
                    no_progress: self.scaled(*ms) + Duration::from_secs(1),
                    deadline: until + Duration::from_secs(1),
                };
                match self.conn_and_transcript() {
                    Ok((conn, transcript)) => {
                        conn.drive(None, window, transcript, |_, _| Instant::now() >= until)?
                    }
                    Err(_) => std::thread::sleep(until.saturating_duration_since(Instant::now())),
                }
            }
            Step::SetRcvbuf { bytes } => {
                self.conn()?
                    .set_rcvbuf(*bytes)
                    .map_err(|e| Failure::new(FailureKind::Io, format!("SO_RCVBUF: {e}")))?;
            }
            Step::PauseReading { ms } => {
                let until = Instant::now() + self.scaled(*ms);
                self.conn()?.pause_reading(until);
            }
            Step::Repeat { .. } => unreachable!("repeat is expanded by run"),
            Step::Barrier => {
                if let Some(b) = self.barrier {
                    if !b.wait(limits.deadline) {
                        return Err(Failure::new(
                            FailureKind::Hang,
                            "not every concurrent client reached the barrier in time",
                        ));
                    }
                }
            }
            Step::ExpectRefused => match Connection::connect(
                "probe",
                self.cfg.addr,
                self.cfg.no_progress,
                Transform::Identity,
            ) {
                Ok(_) => {
                    return Err(Failure::new(
                        FailureKind::Accepted,
                        format!("{} still accepts connections", self.cfg.addr),
                    ))
                }
                Err(f) if f.kind == FailureKind::Refused => {}
                Err(f) => return Err(f),
            },
            Step::WriteUntilBlocked {
                max_bytes,
                stall_ms,
            } => {
                let payload = Payload::Seeded {
                    seed: BLOCKED_SEED.wrapping_add(self.cfg.seed_offset),
                    len: *max_bytes,
                };
                let stall = self.scaled(*stall_ms);
                let (conn, transcript) = self.conn_and_transcript()?;
                let written =
                    conn.write_until_blocked(payload.clone(), stall, limits.deadline, transcript)?;
                if let Payload::Seeded { seed, .. } = payload {
                    conn.verifier()
                        .owe_echo(Payload::Seeded { seed, len: written });
                }
                conn.resume_reading();
                let note = if written == *max_bytes {
                    format!("write_until_blocked: all {written} B were taken without the client reading (writes never blocked)")
                } else {
                    format!("write_until_blocked: writes blocked after {written} B without the client reading")
                };
                self.note(step.name(), note);
            }
            Step::Storm {
                connects,
                burst,
                max_failed,
            } => {
                // A connect whose SYN met a full queue is retried after 1 s and again 3 s in:
                // that is the kernel's pace, not the server's, so a storm waits past it.
                let per_connect = self
                    .cfg
                    .no_progress
                    .max(STORM_CONNECT.mul_f64(self.cfg.time_scale));
                let tally = storm(
                    self.cfg.addr,
                    *connects,
                    *burst,
                    per_connect,
                    limits.deadline,
                    &self.cfg.transform,
                );
                let note = format!("storm: {tally}");
                self.note(step.name(), note);
                if tally.unsuccessful() > *max_failed {
                    return Err(Failure::new(
                        FailureKind::Connects,
                        format!(
                            "{} connects did not succeed (at most {max_failed} may): {tally}",
                            tally.unsuccessful()
                        ),
                    ));
                }
            }
            Step::Hold {
                count,
                burst,
                pause_ms,
            } => {
                let need = u64::from(*count) + self.held.len() as u64;
                if let Some(why) = crate::crowd::crowd_out_of_reach(need) {
                    return Err(Failure::new(FailureKind::Environment, why));
                }
                let (crowd, tally) = open_many_paced(
                    self.cfg.addr,
                    *count,
                    burst.unwrap_or(CROWD_BURST),
                    self.scaled(*pause_ms),
                    self.cfg.no_progress,
                    limits.deadline,
                );
                self.held.extend(crowd);
                let note = format!("hold: {tally}; {} held in all", self.held.len());
                self.note(step.name(), note);
                if tally.unsuccessful() > 0 {
                    // Where the client's own descriptor limit stopped it, the server is not to blame.
                    let kind = if tally.client_limit {
                        FailureKind::Environment
                    } else {
                        FailureKind::Connects
                    };
                    let failure = Failure::new(
                        kind,
                        format!("not every held connection could be opened: {tally}"),
                    );
                    // Every connect that failed was refused: nothing listens there.
                    // (A failed burst leaves the later ones unattempted.)
                    let refused_only = tally.refused > 0
                        && tally.opened == 0
                        && tally.refused + tally.not_attempted == tally.unsuccessful();
                    return Err(if refused_only {
                        failure.with_symptom(Symptom::Refused)
                    } else {
                        failure
                    });
                }
            }
            Step::MeasurePool { max } => {
                let found = crate::crowd::measure_pool(
                    self.cfg.addr,
                    *max,
                    self.scaled(POOL_PROBE_WAIT_MS),
                    self.cfg.no_progress,
                    limits.deadline,
                );
                self.figures
                    .insert("pool.served_at_once".into(), found.served_at_once.into());
                self.figures.insert("pool.max".into(), found.max.into());
                self.note(step.name(), format!("measure_pool: {found}"));
            }
            Step::PingHeld => {
                let start = Instant::now();
                let transform = self.cfg.transform.clone();
                self.held
                    .ping_all(&transform, PING_BATCH, limits.deadline)?;
                let note = format!(
                    "ping_held: {} held connections each echoed a probe in {:.2} s",
                    self.held.len(),
                    start.elapsed().as_secs_f64()
                );
                self.note(step.name(), note);
            }
            Step::Release => {
                let n = self.held.len();
                std::mem::take(&mut self.held).reset_all();
                self.transcript.record(
                    "",
                    EventKind::Note(format!("released {n} held connections")),
                );
            }
            Step::ExpectExit { .. }
            | Step::ExpectPriv { .. }
            | Step::ExpectBindDenied
            | Step::Mark
            | Step::ExpectResources { .. }
            | Step::ExpectRss { .. }
            | Step::ExpectCpu { .. }
            | Step::Signal { .. }
            | Step::ExpectGroupEmpty
            | Step::Restart { .. } => {
                let within = limits.deadline.saturating_duration_since(Instant::now());
                let Some(h) = self.hooks.as_deref_mut() else {
                    return Err(Failure::new(
                        FailureKind::Process,
                        "no server process to observe",
                    ));
                };
                let note = crate::hooks::dispatch(h, step, within, self.cfg.time_scale)?;
                if let Some(note) = note {
                    self.note(step.name(), note);
                }
            }
        }
        Ok(())
    }

    /// Opens connection `name` to the server over `family` (the run's address when `None`) and
    /// makes it current.
    fn connect(&mut self, name: &str, family: Option<IpFamily>) -> Result<(), Failure> {
        let conn = Connection::connect(
            name,
            self.over(family),
            self.cfg.no_progress,
            self.cfg.transform.clone(),
        )?;
        self.transcript.record(name, EventKind::Connected);
        self.conns.insert(name.to_string(), conn);
        self.current = Some(name.to_string());
        Ok(())
    }

    /// The server's port on the loopback address of `family` (the run's address when `None`).
    fn over(&self, family: Option<IpFamily>) -> SocketAddr {
        match family {
            Some(f) => SocketAddr::new(f.loopback(), self.cfg.addr.port()),
            None => self.cfg.addr,
        }
    }

    /// The steps that act on the current UDP socket.
    fn udp_step(&mut self, step: &Step, limits: Limits) -> Result<(), Failure> {
        if let Step::UdpOn { name } = step {
            if !self.udp.contains_key(name) {
                return Err(Failure::new(
                    FailureKind::Io,
                    format!("no open UDP socket named `{name}`"),
                ));
            }
            self.udp_current = Some(name.clone());
            return Ok(());
        }
        let name = self
            .udp_current
            .clone()
            .ok_or_else(|| Failure::new(FailureKind::Io, "no open UDP socket"))?;
        if let Step::UdpClose = step {
            self.udp.remove(&name);
            self.udp_current = None;
            self.transcript.record(&name, EventKind::Closed);
            return Ok(());
        }
        let sock = self.udp.get_mut(&name).ok_or_else(|| {
            Failure::new(FailureKind::Io, format!("UDP socket `{name}` is closed"))
        })?;
        match step {
            Step::UdpSend { payload } => {
                // The parser bounds these; a step built by hand is checked here.
                if payload.len() > echo_spec::MAX_DATAGRAM {
                    return Err(Failure::new(
                        FailureKind::Io,
                        format!(
                            "a datagram of {} B is over the UDP maximum of {}",
                            payload.len(),
                            echo_spec::MAX_DATAGRAM
                        ),
                    ));
                }
                let payload = with_seed_offset(payload, self.cfg.seed_offset);
                let mut data = vec![0u8; payload.len() as usize];
                crate::payload::fill(&payload, 0, &mut data);
                let len = data.len() as u64;
                sock.send(data)?;
                self.transcript.record(&name, EventKind::DatagramSent(len));
            }
            Step::UdpExpectEcho => {
                let arrivals = match sock.expect_answers(self.cfg.no_progress, limits.deadline) {
                    Ok(a) => a,
                    Err(mut f) => {
                        if f.kind == FailureKind::Hang {
                            f.message.push_str(&self.misdelivered(&name));
                        }
                        return Err(f);
                    }
                };
                for a in arrivals {
                    self.transcript
                        .record(&name, EventKind::DatagramReceived(a.len as u64, a.from));
                }
            }
            Step::UdpExpectNone { ms } => {
                let window = Duration::from_secs_f64(*ms as f64 / 1000.0 * self.cfg.time_scale);
                sock.expect_none(window)?;
            }
            Step::UdpBurst {
                count,
                size,
                in_flight,
                max_loss_pct,
            } => {
                if *count > echo_spec::MAX_BURST_DATAGRAMS
                    || *in_flight == 0
                    || !(8..=echo_spec::MAX_DATAGRAM).contains(&u64::from(*size))
                {
                    return Err(Failure::new(
                        FailureKind::Io,
                        format!("udp_burst: count {count}, size {size}, in_flight {in_flight} are out of bounds"),
                    ));
                }
                let shape = Burst {
                    count: *count,
                    size: *size as usize,
                    in_flight: *in_flight,
                    // The no-progress deadline, at most half a second (both scaled).
                    loss_timeout: self
                        .cfg
                        .no_progress
                        .min(Duration::from_millis(500).mul_f64(self.cfg.time_scale)),
                    seed: BURST_SEED.wrapping_add(self.cfg.seed_offset),
                };
                let tally = burst(sock, &shape, limits.deadline)?;
                self.note(
                    step.name(),
                    format!("udp_burst: {tally}; tolerance {max_loss_pct}% lost"),
                );
                if tally.wrong > 0 || tally.duplicates > 0 {
                    return Err(Failure::new(
                        FailureKind::Mismatch,
                        format!(
                            "{} wrong and {} duplicate answers: {tally}",
                            tally.wrong, tally.duplicates
                        ),
                    ));
                }
                if tally.unsent > 0 {
                    return Err(Failure::new(
                        FailureKind::Slow,
                        format!("the step's deadline came before the burst was sent: {tally}"),
                    ));
                }
                if tally.loss_pct() > *max_loss_pct {
                    return Err(Failure::new(
                        FailureKind::Loss,
                        format!(
                            "{:.2}% of the datagrams were lost, more than the {max_loss_pct}% tolerated: {tally}",
                            tally.loss_pct()
                        ),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// After a UDP answer owed to socket `name` did not come: whether it is waiting on another
    /// socket of this client (the server answered the wrong sender), as evidence.
    fn misdelivered(&mut self, name: &str) -> String {
        let Some(owed) = self
            .udp
            .get(name)
            .and_then(|s| s.first_owed().map(<[u8]>::to_vec))
        else {
            return String::new();
        };
        let mut found = Vec::new();
        for (other, sock) in self.udp.iter_mut().filter(|(n, _)| n.as_str() != name) {
            // A bounded look: the datagrams already queued on that socket, at most a few.
            for _ in 0..8 {
                let Some((data, from)) = sock.take_waiting() else {
                    break;
                };
                if data == owed {
                    let to = sock
                        .local_addr()
                        .map_or_else(String::new, |a| format!(" ({a})"));
                    found.push(format!(
                        "; its answer arrived on socket `{other}`{to} instead, from {from}: the server answered the wrong sender"
                    ));
                    break;
                }
            }
        }
        found.concat()
    }

    fn conn_and_transcript(&mut self) -> Result<(&mut Connection, &mut Transcript), Failure> {
        let name = self
            .current
            .clone()
            .ok_or_else(|| Failure::new(FailureKind::Io, "no open connection"))?;
        let conn = self.conns.get_mut(&name).ok_or_else(|| {
            Failure::new(FailureKind::Io, format!("connection `{name}` is closed"))
        })?;
        Ok((conn, &mut self.transcript))
    }

    fn expect_owed(&mut self, limits: Limits) -> Result<(), Failure> {
        let (conn, transcript) = self.conn_and_transcript()?;
        let owed_at_start = conn.verifier().outstanding();
        let received_at_start = conn.received();
        conn.drive(None, limits, transcript, |c, _| {
            c.settled() || c.eof() || c.peer_reset()
        })
        .map_err(|mut f| {
            if f.kind != FailureKind::Mismatch {
                let owed = conn.verifier().outstanding();
                f.message = format!(
                    "{}; {owed} of the {} B owed still missing ({} B received on this connection)",
                    f.message,
                    owed_at_start,
                    conn.received().max(received_at_start)
                );
            }
            f
        })?;
        if conn.settled() {
            return Ok(());
        }
        let owed = conn.verifier().outstanding();
        let got = owed_at_start - owed;
        if conn.peer_reset() {
            Err(Failure::new(
                FailureKind::Reset,
                format!("the server reset the connection after {got} of {owed_at_start} owed B"),
            ))
        } else {
            Err(Failure::new(
                FailureKind::EarlyEof,
                format!("the server closed after {got} of {owed_at_start} owed B"),
            ))
        }
    }
}
