//! The pre-fork server: the master binds, then forks `--workers` processes (20 by default, as
//! in the seed) that all call `accept()` on the one inherited listening socket. The kernel hands
//! each connection to one of them.
//!
//! Profile: `oneshot,forever,pool=N` with N = `--workers` (one read and reply per connection,
//! as the seed's worker does; `--stream` for a full echo): N clients are served at once, and the
//! next one waits for a worker.
//!
//! The master accepts nothing. It restarts a worker that dies, and on SIGTERM it sends SIGTERM
//! to every worker, waits the grace period, SIGKILLs any straggler and reaps them all, so no
//! orphan is left. Workers also ask the kernel for SIGTERM if the master dies
//! (PR_SET_PDEATHSIG). Any privilege drop happens before the fork, so workers inherit it.
//! The listener is non-blocking: a worker that loses the race for a connection gets EAGAIN and
//! goes back to `poll`, instead of sleeping inside `accept`.
//!
//! Run it: `echo-server --model prefork --port 50007 --workers 4`.
//!
//! The seed makes `mp.Process(target=worker, args=(serversocket,))` twenty times; each worker
//! loops on `client, address = socket.accept(); data = client.recv(1024); client.sendall(data)`.
//!
//! The lesson: processes can share one listening socket and let the kernel spread connections
//! among them; the pool size is the concurrency, and the master's job is supervision.

use std::collections::HashMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, getpid, getppid, ForkResult, Pid};

use crate::flags::Config;
use crate::shutdown;

/// The pause between restarts of a crashed worker, so that a worker that dies at once cannot
/// turn the master into a fork loop.
const RESTART_PAUSE: Duration = Duration::from_millis(50);

/// Forks the workers and supervises them until SIGTERM.
pub fn run(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let master = getpid();
    let mut workers: HashMap<Pid, usize> = HashMap::new();
    for slot in 0..config.workers {
        let pid = spawn_worker(config, &listener, master, slot)?;
        workers.insert(pid, slot);
    }
    while !shutdown::requested() {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _)) => {
                if let Some(slot) = workers.remove(&pid) {
                    if shutdown::requested() {
                        break;
                    }
                    eprintln!(
                        "{}: worker {pid} (slot {slot}) died; restarting it",
                        crate::program()
                    );
                    std::thread::sleep(RESTART_PAUSE);
                    let pid = spawn_worker(config, &listener, master, slot)?;
                    workers.insert(pid, slot);
                }
            }
            // Nothing to reap (or EINTR): sleep a tick; SIGTERM cuts the sleep short.
            _ => std::thread::sleep(crate::os::TICK),
        }
    }
    stop_workers(workers);
    Ok(())
}

/// Forks one worker. The child never returns from this function: it serves, then exits.
fn spawn_worker(
    config: &Config,
    listener: &TcpListener,
    master: Pid,
    slot: usize,
) -> anyhow::Result<Pid> {
    // SAFETY: the master is single-threaded (no thread or runtime is ever started in it), so
    // the child may run ordinary Rust code after the fork.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let code = match worker(config, listener, master) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("{}: worker {slot}: {e:#}", crate::program());
                    1
                }
            };
            std::process::exit(code);
        }
    }
}

/// One worker: the sequential server, accepting on the shared socket.
fn worker(config: &Config, listener: &TcpListener, master: Pid) -> anyhow::Result<()> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).context("PR_SET_PDEATHSIG")?;
    if getppid() != master {
        return Ok(()); // The master died before the death signal was armed.
    }
    super::sequential::serve_one_at_a_time(config, listener)
}

/// SIGTERM to every worker, a grace period to finish, SIGKILL to the rest, and reap them all.
fn stop_workers(mut workers: HashMap<Pid, usize>) {
    for pid in workers.keys() {
        let _ = kill(*pid, Signal::SIGTERM);
    }
    let deadline = Instant::now() + shutdown::GRACE + Duration::from_millis(300);
    while !workers.is_empty() && Instant::now() < deadline {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _)) => {
                workers.remove(&pid);
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break, // ECHILD: nothing left to reap.
        }
    }
    for pid in workers.keys() {
        let _ = kill(*pid, Signal::SIGKILL);
        let _ = waitpid(*pid, None);
    }
}
