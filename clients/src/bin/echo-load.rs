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
//! before the window closes) are reported too, and `bottleneck` says which side was busy.
//!
//! The datagram mode (UDP) takes `--senders` (sockets; `--connections` is accepted too),
//! `--payload` (0..=65 507 bytes per datagram), `--window` (datagrams in flight per sender,
//! default 16), `--rate` (total datagrams per second, paced; default unpaced) and
//! `--loss-timeout-ms` (default 200). Its JSON adds `sent`, `answered`, `lost`, `loss_percent`,
//! `duplicates`, `late`, `reordered`, `mismatches` and `mismatch_sample`; `rate` is answered
//! datagrams per second. A one-line summary goes to stderr for people.

use echo_clients::load::{
    run_load, DatagramReport, LoadConfig, LoadMode, MAX_DATAGRAM_PAYLOAD, MAX_SENDERS, MAX_WINDOW,
};
use std::time::Duration;

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("echo-load: {e}");
            std::process::exit(2);
        }
    }
}

fn run() -> Result<(), String> {
    // A hold of thousands of connections needs more descriptors than the usual soft limit.
    let _ = echo_clients::crowd::raise_nofile_limit();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| flag(&args, name);
    let num = |name: &str, default: usize| -> Result<usize, String> {
        get(name).map_or(Ok(default), |v| {
            v.parse().map_err(|e| format!("{name} {v}: {e}"))
        })
    };
    let addr = get("--addr")
        .ok_or("--addr HOST:PORT is required")?
        .parse()
        .map_err(|e| format!("--addr: {e}"))?;
    let mode_name = get("--mode").unwrap_or_else(|| "ping-pong".into());
    if mode_name == "datagram" {
        return datagram(&args, addr, num("--senders", num("--connections", 4)?)?);
    }
    let connections = num("--connections", 10)?.clamp(1, 20_000);
    let payload = num("--payload", 64)?.clamp(1, 1 << 20);
    let mode = match mode_name.as_str() {
        "ping-pong" => LoadMode::PingPong {
            connections,
            payload,
        },
        "conn-per-request" => LoadMode::ConnPerRequest {
            concurrency: connections,
            payload,
        },
        "throughput" => LoadMode::Throughput {
            connections,
            chunk: payload,
        },
        "connect-only" => LoadMode::ConnectOnly {
            concurrency: connections,
        },
        "hold-idle" => LoadMode::HoldIdle { connections },
        other => {
            return Err(format!(
                "--mode: unknown mode `{other}` (ping-pong, conn-per-request, throughput, connect-only, hold-idle, datagram)"
            ))
        }
    };
    let cfg = common(&args, LoadConfig::new(addr, mode))?;
    let r = run_load(&cfg).map_err(|e| format!("cannot start the runtime: {e}"))?;
    print_json(&r, None);
    Ok(())
}

/// The datagram mode: its own flags, checked rather than clamped, and its own figures.
fn datagram(args: &[String], addr: std::net::SocketAddr, senders: usize) -> Result<(), String> {
    let get = |name: &str| flag(args, name);
    let num = |name: &str, default: u64| -> Result<u64, String> {
        get(name).map_or(Ok(default), |v| {
            v.parse().map_err(|e| format!("{name} {v}: {e}"))
        })
    };
    if !(1..=MAX_SENDERS).contains(&senders) {
        return Err(format!("--senders {senders}: must be 1..={MAX_SENDERS}"));
    }
    let payload = num("--payload", 64)? as usize;
    if payload > MAX_DATAGRAM_PAYLOAD {
        return Err(format!(
            "--payload {payload}: a datagram carries at most {MAX_DATAGRAM_PAYLOAD} bytes"
        ));
    }
    let window = num("--window", 16)? as usize;
    if !(1..=MAX_WINDOW).contains(&window) {
        return Err(format!("--window {window}: must be 1..={MAX_WINDOW}"));
    }
    let rate = match get("--rate") {
        Some(_) => match num("--rate", 0)? {
            0 => return Err("--rate: must be at least 1 datagram per second".into()),
            r => Some(r),
        },
        None => None,
    };
    let loss_ms = num("--loss-timeout-ms", 200)?;
    if !(1..=10_000).contains(&loss_ms) {
        return Err(format!("--loss-timeout-ms {loss_ms}: must be 1..=10000"));
    }
    let mode = LoadMode::Datagram {
        senders,
        payload,
        window,
        rate,
        loss_timeout: Duration::from_millis(loss_ms),
    };
    let mut cfg = common(args, LoadConfig::new(addr, mode))?;
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
    print_json(&r, Some(&d));
    Ok(())
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// The flags every mode shares: `--seconds`, `--one-source`, `--server-pgid`.
fn common(args: &[String], mut cfg: LoadConfig) -> Result<LoadConfig, String> {
    let get = |name: &str| flag(args, name);
    let seconds: f64 = get("--seconds").map_or(Ok(2.0), |v| {
        v.parse().map_err(|e| format!("--seconds {v}: {e}"))
    })?;
    cfg.duration = Duration::from_secs_f64(seconds.clamp(0.1, 600.0));
    if args.iter().any(|a| a == "--one-source") {
        cfg.sources.clear();
    }
    cfg.server_pgid = match get("--server-pgid") {
        Some(v) => Some(v.parse().map_err(|e| format!("--server-pgid {v}: {e}"))?),
        None => None,
    };
    Ok(cfg)
}

/// A JSON string literal for `s`.
fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Prints the report as one JSON object, with the datagram figures when there are some.
fn print_json(r: &echo_clients::load::LoadReport, d: Option<&DatagramReport>) {
    let errors: Vec<String> = r
        .errors
        .iter()
        .map(|(k, v)| format!("{}: {v}", quoted(k)))
        .collect();
    let datagram = d.map_or_else(String::new, |d| {
        format!(
            ", \"sent\": {}, \"answered\": {}, \"lost\": {}, \"loss_percent\": {:.3}, \"duplicates\": {}, \"late\": {}, \"reordered\": {}, \"mismatches\": {}, \"mismatch_sample\": {}",
            d.sent,
            d.answered,
            d.lost,
            d.loss_percent(),
            d.duplicates,
            d.late,
            d.reordered,
            d.mismatches,
            d.mismatch_sample
                .as_deref()
                .map_or_else(|| "null".to_string(), quoted)
        )
    });
    println!(
        "{{\"ops\": {}, \"bytes\": {}, \"seconds\": {:.3}, \"rate\": {:.1}, \"throughput\": {:.1}, \"p50_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"client_cpu\": {:.3}, \"server_cpu\": {}, \"server_rss_kib\": {}, \"bottleneck\": \"{}\", \"errors\": {{{}}}{datagram}}}",
        r.ops,
        r.bytes,
        r.seconds,
        r.rate(),
        r.throughput(),
        r.latency_us[0],
        r.latency_us[1],
        r.latency_us[2],
        r.client_cpu,
        r.server_cpu
            .map_or_else(|| "null".to_string(), |c| format!("{c:.3}")),
        r.server_rss_kib
            .map_or_else(|| "null".to_string(), |k| k.to_string()),
        r.bottleneck(),
        errors.join(", ")
    );
}
