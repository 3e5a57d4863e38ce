//! Mutants with two independent defects at once, each of which a single mutant already shows
//! alone. Each is a stream echo server built from those single mutants' parts,
//! thread-per-connection unless a defect is the accept loop itself; its CASE column names the
//! case that catches each defect, comma-separated, in the order of its defect line.

use super::echo::{trimmed, with_newline, without_nul};
use super::hostile::{echo_unchecked, keep_descriptor, restore_default_sigpipe};
use super::{echo_with, serve_sequential, serve_threaded, Flags, Mutant};

/// The double mutants.
pub fn mutants() -> Vec<Mutant> {
    vec![
        Mutant { name: "nul-and-sequential", case: "echo.binary.all-bytes,concurrency.idle-does-not-block", defect: "drops every 0x00 byte (as drop-nul) and serves one connection at a time, on a sequential accept loop (as sequential-stream)", run: nul_and_sequential },
        Mutant { name: "newline-and-fd-leak", case: "echo.nothing-added,resources.no-leaks", defect: "appends \"\\n\" after the echo of every read (as newline) and shuts down its side at the end of a connection but never closes the descriptor (as fd-leak)", run: newline_and_fd_leak },
        Mutant { name: "strip-and-sigpipe", case: "echo.nothing-removed,hostile.reset-during-echo", defect: "strips ASCII whitespace from both ends of every read (as strip) and dies of SIGPIPE when it writes after a client's reset (as sigpipe-dies)", run: strip_and_sigpipe },
    ]
}

fn nul_and_sequential(flags: &Flags) -> anyhow::Result<()> {
    serve_sequential(flags, "nul-and-sequential", |mut stream| {
        echo_with(&mut stream, without_nul)
    })
}

fn newline_and_fd_leak(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "newline-and-fd-leak", |mut stream| {
        echo_with(&mut stream, with_newline);
        keep_descriptor(stream);
    })
}

fn strip_and_sigpipe(flags: &Flags) -> anyhow::Result<()> {
    restore_default_sigpipe()?;
    serve_threaded(flags, "strip-and-sigpipe", |mut stream| {
        echo_unchecked(&mut stream, trimmed)
    })
}
