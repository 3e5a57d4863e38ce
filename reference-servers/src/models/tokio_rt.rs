//! The tokio server: a multi-threaded runtime with one worker thread per available core, an
//! accept loop, and a task per connection that reads and writes the two halves of the socket.
//!
//! Profile: `stream,forever,concurrent,c10k` (`--oneshot` for one read and reply). A semaphore
//! of `--max-conns` permits caps live connections; `write_all` suspends a task whose client
//! stops reading, which stops its reads too (backpressure). EMFILE on accept sleeps 100 ms.
//! On SIGTERM the listener closes, tasks get the grace period, and the runtime is shut down.
//! The runtime is built only after any privilege drop, so all its threads start dropped.
//!
//! Run it: `echo-server --model tokio --port 50007`.
//!
//! With `--transport udp` or `both` one more task owns a `tokio::net::UdpSocket`: it receives
//! into a 64 KiB buffer and answers with `try_send_to`, so a full send buffer drops that answer
//! (UDP allows it) instead of stalling the task; the TCP tasks never wait for it.
//!
//! The seed has no async model; this is the Rust counterpart of its closing advice to "use a
//! language built for that", shaped like tokio's own `examples/echo-tcp.rs`.
//!
//! It reads 32 KiB at a time (`READ_CHUNK`) into one buffer per runtime thread, and waits for
//! input in the stream's reader waker slot (`poll_read_ready`); `docs/model-tuning.md` has the
//! measurements against the minimal tokio echo (`echo-peer-tokio`) behind both.
//!
//! The lesson: async tasks give each connection straight-line code, as a thread does, for the
//! price of a task and a socket instead of a thread and its stack.

use std::io::ErrorKind;
use std::net::{TcpListener as StdListener, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::Semaphore;

use crate::flags::Config;
use crate::os;
use crate::session::{Session, DRAIN_LIMIT, ONESHOT_MAX};
use crate::shutdown;
use crate::transform::{Transform, Transformer};
use crate::udp;

/// Builds the runtime and serves until SIGTERM or SIGINT.
pub fn run(config: &Config, listener: StdListener) -> anyhow::Result<()> {
    serve_sockets(config, Some(listener), None)
}

/// Builds the runtime and serves a TCP listener, a UDP socket, or both until SIGTERM or SIGINT.
pub fn serve_sockets(
    config: &Config,
    listener: Option<StdListener>,
    datagrams: Option<StdUdpSocket>,
) -> anyhow::Result<()> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let result = runtime.block_on(serve(config.clone(), listener, datagrams));
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}

async fn serve(
    config: Config,
    listener: Option<StdListener>,
    datagrams: Option<StdUdpSocket>,
) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let udp_task = match datagrams {
        Some(socket) => {
            socket.set_nonblocking(true)?;
            Some(tokio::spawn(udp_echo(UdpSocket::from_std(socket)?)))
        }
        None => None,
    };
    let result = match listener {
        Some(listener) => serve_tcp(&config, listener, &mut term, &mut int).await,
        None => {
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            shutdown::request();
            Ok(())
        }
    };
    if let Some(task) = udp_task {
        task.abort();
    }
    result
}

/// Answers datagrams until the task is aborted at SIGTERM. Receive errors are logged and
/// survived; an answer that would block is dropped and counted.
async fn udp_echo(socket: UdpSocket) {
    let mut buf = vec![0u8; udp::RECV_BUF];
    let mut stats = udp::Stats::default();
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, peer)) => match socket.try_send_to(&buf[..n], peer) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => udp::note_drop(&mut stats),
                Err(e) => udp::log_error("send_to", &e),
            },
            Err(e) => udp::log_error("recv_from", &e),
        }
    }
}

/// The accept loop: a task per connection, under the `--max-conns` semaphore, until a signal;
/// then the connections get the grace period.
async fn serve_tcp(
    config: &Config,
    listener: StdListener,
    term: &mut Signal,
    int: &mut Signal,
) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    let permits = Arc::new(Semaphore::new(config.max_conns));
    loop {
        let permit = tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            permit = Arc::clone(&permits).acquire_owned() => permit?,
        };
        let stream = tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) if os::is_resource_exhaustion(&e) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(_) => continue, // Aborted or reset before we took it.
            },
        };
        let _ = stream.set_nodelay(true);
        let (session, transform) = (config.session, config.transform);
        tokio::spawn(async move {
            let _ = handle(stream, session, transform).await;
            drop(permit);
        });
    }
    drop(listener);
    shutdown::request();
    // Every connection gives its permit back when it ends: wait for all of them, or the grace.
    let all = u32::try_from(config.max_conns).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(shutdown::GRACE, permits.acquire_many(all)).await;
    Ok(())
}

/// Bytes read per syscall at most. 32 KiB, not 64: a 64 KiB echo write leaves the loopback as a
/// full segment and a 53-byte runt, which halves throughput (figures in `docs/model-tuning.md`).
const READ_CHUNK: usize = 32 * 1024;

thread_local! {
    /// One read buffer per runtime thread, so an idle connection holds no buffer of its own:
    /// 10 000 idle connections then cost a task and a socket each, not 10 000 buffers.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; READ_CHUNK]);
}

/// Waits until the socket is readable, then reads once into the thread's buffer and writes what
/// it can of the reply straight away; returns the part still to write (empty when all went out),
/// or `None` at EOF. Only an unwritten tail is copied, and the borrow of the buffer never spans
/// an await.
async fn read_reply(
    stream: &TcpStream,
    transform: &Transformer,
    max: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        // The stream's reader waker slot, not a queued waiter as `readable()` inserts and unlinks.
        std::future::poll_fn(|cx| stream.poll_read_ready(cx)).await?;
        let got = READ_BUF.with(|b| {
            let mut b = b.borrow_mut();
            let limit = max.min(b.len());
            let n = stream.try_read(&mut b[..limit])?;
            if n == 0 {
                return Ok(None);
            }
            let reply = transform.apply(&b[..n]);
            let sent = match stream.try_write(&reply) {
                Ok(w) => w,
                Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
                Err(e) => return Err(e),
            };
            Ok(Some(reply[sent..].to_vec()))
        });
        match got {
            Ok(rest) => return Ok(rest),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads and discards until EOF or an error.
async fn discard_until_eof(stream: &TcpStream) {
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        let got = READ_BUF.with(|b| stream.try_read(&mut b.borrow_mut()[..]));
        match got {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(_) => return,
        }
    }
}

async fn handle(
    mut stream: TcpStream,
    session: Session,
    transform: Transform,
) -> std::io::Result<()> {
    // Tasks run on pool threads; the prefix names the server process's main thread instead.
    let transform = transform.with_name("main");
    match session {
        Session::Stream => {
            while let Some(rest) = read_reply(&stream, &transform, READ_CHUNK).await? {
                if !rest.is_empty() {
                    stream.write_all(&rest).await?;
                }
            }
        }
        Session::Oneshot => {
            let Some(rest) = read_reply(&stream, &transform, ONESHOT_MAX).await? else {
                return Ok(());
            };
            stream.write_all(&rest).await?;
            stream.shutdown().await?;
            // Drain until EOF so that the close is a FIN, not a RST.
            let _ = tokio::time::timeout(DRAIN_LIMIT, discard_until_eof(&stream)).await;
            return Ok(());
        }
    }
    stream.shutdown().await
}
