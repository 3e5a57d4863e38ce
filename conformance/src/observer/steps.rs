//! The resource steps of `process` cases, on an observed server: a baseline (`mark`), leaks
//! (`expect_resources`), memory (`expect_rss`), CPU (`expect_cpu`), signals and an empty group.

use super::Observer;
use crate::os::poll_until;
use crate::os::resources::{self, Usage};
use crate::server::{describe, LaunchError, Server};
use crate::text::indent;
use echo_clients::{Failure, FailureKind, LeakKind, Symptom};
use echo_spec::SignalName;
use nix::sys::signal::killpg;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// At most this many descriptors are quoted in evidence.
const MAX_QUOTED: usize = 12;

fn now_usage(o: &Observer<'_>) -> Result<Usage, Failure> {
    resources::sample(&o.server.processes()).map_err(|e| Failure::new(FailureKind::Process, e))
}

fn baseline<'o>(o: &'o Observer<'_>) -> Result<&'o Usage, Failure> {
    o.baseline.as_ref().ok_or_else(|| {
        Failure::new(
            FailureKind::Process,
            "no `mark` step recorded a baseline before this step",
        )
    })
}

/// Records the baseline. The peak-RSS counters (VmHWM) are reset first, so a peak from before
/// (start-up, a collection) does not count as growth later.
pub fn mark(o: &mut Observer<'_>) -> Result<String, Failure> {
    for pid in o.server.processes() {
        // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+); where it is not
        // allowed, the peak since start stays, which can only overstate growth.
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
    let usage = now_usage(o)?;
    let note = format!("baseline: {}", usage.summary());
    o.baseline = Some(usage);
    Ok(note)
}

/// What is wrong with `now` against `base`, one line each with the kind of thing kept.
fn leaks(
    o: &Observer<'_>,
    base: &Usage,
    now: &Usage,
    fd_delta: u32,
    threads_delta: u32,
) -> Vec<(LeakKind, String)> {
    let mut problems = Vec::new();
    if now.fds.len() > base.fds.len() + fd_delta as usize {
        let new: Vec<&String> = now.fds.difference(&base.fds).collect();
        let mut line = format!(
            "{} descriptors open, {} at the baseline (+{fd_delta} allowed); new since the baseline:",
            now.fds.len(),
            base.fds.len()
        );
        for fd in new.iter().take(MAX_QUOTED) {
            line.push_str(&format!("\n  {fd}"));
        }
        if new.len() > MAX_QUOTED {
            line.push_str(&format!("\n  … and {} more", new.len() - MAX_QUOTED));
        }
        problems.push((LeakKind::Descriptors, line));
    }
    if now.threads > base.threads + u64::from(threads_delta) {
        problems.push((
            LeakKind::Threads,
            format!(
                "{} threads, {} at the baseline (+{threads_delta} allowed)",
                now.threads, base.threads
            ),
        ));
    }
    let close_wait = match resources::close_wait(&now.pids, o.server.addr.port()) {
        Ok(rows) => rows,
        Err(e) => vec![format!("(the socket tables could not be read: {e})")],
    };
    if !close_wait.is_empty() {
        problems.push((
            LeakKind::CloseWait,
            format!(
                "{} sockets in CLOSE_WAIT (the client closed, the server never did):\n  {}",
                close_wait.len(),
                close_wait
                    .iter()
                    .take(MAX_QUOTED)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ),
        ));
    }
    let zombies = resources::zombies(o.server.pgid());
    if !zombies.is_empty() {
        problems.push((
            LeakKind::Zombies,
            format!(
                "{} zombie children never reaped:\n  {}",
                zombies.len(),
                zombies
                    .iter()
                    .take(MAX_QUOTED)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n  ")
            ),
        ));
    }
    problems
}

/// Waits up to `settle` for the resources to come back to the baseline.
pub fn expect_resources(
    o: &mut Observer<'_>,
    fd_delta: u32,
    threads_delta: u32,
    settle: Duration,
) -> Result<String, Failure> {
    let base = baseline(o)?.clone();
    let deadline = Instant::now() + settle;
    let mut problems = Vec::new();
    let back = poll_until(deadline, Duration::from_millis(50), || {
        let now = match now_usage(o) {
            Ok(now) => now,
            Err(e) => return Some(Err(e)),
        };
        problems = leaks(o, &base, &now, fd_delta, threads_delta);
        problems.is_empty().then(|| {
            Ok(format!(
                "resources back: {} fds (baseline {}), {} threads (baseline {}), no CLOSE_WAIT, no zombies",
                now.fds.len(),
                base.fds.len(),
                now.threads,
                base.threads
            ))
        })
    });
    if let Some(back) = back {
        return back;
    }
    let kind = problems.first().map_or(LeakKind::Descriptors, |p| p.0);
    let lines: Vec<&str> = problems.iter().map(|(_, line)| line.as_str()).collect();
    Err(Failure::new(
        FailureKind::Leak,
        format!(
            "{} ms after the traffic the server still holds more than at the baseline:\n{}",
            settle.as_millis(),
            indent(&lines.join("\n"))
        ),
    )
    .with_symptom(Symptom::Leak(kind)))
}

/// Checks peak memory against the baseline and a total.
pub fn expect_rss(
    o: &mut Observer<'_>,
    max_growth_kib: Option<u64>,
    max_kib: Option<u64>,
) -> Result<String, Failure> {
    let now = now_usage(o)?;
    let growth = match max_growth_kib {
        Some(_) => Some(now.peak_kib.saturating_sub(baseline(o)?.rss_kib)),
        None => None,
    };
    let mut problems = Vec::new();
    if let (Some(limit), Some(g)) = (max_growth_kib, growth) {
        if g > limit {
            problems.push(format!(
                "peak resident memory grew by {g} KiB since the baseline (limit {limit} KiB)"
            ));
        }
    }
    if let Some(limit) = max_kib {
        if now.peak_kib > limit {
            problems.push(format!(
                "peak resident memory is {} KiB (limit {limit} KiB)",
                now.peak_kib
            ));
        }
    }
    let measured = format!(
        "memory: RSS {} KiB, peak {} KiB{} over {} process(es)",
        now.rss_kib,
        now.peak_kib,
        growth.map_or(String::new(), |g| format!(", growth {g} KiB")),
        now.pids.len()
    );
    if problems.is_empty() {
        Ok(measured)
    } else {
        Err(Failure::new(
            FailureKind::Memory,
            format!("{}; {measured}", problems.join("; ")),
        ))
    }
}

/// Checks the CPU time used since the baseline.
pub fn expect_cpu(o: &mut Observer<'_>, max: Duration) -> Result<String, Failure> {
    let base_ms = baseline(o)?.cpu_ms;
    let now = now_usage(o)?;
    let used = now.cpu_ms.saturating_sub(base_ms);
    let measured = format!(
        "CPU: {used} ms used since the baseline (budget {} ms)",
        max.as_millis()
    );
    if u128::from(used) <= max.as_millis() {
        Ok(measured)
    } else {
        Err(Failure::new(
            FailureKind::Cpu,
            format!(
                "{measured}: the server spins instead of waiting\n{}",
                indent(&resources::cpu_lines(&now.pids).join("\n"))
            ),
        ))
    }
}

/// Sends `signal` to the server's main process; `STOP` and `CONT` go to its whole process group,
/// so that a server of several processes freezes and thaws as one.
pub fn signal(o: &mut Observer<'_>, signal: SignalName) -> Result<(), Failure> {
    if let Some(status) = o.server.try_exit() {
        return Err(Failure::new(
            FailureKind::Process,
            format!(
                "the server had already {} before SIG{} could be sent",
                describe(status),
                signal.as_str()
            ),
        ));
    }
    let sig = Signal::try_from(signal.number())
        .map_err(|e| Failure::new(FailureKind::Process, format!("signal {signal:?}: {e}")))?;
    let pid = Pid::from_raw(o.server.pgid());
    let sent = if signal.may_end() {
        kill(pid, sig)
    } else {
        killpg(pid, sig)
    };
    sent.map_err(|e| {
        Failure::new(
            FailureKind::Process,
            format!(
                "cannot send SIG{} to pid {}: {e}",
                signal.as_str(),
                o.server.pgid()
            ),
        )
    })
}

/// Waits up to `within` until no process of the group is left.
pub fn expect_group_empty(o: &mut Observer<'_>, within: Duration) -> Result<(), Failure> {
    let deadline = Instant::now() + within;
    let mut members = Vec::new();
    let gone = poll_until(deadline, Duration::from_millis(20), || {
        o.server.try_exit();
        members = o.server.processes();
        members.is_empty().then_some(())
    });
    if gone.is_some() {
        return Ok(());
    }
    let lines: Vec<String> = members
        .iter()
        .map(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            format!("pid {pid}: {}", cmd.trim())
        })
        .collect();
    Err(Failure::new(
        FailureKind::Process,
        format!(
            "{} process(es) of the server were still running after {} ms:\n{}",
            members.len(),
            within.as_millis(),
            indent(&lines.join("\n"))
        ),
    ))
}

/// Stops the server with `signal`, then launches it again on the same port.
pub fn restart(o: &mut Observer<'_>, signal: SignalName) -> Result<String, Failure> {
    let start = Instant::now();
    let grace = o.server.spec().grace;
    // The parser allows TERM and KILL only; `stop` is SIGTERM, the grace period, then SIGKILL.
    if signal == SignalName::Kill {
        o.server.signal(Signal::SIGKILL);
    }
    o.server.stop(grace);
    let stopped = start.elapsed();
    let mut spec = o.server.spec().clone();
    spec.port = Some(o.server.addr.port());
    match Server::launch(&spec) {
        Ok(mut fresh) => {
            fresh.keep_port_of(o.server);
            *o.server = fresh;
            // A new instance: a baseline of the old one means nothing.
            o.baseline = None;
            Ok(format!(
                "restart: stopped with SIG{} in {} ms, listening again on port {} after {} ms",
                signal.as_str(),
                stopped.as_millis(),
                spec.port.unwrap_or(0),
                (start.elapsed() - stopped).as_millis()
            ))
        }
        Err(e) => {
            let tail = match &e {
                LaunchError::ExitedEarly { tail, .. } | LaunchError::NotReady { tail, .. } => {
                    tail.as_str()
                }
                _ => "",
            };
            let port_in_use = [
                "Address already in use",
                "EADDRINUSE",
                "Errno 98",
                "os error 98",
            ]
            .iter()
            .any(|says| tail.contains(says));
            Err(Failure::new(
                FailureKind::Process,
                format!(
                    "stopped with SIG{}, the server could not start again on port {}: {e}",
                    signal.as_str(),
                    spec.port.unwrap_or(0)
                ),
            )
            .with_symptom(Symptom::CannotRestart { port_in_use }))
        }
    }
}
