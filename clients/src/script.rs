//! The script executor: runs spec steps on real sockets, with deadlines and a transcript.
//!
//! This file holds the configuration, the outcome, the step loop (budgets, failure evidence) and
//! the dispatch of each step to its area: `stream.rs` (TCP connections), `datagram.rs` (the
//! `udp_*` steps), `crowd.rs` (storms and held crowds), `process.rs` (observations through
//! [`ProcessHooks`]) and `control.rs` (`sleep`, `barrier`, `repeat`).
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
use crate::conn::{Connection, Limits};
use crate::crowd::Crowd;
use crate::datagram::DatagramSocket;
use crate::failure::{Failure, FailureKind};
use crate::hooks::ProcessHooks;
use crate::symptom::{Symptom, WaitEnd, WaitState};
use crate::transcript::{EventKind, Transcript};
use crate::verify::Transform;
use echo_spec::{IpFamily, Step, StepArea};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

mod control;
mod crowd;
mod datagram;
mod process;
mod stream;

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

/// The state of one script run: its connections, UDP sockets, held crowd, transcript and notes.
/// Each area of steps adds its methods from its own file.
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

    fn scaled(&self, ms: u64) -> Duration {
        Duration::from_secs_f64(ms as f64 / 1000.0 * self.cfg.time_scale)
    }

    fn limits(&self) -> Limits {
        Limits {
            no_progress: self.cfg.no_progress,
            deadline: (Instant::now() + self.cfg.step_budget).min(self.case_deadline),
        }
    }

    /// Runs one step: fails at once when the case is over its budget, records the step in the
    /// transcript, then hands it to its area.
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
        self.dispatch(step)
    }

    /// Hands `step` to the executor of its area (`script/stream.rs`, `script/datagram.rs`,
    /// `script/crowd.rs`, `script/process.rs`, `script/control.rs`), with the step's limits
    /// from now.
    fn dispatch(&mut self, step: &Step) -> Result<(), Failure> {
        let limits = self.limits();
        match step.area() {
            StepArea::Stream => self.stream_step(step, limits),
            StepArea::Datagram => self.datagram_step(step, limits),
            StepArea::Crowd => self.crowd_step(step, limits),
            StepArea::Process | StepArea::Privilege => self.process_step(step, limits),
            StepArea::Control => self.control_step(step, limits),
        }
    }

    /// The server's port on the loopback address of `family` (the run's address when `None`).
    fn over(&self, family: Option<IpFamily>) -> SocketAddr {
        match family {
            Some(f) => SocketAddr::new(f.loopback(), self.cfg.addr.port()),
            None => self.cfg.addr,
        }
    }

    /// The current connection and the transcript, borrowed together.
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
}
