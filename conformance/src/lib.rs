//! `echo-conform`: the conformance runner for TCP and UDP echo servers.
//!
//! One pipeline, a module per phase (see ARCHITECTURE.md, "Entry points"):
//! [`flags`] holds what the user typed; [`config`] checks it into a [`plan::Plan`];
//! [`schedule`] places every case (a pure function); [`execute`] carries the schedule out against
//! a launched ([`server`]) or given target, watched by the [`observer`], and hands each case to
//! [`grade`], the one place a grade is decided, as [`outcome`] data; [`events`] tell the
//! reporters in [`report`] how it goes; [`gate`] applies `--repeat`, `--expect-fail` and
//! `--baseline`; [`error`] maps every failure to the documented exit codes in [`exit`].

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
pub mod observer;
pub mod os;
pub mod outcome;
pub mod plan;
pub mod privilege;
pub mod property;
pub mod report;
pub mod schedule;
pub mod server;
pub mod text;
pub mod trace;
