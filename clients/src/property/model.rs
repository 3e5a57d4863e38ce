//! The reference model: operations on numbered connections, the state that predicts what each
//! connection is owed, and the preconditions that keep every sequence (and every shrunk one) valid.

use super::strategy::{chunking, data, wait_ms};
use echo_spec::{PropertyOp, PropertyParams};
use proptest::prelude::*;
use proptest::strategy::Union;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The bytes of one generated `send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data {
    /// How the bytes are chosen.
    pub fill: Fill,
    /// How many bytes (at least 1: a write of nothing puts nothing on the wire).
    pub len: u64,
    /// The seed of `Random` and `Text` bytes.
    pub seed: u64,
}

/// The byte distributions of generated payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Every byte 0x00 (catches servers that treat NUL as a terminator).
    Zeros,
    /// Every byte 0xff (catches sign-extension and EOF-as-byte bugs).
    Ones,
    /// Seeded pseudo-random bytes (`seeded` in the spec).
    Random,
    /// Seeded printable ASCII (0x20..=0x7e).
    Text,
}

/// How a generated `send` is cut into writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    /// Bytes per write; `None` writes as much as the socket takes.
    pub size: Option<u32>,
    /// Pause between writes, in milliseconds.
    pub pause_ms: u64,
}

impl ChunkPlan {
    /// Milliseconds of pausing that a send of `len` bytes spends with this plan.
    pub fn wait_ms(&self, len: u64) -> u64 {
        match self.size {
            Some(size) if self.pause_ms > 0 => {
                len.div_ceil(u64::from(size)).saturating_sub(1) * self.pause_ms
            }
            _ => 0,
        }
    }
}

/// One operation of a generated sequence. Connections are numbered; the spec names them `c0`, `c1`, ….
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Open connection `conn` (`connect_as`).
    Open {
        /// The new connection's number.
        conn: u16,
    },
    /// Send bytes on `conn` (`send`); they are owed back.
    Send {
        /// The connection.
        conn: u16,
        /// The bytes.
        data: Data,
        /// How they are written.
        chunking: ChunkPlan,
    },
    /// Read everything `conn` is owed (`expect_echo`).
    ReadAll {
        /// The connection.
        conn: u16,
    },
    /// Stop reading `conn` for `ms` (`pause_reading`).
    PauseReading {
        /// The connection.
        conn: u16,
        /// How long.
        ms: u64,
    },
    /// Half-close `conn`, receive the rest of its echo and EOF, then close it
    /// (`shutdown_write`, `expect_eof`, `close`).
    HalfClose {
        /// The connection.
        conn: u16,
    },
    /// Abortive close of `conn` (`reset`); what it was owed is forgiven.
    Reset {
        /// The connection.
        conn: u16,
    },
    /// Wait `ms` with nothing sent (`sleep`).
    Idle {
        /// How long.
        ms: u64,
    },
}

/// What the model knows about one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Open for writing and reading, owed this many bytes of echo.
    Open {
        /// Bytes sent and not yet read back.
        owed: u64,
    },
    /// Half-closed and drained to EOF, or reset: no operation may use it again.
    Closed,
}

/// The reference state: every connection the sequence has opened, and the time it has spent waiting.
#[derive(Debug, Clone)]
pub struct ModelState {
    /// The parameters the sequence is generated under.
    pub params: Arc<PropertyParams>,
    /// Every connection opened so far, by number.
    pub conns: BTreeMap<u16, ConnState>,
    /// Milliseconds spent in pauses and idles so far.
    pub waited_ms: u64,
}

impl ModelState {
    /// The empty state: no connection yet.
    pub fn new(params: Arc<PropertyParams>) -> Self {
        ModelState {
            params,
            conns: BTreeMap::new(),
            waited_ms: 0,
        }
    }

    /// The connections open now, in number order.
    pub fn open(&self) -> Vec<u16> {
        self.conns
            .iter()
            .filter(|(_, s)| matches!(s, ConnState::Open { .. }))
            .map(|(n, _)| *n)
            .collect()
    }

    /// Bytes of echo `conn` is owed (0 for a closed or unknown connection).
    pub fn owed(&self, conn: u16) -> u64 {
        match self.conns.get(&conn) {
            Some(ConnState::Open { owed }) => *owed,
            _ => 0,
        }
    }

    fn is_open(&self, conn: u16) -> bool {
        matches!(self.conns.get(&conn), Some(ConnState::Open { .. }))
    }

    fn can_wait(&self, ms: u64) -> bool {
        self.waited_ms.saturating_add(ms) <= self.params.max_wait_ms
    }

    /// The number the next `Open` uses.
    fn next_conn(&self) -> u16 {
        self.conns.keys().next_back().map_or(0, |n| n + 1)
    }
}

/// True when `t` may follow `state`: the connection exists and is open, a new one fits under
/// `connections`, and the sequence stays within its waiting budget. Checked while generating and
/// again for every shrunk sequence.
pub fn preconditions(state: &ModelState, t: &Transition) -> bool {
    let p = &state.params;
    match t {
        Transition::Open { conn } => {
            !state.conns.contains_key(conn) && state.open().len() < p.connections as usize
        }
        Transition::Send {
            conn,
            data,
            chunking,
        } => {
            state.is_open(*conn)
                && data.len >= 1
                && data.len <= p.max_payload
                && state.can_wait(chunking.wait_ms(data.len))
        }
        Transition::ReadAll { conn }
        | Transition::HalfClose { conn }
        | Transition::Reset { conn } => state.is_open(*conn),
        Transition::PauseReading { conn, ms } => state.is_open(*conn) && state.can_wait(*ms),
        Transition::Idle { ms } => state.can_wait(*ms),
    }
}

/// The state after `t`: what each connection is owed, which are closed, the time waited.
pub fn apply(mut state: ModelState, t: &Transition) -> ModelState {
    match t {
        Transition::Open { conn } => {
            state.conns.insert(*conn, ConnState::Open { owed: 0 });
        }
        Transition::Send {
            conn,
            data,
            chunking,
        } => {
            let owed = state.owed(*conn) + data.len;
            state.conns.insert(*conn, ConnState::Open { owed });
            state.waited_ms += chunking.wait_ms(data.len);
        }
        Transition::ReadAll { conn } => {
            state.conns.insert(*conn, ConnState::Open { owed: 0 });
        }
        Transition::PauseReading { ms, .. } | Transition::Idle { ms } => state.waited_ms += ms,
        Transition::HalfClose { conn } | Transition::Reset { conn } => {
            state.conns.insert(*conn, ConnState::Closed);
        }
    }
    state
}

/// The operations that may come next from `state`, weighted towards sending and reading.
pub fn transitions(state: &ModelState) -> BoxedStrategy<Transition> {
    let p = state.params.clone();
    let mut arms: Vec<(u32, BoxedStrategy<Transition>)> = Vec::new();
    let open = state.open();
    if open.len() < p.connections as usize && state.conns.len() < p.max_ops as usize {
        let conn = state.next_conn();
        // Opening is likelier when nothing is open, so sequences do not stall on idles.
        let weight = if open.is_empty() { 20 } else { 2 };
        arms.push((weight, Just(Transition::Open { conn }).boxed()));
    }
    if !open.is_empty() {
        let pick = move || proptest::sample::select(open.clone());
        if p.allows(PropertyOp::Send) {
            let max = p.max_payload;
            arms.push((
                8,
                (pick(), data(max), chunking())
                    .prop_map(|(conn, data, chunking)| Transition::Send {
                        conn,
                        data,
                        chunking,
                    })
                    .boxed(),
            ));
        }
        if p.allows(PropertyOp::Read) {
            arms.push((
                4,
                pick().prop_map(|conn| Transition::ReadAll { conn }).boxed(),
            ));
        }
        if p.allows(PropertyOp::PauseReading) {
            arms.push((
                1,
                (pick(), wait_ms())
                    .prop_map(|(conn, ms)| Transition::PauseReading { conn, ms })
                    .boxed(),
            ));
        }
        if p.allows(PropertyOp::HalfClose) {
            arms.push((
                2,
                pick()
                    .prop_map(|conn| Transition::HalfClose { conn })
                    .boxed(),
            ));
        }
        if p.allows(PropertyOp::Reset) {
            arms.push((
                1,
                pick().prop_map(|conn| Transition::Reset { conn }).boxed(),
            ));
        }
    }
    if p.allows(PropertyOp::Idle) || arms.is_empty() {
        // With nothing else possible, a zero-length idle keeps the generator going.
        let ms = if p.allows(PropertyOp::Idle) {
            wait_ms().boxed()
        } else {
            Just(0).boxed()
        };
        arms.push((1, ms.prop_map(|ms| Transition::Idle { ms }).boxed()));
    }
    Union::new_weighted(arms).boxed()
}
