//! The load client: drives a server hard on tokio, checking every echo in full, and measures
//! rate, throughput and latency (hdrhistogram, warm-up excluded).
//!
//! Three modes: a connection per request (connect, send, read the whole echo, close), persistent
//! ping-pong over N connections, and full-duplex throughput. Connections per request spread over
//! several source addresses (127.0.0.x) so the run measures the server and not TIME_WAIT, and a
//! connect that fails for want of a local port is counted as `port-exhaustion`, never hidden.

use crate::payload::fill_seeded;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

/// What the load looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMode {
    /// `concurrency` workers each connect, send `payload` bytes, read the echo, close, again.
    ConnPerRequest {
        /// Workers in flight.
        concurrency: usize,
        /// Bytes per request.
        payload: usize,
    },
    /// `connections` persistent connections each send `payload` bytes and wait for the echo, again.
    PingPong {
        /// Persistent connections.
        connections: usize,
        /// Bytes per message.
        payload: usize,
    },
    /// `connections` connections each write and read at once, as fast as the server echoes.
    Throughput {
        /// Connections.
        connections: usize,
        /// Bytes per write.
        chunk: usize,
    },
}

/// A load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The server.
    pub addr: SocketAddr,
    /// The load.
    pub mode: LoadMode,
    /// Measured time, after the warm-up.
    pub duration: Duration,
    /// Time at the start whose operations are not measured.
    pub warmup: Duration,
    /// Source addresses to spread connections over (IPv4 loopback only).
    pub sources: Vec<IpAddr>,
    /// Deadline of any single network operation.
    pub op_timeout: Duration,
}

impl LoadConfig {
    /// Defaults: 2 s measured after 0.3 s warm-up, sources 127.0.0.1–127.0.0.8, 2 s per operation.
    pub fn new(addr: SocketAddr, mode: LoadMode) -> Self {
        let sources = if addr.ip().is_loopback() && addr.is_ipv4() {
            (1..=8)
                .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
                .collect()
        } else {
            Vec::new()
        };
        LoadConfig {
            addr,
            mode,
            duration: Duration::from_secs(2),
            warmup: Duration::from_millis(300),
            sources,
            op_timeout: Duration::from_secs(2),
        }
    }
}

/// What a load run measured.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Operations completed and verified in the measured window (requests, messages or 0 for throughput).
    pub ops: u64,
    /// Echoed bytes verified in the measured window.
    pub bytes: u64,
    /// Length of the measured window.
    pub seconds: f64,
    /// Latency percentiles in microseconds: p50, p99, p99.9 (0 for throughput).
    pub latency_us: [u64; 3],
    /// Errors by kind (`connect`, `timeout`, `mismatch`, `reset`, `port-exhaustion`, …).
    pub errors: BTreeMap<String, u64>,
    /// The client's own CPU use over the run, in cores (1.0 = one core busy).
    pub client_cpu: f64,
}

impl LoadReport {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }

    /// Echoed bytes per second.
    pub fn throughput(&self) -> f64 {
        self.bytes as f64 / self.seconds.max(1e-9)
    }
}

struct Worker {
    hist: Histogram<u64>,
    ops: u64,
    bytes: u64,
    errors: BTreeMap<String, u64>,
}

impl Worker {
    fn new() -> Self {
        Worker {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            ops: 0,
            bytes: 0,
            errors: BTreeMap::new(),
        }
    }
    fn error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_string()).or_insert(0) += 1;
    }

    /// Counts an operation that started at `t`, unless it started during the warm-up.
    fn completed(&mut self, t: Instant, from: Instant, bytes: usize) {
        if t >= from {
            self.ops += 1;
            self.bytes += bytes as u64;
            let _ = self.hist.record(t.elapsed().as_micros().max(1) as u64);
        }
    }
}

fn kind_of(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrNotAvailable => "port-exhaustion",
        std::io::ErrorKind::ConnectionRefused => "refused",
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => "reset",
        std::io::ErrorKind::UnexpectedEof => "early-eof",
        std::io::ErrorKind::TimedOut => "connect-timeout",
        _ => "io",
    }
}

/// Runs the load on a tokio runtime sized to the available cores and returns what it measured.
pub fn run_load(cfg: &LoadConfig) -> std::io::Result<LoadReport> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let end = measure_from + cfg.duration;
    let workers: Vec<Worker> = rt.block_on(async {
        let n = match cfg.mode {
            LoadMode::ConnPerRequest { concurrency, .. } => concurrency,
            LoadMode::PingPong { connections, .. } | LoadMode::Throughput { connections, .. } => {
                connections
            }
        };
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
    });
    let wall = start.elapsed().as_secs_f64();
    let mut report = LoadReport {
        seconds: cfg.duration.as_secs_f64(),
        client_cpu: (cpu_seconds() - cpu0) / wall.max(1e-9),
        ..Default::default()
    };
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
    for w in workers {
        report.ops += w.ops;
        report.bytes += w.bytes;
        let _ = hist.add(&w.hist);
        for (k, v) in w.errors {
            *report.errors.entry(k).or_insert(0) += v;
        }
    }
    if !hist.is_empty() {
        report.latency_us = [
            hist.value_at_quantile(0.5),
            hist.value_at_quantile(0.99),
            hist.value_at_quantile(0.999),
        ];
    }
    Ok(report)
}

async fn connect(cfg: &LoadConfig, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = if cfg.addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(src) = source {
        socket.bind(SocketAddr::new(src, 0))?;
    }
    let stream = timeout(cfg.op_timeout, socket.connect(cfg.addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Connects from the `k`-th source address (in turn), counting a failure in `w`.
async fn open(cfg: &LoadConfig, k: usize, w: &mut Worker) -> Option<TcpStream> {
    let source = (!cfg.sources.is_empty()).then(|| cfg.sources[k % cfg.sources.len()]);
    match connect(cfg, source).await {
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
        let Some(mut stream) = open(cfg, index + n as usize, &mut w).await else {
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
    let Some(mut stream) = open(cfg, index, &mut w).await else {
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
    let Some(stream) = open(cfg, index, &mut w).await else {
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

fn cpu_seconds() -> f64 {
    match nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
            t(u.user_time()) + t(u.system_time())
        }
        Err(_) => 0.0,
    }
}
