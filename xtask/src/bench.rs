//! `cargo xtask bench`: every reference model under the same loads, side by side in one run,
//! pinned (server on CPU 0, load client on CPU 1) where `taskset` exists. Prints medians and
//! ratios to the fastest model; writes `target/bench/bench.json`. Benchmarks print; tests never time.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use xshell::{cmd, Shell};

/// Models benchmarked, with their flags; oneshot models only take connection-per-request load.
const MODELS: &[(&str, &str, bool)] = &[
    ("threaded", "threaded", true),
    ("select", "select", true),
    ("poll", "poll", true),
    ("epoll", "epoll", true),
    ("tokio", "tokio", true),
    ("sequential", "sequential", false),
    ("prefork", "prefork", false),
];

/// One load: name, echo-load flags, whether it needs a stream server, and the figure to compare.
const LOADS: &[(&str, &str, bool, &str)] = &[
    (
        "conn/request 64 B ×50",
        "--mode conn-per-request --connections 50 --payload 64",
        false,
        "rate",
    ),
    (
        "ping-pong 64 B ×10",
        "--mode ping-pong --connections 10 --payload 64",
        true,
        "rate",
    ),
    (
        "throughput 64 KiB ×1",
        "--mode throughput --connections 1 --payload 65536",
        true,
        "throughput",
    ),
];

/// Runs the benchmark with `reps` repetitions of `seconds` each.
pub fn run(sh: &Shell, reps: usize, seconds: f64) -> anyhow::Result<()> {
    cmd!(
        sh,
        "cargo build --release --quiet -p echo-servers -p echo-clients"
    )
    .run()?;
    let bin = crate::root().join("target/release");
    let pin = Command::new("taskset").arg("--version").output().is_ok();
    let out_dir = crate::root().join("target/bench");
    std::fs::create_dir_all(&out_dir)?;
    let mut results = Vec::new();
    for (name, flags, stream) in MODELS {
        for (load, load_flags, needs_stream, figure) in LOADS {
            if *needs_stream && !stream {
                continue;
            }
            let mut samples = Vec::new();
            let mut last = Value::Null;
            for _ in 0..reps {
                let (mut server, port) = start(&bin, flags, pin)?;
                let r = load_once(&bin, port, load_flags, seconds, pin);
                stop(&mut server);
                let r = r?;
                samples.push(r[*figure].as_f64().unwrap_or(0.0));
                last = r;
            }
            samples.sort_by(|a, b| a.total_cmp(b));
            let median = samples[samples.len() / 2];
            eprintln!(
                "{name:<11} {load:<24} median {median:>14.0}  client cpu {:.2}  errors {}",
                last["client_cpu"], last["errors"]
            );
            results.push(json!({"model": name, "load": load, "figure": figure, "median": median, "samples": samples, "last": last}));
        }
    }
    let table = table(&results);
    println!("{table}");
    let host = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
    });
    let doc = json!({"machine": host, "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()), "pinned": pin, "reps": reps, "seconds": seconds, "results": results});
    std::fs::write(
        out_dir.join("bench.json"),
        serde_json::to_string_pretty(&doc)?,
    )?;
    std::fs::write(out_dir.join("table.txt"), &table)?;
    println!("written: {}", out_dir.display());
    Ok(())
}

fn table(results: &[Value]) -> String {
    let mut text =
        String::from("load                     model        median          vs fastest\n");
    for (load, _, _, figure) in LOADS {
        let rows: Vec<&Value> = results.iter().filter(|r| r["load"] == *load).collect();
        let best = rows
            .iter()
            .filter_map(|r| r["median"].as_f64())
            .fold(0.0, f64::max);
        for r in rows {
            let m = r["median"].as_f64().unwrap_or(0.0);
            let shown = if *figure == "throughput" {
                format!("{:.2} GB/s", m / 1e9)
            } else {
                format!("{:.0} /s", m)
            };
            text.push_str(&format!(
                "{load:<24} {:<12} {shown:>14}   {:>5.0}%\n",
                r["model"].as_str().unwrap_or("?"),
                if best > 0.0 { 100.0 * m / best } else { 0.0 }
            ));
        }
    }
    text
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn start(bin: &Path, flags: &str, pin: bool) -> anyhow::Result<(Child, u16)> {
    let port = free_port()?;
    let server = bin.join("echo-server");
    let mut args: Vec<String> = Vec::new();
    if pin {
        args.extend(["-c", "0"].map(String::from));
        args.push(server.display().to_string());
    }
    args.extend(["--model"].map(String::from));
    args.extend(flags.split_whitespace().map(String::from));
    args.extend(["--port".to_string(), port.to_string()]);
    let program = if pin {
        "taskset".into()
    } else {
        server.display().to_string()
    };
    let child = Command::new(program)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("start the server")?;
    // Readiness by connecting is acceptable here, unlike in the runner: benchmarks only start
    // `forever` servers, so a probe connection spends nothing the measurement needs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_millis(200),
    )
    .is_err()
    {
        if Instant::now() > deadline {
            bail!("{flags}: not listening on {port} after 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((child, port))
}

fn stop(child: &mut Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn load_once(bin: &Path, port: u16, flags: &str, seconds: f64, pin: bool) -> anyhow::Result<Value> {
    let load = bin.join("echo-load");
    let mut command = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "1"]).arg(&load);
        c
    } else {
        Command::new(&load)
    };
    command
        .args([
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--seconds",
            &seconds.to_string(),
        ])
        .args(flags.split_whitespace());
    let out = command.output().context("run echo-load")?;
    if !out.status.success() {
        bail!("echo-load failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).context("echo-load printed bad JSON")
}
