//! `echo-clients`: mock TCP and UDP clients for testing echo servers, usable without the echo-conform runner.
//!
//! - [`payload`]: seeded byte streams generated at any offset, never held whole in memory;
//! - [`EchoVerifier`]: checks arriving bytes against what is owed, reporting the first differing offset;
//! - [`Connection`]: a socket driven by `poll(2)` that writes and reads at once, with deadlines that
//!   tell HANG, STALL and SLOW apart;
//! - [`run_script`]: executes spec [`Step`](echo_spec::Step)s, keeping a timestamped [`Transcript`];
//! - [`property`]: proptest state-machine clients whose failures shrink into spec steps;
//! - [`datagram`]: UDP sockets that check every answer, and a burst that reports loss.
//!
//! A script against a small echo server started here (any server's address works the same):
//!
//! ```
//! use echo_clients::{run_script, ScriptConfig};
//! use echo_spec::{Chunking, Payload, Step};
//! use std::io::{Read, Write};
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! std::thread::spawn(move || {
//!     let (mut conn, _) = listener.accept().unwrap();
//!     let mut buf = [0u8; 1024];
//!     while let Ok(n @ 1..) = conn.read(&mut buf) {
//!         conn.write_all(&buf[..n]).unwrap();
//!     }
//! });
//!
//! let steps = [
//!     Step::Connect { name: "main".into() },
//!     Step::Send { payload: Payload::Bytes(b"hello".to_vec()), chunking: Chunking { sizes: vec![1], pause_ms: 10 } },
//!     Step::ExpectEcho,
//!     Step::ShutdownWrite,
//!     Step::ExpectEof,
//! ];
//! let outcome = run_script(&steps, &ScriptConfig::new(addr), None, None);
//! assert!(outcome.result.is_ok(), "{:?}\n{}", outcome.result, outcome.transcript);
//! ```

mod barrier;
mod conn;
pub mod crowd;
pub mod datagram;
mod failure;
mod hooks;
pub mod load;
pub mod payload;
pub mod property;
mod script;
mod symptom;
mod transcript;
mod verify;

pub use barrier::Rendezvous;
pub use conn::{Connection, Limits, Outgoing};
pub use failure::{Failure, FailureKind};
pub use hooks::{ProcessHooks, PRIV_SETTLE};
pub use script::{run_script, Figures, ScriptConfig, ScriptOutcome, StepError};
pub use symptom::{ByteShape, LeakKind, Symptom, WaitEnd, WaitState};
pub use transcript::{Event, EventKind, Transcript};
pub use verify::{EchoVerifier, Mismatch, Transform};
