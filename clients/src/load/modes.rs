//! The workers of each TCP load mode, on tokio. Each returns its own tally; `run_load` merges them.

use super::{kind_of, lean_congestion_control, LoadConfig, LoadMode, Worker};
use crate::payload::fill_seeded;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

/// Runs one worker per connection of a TCP mode on a tokio runtime sized to the available cores.
pub(super) fn run_tokio(
    cfg: &LoadConfig,
    measure_from: Instant,
    end: Instant,
) -> std::io::Result<Vec<Worker>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let n = match cfg.mode {
        LoadMode::ConnPerRequest { concurrency, .. } | LoadMode::ConnectOnly { concurrency } => {
            concurrency
        }
        LoadMode::PingPong { connections, .. }
        | LoadMode::Throughput { connections, .. }
        | LoadMode::HoldIdle { connections } => connections,
        LoadMode::Datagram { .. } => 0,
    };
    Ok(rt.block_on(async {
        let mut handles = Vec::new();
        for i in 0..n {
            let cfg = cfg.clone();
            handles.push(tokio::spawn(async move {
                match cfg.mode {
                    LoadMode::ConnPerRequest { payload, .. } => {
                        conn_per_request(&cfg, i, payload, measure_from, end).await
                    }
                    LoadMode::PingPong { payload, .. } => {
                        ping_pong(&cfg, i, payload, measure_from, end).await
                    }
                    LoadMode::Throughput { chunk, .. } => {
                        throughput(&cfg, i, chunk, measure_from, end).await
                    }
                    LoadMode::ConnectOnly { .. } => connect_only(&cfg, i, measure_from, end).await,
                    LoadMode::HoldIdle { .. } => hold_idle(&cfg, i, measure_from, end).await,
                    LoadMode::Datagram { .. } => Worker::new(),
                }
            }));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap_or_else(|_| {
                let mut w = Worker::new();
                w.error("task-panicked");
                w
            }));
        }
        out
    }))
}

/// Connects from `source`. A `persistent` connection carries many messages: it gets the lean
/// congestion control before the handshake sets up the default one, and Nagle off, so that a
/// small write goes at once. A connection per request writes once and needs neither (Nagle
/// never holds the first segment back), which saves it two system calls.
async fn connect(
    cfg: &LoadConfig,
    source: Option<IpAddr>,
    persistent: bool,
) -> std::io::Result<TcpStream> {
    let socket = if cfg.addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if persistent {
        lean_congestion_control(&socket);
    }
    if let Some(src) = source {
        // The port is picked at connect time, by the whole 4-tuple, as a plain connect picks it;
        // a bind that reserves a port first must skip every port in TIME_WAIT, and slows down
        // as a run leaves tens of thousands of them.
        if src.is_ipv4() {
            nix::sys::socket::setsockopt(
                &socket,
                nix::sys::socket::sockopt::IpBindAddressNoPort,
                &true,
            )
            .map_err(std::io::Error::from)?;
        }
        socket.bind(SocketAddr::new(src, 0))?;
    }
    let stream = timeout(cfg.op_timeout, socket.connect(cfg.addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    if persistent {
        stream.set_nodelay(true)?;
    }
    Ok(stream)
}

/// Connects from the `k`-th source address (in turn), counting a failure in `w`; `persistent`
/// as for [`connect`].
async fn open(cfg: &LoadConfig, k: usize, w: &mut Worker, persistent: bool) -> Option<TcpStream> {
    match connect(cfg, cfg.source(k), persistent).await {
        Ok(s) => Some(s),
        Err(e) => {
            w.error(kind_of(&e));
            None
        }
    }
}

async fn exchange(
    stream: &mut TcpStream,
    out: &[u8],
    back: &mut [u8],
    limit: Duration,
) -> Result<(), &'static str> {
    let io = async {
        stream.write_all(out).await?;
        stream.read_exact(back).await?;
        Ok::<_, std::io::Error>(())
    };
    match timeout(limit, io).await {
        Err(_) => Err("timeout"),
        Ok(Err(e)) => Err(kind_of(&e)),
        Ok(Ok(())) if back != out => Err("mismatch"),
        Ok(Ok(())) => Ok(()),
    }
}

async fn conn_per_request(
    cfg: &LoadConfig,
    index: usize,
    payload: usize,
    from: Instant,
    end: Instant,
) -> Worker {
    let mut w = Worker::new();
    let mut out = vec![0u8; payload];
    let mut back = vec![0u8; payload];
    let mut n: u64 = 0;
    while Instant::now() < end {
        n += 1;
        fill_seeded(index as u64, n * payload as u64, &mut out);
        let t = Instant::now();
        let Some(mut stream) = open(cfg, index + n as usize, &mut w, false).await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        match exchange(&mut stream, &out, &mut back, cfg.op_timeout).await {
            Ok(()) => w.completed(t, from, payload),
            Err(kind) => w.error(kind),
        }
    }
    w
}

async fn ping_pong(
    cfg: &LoadConfig,
    index: usize,
    payload: usize,
    from: Instant,
    end: Instant,
) -> Worker {
    let mut w = Worker::new();
    let Some(mut stream) = open(cfg, index, &mut w, true).await else {
        return w;
    };
    let mut out = vec![0u8; payload];
    let mut back = vec![0u8; payload];
    let mut n: u64 = 0;
    while Instant::now() < end {
        n += 1;
        fill_seeded(index as u64, n * payload as u64, &mut out);
        let t = Instant::now();
        match exchange(&mut stream, &out, &mut back, cfg.op_timeout).await {
            Ok(()) => w.completed(t, from, payload),
            Err(kind) => {
                w.error(kind);
                return w;
            }
        }
    }
    w
}

async fn throughput(
    cfg: &LoadConfig,
    index: usize,
    chunk: usize,
    from: Instant,
    end: Instant,
) -> Worker {
    let mut w = Worker::new();
    let Some(stream) = open(cfg, index, &mut w, true).await else {
        return w;
    };
    // One random block, repeated: the reader checks each byte against block[offset % len] at memcmp speed.
    let mut block = vec![0u8; 64 * 1024];
    fill_seeded(index as u64 ^ 0x5eed, 0, &mut block);
    let (mut rd, mut wr) = stream.into_split();
    let writer_block = block.clone();
    let op_timeout = cfg.op_timeout;
    let writer = tokio::spawn(async move {
        let mut off = 0usize;
        while Instant::now() < end {
            let start = off % writer_block.len();
            let n = chunk.min(writer_block.len() - start);
            match timeout(op_timeout, wr.write_all(&writer_block[start..start + n])).await {
                Ok(Ok(())) => off += n,
                _ => return Err("write"),
            }
        }
        let _ = wr.shutdown().await;
        Ok(off as u64)
    });
    let mut buf = vec![0u8; 256 * 1024];
    let mut off: u64 = 0;
    let mut counted: u64 = 0;
    loop {
        match timeout(op_timeout, rd.read(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                let mut i = 0;
                while i < n {
                    let pos = ((off + i as u64) % block.len() as u64) as usize;
                    let take = (n - i).min(block.len() - pos);
                    if buf[i..i + take] != block[pos..pos + take] {
                        w.error("mismatch");
                        return w;
                    }
                    i += take;
                }
                off += n as u64;
                let now = Instant::now();
                if now >= from && now < end {
                    counted += n as u64;
                }
            }
            Ok(Err(e)) => {
                w.error(kind_of(&e));
                break;
            }
            Err(_) => {
                w.error("timeout");
                break;
            }
        }
    }
    match writer.await {
        Ok(Ok(sent)) if sent != off => w.error("short-echo"),
        Ok(Err(kind)) => w.error(kind),
        _ => {}
    }
    w.bytes = counted;
    w
}

/// Connects and waits for the server's close (an accept-and-close server closes at once), again.
async fn connect_only(cfg: &LoadConfig, index: usize, from: Instant, end: Instant) -> Worker {
    let mut w = Worker::new();
    let mut n: usize = 0;
    let mut byte = [0u8; 1];
    while Instant::now() < end {
        n += 1;
        let t = Instant::now();
        let Some(mut stream) = open(cfg, index + n, &mut w, false).await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        match timeout(cfg.op_timeout, stream.read(&mut byte)).await {
            Ok(Ok(0)) => w.completed(t, from, 0),
            Ok(Ok(_)) => w.error("unexpected-data"),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                w.completed(t, from, 0)
            }
            Ok(Err(e)) => w.error(kind_of(&e)),
            Err(_) => w.error("timeout"),
        }
    }
    w
}

/// Opens one connection and holds it idle until the end of the window (and a little past it, so
/// the server's memory is sampled with every connection open).
async fn hold_idle(cfg: &LoadConfig, index: usize, from: Instant, end: Instant) -> Worker {
    let mut w = Worker::new();
    let t = Instant::now();
    let Some(stream) = open(cfg, index, &mut w, false).await else {
        return w;
    };
    // Opens are what this mode measures, so they count from the start, warm-up or not.
    w.completed(t, t.min(from), 0);
    w.last_done = Some(Instant::now());
    tokio::time::sleep_until((end + Duration::from_millis(100)).into()).await;
    drop(stream);
    w
}
