//! The server under test when the runner launches it: its own process group, a free port,
//! readiness from `/proc`, a tail of its output, and an end on every path.

use crate::os::{groups, procs};
use echo_clients::{Failure, FailureKind, ProcessHooks};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use regex::Regex;
use std::collections::VecDeque;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to start the server.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// Program and arguments; `{port}` is replaced by the chosen port.
    pub argv: Vec<String>,
    /// The address clients connect to (loopback).
    pub host: IpAddr,
    /// How readiness is recognised.
    pub ready_line: Option<Regex>,
    /// How long the server has to become ready.
    pub ready_timeout: Duration,
    /// How long SIGTERM has before SIGKILL.
    pub grace: Duration,
}

/// Why a launch failed (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The program could not be started at all.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It exited before it was ready.
    #[error("the server {status} before listening on port {port}{tail}")]
    ExitedEarly {
        /// Exit description.
        status: String,
        /// The port it was given.
        port: u16,
        /// Its last output lines.
        tail: String,
    },
    /// It was still running but not ready at the deadline.
    #[error("the server was not ready after {} ms: {what}{tail}", after.as_millis())]
    NotReady {
        /// How long the runner waited.
        after: Duration,
        /// What was missing.
        what: String,
        /// Its last output lines.
        tail: String,
    },
    /// No free port could be found.
    #[error("no free port on {host}: {source}")]
    NoPort {
        /// The host.
        host: IpAddr,
        /// Why.
        source: std::io::Error,
    },
}

const TAIL_BYTES: usize = 4096;

/// A launched server.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pgid: i32,
    /// Where clients connect.
    pub addr: SocketAddr,
    output: Arc<Mutex<Output>>,
    status: Option<ExitStatus>,
    stopped: bool,
}

#[derive(Debug, Default)]
struct Output {
    tail: VecDeque<u8>,
    ready_seen: bool,
}

/// Describes an exit status for people: `exited with status 1` or `was killed by signal 9 (SIGKILL)`.
pub fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        format!("exited with status {code}")
    } else if let Some(sig) = status.signal() {
        let name = Signal::try_from(sig).map(|s| s.as_str()).unwrap_or("?");
        format!("was killed by signal {sig} ({name})")
    } else {
        format!("ended ({status})")
    }
}

impl Server {
    /// Starts the server on a free port and waits until it listens.
    pub fn launch(spec: &LaunchSpec) -> Result<Server, LaunchError> {
        let port = free_port(spec.host)?;
        let argv: Vec<String> = spec
            .argv
            .iter()
            .map(|a| a.replace("{port}", &port.to_string()))
            .collect();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: prctl is async-signal-safe and touches only the calling (child) process.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|source| LaunchError::Spawn {
            program: argv[0].clone(),
            source,
        })?;
        let pgid = child.id() as i32;
        groups::register(pgid);
        let output = Arc::new(Mutex::new(Output::default()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&output);
            let ready = spec.ready_line.clone();
            std::thread::Builder::new()
                .name("server-output".into())
                .spawn(move || collect_output(pipe, output, ready))
                .ok();
        }
        let mut server = Server {
            child,
            pgid,
            addr: SocketAddr::new(spec.host, port),
            output,
            status: None,
            stopped: false,
        };
        server.wait_ready(spec, port)?;
        Ok(server)
    }

    fn wait_ready(&mut self, spec: &LaunchSpec, port: u16) -> Result<(), LaunchError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(status) = self.try_exit() {
                // Give the output readers a moment to collect the last words.
                std::thread::sleep(Duration::from_millis(50));
                return Err(LaunchError::ExitedEarly {
                    status: describe(status),
                    port,
                    tail: self.tail_block(),
                });
            }
            let ready = match &spec.ready_line {
                Some(_) => {
                    self.output
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .ready_seen
                }
                None => !procs::listeners_of_group(self.pgid, port).is_empty(),
            };
            if ready {
                return Ok(());
            }
            if start.elapsed() >= spec.ready_timeout {
                let what = match &spec.ready_line {
                    Some(re) => format!("no output line matched /{re}/"),
                    None => format!("no process of its group listens on TCP port {port} (the command must use `{{port}}`)"),
                };
                return Err(LaunchError::NotReady {
                    after: start.elapsed(),
                    what,
                    tail: self.tail_block(),
                });
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    /// The exit status, if the server (the group leader) has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
            }
        }
        self.status
    }

    /// The last lines the server printed (stdout and stderr together).
    pub fn output_tail(&self) -> String {
        let out = self.output.lock().unwrap_or_else(|p| p.into_inner());
        let bytes: Vec<u8> = out.tail.iter().copied().collect();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(12)..].join("\n")
    }

    fn tail_block(&self) -> String {
        let tail = self.output_tail();
        if tail.trim().is_empty() {
            "; it printed nothing".into()
        } else {
            format!("; its last output:\n{}", indent(&tail))
        }
    }

    /// Ends the whole process group: SIGTERM, up to `grace`, then SIGKILL. Returns true when SIGTERM sufficed.
    pub fn stop(&mut self, grace: Duration) -> bool {
        if self.stopped {
            return true;
        }
        self.stopped = true;
        let pg = Pid::from_raw(self.pgid);
        let _ = killpg(pg, Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        let mut graceful = false;
        while Instant::now() < deadline {
            self.try_exit();
            if self.status.is_some() && procs::group_members(self.pgid).is_empty() {
                graceful = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if !graceful {
            let _ = killpg(pg, Signal::SIGKILL);
            if self.status.is_none() {
                self.status = self.child.wait().ok();
            }
            let end = Instant::now() + Duration::from_secs(2);
            while !procs::group_members(self.pgid).is_empty() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        groups::unregister(self.pgid);
        graceful
    }

    /// The process group id (the leader's pid).
    pub fn pgid(&self) -> i32 {
        self.pgid
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop(Duration::from_millis(500));
    }
}

impl ProcessHooks for Server {
    fn expect_exit(&mut self, status: i32, within: Duration) -> Result<(), Failure> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.try_exit() {
                return if st.code() == Some(status) {
                    Ok(())
                } else {
                    Err(Failure::new(
                        FailureKind::Process,
                        format!("the server {} (expected status {status})", describe(st)),
                    ))
                };
            }
            if Instant::now() >= deadline {
                let members = procs::group_members(self.pgid);
                return Err(Failure::new(
                    FailureKind::Process,
                    format!(
                        "the server was still running after {} ms (pids {members:?})",
                        within.as_millis()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn free_port(host: IpAddr) -> Result<u16, LaunchError> {
    let listener = TcpListener::bind(SocketAddr::new(host, 0))
        .map_err(|source| LaunchError::NoPort { host, source })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| LaunchError::NoPort { host, source })
}

fn collect_output(
    mut pipe: Box<dyn Read + Send>,
    output: Arc<Mutex<Output>>,
    ready: Option<Regex>,
) {
    let mut buf = [0u8; 4096];
    let mut line: Vec<u8> = Vec::new();
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut out = output.lock().unwrap_or_else(|p| p.into_inner());
        out.tail.extend(&buf[..n]);
        let excess = out.tail.len().saturating_sub(TAIL_BYTES);
        out.tail.drain(..excess);
        if let Some(re) = &ready {
            for &b in &buf[..n] {
                if b == b'\n' {
                    if re.is_match(&String::from_utf8_lossy(&line)) {
                        out.ready_seen = true;
                    }
                    line.clear();
                } else if line.len() < 1024 {
                    line.push(b);
                }
            }
        }
    }
}

/// Indents every line by four spaces.
pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
