//! Reading the server's processes from `/proc`: its group, and every descendant, also one that
//! left the group by `setsid()` or was re-parented to the runner (a child subreaper) by a double
//! fork. Each launched server carries a mark in its environment ([`MARK`]), which its descendants
//! inherit; that finds a descendant whose parent link is gone.

use std::collections::{BTreeMap, BTreeSet};

/// The environment variable every launched server, and what it starts, carries.
pub const MARK: &str = "ECHO_CONFORM_SERVER";

/// One process, as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, Copy)]
struct Row {
    ppid: i32,
    pgrp: i32,
    session: i32,
    live: bool,
}

fn table() -> BTreeMap<i32, Row> {
    let Ok(all) = procfs::process::all_processes() else {
        return BTreeMap::new();
    };
    all.filter_map(Result::ok)
        .filter_map(|p| p.stat().ok())
        .map(|s| {
            (
                s.pid,
                Row {
                    ppid: s.ppid,
                    pgrp: s.pgrp,
                    session: s.session,
                    live: s.state != 'Z' && s.state != 'X',
                },
            )
        })
        .collect()
}

/// The pids of every live (non-zombie) process in process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    table()
        .into_iter()
        .filter(|(_, r)| r.pgrp == pgid && r.live)
        .map(|(pid, _)| pid)
        .collect()
}

/// True when `pid`'s environment holds `MARK=mark`.
fn carries(pid: i32, mark: &str) -> bool {
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    let want = format!("{MARK}={mark}");
    env.split(|b| *b == 0).any(|kv| kv == want.as_bytes())
}

/// Every live process of the server launched as `leader` (the leader of its own group) with
/// environment mark `mark`: the group, the leader's descendants, and any process carrying the mark.
pub fn server_processes(leader: i32, mark: &str) -> Vec<i32> {
    tree(&table(), leader, mark)
        .into_iter()
        .map(|(pid, _)| pid)
        .collect()
}

/// Sends `signal` to the server's group and to each of its processes that left it.
pub fn signal_server(leader: i32, mark: &str, signal: nix::sys::signal::Signal) {
    use nix::unistd::Pid;
    let _ = nix::sys::signal::killpg(Pid::from_raw(leader), signal);
    for pid in server_processes(leader, mark) {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
    }
}

/// Processes of the server that left its process group, each with how: for the run's notes.
pub fn escaped(leader: i32, mark: &str) -> Vec<(i32, &'static str)> {
    let rows = table();
    let leader_session = rows.get(&leader).map(|r| r.session);
    tree(&rows, leader, mark)
        .into_iter()
        .filter(|(_, r)| r.pgrp != leader)
        .map(|(pid, r)| {
            let how = if Some(r.session) != leader_session {
                "setsid"
            } else {
                "setpgid"
            };
            (pid, how)
        })
        .collect()
}

/// The server's live processes in `rows`, with their rows.
fn tree(rows: &BTreeMap<i32, Row>, leader: i32, mark: &str) -> Vec<(i32, Row)> {
    let mut roots: Vec<i32> = vec![leader];
    roots.extend(
        rows.iter()
            .filter(|(_, r)| r.pgrp == leader)
            .map(|(p, _)| *p),
    );
    let me = std::process::id() as i32;
    // Orphans the runner adopted as subreaper, and anything else, are the server's by its mark.
    roots.extend(rows.keys().filter(|&&p| p != me && carries(p, mark)));
    below(rows, roots)
        .into_iter()
        .filter_map(|pid| rows.get(&pid).map(|r| (pid, *r)))
        .filter(|(_, r)| r.live)
        .collect()
}

/// `roots` and every process below them in `rows`, by parent links.
fn below(rows: &BTreeMap<i32, Row>, roots: Vec<i32>) -> BTreeSet<i32> {
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for (&pid, r) in rows {
        children.entry(r.ppid).or_default().push(pid);
    }
    let mut found: BTreeSet<i32> = BTreeSet::new();
    let mut todo = roots;
    // A tree is finite and each pid is visited once.
    while let Some(pid) = todo.pop() {
        if !found.insert(pid) {
            continue;
        }
        if let Some(kids) = children.get(&pid) {
            todo.extend(kids.iter().copied());
        }
    }
    found
}

/// Makes the runner the reaper of every orphan below it (`PR_SET_CHILD_SUBREAPER`), so a
/// server's double-forked helper is re-parented to the runner, not to init, and stays in reach.
pub fn become_subreaper() -> Result<(), String> {
    // SAFETY: prctl with an integer argument changes only this process's attribute.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc == 0 {
        SUBREAPER.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    } else {
        Err(format!(
            "prctl(PR_SET_CHILD_SUBREAPER): {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// Set once this process is a subreaper: only then are zombie children adopted ones.
static SUBREAPER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Reaps, without waiting, every zombie the runner adopted that is not `keep` (a launched server
/// whose `Child` handle reaps it). A process that is not a subreaper (a test binary running the
/// harness) adopts nothing, and its zombie children belong to whoever started them: it reaps none.
pub fn reap_adopted(keep: &[i32]) {
    if !SUBREAPER.load(std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let me = std::process::id() as i32;
    for (pid, r) in table() {
        if r.ppid == me && !r.live && !keep.contains(&pid) {
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
    }
}

/// Kills (SIGKILL) every live descendant of this process: the last resort of a command that
/// started runs of its own (`matrix`), once each was asked to end. As a subreaper, the process
/// is the parent of every orphan below it, so nothing it started is out of reach.
pub fn kill_descendants() {
    let me = std::process::id() as i32;
    let rows = table();
    let kids: Vec<i32> = rows
        .iter()
        .filter(|(_, r)| r.ppid == me)
        .map(|(p, _)| *p)
        .collect();
    for pid in below(&rows, kids) {
        if rows.get(&pid).is_some_and(|r| r.live) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    reap_adopted(&[]);
}
