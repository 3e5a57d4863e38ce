//! The parameters of a `kind = "property"` case: how many random client sequences to run, from which
//! seed, over how many connections, and which operations the generator may use.
//!
//! A property case has no `steps`. Its generator (in `echo-clients`) builds sequences of operations
//! on named connections, predicts what each connection must receive, and maps every sequence onto
//! the ordinary step vocabulary, so a failing sequence shrinks into a `script` case.

use serde::{Deserialize, Serialize};

/// Most generated sequences one property case may run.
pub const MAX_PROP_CASES: u32 = 10_000;
/// Most connections a property case may hold open at once.
pub const MAX_PROP_CONNECTIONS: u32 = 16;
/// Most operations in one generated sequence.
pub const MAX_PROP_OPS: u32 = 200;
/// Largest single generated `send` (16 MiB).
pub const MAX_PROP_PAYLOAD: u64 = 16 << 20;
/// Most milliseconds one sequence may spend pausing and idling.
pub const MAX_PROP_WAIT_MS: u64 = 10_000;

/// The typed parameters of a property case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PropertyParams {
    /// How many generated sequences to run (`--prop-cases` overrides it).
    pub cases: u32,
    /// The generator's seed (`--seed` overrides it); the same seed gives the same sequences.
    pub seed: u64,
    /// Most connections open at once; 1 suits a sequential server.
    pub connections: u32,
    /// Most operations in one sequence, not counting the closing expectations.
    pub max_ops: u32,
    /// Largest payload of one `send`, in bytes.
    pub max_payload: u64,
    /// Most milliseconds one sequence spends in pauses and idles (before `--time-scale`).
    pub max_wait_ms: u64,
    /// The operations the generator may use; opening a connection is always allowed.
    pub ops: Vec<PropertyOp>,
}

/// The closed set of operations a property case may generate, besides opening a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyOp {
    /// Send a payload (zeros, 0xff, seeded random or printable text) in chunks, maybe pausing.
    Send,
    /// Read everything owed so far (`expect_echo`).
    Read,
    /// Stop reading a connection for a while (`pause_reading`).
    PauseReading,
    /// Half-close, then expect the rest of the echo and EOF (`shutdown_write`, `expect_eof`).
    HalfClose,
    /// Abortive close (`reset`).
    Reset,
    /// Wait with nothing sent (`sleep`).
    Idle,
}

/// Every property operation, in the order the spec documents them.
pub const ALL_PROPERTY_OPS: [PropertyOp; 6] = [
    PropertyOp::Send,
    PropertyOp::Read,
    PropertyOp::PauseReading,
    PropertyOp::HalfClose,
    PropertyOp::Reset,
    PropertyOp::Idle,
];

impl PropertyOp {
    /// The operation's spelling in spec files.
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyOp::Send => "send",
            PropertyOp::Read => "read",
            PropertyOp::PauseReading => "pause_reading",
            PropertyOp::HalfClose => "half_close",
            PropertyOp::Reset => "reset",
            PropertyOp::Idle => "idle",
        }
    }

    /// The operation named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<PropertyOp> {
        ALL_PROPERTY_OPS.into_iter().find(|o| o.as_str() == name)
    }
}

impl PropertyParams {
    /// True when the generator may use `op`.
    pub fn allows(&self, op: PropertyOp) -> bool {
        self.ops.contains(&op)
    }
}
