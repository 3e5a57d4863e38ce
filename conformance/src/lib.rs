//! `echo-conform`: the conformance runner for TCP and UDP echo servers, as a command and as a
//! library.
//!
//! As a library, start at [`Run`]: describe a run with its builder ([`Run::command`] for a server
//! the runner launches, [`Run::addr`] for one already listening), check it with
//! [`RunBuilder::build`], and carry it out with [`Run::execute`], which returns the typed
//! [`RunReport`]: a [`outcome::CaseResult`] per case, the [`findings`] that explain the failures,
//! the [`notes::ServerProblem`]s and the exit code the command line would give. [`gate::case_gate`]
//! says how one case counts for that exit code.
//!
//! Against a thread-per-connection echo server in this process:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpListener;
//!
//! // The server, on a port of its own.
//! let listener = TcpListener::bind("127.0.0.1:0").unwrap();
//! let addr = listener.local_addr().unwrap();
//! std::thread::spawn(move || {
//!     for conn in listener.incoming().flatten() {
//!         std::thread::spawn(move || {
//!             let mut conn = conn;
//!             let mut buf = [0u8; 4096];
//!             while let Ok(n @ 1..) = conn.read(&mut buf) {
//!                 if conn.write_all(&buf[..n]).is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//! });
//!
//! let run = echo_conform::Run::addr(addr.to_string())
//!     .claims("stream,forever,concurrent")
//!     .case("echo.text.*")
//!     .build()
//!     .expect("a valid run");
//! let report = run.execute(&|_event| {}).expect("the run went through");
//! assert_eq!(report.exit_code, echo_conform::exit::OK);
//! assert!(report.cases.iter().all(|c| c.grade.label() == "PASS"));
//! ```
//!
//! Inside, one pipeline with a module per phase (see ARCHITECTURE.md, "Entry points"):
//! [`run`] checks the settings ([`config`]) into a [`plan::Plan`]; [`schedule`] places every case
//! (a pure function); [`execute`] carries the schedule out against a launched ([`server`]) or
//! given target, watched by the [`observer`], and hands each case to [`grade`], the one place a
//! grade is decided, as [`outcome`] data; [`events`] tell the reporters in [`report`] how it
//! goes; [`gate`] applies `--repeat`, `--expect-fail` and `--baseline`; [`error`] maps every
//! failure to the documented exit codes in [`exit`]. The command line ([`flags`], [`cli`]) is a
//! thin layer over [`Run`].

pub use report::RunReport;
pub use run::{Family, Run, RunBuilder, Server};

pub mod cause;
pub mod cli;
pub mod config;
pub mod detect;
pub mod environment;
pub mod error;
pub mod events;
pub mod execute;
pub mod exit;
pub mod findings;
pub mod flags;
pub mod gate;
pub mod grade;
pub mod matrix;
pub mod notes;
pub mod observer;
pub mod os;
pub mod outcome;
pub mod plan;
pub mod privilege;
pub mod property;
pub mod report;
pub mod run;
pub mod schedule;
pub mod server;
pub mod text;
pub mod trace;
