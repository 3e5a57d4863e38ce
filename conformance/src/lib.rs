//! `echo-conform`: the conformance runner for TCP echo servers.
//!
//! The binary is a thin shell over this library: [`flags`] holds what the user typed, [`config`]
//! checks it into a [`runner::Plan`], [`runner`] schedules the cases against a launched
//! ([`server`]) or given target and reports through [`report::Event`]s, and [`report`] renders the
//! results for people and machines. Exit codes are constants in [`exit`].

pub mod cli;
pub mod config;
pub mod detect;
pub mod environment;
pub mod exec;
pub mod exit;
pub mod flags;
pub mod gate;
pub mod observe;
pub mod os;
pub mod privilege;
pub mod property;
pub mod report;
pub mod runner;
pub mod server;
pub mod trace;
pub mod watch;
