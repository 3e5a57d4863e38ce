//! The server under test when the runner launches it: its own process group, a free port,
//! readiness from `/proc`, a tail of its output, and an end on every path.

use crate::observe;
use crate::os::{groups, procs};
use crate::privilege::PrivTarget;
use echo_clients::{Failure, FailureKind, ProcessHooks};
use echo_spec::PrivCheck;
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
    /// Program and arguments; `{port}` is replaced by the chosen port and `{bind}` by
    /// [`LaunchSpec::bind`].
    pub argv: Vec<String>,
    /// The address clients connect to (loopback).
    pub host: IpAddr,
    /// What `{bind}` stands for: the address the server should bind for the run's families
    /// (127.0.0.1, ::1, or :: for both).
    pub bind: IpAddr,
    /// Readiness waits for a TCP listener on the port (the server claims `tcp`).
    pub tcp: bool,
    /// Readiness waits for a UDP socket bound on the port (the server claims `udp`).
    pub udp: bool,
    /// How readiness is recognised.
    pub ready_line: Option<Regex>,
    /// How long the server has to become ready.
    pub ready_timeout: Duration,
    /// How long SIGTERM has before SIGKILL.
    pub grace: Duration,
    /// A fixed port for `{port}` (the privileged port), instead of a free one.
    pub port: Option<u16>,
    /// Supplementary groups the server starts with (set when the runner is root), so that a
    /// server which forgets setgroups is caught.
    pub launch_groups: Option<Vec<u32>>,
    /// What a privileged server must drop to, for `expect_priv` and `expect_bind_denied`.
    pub privilege: Option<PrivTarget>,
    /// RLIMIT_NOFILE (soft and hard) for the server, when a case asks for a low one.
    pub rlimit_nofile: Option<u64>,
    /// The soft RLIMIT_NOFILE the runner itself was started with: the server gets it back (the
    /// runner raised its own for its crowds of clients), unless this is `None` (heavy cases).
    pub inherited_nofile: Option<u64>,
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
    privilege: Option<PrivTarget>,
    started_as: Option<(u32, u32)>,
    /// The resources recorded by a `mark` step.
    pub(crate) baseline: Option<crate::observe::resources::Usage>,
    /// How it was launched, for `restart`.
    pub(crate) spec: LaunchSpec,
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
    /// Starts the server on a free port (or the fixed one) and waits until it listens.
    pub fn launch(spec: &LaunchSpec) -> Result<Server, LaunchError> {
        let mut server = Server::start(spec, None)?;
        let port = server.addr.port();
        server.wait_ready(spec, port)?;
        Ok(server)
    }

    /// Starts the server without waiting for it to listen. With `as_user = Some((uid, gid))` the child
    /// drops to that user and group (no supplementary groups) before exec, for the non-root cases.
    pub fn start(spec: &LaunchSpec, as_user: Option<(u32, u32)>) -> Result<Server, LaunchError> {
        let port = match spec.port {
            Some(p) => p,
            None => free_port(spec)?,
        };
        let argv: Vec<String> = spec
            .argv
            .iter()
            .map(|a| {
                a.replace("{port}", &port.to_string())
                    .replace("{bind}", &spec.bind.to_string())
            })
            .collect();
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let groups: Vec<libc::gid_t> = match (as_user, &spec.launch_groups) {
            (Some(_), _) => Vec::new(),
            (None, Some(g)) => g.clone(),
            (None, None) => Vec::new(),
        };
        let set_groups = as_user.is_some() || spec.launch_groups.is_some();
        let nofile = match (spec.rlimit_nofile, spec.inherited_nofile) {
            (Some(n), _) => Some(libc::rlimit {
                rlim_cur: n as libc::rlim_t,
                rlim_max: n as libc::rlim_t,
            }),
            (None, Some(soft)) => {
                nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                    .ok()
                    .map(|(_, hard)| libc::rlimit {
                        rlim_cur: soft.min(hard) as libc::rlim_t,
                        rlim_max: hard as libc::rlim_t,
                    })
            }
            (None, None) => None,
        };
        // SAFETY: between fork and exec the child calls only async-signal-safe functions
        // (setgroups, setgid, setuid, prctl, setrlimit) on data prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                if let Some(lim) = &nofile {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                if set_groups && libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if let Some((uid, gid)) = as_user {
                    if libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // After any credential change: a change clears the parent-death signal.
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
        Ok(Server {
            child,
            pgid,
            addr: SocketAddr::new(spec.host, port),
            output,
            status: None,
            stopped: false,
            privilege: spec.privilege.clone(),
            started_as: as_user,
            baseline: None,
            spec: spec.clone(),
        })
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
                None => {
                    let (tcp, udp) = self.bound(spec, port);
                    (!spec.tcp || tcp.iter().any(|a| covers(a.ip(), spec.host)))
                        && (!spec.udp || udp.iter().any(|a| covers(a.ip(), spec.host)))
                }
            };
            if ready {
                return Ok(());
            }
            if start.elapsed() >= spec.ready_timeout {
                let what = match &spec.ready_line {
                    Some(re) => format!("no output line matched /{re}/"),
                    None => {
                        let (tcp, udp) = self.bound(spec, port);
                        let found: Vec<String> = tcp
                            .iter()
                            .map(|a| format!("TCP {a}"))
                            .chain(udp.iter().map(|a| format!("UDP {a}")))
                            .collect();
                        let wanted = match (spec.tcp, spec.udp) {
                            (true, true) => {
                                format!("listens on TCP port {port} and has UDP port {port} bound")
                            }
                            (false, true) => format!("has UDP port {port} bound"),
                            _ => format!("listens on TCP port {port}"),
                        };
                        if found.is_empty() {
                            format!("no process of its group {wanted} (the command must use `{{port}}`)")
                        } else {
                            format!(
                                "no process of its group {wanted} on {}, where the cases connect; \
                                 it is bound to {} (use `{{bind}}` in the command, or --family to match)",
                                spec.host,
                                found.join(", ")
                            )
                        }
                    }
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

    /// The local addresses of the group's TCP listeners and UDP sockets on `port`, each read only
    /// when the server claims that transport.
    fn bound(&self, spec: &LaunchSpec, port: u16) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
        let tcp = if spec.tcp {
            procs::listeners_of_group(self.pgid, port)
                .into_iter()
                .map(|l| l.addr)
                .collect()
        } else {
            Vec::new()
        };
        let udp = if spec.udp {
            procs::udp_sockets_of_group(self.pgid, port)
                .into_iter()
                .map(|r| r.local)
                .collect()
        } else {
            Vec::new()
        };
        (tcp, udp)
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

    /// Like [`Server::try_exit`], but waits up to `within` for an exit that is under way: a server
    /// that crashed while a client was talking to it may still be dying when the case ends.
    pub fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
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
        // A case may have left the group stopped (SIGSTOP): thawed, it can act on the SIGTERM.
        let _ = killpg(pg, Signal::SIGCONT);
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
    fn mark(&mut self) -> Result<String, Failure> {
        crate::watch::mark(self)
    }

    fn expect_resources(
        &mut self,
        fd_delta: u32,
        threads_delta: u32,
        settle: Duration,
    ) -> Result<String, Failure> {
        crate::watch::expect_resources(self, fd_delta, threads_delta, settle)
    }

    fn expect_rss(
        &mut self,
        max_growth_kib: Option<u64>,
        max_kib: Option<u64>,
    ) -> Result<String, Failure> {
        crate::watch::expect_rss(self, max_growth_kib, max_kib)
    }

    fn expect_cpu(&mut self, max: Duration) -> Result<String, Failure> {
        crate::watch::expect_cpu(self, max)
    }

    fn signal(&mut self, signal: echo_spec::SignalName) -> Result<(), Failure> {
        crate::watch::signal(self, signal)
    }

    fn expect_group_empty(&mut self, within: Duration) -> Result<(), Failure> {
        crate::watch::expect_group_empty(self, within)
    }

    fn restart(&mut self, signal: echo_spec::SignalName) -> Result<String, Failure> {
        crate::watch::restart(self, signal)
    }

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

    fn expect_priv(&mut self, check: PrivCheck, within: Duration) -> Result<(), Failure> {
        let Some(target) = self.privilege.clone() else {
            return Err(Failure::new(
                FailureKind::Privilege,
                "no privilege target is known (see the report's environment)",
            ));
        };
        // A drop may still be in progress right after readiness: retry until `within` has passed.
        let deadline = Instant::now() + within;
        loop {
            let mut members = procs::group_members(self.pgid);
            if let Some(i) = members.iter().position(|&p| p == self.pgid) {
                members.swap(0, i);
            }
            let subject = observe::Subject {
                leader: self.pgid,
                members: &members,
                port: self.addr.port(),
                target: &target,
            };
            match observe::check(&subject, check) {
                Ok(()) => return Ok(()),
                Err(evidence) if Instant::now() >= deadline => {
                    return Err(Failure::new(
                        FailureKind::Privilege,
                        format!("`{check}` does not hold:\n{}", indent(&evidence)),
                    ))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(25)),
            }
        }
    }

    fn expect_bind_denied(&mut self, within: Duration) -> Result<(), Failure> {
        let who = match self.started_as {
            Some((uid, gid)) => format!("uid {uid}, gid {gid}"),
            None => "root".into(),
        };
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(st) = self.try_exit() {
                break st;
            }
            if Instant::now() >= deadline {
                let listening = procs::listeners_of_group(self.pgid, self.addr.port());
                return Err(Failure::new(
                    FailureKind::Privilege,
                    format!(
                        "started as {who}, the server was still running after {} ms{}",
                        within.as_millis(),
                        if listening.is_empty() {
                            String::new()
                        } else {
                            format!(" and listening on port {}: {listening:?}", self.addr.port())
                        }
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // The output readers need a moment to collect the last words.
        std::thread::sleep(Duration::from_millis(100));
        let tail = self.output_tail();
        if status.success() {
            return Err(Failure::new(
                FailureKind::Privilege,
                format!(
                    "started as {who}, the server {}; a refused bind must exit non-zero; its output:\n{}",
                    describe(status),
                    indent(&tail)
                ),
            ));
        }
        let says_why = Regex::new(r"(?i)permission|eacces|errno 13|os error 13")
            .map(|re| re.is_match(&tail))
            .unwrap_or(false);
        if !says_why {
            return Err(Failure::new(
                FailureKind::Privilege,
                format!(
                    "started as {who}, the server {} but its output does not say why (no \"permission\" or \"EACCES\"):\n{}",
                    describe(status),
                    indent(&tail)
                ),
            ));
        }
        Ok(())
    }
}

/// True when a socket bound to `local` answers clients that connect to `host`: the same address,
/// or the wildcard of its family (`::` also takes IPv4 unless the server set IPV6_V6ONLY, which
/// `/proc` does not show; the cases will tell).
fn covers(local: IpAddr, host: IpAddr) -> bool {
    local == host || (local.is_unspecified() && (local.is_ipv6() || host.is_ipv4()))
}

/// A free port for a launched server, below the kernel's ephemeral range (so no client socket of
/// this run can take it between the probe and the server's bind), tried from a pseudo-random start.
/// Falls back to a kernel-chosen port when the range below holds nothing free.
fn free_port(spec: &LaunchSpec) -> Result<u16, LaunchError> {
    let host = spec.host;
    // The port must be free on every address the server may bind, over every transport it serves.
    let mut hosts = vec![host];
    if spec.bind != host {
        hosts.push(spec.bind);
    }
    let free = |port: u16| {
        hosts.iter().all(|&h| {
            let addr = SocketAddr::new(h, port);
            (!spec.tcp || TcpListener::bind(addr).is_ok())
                && (!spec.udp || std::net::UdpSocket::bind(addr).is_ok())
        })
    };
    let (low, high) = below_ephemeral();
    if high > low {
        let span = u32::from(high - low);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let seed = nanos ^ std::process::id().rotate_left(16);
        for k in 0..256u32 {
            let port = low + ((seed.wrapping_add(k.wrapping_mul(7919))) % span) as u16;
            if free(port) {
                return Ok(port);
            }
        }
    }
    let listener = TcpListener::bind(SocketAddr::new(host, 0))
        .map_err(|source| LaunchError::NoPort { host, source })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| LaunchError::NoPort { host, source })
}

/// The ports between 10000 and the start of `ip_local_port_range` (32768 when it cannot be read).
fn below_ephemeral() -> (u16, u16) {
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u16>().ok())
        })
        .unwrap_or(32768);
    (10_000, start)
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
