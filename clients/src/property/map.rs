//! Maps a generated sequence onto the spec's step vocabulary, one operation to one or a few steps,
//! and closes it with the expectations the model predicts: every connection still open is
//! half-closed and must return all it is owed, then EOF.

use super::model::{apply, ModelState, Transition};
use super::strategy::payload;
use echo_spec::{Chunking, Step};

/// A sequence as spec steps, with the operation each step came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// The steps, ready for `run_script` or for a spec file.
    pub steps: Vec<Step>,
    /// For each step, the index of its operation; `None` for the closing expectations.
    pub origin: Vec<Option<usize>>,
}

/// The name of connection number `n` in the spec (`c0`, `c1`, …).
pub fn conn_name(n: u16) -> String {
    format!("c{n}")
}

/// Maps `ops`, applied from `init`, to steps. Operations are expected to satisfy the model's
/// preconditions (the strategy guarantees it); one on a connection that is not open maps to steps
/// the executor will reject with a clear error rather than to nothing.
pub fn to_steps(init: &ModelState, ops: &[Transition]) -> Mapped {
    let mut m = Mapper {
        out: Mapped {
            steps: Vec::new(),
            origin: Vec::new(),
        },
        current: None,
        origin: None,
    };
    let mut state = init.clone();
    for (i, t) in ops.iter().enumerate() {
        m.origin = Some(i);
        match t {
            Transition::Open { conn } => {
                m.push(Step::Connect {
                    name: conn_name(*conn),
                });
                m.current = Some(*conn);
            }
            Transition::Send {
                conn,
                data,
                chunking,
            } => {
                m.on(*conn);
                m.push(Step::Send {
                    payload: payload(data),
                    chunking: Chunking {
                        sizes: chunking.size.into_iter().collect(),
                        pause_ms: chunking.pause_ms,
                    },
                });
            }
            Transition::ReadAll { conn } => {
                m.on(*conn);
                m.push(Step::ExpectEcho);
            }
            Transition::PauseReading { conn, ms } => {
                m.on(*conn);
                m.push(Step::PauseReading { ms: *ms });
            }
            Transition::HalfClose { conn } => {
                m.on(*conn);
                m.push(Step::ShutdownWrite);
                m.push(Step::ExpectEof);
                m.push(Step::Close);
                m.current = None;
            }
            Transition::Reset { conn } => {
                m.on(*conn);
                m.push(Step::Reset);
                m.current = None;
            }
            Transition::Idle { ms } => m.push(Step::Sleep { ms: *ms }),
        }
        state = apply(state, t);
    }
    m.origin = None;
    for conn in state.open() {
        m.on(conn);
        m.push(Step::ShutdownWrite);
        m.push(Step::ExpectEof);
    }
    m.out
}

struct Mapper {
    out: Mapped,
    current: Option<u16>,
    origin: Option<usize>,
}

impl Mapper {
    fn push(&mut self, step: Step) {
        self.out.steps.push(step);
        self.out.origin.push(self.origin);
    }

    /// Makes `conn` current, with an `on` step when it is not already.
    fn on(&mut self, conn: u16) {
        if self.current != Some(conn) {
            self.push(Step::On {
                name: conn_name(conn),
            });
            self.current = Some(conn);
        }
    }
}
