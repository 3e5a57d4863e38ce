//! The echo-conform suite inside a server's own `cargo test`: one
//! [libtest-mimic](https://docs.rs/libtest-mimic) trial per case, named `group/case-id`
//! (`echo/echo.stream.1mib`, with `@ipv6` twins under `--family both`).
//!
//! The trials come from the same library entry point as `echo-conform run` ([`echo_conform::Run`]):
//! the same schedule, grading, crash attribution and gate ([`echo_conform::gate::case_gate`]).
//! Only the rendering differs:
//!
//! - a PASS or INFO is a passing trial; a FAIL or FLAKY of a case that gates is a failing trial
//!   whose message is the evidence;
//! - a NOT-CLAIMED case, a SKIP, a failure that does not gate (a SHOULD without
//!   [`Suite::strict`], a MAY, any case the server does not claim) and an XFAIL are ignored
//!   trials, with the reason after `ignored`;
//! - a heavy case (`scale.*`, `property.stream.heavy`) is an ignored trial unless the suite
//!   asks for `--heavy`; `--ignored` runs them, and `--include-ignored` runs them and every
//!   unclaimed case, as `--detect --heavy` would;
//! - with `--baseline`, a claimed regression fails whatever its level and a failure the baseline
//!   already has is ignored, as the CLI's exit code has it;
//! - a server problem (a crash, an instance that would not start: the CLI's exit 3) fails every
//!   selected trial that ran, so that no filter hides it.
//!
//! [`Suite::configure`] takes any other setting of the library's [`RunBuilder`] (`--family`,
//! `--time-scale`, `--report-dir`, `--baseline`, ...); libtest renders the results
//! (`cargo test -- --format json`). Suites run one at a time within a process (the runner reaps
//! the children it adopts process-wide).
//!
//! libtest's own flags work: a filter (`cargo test -- echo.stream`), `--exact`, `--skip`,
//! `--list`, `--format terse|json`, `--ignored`. Only the selected cases run, so nextest, which
//! runs each test in its own process, runs each case alone.
//!
//! # Example
//!
//! A `tests/conformance.rs` with `harness = false` for it in `Cargo.toml`. In a real crate the
//! command is `env!("CARGO_BIN_EXE_<your binary>")` and its arguments; `{port}` is a free port.
//!
//! ```no_run
//! echo_conform_harness::Suite::command("target/debug/my-echo --port {port}")
//!     .claims("stream,forever,concurrent")
//!     .main()
//! ```
//!
//! A server that runs in the test process itself is given as a launcher: a closure that starts
//! it on an address and returns a handle, dropped when the suite ends. Cases that watch the
//! server process (`resources.*`, the privilege drop) are skipped then, with that reason.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpListener;
//!
//! let suite = echo_conform_harness::Suite::in_process(|addr| {
//!     let listener = TcpListener::bind(addr)?;
//!     std::thread::spawn(move || {
//!         for conn in listener.incoming().flatten() {
//!             std::thread::spawn(move || {
//!                 let mut conn = conn;
//!                 let mut buf = [0u8; 4096];
//!                 while let Ok(n @ 1..) = conn.read(&mut buf) {
//!                     if conn.write_all(&buf[..n]).is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!         }
//!     });
//!     Ok(())
//! })
//! .claims("stream,forever,concurrent");
//! let args = libtest_mimic::Arguments::from_iter(["conformance", "--exact", "echo/echo.text.short"]);
//! let conclusion = suite.run(&args);
//! assert_eq!(conclusion.num_passed, 1);
//! ```

mod launcher;
mod trials;

pub use echo_conform::{Family, RunBuilder};
pub use libtest_mimic::{Arguments, Conclusion, Trial};

use echo_conform::Run;
use launcher::Launcher;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Reads a seed from this variable when set, so a failing property case can be replayed
/// without editing the test: `ECHO_CONFORM_SEED=42 cargo test -- property.`.
pub const SEED_VAR: &str = "ECHO_CONFORM_SEED";

/// The address a server run in process is planned against before it starts (never reached).
const PLACEHOLDER: &str = "127.0.0.1:9";

/// The suite against one server, built step by step and then run as trials.
pub struct Suite {
    launcher: Option<Launcher>,
    run: RunBuilder,
}

/// Why the suite could not be set up: a bad builder value or spec, named as the CLI names it.
#[derive(Debug, thiserror::Error)]
#[error("echo-conform harness: {0}")]
pub struct SetupError(String);

impl Suite {
    /// A server launched by this command line, as `echo-conform run --cmd` takes it: `{port}` is
    /// replaced by a free port and `{bind}` by the address to bind. Every case that needs a fresh
    /// instance gets one, and every process is ended with its process group.
    pub fn command(cmd: impl Into<String>) -> Suite {
        Suite::with(Run::command(cmd), None)
    }

    /// A server already listening at `HOST:PORT` (loopback).
    pub fn addr(addr: impl Into<String>) -> Suite {
        Suite::with(Run::addr(addr), None)
    }

    /// A server started in this process by `launch`, which gets the loopback address to listen
    /// on and returns a handle that stops the server when dropped (or `()` for one that runs
    /// until the process ends). It is called once, after the trials are selected, and only when
    /// at least one case is to run.
    pub fn in_process<H, F>(launch: F) -> Suite
    where
        H: Send + 'static,
        F: FnOnce(SocketAddr) -> std::io::Result<H> + Send + 'static,
    {
        Suite::with(Run::addr(PLACEHOLDER), Some(Launcher::new(launch)))
    }

    fn with(run: RunBuilder, launcher: Option<Launcher>) -> Suite {
        Suite { launcher, run }
    }

    /// The server's claims, as `--claims` takes them (`stream,forever,concurrent`, `pool=8`).
    pub fn claims(self, claims: &str) -> Suite {
        self.configure(|r| r.claims(claims))
    }

    /// A spec directory to use instead of the embedded spec (your own cases, or overrides).
    pub fn spec_dir(self, dir: impl Into<PathBuf>) -> Suite {
        self.configure(|r| r.spec_dir(dir))
    }

    /// The seed of the property cases. [`SEED_VAR`] in the environment takes precedence.
    pub fn seed(self, seed: u64) -> Suite {
        self.configure(|r| r.seed(seed))
    }

    /// Makes SHOULD cases gate, as `--strict` does.
    pub fn strict(self) -> Suite {
        self.configure(|r| r.strict(true))
    }

    /// Any other setting of the run, as the library's [`RunBuilder`] takes it (each method is a
    /// flag of `echo-conform run`, checked as the CLI checks it):
    /// `.configure(|run| run.family(Family::Both).time_scale(2.0))`.
    pub fn configure(mut self, set: impl FnOnce(RunBuilder) -> RunBuilder) -> Suite {
        self.run = set(self.run);
        self
    }

    /// One trial per case of the spec, in spec order, for `args`: the cases it selects have run
    /// by the time this returns (none has when it only lists). For a custom `main` that adds
    /// trials of its own before calling [`libtest_mimic::run`].
    pub fn trials(self, args: &Arguments) -> Result<Vec<Trial>, SetupError> {
        trials::build(self, args)
    }

    /// Runs the selected cases and reports them the way libtest does; returns the conclusion.
    /// A suite that cannot be set up (a bad claim or setting) ends the process with exit code 2.
    pub fn run(self, args: &Arguments) -> Conclusion {
        match trials::build(self, args) {
            Ok(trials) => libtest_mimic::run(args, trials),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2)
            }
        }
    }

    /// The whole `main` of a `harness = false` test: reads libtest's arguments, runs, exits with
    /// libtest's code (101 when a trial failed, 2 when the suite could not be set up).
    pub fn main(self) -> ! {
        let args = Arguments::from_args();
        self.run(&args).exit()
    }
}

/// `run` with the seed of [`SEED_VAR`], when it is set, in place of any seed the suite gave.
fn with_seed_from_env(run: RunBuilder) -> Result<RunBuilder, SetupError> {
    match std::env::var(SEED_VAR) {
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .map(|seed| run.seed(seed))
            .map_err(|e| SetupError(format!("{SEED_VAR}: `{text}` is not a seed ({e})"))),
        Err(_) => Ok(run),
    }
}
