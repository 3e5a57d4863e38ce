//! `echo-load`: the load client as a command, printing one JSON object per run.
//!
//! ```sh
//! echo-load --addr 127.0.0.1:7007 --mode ping-pong --connections 10 --payload 64 --seconds 2
//! echo-load --addr 127.0.0.1:7007 --mode conn-per-request --connections 50 --payload 64
//! echo-load --addr 127.0.0.1:7007 --mode throughput --connections 1 --payload 65536
//! echo-load --addr 127.0.0.1:7007 --mode connect-only --connections 50
//! echo-load --addr 127.0.0.1:7007 --mode hold-idle --connections 10000 --server-pgid 4242
//! echo-load --addr [::1]:7007 --mode datagram --senders 4 --payload 64 --window 16 --rate 50000 --loss-timeout-ms 200
//! ```
//!
//! With `--server-pgid`, the server's CPU use (cores) and resident memory (KiB, sampled just
//! before the window closes) are reported too, and `bottleneck` says which side was busy
//! (`server`, `client`, `both` or `neither`).
//!
//! The datagram mode (UDP) takes `--senders` (sockets; `--connections` is accepted too),
//! `--payload` (0..=65 507 bytes per datagram), `--window` (datagrams in flight per sender,
//! default 16), `--rate` (total datagrams per second, paced; default unpaced) and
//! `--loss-timeout-ms` (default 200). Its JSON adds `sent`, `answered`, `lost`, `loss_percent`,
//! `duplicates`, `late`, `reordered`, `mismatches` and `mismatch_sample`; `rate` is answered
//! datagrams per second. A one-line summary goes to stderr for people.

use clap::{Parser, ValueEnum};
use echo_clients::load::{
    run_load, DatagramReport, LoadConfig, LoadMode, LoadReport, MAX_DATAGRAM_PAYLOAD, MAX_SENDERS,
    MAX_WINDOW,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// Drives load at an echo server and prints one JSON object of what it measured.
#[derive(Debug, Parser)]
#[command(name = "echo-load", version)]
struct Args {
    /// The server, on loopback: HOST:PORT.
    #[arg(long)]
    addr: SocketAddr,
    /// What kind of load.
    #[arg(long, value_enum, default_value_t = Mode::PingPong)]
    mode: Mode,
    /// Connections (ping-pong, throughput, hold-idle) or requests in flight (conn-per-request,
    /// connect-only); senders for the datagram mode when --senders is not given.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    connections: u32,
    /// Bytes per message (per chunk for throughput, per datagram for datagram).
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Length of the measured window, in seconds (0.1 to 600).
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Connect from 127.0.0.1 only, instead of spreading over 127.0.0.1–8.
    #[arg(long)]
    one_source: bool,
    /// Drive ping-pong and connection-per-request with tokio even where io_uring is available.
    #[arg(long)]
    no_uring: bool,
    /// The server's process group, to report its CPU and memory and which side was busy.
    #[arg(long)]
    server_pgid: Option<i32>,
    /// Datagram mode: sending sockets.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_SENDERS as i64))]
    senders: Option<u32>,
    /// Datagram mode: datagrams in flight per sender.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=MAX_WINDOW as i64))]
    window: u32,
    /// Datagram mode: total datagrams per second, paced (unpaced when absent).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    rate: Option<u64>,
    /// Datagram mode: how long an unanswered datagram waits before it counts as lost.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    loss_timeout_ms: u64,
}

/// The kinds of load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Each connection sends a message and waits for its echo, again and again.
    PingPong,
    /// A new connection per request: connect, send, read the echo, close.
    ConnPerRequest,
    /// Full-duplex streaming on each connection.
    Throughput,
    /// Connect and close, nothing sent.
    ConnectOnly,
    /// Open the connections and hold them idle.
    HoldIdle,
    /// UDP: windows of datagrams per sender.
    Datagram,
}

/// What `echo-load` prints: the figures every mode has, and the datagram ones in that mode.
#[derive(Debug, Serialize)]
struct Printed<'a> {
    ops: u64,
    bytes: u64,
    seconds: f64,
    rate: f64,
    throughput: f64,
    p50_us: u64,
    p99_us: u64,
    p999_us: u64,
    client_cpu: f64,
    server_cpu: Option<f64>,
    server_rss_kib: Option<u64>,
    bottleneck: &'static str,
    engine: &'a str,
    errors: &'a BTreeMap<String, u64>,
    #[serde(flatten)]
    datagram: Option<DatagramFigures<'a>>,
}

/// The datagram mode's own figures.
#[derive(Debug, Serialize)]
struct DatagramFigures<'a> {
    sent: u64,
    answered: u64,
    lost: u64,
    loss_percent: f64,
    duplicates: u64,
    late: u64,
    reordered: u64,
    mismatches: u64,
    mismatch_sample: Option<&'a str>,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("echo-load: {e}");
        std::process::exit(2);
    }
}

fn run(args: &Args) -> Result<(), String> {
    // A hold of thousands of connections needs more descriptors than the usual soft limit.
    let _ = echo_clients::crowd::raise_nofile_limit();
    if !(0.1..=600.0).contains(&args.seconds) {
        return Err(format!("--seconds {}: must be 0.1 to 600", args.seconds));
    }
    let connections = args.connections as usize;
    let payload = args.payload;
    if args.mode != Mode::Datagram && !(1..=1 << 20).contains(&payload) {
        return Err(format!("--payload {payload}: must be 1..={}", 1 << 20));
    }
    let mode = match args.mode {
        Mode::PingPong => LoadMode::PingPong {
            connections,
            payload,
        },
        Mode::ConnPerRequest => LoadMode::ConnPerRequest {
            concurrency: connections,
            payload,
        },
        Mode::Throughput => LoadMode::Throughput {
            connections,
            chunk: payload,
        },
        Mode::ConnectOnly => LoadMode::ConnectOnly {
            concurrency: connections,
        },
        Mode::HoldIdle => LoadMode::HoldIdle { connections },
        Mode::Datagram => return datagram(args),
    };
    let r = run_load(&common(args, LoadConfig::new(args.addr, mode)))
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    print_json(&r, None)
}

/// The datagram mode: its own flags and its own figures.
fn datagram(args: &Args) -> Result<(), String> {
    let senders = args.senders.unwrap_or(args.connections) as usize;
    if !(1..=MAX_SENDERS).contains(&senders) {
        return Err(format!("--senders {senders}: must be 1..={MAX_SENDERS}"));
    }
    if args.payload > MAX_DATAGRAM_PAYLOAD {
        return Err(format!(
            "--payload {}: a datagram carries at most {MAX_DATAGRAM_PAYLOAD} bytes",
            args.payload
        ));
    }
    let mode = LoadMode::Datagram {
        senders,
        payload: args.payload,
        window: args.window as usize,
        rate: args.rate,
        loss_timeout: Duration::from_millis(args.loss_timeout_ms),
    };
    let mut cfg = common(args, LoadConfig::new(args.addr, mode));
    cfg.sources.clear();
    let r = run_load(&cfg).map_err(|e| format!("cannot run the load: {e}"))?;
    let d = r.datagram.clone().unwrap_or_default();
    eprintln!(
        "datagram: {:.0} answered/s, sent {}, answered {}, lost {} ({:.2}%), duplicates {}, late {}, reordered {}, mismatches {}, p50/p99/p99.9 {}/{}/{} µs{}",
        r.rate(),
        d.sent,
        d.answered,
        d.lost,
        d.loss_percent(),
        d.duplicates,
        d.late,
        d.reordered,
        d.mismatches,
        r.latency_us[0],
        r.latency_us[1],
        r.latency_us[2],
        d.mismatch_sample
            .as_deref()
            .map_or_else(String::new, |s| format!("; first mismatch: {s}"))
    );
    print_json(&r, Some(&d))
}

/// The flags every mode shares: `--seconds`, `--one-source`, `--server-pgid`.
fn common(args: &Args, mut cfg: LoadConfig) -> LoadConfig {
    cfg.duration = Duration::from_secs_f64(args.seconds);
    if args.one_source {
        cfg.sources.clear();
    }
    cfg.uring = !args.no_uring;
    cfg.server_pgid = args.server_pgid;
    cfg
}

/// Prints the report as one JSON object, with the datagram figures when there are some.
fn print_json(r: &LoadReport, d: Option<&DatagramReport>) -> Result<(), String> {
    let printed = Printed {
        ops: r.ops,
        bytes: r.bytes,
        seconds: r.seconds,
        rate: r.rate(),
        throughput: r.throughput(),
        p50_us: r.latency_us[0],
        p99_us: r.latency_us[1],
        p999_us: r.latency_us[2],
        client_cpu: r.client_cpu,
        server_cpu: r.server_cpu,
        server_rss_kib: r.server_rss_kib,
        bottleneck: r.bottleneck(),
        engine: &r.engine,
        errors: &r.errors,
        datagram: d.map(|d| DatagramFigures {
            sent: d.sent,
            answered: d.answered,
            lost: d.lost,
            loss_percent: d.loss_percent(),
            duplicates: d.duplicates,
            late: d.late,
            reordered: d.reordered,
            mismatches: d.mismatches,
            mismatch_sample: d.mismatch_sample.as_deref(),
        }),
    };
    let line = serde_json::to_string(&printed).map_err(|e| format!("cannot write JSON: {e}"))?;
    println!("{line}");
    Ok(())
}
