//! Mutants that echo correctly but break under hostile clients or over time: they buffer without
//! limit, die of SIGPIPE, accept too slowly, starve behind idle clients, spin on EMFILE, leak
//! descriptors or children, or abandon their connections on SIGTERM. The defects of
//! `sigpipe-dies` and `fd-leak` are shared with the double mutants.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use nix::poll::PollFlags;
use nix::sys::signal::{self, SigHandler, Signal};
use socket2::{Domain, Protocol, Socket, Type};

use super::echo::unchanged;
use super::{
    accept_threads, announce, bind, echo_with, serve_threaded, stream_echo, Flags, Mutant,
};
use crate::os::{self, wait_ready, TICK};
use crate::session::read_some;
use crate::shutdown;

/// The hostile-client and resource mutants.
pub fn mutants() -> Vec<Mutant> {
    vec![
        Mutant { name: "unbounded-buffer", case: "hostile.slow-reader.bounded-memory", defect: "a reader thread queues everything it reads for a writer thread without limit, so a client that does not read grows the server's memory", run: unbounded_buffer },
        Mutant { name: "sigpipe-dies", case: "hostile.reset-during-echo", defect: "restores the default SIGPIPE action and ignores write(2) errors, so writing on after a client's reset kills the process", run: sigpipe_dies },
        Mutant { name: "slow-accept", case: "hostile.storm.2000", defect: "a listen backlog of 8 and a 20 ms pause after every accept: a burst of connects overflows the queue and times out", run: slow_accept },
        Mutant { name: "short-backlog", case: "hostile.storm.2000", defect: "listens with a backlog of 5 (Python socketserver's default request_queue_size) and, like an interpreted server starting a thread, spends 2 ms per accept, so a burst of clients connecting at once overflows the accept queue and some are never accepted", run: short_backlog },
        Mutant { name: "pool-of-8", case: "hostile.idle-holders.100", defect: "eight threads each serve one connection at a time, so eight idle clients starve everyone else", run: pool_of_8 },
        Mutant { name: "emfile-spin", case: "hostile.emfile.recovers", defect: "retries accept at once on EMFILE, spinning a core while the descriptor limit is reached", run: emfile_spin },
        Mutant { name: "fd-leak", case: "resources.no-leaks", defect: "shuts down its side at the end of a connection but never closes the descriptor", run: fd_leak },
        Mutant { name: "zombie-children", case: "resources.no-leaks", defect: "forks a child per connection and never reaps it", run: zombie_children },
        Mutant { name: "term-abandons", case: "resources.sigterm.graceful", defect: "on SIGTERM exits 0 at once, cutting the connections in flight", run: term_abandons },
        Mutant { name: "fat-connections", case: "scale.c10k", defect: "an async server that gives every connection its own 32 KiB buffer, filled, from the start: 10 000 idle clients cost over 300 MiB", run: fat_connections },
        Mutant { name: "no-reuseaddr", case: "lifecycle.restart.same-port", defect: "binds without SO_REUSEADDR, so it cannot start again while its old connections linger in FIN_WAIT or TIME_WAIT", run: no_reuseaddr },
        Mutant { name: "stale-pidfile", case: "lifecycle.restart.after-kill", defect: "refuses to start while its pid file exists, and only a clean exit removes it", run: stale_pidfile },
        Mutant { name: "term-orphans", case: "resources.sigterm.graceful", defect: "pre-forks two workers; on SIGTERM the parent exits 0 and leaves them running", run: term_orphans },
    ]
}

/// The most a connection of `unbounded-buffer` queues before it gives up, so that a client
/// cannot make the mutant exhaust the machine's memory.
const QUEUE_LIMIT: usize = 512 * 1024 * 1024;

fn unbounded_buffer(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "unbounded-buffer", |mut stream| {
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let pump = std::thread::spawn(move || {
            for chunk in rx {
                if writer.write_all(&chunk).is_err() {
                    return;
                }
            }
            let _ = writer.shutdown(std::net::Shutdown::Write);
        });
        let mut queued = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(Some(n)) = read_some(&mut stream, &mut buf) {
            if n == 0 || queued > QUEUE_LIMIT || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
            queued += n;
        }
        drop(tx);
        let _ = pump.join();
    })
}

fn sigpipe_dies(flags: &Flags) -> anyhow::Result<()> {
    restore_default_sigpipe()?;
    serve_threaded(flags, "sigpipe-dies", |mut stream| {
        echo_unchecked(&mut stream, unchanged)
    })
}

/// Restores the default action of SIGPIPE (Rust's runtime ignores it): with [`echo_unchecked`],
/// the defect of `sigpipe-dies`.
pub fn restore_default_sigpipe() -> anyhow::Result<()> {
    // SAFETY: restoring the default disposition of SIGPIPE has no preconditions.
    unsafe { signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }.context("restoring SIGPIPE")?;
    Ok(())
}

/// A stream echo of what `reply` makes of each read, written with one unchecked write(2) per
/// read; ends with a FIN after the client's FIN.
pub fn echo_unchecked(stream: &mut TcpStream, mut reply: impl FnMut(&[u8], &mut Vec<u8>)) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    while let Ok(Some(n)) = read_some(stream, &mut buf) {
        if n == 0 {
            let _ = stream.shutdown(std::net::Shutdown::Write);
            return;
        }
        out.clear();
        reply(&buf[..n], &mut out);
        if out.is_empty() {
            continue;
        }
        // The defect, as in C code that never checks write(2): an error (or a short write) is
        // ignored and the loop reads on. Unlike std's send(MSG_NOSIGNAL), write(2) raises
        // SIGPIPE once the connection is broken.
        // SAFETY: the pointer and length describe initialised bytes of `out`.
        let _ = unsafe { libc::write(stream.as_raw_fd(), out.as_ptr().cast(), out.len()) };
    }
}

fn slow_accept(flags: &Flags) -> anyhow::Result<()> {
    // The defect: the accept loop itself pauses, so the short queue overflows.
    short_queue_slow_accept(flags, "slow-accept", 8, Duration::from_millis(20))
}

fn short_backlog(flags: &Flags) -> anyhow::Result<()> {
    // The defect: a queue of five (`--backlog` changes it) before an accept loop that spends what
    // CPython's ThreadingTCPServer spends per connection; with a backlog deeper than a burst
    // (`--backlog 1024` against the storm's 500) that costs it nothing but time.
    let backlog = flags.backlog.unwrap_or(5);
    short_queue_slow_accept(flags, "short-backlog", backlog, Duration::from_millis(2))
}

/// A thread-per-connection echo that listens with `backlog` and pauses `pause` after each accept.
fn short_queue_slow_accept(
    flags: &Flags,
    name: &str,
    backlog: i32,
    pause: Duration,
) -> anyhow::Result<()> {
    let port = flags
        .port
        .ok_or_else(|| crate::exit::coded(crate::exit::USAGE, "--port is required"))?;
    let addr = SocketAddr::new(flags.bind, port);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    let listener: TcpListener = socket.into();
    announce(name, &listener)?;
    let mut threads = Vec::new();
    crate::accept::accept_loop(
        &listener,
        || true,
        |stream, _| {
            threads.retain(|t: &std::thread::JoinHandle<()>| !t.is_finished());
            threads.push(std::thread::spawn(move || stream_echo(stream)));
            std::thread::sleep(pause);
            std::ops::ControlFlow::Continue(())
        },
    )?;
    // A correct server in all but its queue: the connections in flight at SIGTERM finish.
    super::finish(threads);
    Ok(())
}

fn pool_of_8(flags: &Flags) -> anyhow::Result<()> {
    let listener = bind(flags, None)?;
    announce("pool-of-8", &listener)?;
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                while !shutdown::requested() {
                    if let Ok(Some((stream, _))) = crate::accept::accept_one(&listener) {
                        stream_echo(stream);
                    }
                }
            });
        }
    });
    Ok(())
}

fn emfile_spin(flags: &Flags) -> anyhow::Result<()> {
    let listener = bind(flags, None)?;
    announce("emfile-spin", &listener)?;
    listener.set_nonblocking(true)?;
    while !shutdown::requested() {
        match listener.accept() {
            Ok((stream, _)) => {
                if os::prepare_blocking(&stream).is_ok() {
                    std::thread::spawn(move || stream_echo(stream));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                wait_ready(listener.as_fd(), PollFlags::POLLIN, TICK)?;
            }
            // The defect: EMFILE leaves the connection queued, the listener stays readable,
            // and the loop comes straight back here.
            Err(_) => {}
        }
    }
    Ok(())
}

fn fd_leak(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "fd-leak", |mut stream| {
        echo_with(&mut stream, unchanged);
        keep_descriptor(stream);
    })
}

/// Ends a connection the way `fd-leak` does: shuts down both directions, so the client sees its
/// end, and never closes the descriptor.
pub fn keep_descriptor(stream: TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Both);
    std::mem::forget(stream);
}

fn zombie_children(flags: &Flags) -> anyhow::Result<()> {
    let listener = bind(flags, None)?;
    announce("zombie-children", &listener)?;
    crate::accept::accept_loop(
        &listener,
        || true,
        |stream, _| {
            // SAFETY: the process is single-threaded here (no thread was started), and the child
            // only echoes and calls _exit.
            match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => {
                    stream_echo(stream);
                    // SAFETY: _exit ends the child without running the parent's destructors.
                    unsafe { libc::_exit(0) }
                }
                Ok(nix::unistd::ForkResult::Parent { .. }) | Err(_) => drop(stream),
            }
            std::ops::ControlFlow::Continue(())
        },
    )?;
    Ok(())
}

fn term_abandons(flags: &Flags) -> anyhow::Result<()> {
    let listener = bind(flags, None)?;
    announce("term-abandons", &listener)?;
    let _abandoned = accept_threads(&listener, stream_echo)?;
    // The accept loop ended on SIGTERM: leaving main now ends every connection thread with it.
    std::process::exit(0);
}

fn term_orphans(flags: &Flags) -> anyhow::Result<()> {
    let listener = bind(flags, None)?;
    let mut workers = Vec::new();
    for _ in 0..2 {
        // SAFETY: the process is single-threaded here; the child only serves and exits.
        match unsafe { nix::unistd::fork() }? {
            nix::unistd::ForkResult::Child => {
                // The workers ignore SIGTERM, as a worker waiting for its master's word would.
                // SAFETY: ignoring a signal has no preconditions.
                let _ = unsafe { signal::signal(Signal::SIGTERM, SigHandler::SigIgn) };
                // Each worker serves its connections on threads of their own, so the pair is
                // concurrent: its one defect is what SIGTERM leaves behind.
                loop {
                    if let Ok((stream, _)) = listener.accept() {
                        std::thread::spawn(move || stream_echo(stream));
                    }
                }
            }
            nix::unistd::ForkResult::Parent { child } => workers.push(child),
        }
    }
    announce("term-orphans", &listener)?;
    shutdown::wait_for_stop();
    eprintln!(
        "{}: term-orphans: leaving workers {workers:?} behind",
        crate::program()
    );
    std::process::exit(0);
}

/// The buffer `fat-connections` gives every connection from its start.
const FAT_BUFFER: usize = 32 * 1024;

fn fat_connections(flags: &Flags) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = bind(flags, None)?;
    announce("fat-connections", &listener)?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        while !shutdown::requested() {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((mut stream, _)) = accepted else { continue };
                    tokio::spawn(async move {
                        // The defect: a filled buffer per connection, idle or not.
                        let mut buf = vec![0xA5u8; FAT_BUFFER];
                        loop {
                            let n = match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if stream.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                }
                () = tokio::time::sleep(TICK) => {}
            }
        }
        Ok(())
    })
}

fn no_reuseaddr(flags: &Flags) -> anyhow::Result<()> {
    let port = flags
        .port
        .ok_or_else(|| crate::exit::coded(crate::exit::USAGE, "--port is required"))?;
    let addr = SocketAddr::new(flags.bind, port);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // The defect: no set_reuse_address(true) before bind.
    socket
        .bind(&addr.into())
        .with_context(|| format!("cannot bind {addr}"))?;
    socket.listen(128)?;
    let listener: TcpListener = socket.into();
    announce("no-reuseaddr", &listener)?;
    super::thread_per_connection(&listener, stream_echo)
}

fn stale_pidfile(flags: &Flags) -> anyhow::Result<()> {
    let port = flags.port.unwrap_or(0);
    // Keyed by the launcher's pid as well as the port, so a file left by an earlier run (whose
    // launcher is gone) is swept away here and never blocks an unrelated start.
    let dir = std::env::temp_dir().join("echo-mutant-pidfiles");
    std::fs::create_dir_all(&dir)?;
    sweep_orphaned_pidfiles(&dir);
    let parent = nix::unistd::getppid();
    let path = dir.join(format!("{parent}.{port}.pid"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| {
            format!(
                "pid file {} exists: is another instance running?",
                path.display()
            )
        })?;
    writeln!(file, "{}", std::process::id())?;
    let served = serve_threaded(flags, "stale-pidfile", stream_echo);
    // Only a clean exit (SIGTERM) gets here; SIGKILL leaves the file behind.
    let _ = std::fs::remove_file(&path);
    served
}

/// Removes the pid files whose launcher (the first part of the name) no longer runs.
fn sweep_orphaned_pidfiles(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let launcher = name.to_str().and_then(|n| n.split('.').next());
        if launcher.is_some_and(|pid| !std::path::Path::new("/proc").join(pid).exists()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
