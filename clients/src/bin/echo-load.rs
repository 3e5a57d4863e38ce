//! `echo-load`: the load client as a command, printing one JSON object per run.
//!
//! ```sh
//! echo-load --addr 127.0.0.1:7007 --mode ping-pong --connections 10 --payload 64 --seconds 2
//! echo-load --addr 127.0.0.1:7007 --mode conn-per-request --connections 50 --payload 64
//! echo-load --addr 127.0.0.1:7007 --mode throughput --connections 1 --payload 65536
//! echo-load --addr 127.0.0.1:7007 --mode connect-only --connections 50
//! echo-load --addr 127.0.0.1:7007 --mode hold-idle --connections 10000 --server-pgid 4242
//! ```
//!
//! With `--server-pgid`, the server's CPU use (cores) and resident memory (KiB, sampled just
//! before the window closes) are reported too, and `bottleneck` says which side was busy.

use echo_clients::load::{run_load, LoadConfig, LoadMode};
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
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let num = |name: &str, default: usize| -> Result<usize, String> {
        get(name).map_or(Ok(default), |v| {
            v.parse().map_err(|e| format!("{name} {v}: {e}"))
        })
    };
    let addr = get("--addr")
        .ok_or("--addr HOST:PORT is required")?
        .parse()
        .map_err(|e| format!("--addr: {e}"))?;
    let connections = num("--connections", 10)?.clamp(1, 20_000);
    let payload = num("--payload", 64)?.clamp(1, 1 << 20);
    let mode = match get("--mode").as_deref().unwrap_or("ping-pong") {
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
                "--mode: unknown mode `{other}` (ping-pong, conn-per-request, throughput, connect-only, hold-idle)"
            ))
        }
    };
    let seconds: f64 = get("--seconds").map_or(Ok(2.0), |v| {
        v.parse().map_err(|e| format!("--seconds {v}: {e}"))
    })?;
    let mut cfg = LoadConfig::new(addr, mode);
    cfg.duration = Duration::from_secs_f64(seconds.clamp(0.1, 600.0));
    if args.iter().any(|a| a == "--one-source") {
        cfg.sources.clear();
    }
    cfg.server_pgid = match get("--server-pgid") {
        Some(v) => Some(v.parse().map_err(|e| format!("--server-pgid {v}: {e}"))?),
        None => None,
    };
    let r = run_load(&cfg).map_err(|e| format!("cannot start the runtime: {e}"))?;
    let errors: Vec<String> = r
        .errors
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect();
    println!(
        "{{\"ops\": {}, \"bytes\": {}, \"seconds\": {:.3}, \"rate\": {:.1}, \"throughput\": {:.1}, \"p50_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"client_cpu\": {:.3}, \"server_cpu\": {}, \"server_rss_kib\": {}, \"bottleneck\": \"{}\", \"errors\": {{{}}}}}",
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
    Ok(())
}
