//! The server under test when the runner launches it: its own process group, a free port,
//! readiness from `/proc`, a tail of its output, and an end on every path.

mod keeper;
mod launch;
mod output;
mod ports;

pub use launch::{LaunchError, LaunchSpec};
pub use output::TAIL_BYTES;

use crate::notes::RunNote;
use crate::os::{groups, net, poll_until, procs};
use crate::text::indent;
use nix::sys::signal::Signal;
use output::Output;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A launched server.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pgid: i32,
    /// Where clients connect.
    pub addr: SocketAddr,
    output: Output,
    status: Option<ExitStatus>,
    stopped: bool,
    started_as: Option<(u32, u32)>,
    spec: LaunchSpec,
    /// The value of [`procs::MARK`] in its environment, unique to this launch.
    mark: String,
    /// True once the launched process exited and left descendants serving.
    daemonized: bool,
    /// The port kept from other launches of this run while this server (or its restart) owns it.
    port_hold: Option<ports::PortHold>,
}

/// Launches so far, for the marks.
static LAUNCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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

/// How a server ended, in a word: the signal's name (`SIGPIPE`) or `exit N`.
pub fn ending(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        format!("exit {code}")
    } else if let Some(sig) = status.signal() {
        Signal::try_from(sig)
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| format!("signal {sig}"))
    } else {
        "ended".into()
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
        let (port, port_hold) = match spec.port {
            Some(p) => (p, None),
            None => {
                let hold = ports::free_port(spec)?;
                (hold.port(), Some(hold))
            }
        };
        let argv: Vec<String> = spec
            .argv
            .iter()
            .map(|a| {
                a.replace("{port}", &port.to_string())
                    .replace("{bind}", &spec.bind.to_string())
            })
            .collect();
        let mark = format!(
            "{}-{}",
            std::process::id(),
            LAUNCHES.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let mut cmd = Command::new(&argv[0]);
        cmd.env(procs::MARK, &mark)
            .args(&argv[1..])
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
        let mut child = keeper::spawn(cmd).map_err(|source| LaunchError::Spawn {
            program: argv[0].clone(),
            source,
        })?;
        let pgid = child.id() as i32;
        groups::register(pgid, &mark);
        let pipes: Vec<Box<dyn Read + Send>> = [
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
        .collect();
        let output = Output::collect(pipes, spec.ready_line.clone());
        Ok(Server {
            child,
            pgid,
            addr: SocketAddr::new(spec.host, port),
            output,
            status: None,
            stopped: false,
            started_as: as_user,
            spec: spec.clone(),
            mark,
            daemonized: false,
            port_hold,
        })
    }

    fn wait_ready(&mut self, spec: &LaunchSpec, port: u16) -> Result<(), LaunchError> {
        let start = Instant::now();
        let mut exited = None;
        let ready = poll_until(
            start + spec.ready_timeout,
            Duration::from_millis(10),
            || {
                if let Some(status) = self.try_exit() {
                    exited = Some(status);
                    return Some(false);
                }
                let ready = match &spec.ready_line {
                    Some(_) => self.output.ready_seen(),
                    None => {
                        let (tcp, udp) = self.bound(spec, port);
                        (!spec.tcp || tcp.iter().any(|a| covers(a.ip(), spec.host)))
                            && (!spec.udp || udp.iter().any(|a| covers(a.ip(), spec.host)))
                    }
                };
                ready.then_some(true)
            },
        );
        if let Some(status) = exited {
            return Err(LaunchError::ExitedEarly {
                status: describe(status),
                port,
                tail: self.tail_block(),
            });
        }
        if ready == Some(true) {
            return Ok(());
        }
        let what = match &spec.ready_line {
            Some(re) => format!("no output line matched /{re}/"),
            None => self.not_bound(spec, port),
        };
        Err(LaunchError::NotReady {
            after: start.elapsed(),
            what,
            tail: self.tail_block(),
        })
    }

    /// What readiness found missing, and where the server is bound instead.
    fn not_bound(&self, spec: &LaunchSpec, port: u16) -> String {
        let (tcp, udp) = self.bound(spec, port);
        let found: Vec<String> = tcp
            .iter()
            .map(|a| format!("TCP {a}"))
            .chain(udp.iter().map(|a| format!("UDP {a}")))
            .collect();
        let wanted = match (spec.tcp, spec.udp) {
            (true, true) => format!("listens on TCP port {port} and has UDP port {port} bound"),
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

    /// The local addresses of the group's TCP listeners and UDP sockets on `port`, each read only
    /// when the server claims that transport.
    fn bound(&self, spec: &LaunchSpec, port: u16) -> (Vec<SocketAddr>, Vec<SocketAddr>) {
        let tcp = if spec.tcp {
            net::listeners_of(&self.processes(), port)
                .into_iter()
                .map(|l| l.addr)
                .collect()
        } else {
            Vec::new()
        };
        let udp = if spec.udp {
            net::udp_sockets_of(&self.processes(), port)
                .into_iter()
                .map(|r| r.local)
                .collect()
        } else {
            Vec::new()
        };
        (tcp, udp)
    }

    /// The exit status of the launched process itself, whatever its descendants do (what
    /// `expect_exit` judges; `expect_group_empty` judges the rest).
    pub fn launched_exit(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
            }
        }
        self.status
    }

    /// The exit status of the launched process, once the server has ended: the launched process
    /// has exited and none of its descendants is left. A server that daemonizes (its launched
    /// process exits and leaves a child serving) is still running, and that is a note of the run.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        let status = self.launched_exit()?;
        // Only once the launched process is gone is the process tree read, so polling is cheap.
        let left = self.processes();
        if left.is_empty() {
            return Some(status);
        }
        if !self.daemonized && !self.stopped {
            self.daemonized = true;
            groups::record_escape(RunNote::Daemonized {
                pid: self.pgid,
                status: describe(status),
                left: left.len(),
                first: left[0],
                comm: comm(left[0]),
            });
        }
        None
    }

    /// Like [`Server::try_exit`], but waits up to `within` for an exit that is under way: a server
    /// that crashed while a client was talking to it may still be dying when the case ends.
    pub fn exit_within(&mut self, within: Duration) -> Option<ExitStatus> {
        poll_until(Instant::now() + within, Duration::from_millis(10), || {
            self.try_exit()
        })
    }

    /// The last lines the server printed (stdout and stderr together), escaped for display.
    pub fn output_tail(&self) -> String {
        self.output.tail()
    }

    /// The last lines once the server has exited: waits (a bounded time) for its output pipes to
    /// reach EOF, so the last words are in.
    pub fn final_output(&self) -> String {
        self.output.wait_eof(Duration::from_millis(500));
        self.output.tail()
    }

    /// How it was launched (for `restart`, and what the observer checks against).
    pub fn spec(&self) -> &LaunchSpec {
        &self.spec
    }

    /// The uid and gid the child dropped to before exec, when it was started as a user.
    pub fn started_as(&self) -> Option<(u32, u32)> {
        self.started_as
    }

    fn tail_block(&self) -> String {
        let tail = self.final_output();
        if tail.trim().is_empty() {
            "; it printed nothing".into()
        } else {
            format!("; its last output:\n{}", indent(&tail))
        }
    }

    /// Every live process of the server: its group, and every descendant, also one that left
    /// the group (`setsid`) or was re-parented to the runner (a double fork).
    pub fn processes(&self) -> Vec<i32> {
        procs::server_processes(self.pgid, &self.mark)
    }

    /// The server's processes that left its process group, each with how (`setsid`).
    pub fn escaped(&self) -> Vec<(i32, &'static str)> {
        procs::escaped(self.pgid, &self.mark)
    }

    /// Sends `signal` to the whole group and to every descendant that left it.
    pub fn signal(&self, signal: Signal) {
        procs::signal_server(self.pgid, &self.mark, signal);
    }

    /// Ends the server, the whole group and every descendant outside it: SIGTERM, up to `grace`,
    /// then SIGKILL. Returns true when SIGTERM sufficed.
    pub fn stop(&mut self, grace: Duration) -> bool {
        if self.stopped {
            return true;
        }
        self.stopped = true;
        for (pid, how) in self.escaped() {
            groups::record_escape(RunNote::LeftGroup {
                pid,
                comm: comm(pid),
                server: self.pgid,
                how: how.to_string(),
            });
        }
        self.signal(Signal::SIGTERM);
        // A case may have left the group stopped (SIGSTOP): thawed, it can act on the SIGTERM.
        self.signal(Signal::SIGCONT);
        let deadline = Instant::now() + grace;
        let mut graceful = false;
        if poll_until(deadline, Duration::from_millis(10), || {
            (self.try_exit().is_some() && self.processes().is_empty()).then_some(())
        })
        .is_some()
        {
            graceful = true;
        }
        if !graceful {
            self.signal(Signal::SIGKILL);
            if self.status.is_none() {
                self.status = self.child.wait().ok();
            }
            let end = Instant::now() + Duration::from_secs(2);
            poll_until(end, Duration::from_millis(10), || {
                self.signal(Signal::SIGKILL);
                self.processes().is_empty().then_some(())
            });
        }
        groups::unregister(self.pgid);
        // Descendants the runner adopted as subreaper are its children now: reap them.
        procs::reap_adopted(&groups::leaders());
        graceful
    }

    /// Takes over the hold on the port of `old`, which this server was launched again on.
    pub fn keep_port_of(&mut self, old: &mut Server) {
        if self.port_hold.is_none() {
            self.port_hold = old.port_hold.take();
        }
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

/// The command name of `pid`, for people.
fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| crate::text::printable(c.trim().as_bytes()))
        .unwrap_or_else(|_| "?".into())
}

/// True when a socket bound to `local` answers clients that connect to `host`: the same address,
/// or the wildcard of its family (`::` also takes IPv4 unless the server set IPV6_V6ONLY, which
/// `/proc` does not show; the cases will tell).
fn covers(local: IpAddr, host: IpAddr) -> bool {
    local == host || (local.is_unspecified() && (local.is_ipv6() || host.is_ipv4()))
}
