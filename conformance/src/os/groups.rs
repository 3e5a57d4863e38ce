//! Every server the runner started (its process group and its environment mark), so that any
//! exit path (normal, panic, Ctrl-C) ends them all, with every descendant that left the group.

use crate::notes::RunNote;
use nix::sys::signal::Signal;
use std::collections::BTreeMap;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

static LIVE: Mutex<BTreeMap<i32, String>> = Mutex::new(BTreeMap::new());
static HOOKS: Once = Once::new();
static ESCAPES: Mutex<Vec<RunNote>> = Mutex::new(Vec::new());

/// Most escape facts kept for one run (a fork bomb must not flood the report).
const MAX_ESCAPES: usize = 20;

/// Records a fact of the run: a process of a server that left its process group.
pub fn record_escape(line: RunNote) {
    let mut all = ESCAPES.lock().unwrap_or_else(|p| p.into_inner());
    if all.len() < MAX_ESCAPES && !all.contains(&line) {
        all.push(line);
    }
}

/// The escape facts recorded so far, emptied.
pub fn take_escapes() -> Vec<RunNote> {
    std::mem::take(&mut *ESCAPES.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Remembers a server (its group, led by `pgid`, and its mark) that must be ended before the
/// runner exits.
pub fn register(pgid: i32, mark: &str) {
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(pgid, mark.to_string());
}

/// Forgets a process group that has been ended.
pub fn unregister(pgid: i32) {
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).remove(&pgid);
}

fn live() -> Vec<(i32, String)> {
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(g, m)| (*g, m.clone()))
        .collect()
}

/// The leaders of the servers still registered: the runner's own children, reaped by their
/// `Child` handles.
pub fn leaders() -> Vec<i32> {
    live().into_iter().map(|(g, _)| g).collect()
}

/// Sends `signal` to every process of each server in `servers`: its group, then each descendant
/// that left it.
fn signal_all(servers: &[(i32, String)], signal: Signal) {
    for (pgid, mark) in servers {
        super::procs::signal_server(*pgid, mark, signal);
    }
}

/// Ends every registered group (used when the runner itself is dying): SIGTERM, up to 300 ms for
/// the groups to empty, then SIGKILL to whatever is left.
pub fn kill_all() {
    let servers = live();
    signal_all(&servers, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_millis(300);
    let _ = super::poll_until(deadline, Duration::from_millis(20), || {
        servers
            .iter()
            .all(|(g, m)| super::procs::server_processes(*g, m).is_empty())
            .then_some(())
    });
    signal_all(&live(), Signal::SIGKILL);
}

/// Installs, once, a panic hook and SIGINT/SIGTERM/SIGHUP handlers that end every registered group.
pub fn install_cleanup_hooks() {
    HOOKS.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            kill_all();
            previous(info);
        }));
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
            std::thread::Builder::new()
                .name("signals".into())
                .spawn(move || {
                    if let Some(sig) = signals.forever().next() {
                        eprintln!("echo-conform: interrupted (signal {sig}); stopping the server");
                        kill_all();
                        std::process::exit(128 + sig);
                    }
                })
                .ok();
        }
    });
}
