//! The server's resources from outside, summed over every process of its group: descriptors,
//! threads, resident memory, CPU time, and what a leak leaves behind (CLOSE_WAIT sockets, zombie
//! children). Read through `procfs`.

use procfs::net::TcpState;
use procfs::process::{FDTarget, Process};
use std::collections::BTreeSet;

/// One sample of the server's resources.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// The live processes sampled.
    pub pids: Vec<i32>,
    /// Open descriptors, each as `pid N fd M -> target`.
    pub fds: BTreeSet<String>,
    /// Threads in all.
    pub threads: u64,
    /// Resident memory now, KiB.
    pub rss_kib: u64,
    /// Peak resident memory (VmHWM) of each process, summed, KiB.
    pub peak_kib: u64,
    /// CPU time (user + system, with reaped children's), milliseconds.
    pub cpu_ms: u64,
}

impl Usage {
    /// One line for a report.
    pub fn summary(&self) -> String {
        format!(
            "{} process{}, {} fds, {} threads, RSS {} KiB (peak {} KiB), CPU {} ms",
            self.pids.len(),
            if self.pids.len() == 1 { "" } else { "es" },
            self.fds.len(),
            self.threads,
            self.rss_kib,
            self.peak_kib,
            self.cpu_ms
        )
    }
}

/// Samples every process in `pids`. Processes that vanish meanwhile are skipped.
pub fn sample(pids: &[i32]) -> Result<Usage, String> {
    let tick_ms = 1000.0 / procfs::ticks_per_second() as f64;
    let mut usage = Usage::default();
    for &pid in pids {
        let Ok(proc) = Process::new(pid) else {
            continue;
        };
        let (Ok(stat), Ok(status)) = (proc.stat(), proc.status()) else {
            continue;
        };
        usage.pids.push(pid);
        usage.threads += stat.num_threads.max(0) as u64;
        usage.rss_kib += status.vmrss.unwrap_or(0);
        usage.peak_kib += status.vmhwm.or(status.vmrss).unwrap_or(0);
        let ticks = stat.utime + stat.stime + (stat.cutime.max(0) + stat.cstime.max(0)) as u64;
        usage.cpu_ms += (ticks as f64 * tick_ms) as u64;
        if let Ok(fds) = proc.fd() {
            for fd in fds.flatten() {
                usage
                    .fds
                    .insert(format!("pid {pid} fd {} -> {}", fd.fd, target(&fd.target)));
            }
        }
    }
    if usage.pids.is_empty() {
        return Err(format!(
            "none of the server's processes {pids:?} could be read"
        ));
    }
    Ok(usage)
}

fn target(t: &FDTarget) -> String {
    match t {
        FDTarget::Path(p) => p.display().to_string(),
        FDTarget::Socket(i) => format!("socket:[{i}]"),
        FDTarget::Net(i) => format!("net:[{i}]"),
        FDTarget::Pipe(i) => format!("pipe:[{i}]"),
        FDTarget::AnonInode(s) => format!("anon_inode:{s}"),
        FDTarget::MemFD(s) => format!("memfd:{s}"),
        FDTarget::Other(s, i) => format!("{s}:[{i}]"),
    }
}

/// Zombie processes of group `pgid`: children the server has not reaped. The group leader is
/// left out (the runner itself reaps it).
pub fn zombies(pgid: i32) -> Vec<String> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(Result::ok)
        .filter_map(|p| p.stat().ok())
        .filter(|s| s.pgrp == pgid && s.pid != pgid && s.state == 'Z')
        .map(|s| {
            format!(
                "/proc/{}/stat: pid {} ({}) state Z, parent {}",
                s.pid, s.pid, s.comm, s.ppid
            )
        })
        .collect()
}

/// The server's sockets on `port` in CLOSE_WAIT (the client closed; the server never did), quoted.
pub fn close_wait(pids: &[i32], port: u16) -> Result<Vec<String>, String> {
    Ok(super::net::sockets_on_port(pids, port)?
        .into_iter()
        .filter(|row| row.entry.state == TcpState::CloseWait)
        .map(|row| row.quote())
        .collect())
}

/// Per-process CPU lines from `/proc/PID/stat`, for evidence.
pub fn cpu_lines(pids: &[i32]) -> Vec<String> {
    pids.iter()
        .filter_map(|&pid| {
            let s = Process::new(pid).ok()?.stat().ok()?;
            Some(format!(
                "/proc/{pid}/stat: comm {} utime {} stime {} cutime {} cstime {} (ticks of 1/{} s)",
                s.comm,
                s.utime,
                s.stime,
                s.cutime,
                s.cstime,
                procfs::ticks_per_second()
            ))
        })
        .collect()
}
