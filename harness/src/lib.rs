//! The echo-conform suite inside a server's own `cargo test`: one
//! [libtest-mimic](https://docs.rs/libtest-mimic) trial per case, named `group/case-id`
//! (`echo/echo.stream.1mib`, with `@ipv6` twins under `--family both`).
//!
//! The trials come from the same pipeline as `echo-conform run` (`echo_conform::cli::evaluate`):
//! the same schedule, grading, crash attribution and gate. Only the rendering differs:
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
//! `--report-dir` and `--write-baseline` write their files as the CLI does; `--output` and
//! `--format` are refused (libtest renders the results: `cargo test -- --format json`). Suites
//! run one at a time within a process (the runner reaps the children it adopts process-wide).
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

pub use libtest_mimic::{Arguments, Conclusion, Trial};

use launcher::Launcher;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Reads a seed from this variable when set, so a failing property case can be replayed
/// without editing the test: `ECHO_CONFORM_SEED=42 cargo test -- property.`.
pub const SEED_VAR: &str = "ECHO_CONFORM_SEED";

/// The suite against one server, built step by step and then run as trials.
pub struct Suite {
    server: Server,
    flags: Vec<String>,
}

enum Server {
    Command(String),
    Addr(String),
    InProcess(Launcher),
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
        Suite::with(Server::Command(cmd.into()))
    }

    /// A server already listening at `HOST:PORT` (loopback).
    pub fn addr(addr: impl Into<String>) -> Suite {
        Suite::with(Server::Addr(addr.into()))
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
        Suite::with(Server::InProcess(Launcher::new(launch)))
    }

    fn with(server: Server) -> Suite {
        Suite {
            server,
            flags: Vec::new(),
        }
    }

    /// The server's claims, as `--claims` takes them (`stream,forever,concurrent`, `pool=8`).
    pub fn claims(self, claims: &str) -> Suite {
        self.flag("--claims").flag(claims)
    }

    /// A spec directory to use instead of the embedded spec (your own cases, or overrides).
    pub fn spec_dir(self, dir: impl Into<PathBuf>) -> Suite {
        let dir: PathBuf = dir.into();
        self.flag("--spec").flag(dir.display().to_string())
    }

    /// The seed of the property cases. [`SEED_VAR`] in the environment takes precedence.
    pub fn seed(self, seed: u64) -> Suite {
        self.flag("--seed").flag(seed.to_string())
    }

    /// Makes SHOULD cases gate, as `--strict` does.
    pub fn strict(self) -> Suite {
        self.flag("--strict")
    }

    /// Any other flag of `echo-conform run` (`--family`, `--time-scale`, `--heavy`,
    /// `--expect-fail`, ...), checked exactly as the CLI checks it. A flag with a value takes
    /// two calls, or one in the `--flag=value` form.
    pub fn flag(mut self, flag: impl Into<String>) -> Suite {
        self.flags.push(flag.into());
        self
    }

    /// One trial per case of the spec, in spec order, for `args`: the cases it selects have run
    /// by the time this returns (none has when it only lists). For a custom `main` that adds
    /// trials of its own before calling [`libtest_mimic::run`].
    pub fn trials(self, args: &Arguments) -> Result<Vec<Trial>, SetupError> {
        trials::build(self, args)
    }

    /// Runs the selected cases and reports them the way libtest does; returns the conclusion.
    /// A suite that cannot be set up (a bad claim or flag) ends the process with exit code 2.
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

    /// The flag naming the server; for a server run in process, the placeholder address used
    /// only to plan (it is never reached).
    fn target(&self) -> [String; 2] {
        match &self.server {
            Server::Command(cmd) => ["--cmd".into(), cmd.clone()],
            Server::Addr(a) => ["--addr".into(), a.clone()],
            Server::InProcess(_) => ["--addr".into(), "127.0.0.1:9".into()],
        }
    }
}

/// The `echo-conform run` command line for `target` and `flags`. [`SEED_VAR`], when set,
/// replaces any seed the builder gave.
fn argv(target: [String; 2], flags: &[String]) -> Vec<String> {
    let mut argv = vec!["echo-conform".to_string(), "run".to_string()];
    argv.extend(target);
    let seed = std::env::var(SEED_VAR).ok();
    let mut flags = flags.iter();
    while let Some(f) = flags.next() {
        if seed.is_some() && f == "--seed" {
            flags.next();
        } else if !(seed.is_some() && f.starts_with("--seed=")) {
            argv.push(f.clone());
        }
    }
    if let Some(seed) = seed {
        argv.extend(["--seed".to_string(), seed]);
    }
    argv
}
