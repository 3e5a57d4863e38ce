//! One thread that forks every launched server, for the whole life of the runner.
//!
//! A server is launched with `PR_SET_PDEATHSIG = SIGKILL`, so that it dies with the runner even
//! when the runner is killed outright. Linux delivers that signal when the *thread* that forked
//! the child ends, not the process. Cases run on worker threads that come and go, and a server one
//! worker launched (a relaunch of the shared instance, say) may serve cases on other threads after
//! that worker is gone. So no worker forks: they hand the command to this thread, which lives until
//! the process exits, and get the child back.

use std::io;
use std::process::{Child, Command};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

type Request = (Command, Sender<io::Result<Child>>);

/// Spawns `cmd` from the keeper thread (started on first use) and returns the child.
pub fn spawn(cmd: Command) -> io::Result<Child> {
    static KEEPER: OnceLock<Option<Sender<Request>>> = OnceLock::new();
    let sender = KEEPER
        .get_or_init(start)
        .as_ref()
        .ok_or_else(|| io::Error::other("the thread that launches servers could not start"))?;
    let (answer, reply) = channel();
    sender
        .send((cmd, answer))
        .map_err(|_| io::Error::other("the thread that launches servers has ended"))?;
    reply
        .recv()
        .map_err(|_| io::Error::other("the thread that launches servers did not answer"))?
}

/// Starts the keeper; `None` when the thread cannot be created.
fn start() -> Option<Sender<Request>> {
    let (sender, requests) = channel::<Request>();
    std::thread::Builder::new()
        .name("echo-conform-launcher".into())
        .spawn(move || {
            // Ends only when every sender is gone, which the static one never is.
            for (mut cmd, answer) in requests {
                let _ = answer.send(cmd.spawn());
            }
        })
        .ok()?;
    Some(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_spawned_for_a_thread_that_ended_lives_on() {
        use std::os::unix::process::CommandExt;
        // The child asks for SIGKILL when its forking thread ends; that thread is the keeper.
        let child = std::thread::spawn(|| {
            let mut cmd = Command::new("sleep");
            cmd.arg("5");
            // SAFETY: prctl is async-signal-safe and touches no shared data.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            spawn(cmd).expect("spawn sleep")
        })
        .join()
        .expect("the worker thread");
        let mut child = child;
        std::thread::sleep(std::time::Duration::from_millis(200));
        let alive = child.try_wait().expect("try_wait").is_none();
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            alive,
            "the child died with the worker thread that asked for it"
        );
    }
}
