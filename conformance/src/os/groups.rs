//! Every process group the runner started, so that any exit path (normal, panic, Ctrl-C) ends them all.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::BTreeSet;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
static HOOKS: Once = Once::new();

/// Remembers a process group that must be ended before the runner exits.
pub fn register(pgid: i32) {
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).insert(pgid);
}

/// Forgets a process group that has been ended.
pub fn unregister(pgid: i32) {
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).remove(&pgid);
}

fn live() -> Vec<i32> {
    LIVE.lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .copied()
        .collect()
}

/// Ends every registered group (used when the runner itself is dying): SIGTERM, up to 300 ms for
/// the groups to empty, then SIGKILL to whatever is left.
pub fn kill_all() {
    let groups = live();
    for &pgid in &groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline
        && groups
            .iter()
            .any(|&g| !super::procs::group_members(g).is_empty())
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pgid in live() {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
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
