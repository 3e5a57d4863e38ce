//! Mutants whose defect is in how they live, accept or share connections: the echo of each
//! connection is correct, what goes wrong is around it.

use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{announce, bind, serve_sequential, serve_threaded, stream_echo, Flags, Mutant};
use crate::accept;
use crate::session::{echo_stream, read_some};
use crate::shutdown;
use crate::transform::Transform;

/// The lifecycle and concurrency mutants.
pub fn mutants() -> Vec<Mutant> {
    vec![
        Mutant { name: "exit-at-once", case: "-", defect: "prints an error and exits 1 immediately, without binding", run: exit_at_once },
        Mutant { name: "die-after-first", case: "lifecycle.connect-close.200", defect: "serves one connection correctly, then exits with status 1", run: die_after_first },
        Mutant { name: "sequential-stream", case: "concurrency.idle-does-not-block", defect: "a sequential accept loop with full stream echo (no concurrency)", run: sequential_stream },
        Mutant { name: "cross-talk", case: "concurrency.clients.50", defect: "every fourth 1 KiB read is echoed into the previously accepted connection while that one is open", run: cross_talk },
        Mutant { name: "single-keeps-listening", case: "lifecycle.single.exits", defect: "serves one connection, then keeps the listener open and never exits", run: single_keeps_listening },
        Mutant { name: "oneshot-reset-dies", case: "oneshot.reset.next-served", defect: "the seed's loop without its faults hidden: one recv(1024), one reply, close, and any error on a connection ends the process with status 1", run: oneshot_reset_dies },
        Mutant { name: "daemonize-leak", case: "-", defect: "double-forks a helper into a session of its own (setsid, fork, the middle process exits) before serving correctly: a daemon the runner must still find and end", run: daemonize_leak },
        Mutant { name: "reset-breaks", case: "lifecycle.reset.next-served", defect: "after a client resets a connection the accept thread ends; the process stays up, listening, serving no one", run: reset_breaks },
    ]
}

fn exit_at_once(_: &Flags) -> anyhow::Result<()> {
    eprintln!(
        "{}: exit-at-once: giving up before binding anything",
        crate::program()
    );
    std::process::exit(1);
}

fn die_after_first(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "die-after-first", |stream| {
        stream_echo(stream);
        eprintln!(
            "{}: die-after-first: crashing after the first connection",
            crate::program()
        );
        std::process::exit(1);
    })
}

fn oneshot_reset_dies(flags: &Flags) -> anyhow::Result<()> {
    let listener = bind(flags, None)?;
    announce("oneshot-reset-dies", &listener)?;
    accept::accept_loop(
        &listener,
        || true,
        |mut stream, _| {
            let mut buf = [0u8; crate::session::ONESHOT_MAX];
            let served = read_some(&mut stream, &mut buf)
                .and_then(|n| stream.write_all(&buf[..n.unwrap_or(0)]));
            // The defect: an error on one connection is not caught, so it ends the server.
            if let Err(e) = served {
                eprintln!("{}: oneshot-reset-dies: {e}; exiting", crate::program());
                std::process::exit(1);
            }
            ControlFlow::Continue(())
        },
    )?;
    Ok(())
}

fn daemonize_leak(flags: &Flags) -> anyhow::Result<()> {
    use nix::unistd::{fork, setsid, ForkResult};
    let listener = bind(flags, None)?;
    // SAFETY: single-threaded here; the children only call setsid, fork, _exit and sleep.
    if let ForkResult::Child = unsafe { fork() }? {
        let _ = setsid();
        // SAFETY: as above.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => loop {
                // The leaked daemon: no parent of the server's, no process group of its own.
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
            _ => unsafe { libc::_exit(0) },
        }
    }
    announce("daemonize-leak", &listener)?;
    super::thread_per_connection(&listener, stream_echo)
}

fn sequential_stream(flags: &Flags) -> anyhow::Result<()> {
    serve_sequential(flags, "sequential-stream", stream_echo)
}

/// Open connections by accept order, so that a handler can find the one accepted before its own.
type Registry = Arc<Mutex<HashMap<u64, TcpStream>>>;

fn cross_talk(flags: &Flags) -> anyhow::Result<()> {
    let registry: Registry = Arc::default();
    let counter = Arc::new(AtomicU64::new(0));
    serve_threaded(flags, "cross-talk", move |mut stream| {
        let id = counter.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            registry.lock().unwrap().insert(id, clone);
        }
        let mut buf = [0u8; 1024];
        let mut reads = 0u64;
        while let Ok(Some(n)) = read_some(&mut stream, &mut buf) {
            if n == 0 {
                let _ = stream.shutdown(Shutdown::Write);
                break;
            }
            // The defect: the first of every four reads goes to the previous connection.
            let previous = (reads & 3 == 0 && id > 0)
                .then(|| {
                    registry
                        .lock()
                        .unwrap()
                        .get(&(id - 1))
                        .and_then(|s| s.try_clone().ok())
                })
                .flatten();
            reads += 1;
            let written = match previous {
                Some(mut other) => other.write_all(&buf[..n]).or(Ok(())),
                None => stream.write_all(&buf[..n]),
            };
            if written.is_err() {
                break;
            }
        }
        registry.lock().unwrap().remove(&id);
    })
}

fn single_keeps_listening(flags: &Flags) -> anyhow::Result<()> {
    let listener = bind(flags, None)?;
    announce("single-keeps-listening", &listener)?;
    if let Some((stream, _)) = accept::accept_one(&listener)? {
        stream_echo(stream);
    }
    // The defect: a `single` server that stays up with its listener open.
    shutdown::wait_for_stop();
    Ok(())
}

fn reset_breaks(flags: &Flags) -> anyhow::Result<()> {
    let listener = Arc::new(bind(flags, None)?);
    announce("reset-breaks", &listener)?;
    let broken = Arc::new(AtomicBool::new(false));
    let (acceptor_listener, seen) = (Arc::clone(&listener), Arc::clone(&broken));
    // The accept loop runs on its own thread, as in a server whose main thread supervises.
    std::thread::spawn(move || {
        let _ = accept::accept_loop(
            &acceptor_listener,
            // The defect: once any connection was reset, the acceptor never accepts again,
            // while the listener stays open and the process stays up.
            || !seen.load(Ordering::SeqCst),
            |mut stream, _| {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || {
                    let result = echo_stream(&mut stream, &Transform::Identity.with_name("main"));
                    let reset = result.is_err_and(|e| {
                        matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)
                    });
                    if reset {
                        seen.store(true, Ordering::SeqCst);
                    }
                });
                ControlFlow::Continue(())
            },
        );
    });
    shutdown::wait_for_stop();
    drop(broken);
    Ok(())
}
