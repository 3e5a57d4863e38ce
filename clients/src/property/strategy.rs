//! Proptest strategies for the parts of a client sequence: payloads, chunkings and waits. Each one
//! shrinks towards the simplest value (short payloads, zeros, whole writes, no pause), so a shrunk
//! counterexample is short to read.
//!
//! ```
//! use echo_clients::property::{data, Fill};
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//!
//! let mut runner = TestRunner::deterministic();
//! let d = data(4096).new_tree(&mut runner).unwrap().current();
//! assert!((1..=4096).contains(&d.len));
//! let payload = echo_clients::property::payload(&d);
//! assert_eq!(payload.len(), d.len);
//! if d.fill == Fill::Zeros {
//!     assert_eq!(payload, echo_spec::Payload::Bytes(vec![0; d.len as usize]));
//! }
//! ```

use super::model::{ChunkPlan, Data, Fill};
use crate::payload::fill_seeded;
use echo_spec::Payload;
use proptest::prelude::*;

/// Payloads of 1..=`max` bytes, most of them small, in the four byte distributions.
pub fn data(max: u64) -> impl Strategy<Value = Data> {
    let max = max.max(1);
    let len = prop_oneof![
        3 => 1..=max.min(16),
        3 => 1..=max.min(1024),
        2 => 1..=max,
    ];
    let fill = prop_oneof![
        Just(Fill::Zeros),
        Just(Fill::Ones),
        Just(Fill::Random),
        Just(Fill::Text),
    ];
    // Seeds stay below 2^32 so every payload can be written back as TOML (whose integers are i64).
    (fill, len, 0..=u64::from(u32::MAX)).prop_map(|(fill, len, seed)| Data { fill, len, seed })
}

/// Write sizes from 1 byte to 64 KiB, or as large as the socket takes; sometimes with a pause of
/// up to 5 ms between writes.
pub fn chunking() -> impl Strategy<Value = ChunkPlan> {
    let size = prop_oneof![
        4 => Just(None),
        1 => (1u32..=16).prop_map(Some),
        1 => (17u32..=4096).prop_map(Some),
        1 => (4097u32..=65536).prop_map(Some),
    ];
    let pause = prop_oneof![4 => Just(0u64), 1 => 1u64..=5];
    (size, pause).prop_map(|(size, pause_ms)| ChunkPlan {
        size,
        pause_ms: if size.is_some() { pause_ms } else { 0 },
    })
}

/// Pauses and idles of 0..=100 ms.
pub fn wait_ms() -> impl Strategy<Value = u64> {
    prop_oneof![3 => 0u64..=20, 1 => 21u64..=100]
}

/// The spec payload for `d`: zeros and 0xff as literal bytes, random bytes as a seeded stream,
/// text as literal printable bytes.
pub fn payload(d: &Data) -> Payload {
    match d.fill {
        Fill::Zeros => Payload::Bytes(vec![0; d.len as usize]),
        Fill::Ones => Payload::Bytes(vec![0xff; d.len as usize]),
        Fill::Random => Payload::Seeded {
            seed: d.seed,
            len: d.len,
        },
        Fill::Text => {
            let mut bytes = vec![0; d.len as usize];
            fill_seeded(d.seed, 0, &mut bytes);
            for b in &mut bytes {
                *b = 0x20 + *b % 95;
            }
            Payload::Bytes(bytes)
        }
    }
}
