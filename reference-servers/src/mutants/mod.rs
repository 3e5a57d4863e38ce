//! Deliberately broken servers. Each single mutant has one defect, stated in one line, and the
//! spec case that must catch it; each of `double.rs` combines two defects single mutants show,
//! and names the case that catches each. `echo-mutant --list` prints them as
//! `NAME<TAB>CASE<TAB>defect`, CASE comma-separated for a double mutant.
//!
//! Unless its defect says otherwise, a mutant is a thread-per-connection stream echo server
//! with the same readiness convention as the models: bind and listen first, then one line on
//! stderr. The `udp-*` mutants serve UDP only and end their readiness line with ` (udp)`. The
//! privilege mutants bind port 7 by default and drop to nobody/nogroup, wrongly.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::ops::ControlFlow;

use clap::Parser;

use crate::accept;
use crate::listener;
use crate::session::read_some;
use crate::shutdown;
use crate::transform::Transform;

pub mod double;
pub mod echo;
pub mod hostile;
pub mod lifecycle;
pub mod privilege;
pub mod telnet;
pub mod udp;

/// One mutant: its name, the cases that must catch it, its defects, and how to run it.
pub struct Mutant {
    /// The name `--mutant` takes.
    pub name: &'static str,
    /// The spec case ID expected to FAIL against it (`-` when the runner's exit 3 catches it);
    /// for a mutant with several defects, the case that catches each, comma-separated, in the
    /// order its defect names them.
    pub case: &'static str,
    /// The defect (or the defects, joined by "and"), in one line.
    pub defect: &'static str,
    /// What it does once started.
    pub run: fn(&Flags) -> anyhow::Result<()>,
}

/// The command line of `echo-mutant`.
#[derive(Debug, Parser)]
#[command(
    name = "echo-mutant",
    version,
    about = "Deliberately broken echo servers, one defect each (two for the double mutants)"
)]
pub struct Flags {
    /// The mutant to run.
    #[arg(long, required_unless_present = "list")]
    pub mutant: Option<String>,
    /// The port (default: 7 for the privilege mutants; required for the others).
    #[arg(long)]
    pub port: Option<u16>,
    /// The address to bind.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Print `NAME<TAB>CASE<TAB>defect` for every mutant and exit.
    #[arg(long)]
    pub list: bool,
    /// `short-backlog` only: the backlog to listen with instead of its defective 5 (1024, deeper
    /// than a storm's burst, makes it the correct server it is compared with).
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=65535))]
    pub backlog: Option<i32>,
}

/// Every mutant, echo defects first, then the double mutants, lifecycle and concurrency,
/// hostile clients and resources, privilege, and last the UDP service and the address family.
pub fn all() -> Vec<Mutant> {
    let mut all = echo::mutants();
    all.extend(double::mutants());
    all.extend(lifecycle::mutants());
    all.extend(hostile::mutants());
    all.extend(telnet::mutants());
    all.extend(privilege::mutants());
    all.extend(udp::mutants());
    all
}

/// Runs `echo-mutant`.
pub fn run(flags: &Flags) -> anyhow::Result<()> {
    let mutants = all();
    if flags.list {
        let mut out = String::new();
        for m in &mutants {
            out.push_str(&format!("{}\t{}\t{}\n", m.name, m.case, m.defect));
        }
        return crate::print_stdout(&out);
    }
    let name = flags.mutant.as_deref().unwrap_or_default();
    let mutant = mutants.iter().find(|m| m.name == name).ok_or_else(|| {
        crate::exit::coded(
            crate::exit::USAGE,
            format!("no mutant named {name:?} (see --list)"),
        )
    })?;
    shutdown::install()?;
    (mutant.run)(flags)
}

/// Binds `--bind`:`--port`, or `default_port` when `--port` is not given.
pub fn bind(flags: &Flags, default_port: Option<u16>) -> anyhow::Result<TcpListener> {
    let port = flags
        .port
        .or(default_port)
        .ok_or_else(|| crate::exit::coded(crate::exit::USAGE, "--port is required"))?;
    listener::bind(SocketAddr::new(flags.bind, port))
}

/// Prints the readiness line, once the listener exists and any privilege work is done.
pub fn announce(name: &str, listener: &TcpListener) -> anyhow::Result<()> {
    eprintln!(
        "{}: {name} listening on {}",
        crate::program(),
        listener.local_addr()?
    );
    Ok(())
}

/// The thread-per-connection server most mutants are built on: `handle` runs on its own
/// thread for every connection until SIGTERM; then the connections in flight get the grace
/// period to finish, as a correct server's do.
pub fn thread_per_connection(
    listener: &TcpListener,
    handle: impl Fn(TcpStream) + Clone + Send + 'static,
) -> anyhow::Result<()> {
    finish(accept_threads(listener, handle)?);
    Ok(())
}

/// Waits, after SIGTERM, until the connection `threads` end or the grace period is over.
pub fn finish(threads: Vec<std::thread::JoinHandle<()>>) {
    while threads.iter().any(|t| !t.is_finished()) && !shutdown::grace_over() {
        std::thread::sleep(crate::os::TICK);
    }
}

/// The accept loop of [`thread_per_connection`], until SIGTERM: the connection threads still
/// running then, which the caller may wait for or abandon.
pub fn accept_threads(
    listener: &TcpListener,
    handle: impl Fn(TcpStream) + Clone + Send + 'static,
) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>> {
    let mut threads: Vec<std::thread::JoinHandle<()>> = Vec::new();
    accept::accept_loop(
        listener,
        || true,
        |stream, _peer| {
            threads.retain(|t| !t.is_finished());
            let handle = handle.clone();
            if let Ok(t) = std::thread::Builder::new().spawn(move || handle(stream)) {
                threads.push(t);
            }
            ControlFlow::Continue(())
        },
    )?;
    threads.retain(|t| !t.is_finished());
    Ok(threads)
}

/// A correct stream echo of one connection: the part of a mutant that is not its defect.
pub fn stream_echo(mut stream: TcpStream) {
    let _ = crate::session::echo_stream(&mut stream, &Transform::Identity.with_name("main"));
}

/// A stream echo whose reply to each read is whatever `reply` makes of it (nothing is written
/// when it makes nothing). Ends with a FIN after the client's FIN, as a correct server does; it
/// leaves closing the descriptor to the caller.
pub fn echo_with(stream: &mut TcpStream, mut reply: impl FnMut(&[u8], &mut Vec<u8>)) {
    let mut buf = [0u8; 16 * 1024];
    let mut out = Vec::new();
    while let Ok(Some(n)) = read_some(stream, &mut buf) {
        if n == 0 {
            let _ = stream.shutdown(Shutdown::Write);
            return;
        }
        out.clear();
        reply(&buf[..n], &mut out);
        if !out.is_empty() && stream.write_all(&out).is_err() {
            return;
        }
    }
}

/// Binds, announces and serves `handle` thread-per-connection: the whole of most mutants.
pub fn serve_threaded(
    flags: &Flags,
    name: &str,
    handle: impl Fn(TcpStream) + Clone + Send + 'static,
) -> anyhow::Result<()> {
    let listener = bind(flags, None)?;
    announce(name, &listener)?;
    thread_per_connection(&listener, handle)
}

/// Binds, announces and serves `handle` on the accept loop's own thread, one connection at a
/// time until SIGTERM: the defect of the sequential mutants.
pub fn serve_sequential(
    flags: &Flags,
    name: &str,
    mut handle: impl FnMut(TcpStream),
) -> anyhow::Result<()> {
    let listener = bind(flags, None)?;
    announce(name, &listener)?;
    accept::accept_loop(
        &listener,
        || true,
        |stream, _| {
            handle(stream);
            ControlFlow::Continue(())
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_cases_are_ids() {
        let all = all();
        let mut names: Vec<_> = all.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for m in &all {
            let ids = m.case.split(',');
            let is_id = |id: &str| id.contains('.') && !id.contains(char::is_whitespace);
            assert!(m.case == "-" || ids.clone().all(is_id), "{}", m.name);
            assert!(!m.defect.contains('\t') && !m.defect.contains('\n'));
            let mut sorted: Vec<_> = ids.collect();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), m.case.split(',').count(), "{}", m.name);
        }
    }

    #[test]
    fn double_mutants_name_a_case_for_each_defect() {
        let all = all();
        let doubles = double::mutants();
        assert!(doubles.len() >= 3);
        for d in &doubles {
            assert_eq!(d.case.split(',').count(), 2, "{}", d.name);
            assert!(d.defect.contains(" and "), "{}", d.name);
        }
        // Each double mutant's cases are those of the single mutants that show its defects.
        let expected = [
            ("nul-and-sequential", ["drop-nul", "sequential-stream"]),
            ("newline-and-fd-leak", ["newline", "fd-leak"]),
            ("strip-and-sigpipe", ["strip", "sigpipe-dies"]),
        ];
        let case = |name: &str| all.iter().find(|m| m.name == name).map(|m| m.case);
        for (double, singles) in expected {
            let joined = singles
                .map(|s| case(s).unwrap_or_else(|| panic!("{s}")))
                .join(",");
            assert_eq!(case(double), Some(joined.as_str()), "{double}");
        }
        // Listed right after the echo group.
        let first = all.iter().position(|m| m.name == doubles[0].name);
        assert_eq!(first, Some(echo::mutants().len()));
    }

    #[test]
    fn udp_and_family_mutants_keep_their_case_ids() {
        // The UDP cases are written against these exact names and IDs.
        let expected = [
            ("udp-truncate", "udp.echo.sizes"),
            ("udp-drop-empty", "udp.echo.empty"),
            ("udp-cstring", "udp.echo.all-bytes"),
            ("udp-other-source", "udp.echo.one-datagram"),
            ("udp-wrong-peer", "udp.reply-to-sender"),
            ("udp-twice", "udp.one-answer"),
            ("udp-shared-peer", "udp.many-senders"),
            ("udp-lossy", "udp.burst"),
            ("udp-icmp-dies", "udp.icmp-unreachable"),
            ("v6only", "family.dual-stack"),
        ];
        let all = all();
        for (name, case) in expected {
            let found = all.iter().find(|m| m.name == name);
            assert_eq!(found.map(|m| m.case), Some(case), "{name}");
        }
    }
}
