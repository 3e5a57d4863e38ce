//! The one integration-test binary of the workspace: the runner (`echo-conform`) against the reference
//! servers and the mutants, the runner's handling of bad input, process hygiene, and `echo-clients` on
//! its own.
//!
//! Every test goes through a `check_*` helper in [`util`] for its boundary; the binaries are built on
//! first use, so `cargo test --workspace` works from a fresh clone.

mod attribution;
mod bad_input;
mod cli;
mod clients_lib;
mod corpus;
mod docs;
mod findings;
mod fuzz_input;
mod harness;
mod hostile;
mod hostile_kit;
mod load_lib;
mod matrix;
mod models;
mod mutants;
mod pool;
mod privilege;
mod processes;
mod property;
mod reports;
mod seed;
mod tidy;
mod udp;
mod util;
mod verdicts;
