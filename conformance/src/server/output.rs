//! The server's stdout and stderr: read by one thread per pipe until EOF, keeping a bounded tail
//! (whatever the server writes, the runner holds at most [`TAIL_BYTES`]) and watching for the
//! `--ready-line`.

use regex::Regex;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The most of the server's output the runner keeps.
pub const TAIL_BYTES: usize = 4096;
/// The longest line checked against `--ready-line`.
const MAX_LINE: usize = 1024;

#[derive(Debug, Default)]
struct State {
    tail: VecDeque<u8>,
    ready_seen: bool,
    open_pipes: usize,
}

/// The output of one launched server, shared with its reader threads.
#[derive(Debug, Default, Clone)]
pub struct Output {
    inner: Arc<(Mutex<State>, Condvar)>,
}

impl Output {
    /// Starts a reader thread for each pipe.
    pub fn collect(pipes: Vec<Box<dyn Read + Send>>, ready: Option<Regex>) -> Output {
        let output = Output::default();
        output.lock().open_pipes = pipes.len();
        for pipe in pipes {
            let out = output.clone();
            let ready = ready.clone();
            let spawned = std::thread::Builder::new()
                .name("server-output".into())
                .spawn(move || out.read_until_eof(pipe, ready));
            if spawned.is_err() {
                output.pipe_closed();
            }
        }
        output
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pipe_closed(&self) {
        let mut state = self.lock();
        state.open_pipes = state.open_pipes.saturating_sub(1);
        self.inner.1.notify_all();
    }

    fn read_until_eof(&self, mut pipe: Box<dyn Read + Send>, ready: Option<Regex>) {
        let mut buf = [0u8; 4096];
        let mut line: Vec<u8> = Vec::new();
        loop {
            let n = match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut state = self.lock();
            state.tail.extend(&buf[..n]);
            let excess = state.tail.len().saturating_sub(TAIL_BYTES);
            state.tail.drain(..excess);
            if let Some(re) = &ready {
                for &b in &buf[..n] {
                    if b == b'\n' {
                        if re.is_match(&String::from_utf8_lossy(&line)) {
                            state.ready_seen = true;
                        }
                        line.clear();
                    } else if line.len() < MAX_LINE {
                        line.push(b);
                    }
                }
            }
        }
        self.pipe_closed();
    }

    /// True once a line matched `--ready-line`.
    pub fn ready_seen(&self) -> bool {
        self.lock().ready_seen
    }

    /// Waits up to `within` for both pipes to reach EOF (every process holding them has exited
    /// or closed them); true when they did.
    pub fn wait_eof(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut state = self.lock();
        while state.open_pipes > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = match self.inner.1.wait_timeout(state, deadline - now) {
                Ok((s, _)) => s,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }

    /// The last lines printed (stdout and stderr together), made safe to show: invalid UTF-8
    /// replaced, control characters escaped.
    pub fn tail(&self) -> String {
        let bytes: Vec<u8> = self.lock().tail.iter().copied().collect();
        let text = crate::text::printable(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(12)..].join("\n")
    }
}
