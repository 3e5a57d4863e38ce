//! The load client: drives a server hard on tokio (ping-pong and a connection per request on
//! io_uring where the kernel allows it, `uring`), checking every echo in full, and measures rate,
//! throughput and latency (hdrhistogram, warm-up excluded).
//!
//! The TCP modes: a connection per request (connect, send, read the whole echo, close), persistent
//! ping-pong over N connections, full-duplex throughput, connect-only and idle holds. The UDP mode
//! ([`LoadMode::Datagram`], in `datagram`) keeps a window of datagrams in flight per socket and
//! counts loss, duplicates, late and reordered answers. Connections per request spread over
//! several source addresses (127.0.0.x) so the run measures the server and not TIME_WAIT, and a
//! connect that fails for want of a local port is counted as `port-exhaustion`, never hidden.

mod datagram;
mod modes;
mod server;
mod uring;

pub use datagram::{DatagramReport, MAX_PAYLOAD as MAX_DATAGRAM_PAYLOAD, MAX_SENDERS, MAX_WINDOW};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

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
    /// `concurrency` workers each connect and wait for the server to close, again: the connect
    /// ceiling, against a server that accepts and closes at once.
    ConnectOnly {
        /// Workers in flight.
        concurrency: usize,
    },
    /// `connections` connections are opened and held idle until the end; the rate is opens per
    /// second and the latency that of a connect.
    HoldIdle {
        /// Connections held at once.
        connections: usize,
    },
    /// `senders` UDP sockets (on the loopback address of the server's family) each keep up to
    /// `window` datagrams of `payload` bytes in flight; the rate is answered datagrams per second.
    Datagram {
        /// UDP sockets (at most 1 024), shared out over one `ppoll` loop per core.
        senders: usize,
        /// Bytes per datagram, 0..=65 507; below the 12-byte header it is raised to the header.
        payload: usize,
        /// Datagrams in flight per sender, 1..=[`MAX_WINDOW`].
        window: usize,
        /// Total datagrams per second over all senders, paced; `None` is as fast as the window
        /// allows.
        rate: Option<u64>,
        /// A datagram not answered within this is lost (never resent).
        loss_timeout: Duration,
    },
}

impl LoadMode {
    /// The datagram mode with the default loss timeout of 200 ms and no pacing.
    pub fn datagram(senders: usize, payload: usize, window: usize) -> Self {
        LoadMode::Datagram {
            senders,
            payload,
            window,
            rate: None,
            loss_timeout: Duration::from_millis(200),
        }
    }
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
    /// The server's process group, to report its CPU use and memory (from `/proc`).
    pub server_pgid: Option<i32>,
    /// Run ping-pong and connection-per-request on io_uring where the kernel allows it (the
    /// default); `false` keeps tokio.
    pub uring: bool,
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
            server_pgid: None,
            uring: true,
        }
    }

    /// The `k`-th source address, in turn (none when the connections are not spread).
    pub(crate) fn source(&self, k: usize) -> Option<IpAddr> {
        (!self.sources.is_empty()).then(|| self.sources[k % self.sources.len()])
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
    /// The server's CPU use over the run, in cores, when its process group was given.
    pub server_cpu: Option<f64>,
    /// The server's resident memory at the end of the measured window, KiB, when known.
    pub server_rss_kib: Option<u64>,
    /// Sent, answered, lost, duplicate, late and reordered datagrams (datagram mode only).
    pub datagram: Option<DatagramReport>,
    /// What drove the sockets: `io_uring` with its task-work mode, `tokio`, `ppoll`, or `tokio`
    /// with why io_uring was not used.
    pub engine: String,
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

    /// Which side limited the run, from the share of a core each used (a side at 0.9 of a core or
    /// more had no time to spare): `server` when only the server was busy, `client` when only
    /// the client was, `both` when both were (the rate is what the pair reaches on these two
    /// cores: the server had almost no idle time for a cheaper client to fill, nor the client
    /// for a cheaper server), and `neither` when both waited (latency or the kernel).
    pub fn bottleneck(&self) -> &'static str {
        let server = self.server_cpu.unwrap_or(0.0);
        match (self.client_cpu >= BUSY, server >= BUSY) {
            (true, true) => "both",
            (true, false) => "client",
            (false, true) => "server",
            (false, false) => "neither",
        }
    }
}

/// A side using this share of a core or more counts as the bottleneck.
const BUSY: f64 = 0.9;

pub(crate) struct Worker {
    hist: Histogram<u64>,
    ops: u64,
    pub(crate) bytes: u64,
    errors: BTreeMap<String, u64>,
    /// When this worker's last operation finished (hold-idle: when its connection was open).
    pub(crate) last_done: Option<Instant>,
}

impl Worker {
    pub(crate) fn new() -> Self {
        Worker {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"),
            ops: 0,
            bytes: 0,
            errors: BTreeMap::new(),
            last_done: None,
        }
    }
    pub(crate) fn error(&mut self, kind: &str) {
        self.errors_n(kind, 1);
    }

    /// Counts `n` errors of `kind` (none when `n` is 0).
    pub(crate) fn errors_n(&mut self, kind: &str, n: u64) {
        if n > 0 {
            *self.errors.entry(kind.to_string()).or_insert(0) += n;
        }
    }

    /// Counts an operation that started at `t`, unless it started during the warm-up.
    pub(crate) fn completed(&mut self, t: Instant, from: Instant, bytes: usize) {
        if t >= from {
            self.ops += 1;
            self.bytes += bytes as u64;
            let _ = self.hist.record(t.elapsed().as_micros().max(1) as u64);
        }
    }
}

/// Gives a persistent connection of the load client, before it connects, the kernel's plainest
/// congestion control, Reno, which every user may pick. Where the default is BBR, its pacing arms
/// a timer per send, a large share of the client's time in the throughput mode, and the client
/// then limits the figure instead of the server (`docs/model-tuning.md` has the measurements).
/// Only how fast the client's own bytes leave changes; the server's socket keeps its own. Where
/// the kernel refuses, the default stays.
pub(crate) fn lean_congestion_control(socket: &impl std::os::fd::AsFd) {
    let reno = std::ffi::OsString::from("reno");
    let _ = nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::TcpCongestion, &reno);
}

pub(crate) fn kind_of(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrNotAvailable => "port-exhaustion",
        std::io::ErrorKind::ConnectionRefused => "refused",
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => "reset",
        std::io::ErrorKind::UnexpectedEof => "early-eof",
        std::io::ErrorKind::TimedOut => "connect-timeout",
        _ => "io",
    }
}

/// Runs the load (the TCP modes on a tokio runtime sized to the available cores, the datagram
/// mode on one `ppoll` loop per core) and returns what it measured.
pub fn run_load(cfg: &LoadConfig) -> std::io::Result<LoadReport> {
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let end = measure_from + cfg.duration;
    let server0 = cfg.server_pgid.map(|p| server::usage(p).0);
    let rss_probe = cfg.server_pgid.map(|pgid| {
        std::thread::spawn(move || {
            // Just before the window closes, while every held connection is still open.
            let at = end.checked_sub(Duration::from_millis(50)).unwrap_or(end);
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            server::usage(pgid).1
        })
    });
    let mut engine = match cfg.mode {
        LoadMode::Datagram { .. } => "ppoll".to_string(),
        _ => "tokio".to_string(),
    };
    let (workers, datagram) = match cfg.mode {
        LoadMode::Datagram {
            senders,
            payload,
            window,
            rate,
            loss_timeout,
        } => {
            let plan = datagram::Plan {
                senders,
                payload,
                window,
                rate,
                loss_timeout,
            };
            let (workers, report) = datagram::run(cfg, plan, measure_from, end);
            (workers, Some(report))
        }
        _ => match cfg
            .uring
            .then(|| uring::run(cfg, measure_from, end))
            .flatten()
        {
            Some(Ok((workers, task_work))) => {
                engine = format!("io_uring ({task_work})");
                (workers, None)
            }
            on_ring => {
                if let Some(Err(why)) = on_ring {
                    engine = format!("tokio (io_uring: {why})");
                }
                (modes::run_tokio(cfg, measure_from, end)?, None)
            }
        },
    };
    let server_rss_kib = rss_probe.and_then(|p| p.join().ok().flatten());
    let wall = start.elapsed().as_secs_f64();
    let server_cpu = match (cfg.server_pgid, server0) {
        (Some(p), Some(c0)) => Some((server::usage(p).0 - c0) / wall.max(1e-9)),
        _ => None,
    };
    let mut report = LoadReport {
        seconds: cfg.duration.as_secs_f64(),
        client_cpu: (cpu_seconds() - cpu0) / wall.max(1e-9),
        server_cpu,
        server_rss_kib,
        datagram,
        engine,
        ..Default::default()
    };
    if let LoadMode::HoldIdle { .. } = cfg.mode {
        // The rate of a hold is opens per second while opening, not over the whole window.
        if let Some(last) = workers.iter().filter_map(|w| w.last_done).max() {
            report.seconds = (last - start).as_secs_f64().max(1e-6);
        }
    }
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

fn cpu_seconds() -> f64 {
    match nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
            t(u.user_time()) + t(u.system_time())
        }
        Err(_) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::LoadReport;

    fn report(client_cpu: f64, server_cpu: Option<f64>) -> LoadReport {
        LoadReport {
            client_cpu,
            server_cpu,
            ..Default::default()
        }
    }

    #[test]
    fn the_bottleneck_is_the_side_with_no_time_to_spare() {
        assert_eq!(report(0.98, Some(0.96)).bottleneck(), "both");
        assert_eq!(report(0.99, Some(0.70)).bottleneck(), "client");
        assert_eq!(report(0.65, Some(0.97)).bottleneck(), "server");
        assert_eq!(report(0.50, Some(0.40)).bottleneck(), "neither");
        // Without the server's figures, only the client can be named.
        assert_eq!(report(0.95, None).bottleneck(), "client");
    }
}
