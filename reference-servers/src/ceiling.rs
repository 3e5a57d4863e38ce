//! Loopback ceilings for `cargo xtask bench`: servers that do less than an echo server can, so
//! that every model's figure can be read as a share of what the machine allows.
//!
//! - `accept-close`: accepts and closes at once, with one thread: the connect ceiling.
//! - `splice-pump`: one thread per connection moving bytes socket → pipe → socket with
//!   `splice(2)`, never copying them into user space: the echo throughput ceiling.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, RawFd};

use clap::{Parser, ValueEnum};

use crate::{accept, listener, shutdown};

/// Which ceiling to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Accept every connection and close it at once.
    AcceptClose,
    /// Echo with splice(2) through a pipe, zero-copy.
    SplicePump,
}

/// The command line of `echo-ceiling`.
#[derive(Debug, Parser)]
#[command(
    name = "echo-ceiling",
    version,
    about = "Loopback ceilings for benchmarks: accept-and-close, and a zero-copy byte pump"
)]
pub struct Flags {
    /// The ceiling.
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// The TCP port on 127.0.0.1.
    #[arg(long)]
    pub port: u16,
}

/// Runs `echo-ceiling` until SIGTERM.
pub fn run(flags: &Flags) -> anyhow::Result<()> {
    shutdown::install()?;
    let listener = listener::bind(SocketAddr::from(([127, 0, 0, 1], flags.port)))?;
    eprintln!(
        "{}: {:?} listening on {}",
        crate::program(),
        flags.mode,
        listener.local_addr()?
    );
    match flags.mode {
        Mode::AcceptClose => accept_close(&listener),
        Mode::SplicePump => splice_pump(&listener),
    }
}

fn accept_close(listener: &TcpListener) -> anyhow::Result<()> {
    accept::accept_loop(
        listener,
        || true,
        |stream, _| {
            drop(stream);
            ControlFlow::Continue(())
        },
    )?;
    Ok(())
}

fn splice_pump(listener: &TcpListener) -> anyhow::Result<()> {
    accept::accept_loop(
        listener,
        || true,
        |stream, _| {
            let _ = std::thread::Builder::new().spawn(move || pump(&stream));
            ControlFlow::Continue(())
        },
    )?;
    Ok(())
}

/// Bytes one splice call moves at most.
const SPLICE_CHUNK: usize = 1 << 20;

/// Moves everything the client sends back to it until EOF, through a pipe.
fn pump(stream: &TcpStream) {
    let Ok((pipe_r, pipe_w)) = nix::unistd::pipe() else {
        return;
    };
    let (sock, pr, pw) = (stream.as_raw_fd(), pipe_r.as_raw_fd(), pipe_w.as_raw_fd());
    loop {
        let n = splice(sock, pw, SPLICE_CHUNK);
        if n <= 0 {
            break;
        }
        let mut left = n as usize;
        while left > 0 {
            let m = splice(pr, sock, left);
            if m <= 0 {
                return;
            }
            left -= m as usize;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

fn splice(from: RawFd, to: RawFd, len: usize) -> isize {
    // SAFETY: both descriptors are open for the duration of the call (the caller owns them);
    // null offsets are what pipes and sockets require.
    unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE,
        )
    }
}
