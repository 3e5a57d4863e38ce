//! Property-based clients: random sequences of connection operations whose failures shrink into
//! `script` cases.
//!
//! A [`proptest_state_machine`] reference model ([`model`]) generates operations on up to
//! `connections` numbered connections: open, send (zeros, 0xff, seeded random or printable text, cut
//! into 1 B..64 KiB writes, maybe with pauses), read everything owed, pause reading, half-close, reset
//! and idle. Its state predicts what each connection is owed and that EOF follows a half-close once
//! the echo is drained. [`to_steps`] maps each sequence onto the spec's closed step vocabulary, and
//! [`run_script`](crate::run_script) runs it (verifying the echo as it streams, under the server's transform). A failing
//! sequence is shrunk by proptest, so the counterexample [`run_property`] returns *is* a script.
//!
//! ```no_run
//! use echo_clients::property::{run_property, ShrinkLimits};
//! use echo_clients::ScriptConfig;
//! use echo_spec::{PropertyParams, ALL_PROPERTY_OPS};
//!
//! let params = PropertyParams {
//!     cases: 20, seed: 7, connections: 2, max_ops: 8, max_payload: 4096, max_wait_ms: 100,
//!     ops: ALL_PROPERTY_OPS.to_vec(),
//! };
//! let cfg = ScriptConfig::new("127.0.0.1:7007".parse().unwrap());
//! let outcome = run_property(&params, &cfg, &ShrinkLimits::default());
//! if let Some(cx) = &outcome.failure {
//!     eprintln!("{}\nshrunk to {} steps:\n{:#?}", cx.error, cx.steps.len(), cx.steps);
//! }
//! ```

mod map;
pub mod model;
mod shrink;
mod strategy;

pub use map::{conn_name, to_steps, Mapped};
pub use model::{ChunkPlan, ConnState, Data, Fill, ModelState, Transition};
pub use strategy::{chunking, data, payload, wait_ms};

use crate::script::{ScriptConfig, StepError};
use crate::transcript::Transcript;
use echo_spec::{PropertyParams, Step};
use proptest::strategy::{BoxedStrategy, Just, Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use proptest_state_machine::Sequential;
use shrink::{trial, Trial};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One generated sequence: the model's initial state, the operations, and proptest's counter of
/// operations the test saw (used to cut the unseen tail before shrinking).
pub type Sequence = (ModelState, Vec<Transition>, Option<Arc<AtomicUsize>>);

/// How far the search and the shrinking may go.
#[derive(Debug, Clone)]
pub struct ShrinkLimits {
    /// Most shrinking runs after the first failure.
    pub max_iters: u32,
    /// Most wall-clock time spent shrinking.
    pub max_time: Duration,
    /// Most wall-clock time for the whole property (generation and shrinking); sequences not run
    /// by then are counted in [`PropertyOutcome::cases_skipped`].
    pub budget: Duration,
}

impl Default for ShrinkLimits {
    /// 512 shrinking runs, 20 s of shrinking, 60 s in all.
    fn default() -> Self {
        ShrinkLimits {
            max_iters: 512,
            max_time: Duration::from_secs(20),
            budget: Duration::from_secs(60),
        }
    }
}

/// What a property run found.
#[derive(Debug)]
pub struct PropertyOutcome {
    /// The seed the sequences came from.
    pub seed: u64,
    /// Sequences run before the first failure (all of them when none failed).
    pub cases_run: u32,
    /// Sequences not run because the budget ran out.
    pub cases_skipped: u32,
    /// The shrunk counterexample, if a sequence failed.
    pub failure: Option<Counterexample>,
    /// Why proptest gave up without a verdict (too many rejected sequences), if it did.
    pub aborted: Option<String>,
    /// Wall-clock time of the whole run.
    pub elapsed: Duration,
}

/// A failing sequence after shrinking, as steps, with the failure it reproduces.
#[derive(Debug)]
pub struct Counterexample {
    /// The shrunk sequence, closing expectations included.
    pub steps: Vec<Step>,
    /// How many steps the first failing sequence had.
    pub original_steps: usize,
    /// Sequences run while shrinking.
    pub shrink_runs: u32,
    /// The failure of the shrunk sequence, from a final run of it.
    pub error: StepError,
    /// That final run's transcript.
    pub transcript: Transcript,
    /// False when the final run of the shrunk steps passed (the failure did not reproduce); the
    /// error is then the one seen while shrinking.
    pub reproduced: bool,
    /// Why shrinking stopped early, when it did (the server stopped accepting connections).
    pub note: Option<String>,
}

/// The strategy of sequences of 1..=`max_ops` operations under `params`.
pub fn sequences(params: &PropertyParams) -> BoxedStrategy<Sequence> {
    let init = ModelState::new(Arc::new(params.clone()));
    let max = params.max_ops.max(1) as usize;
    Sequential::new(
        (1..=max).into(),
        move || Just(init.clone()),
        model::preconditions,
        model::transitions,
        model::apply,
    )
    .boxed()
}

/// The proptest runner for `seed`: ChaCha seeded from it, no failure persistence, no forking, and
/// shrinking bounded by `limits`.
pub fn test_runner(params: &PropertyParams, limits: &ShrinkLimits) -> TestRunner {
    let config = Config {
        cases: params.cases,
        failure_persistence: None,
        max_shrink_iters: limits.max_iters,
        max_shrink_time: u32::try_from(limits.max_time.as_millis()).unwrap_or(u32::MAX),
        max_local_rejects: 100_000,
        fork: false,
        timeout: 0,
        verbose: 0,
        ..Config::default()
    };
    TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(params.seed)),
    )
}

/// Runs `params.cases` generated sequences against `cfg.addr`, shrinking the first failure.
///
/// The shrinking loop is ours rather than `TestRunner::run`'s: proptest's loop stops for good the
/// first time a shrunk operation passes and cannot be complicated back, which leaves most of a
/// state-machine sequence unshrunk. Ours then moves on to the next simplification, and keeps the
/// shortest failing sequence it has seen.
pub fn run_property(
    params: &PropertyParams,
    cfg: &ScriptConfig,
    limits: &ShrinkLimits,
) -> PropertyOutcome {
    let start = Instant::now();
    let deadline = start + limits.budget;
    let mut runner = test_runner(params, limits);
    let strategy = sequences(params);
    let mut outcome = PropertyOutcome {
        seed: params.seed,
        cases_run: 0,
        cases_skipped: 0,
        failure: None,
        aborted: None,
        elapsed: Duration::ZERO,
    };
    for case in 0..params.cases {
        if Instant::now() >= deadline {
            outcome.cases_skipped = params.cases - case;
            break;
        }
        let mut tree = match strategy.new_tree(&mut runner) {
            Ok(tree) => tree,
            Err(reason) => {
                outcome.aborted = Some(reason.to_string());
                break;
            }
        };
        outcome.cases_run += 1;
        let Trial::Fail(first) = trial(&tree.current(), cfg) else {
            continue;
        };
        outcome.failure = Some(shrink::shrink(&mut tree, first, cfg, limits, deadline));
        break;
    }
    outcome.elapsed = start.elapsed();
    outcome
}

/// 32 ChaCha seed bytes from a u64, spread with splitmix64 so nearby seeds give unrelated streams.
fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut x = seed;
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests;
