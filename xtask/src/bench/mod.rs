//! `cargo xtask bench`: every reference model (and `--server 'CMD {port}'`) under the same loads,
//! side by side in one run, pinned (server on CPU 0, load client on CPU 1) where `taskset`
//! exists. Repetitions are interleaved across targets so that noise spreads over all of them.
//! Prints medians with ratios to the fastest model and to the loopback ceilings measured in the
//! same run; writes `target/bench/bench.json`, `table.txt` and `chart.svg`. Benchmarks print;
//! tests never time.
//!
//! The models that serve UDP (`--udp`) are started a second time as UDP-only targets for the
//! datagram row, whose table line adds the loss; they take no TCP load and the TCP models no
//! datagram load.

mod chart;
mod launch;
mod peers;

use anyhow::Context;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use xshell::{cmd, Shell};

/// What a target is, which decides the loads it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A loopback ceiling (`echo-ceiling`): only the load it bounds.
    Ceiling,
    /// A reference model; `stream` models take the persistent loads, `c10k` ones the hold.
    Model { stream: bool, c10k: bool },
    /// A reference model started with `--udp`: only the datagram load.
    Udp,
    /// A comparison peer (the C epoll echo, the minimal tokio echo): the stream loads.
    Peer,
    /// The user's server: every load.
    Yours,
}

struct Target {
    name: String,
    argv: Vec<String>,
    role: Role,
}

/// One load: its name, `echo-load` flags, the figure compared, the ceiling target bounding it.
struct Load {
    name: &'static str,
    flags: &'static str,
    figure: &'static str,
    ceiling: Option<(&'static str, &'static str)>,
    takes: fn(&str, Role) -> bool,
}

const CONNECT: &str = "connect + close ×50";

const LOADS: &[Load] = &[
    Load {
        name: CONNECT,
        flags: "--mode connect-only --connections 50",
        figure: "rate",
        ceiling: None,
        takes: |name, role| role == Role::Ceiling && name == "accept-close",
    },
    Load {
        name: "conn/request 64 B ×50",
        flags: "--mode conn-per-request --connections 50 --payload 64",
        figure: "rate",
        ceiling: Some(("accept-close", CONNECT)),
        takes: |_, role| matches!(role, Role::Model { .. } | Role::Yours | Role::Peer),
    },
    Load {
        name: "ping-pong 64 B ×10",
        flags: "--mode ping-pong --connections 10 --payload 64",
        figure: "rate",
        ceiling: Some(("splice-pump", "ping-pong 64 B ×10")),
        takes: |name, role| streams(name, role),
    },
    Load {
        name: "throughput 64 KiB ×1",
        flags: "--mode throughput --connections 1 --payload 65536",
        figure: "throughput",
        ceiling: Some(("splice-pump", "throughput 64 KiB ×1")),
        takes: |name, role| streams(name, role),
    },
    Load {
        name: "hold 10 000 idle",
        flags: "--mode hold-idle --connections 10000",
        figure: "rate",
        ceiling: None,
        takes: |_, role| matches!(role, Role::Model { c10k: true, .. } | Role::Yours),
    },
    Load {
        name: DATAGRAM,
        flags: "--mode datagram --senders 4 --window 16 --payload 64",
        figure: "rate",
        ceiling: None,
        takes: |_, role| role == Role::Udp,
    },
];

/// The UDP row: 4 senders × 16 datagrams of 64 B in flight, answered datagrams per second.
const DATAGRAM: &str = "datagram 64 B ×4 w16";

/// The reference models that serve UDP, benchmarked a second time with `--udp`.
const UDP_MODELS: &[&str] = &["sequential", "epoll", "tokio"];

fn streams(name: &str, role: Role) -> bool {
    match role {
        Role::Ceiling => name == "splice-pump",
        Role::Model { stream, .. } => stream,
        Role::Yours | Role::Peer => true,
        Role::Udp => false,
    }
}

/// The reference models: name, flags after `--model`, stream, c10k.
const MODELS: &[(&str, &str, bool, bool)] = &[
    ("threaded", "threaded", true, false),
    ("select", "select", true, false),
    ("poll", "poll", true, true),
    ("epoll", "epoll", true, true),
    ("tokio", "tokio", true, true),
    ("sequential", "sequential", false, false),
    ("prefork", "prefork", false, false),
];

/// The C peer's name in the table.
const C_PEER: &str = "c-epoll";
/// The minimal tokio echo's name in the table.
const TOKIO_PEER: &str = "tokio-minimal";

/// The targets: ceilings, peers, models, the UDP models when `udp` (the servers take `--udp`),
/// and yours (`yours`, or `yours-1`, `yours-2`, ... for several).
fn targets(
    bin: &std::path::Path,
    c_peer: Option<&std::path::Path>,
    servers: &[String],
    udp: bool,
) -> anyhow::Result<Vec<Target>> {
    let mut out = Vec::new();
    if let Some(c) = c_peer {
        out.push(Target {
            name: C_PEER.into(),
            argv: vec![c.display().to_string(), "{port}".into()],
            role: Role::Peer,
        });
    }
    out.push(Target {
        name: TOKIO_PEER.into(),
        argv: vec![
            bin.join("echo-peer-tokio").display().to_string(),
            "{port}".into(),
        ],
        role: Role::Peer,
    });
    for mode in ["accept-close", "splice-pump"] {
        out.push(Target {
            name: mode.into(),
            argv: vec![
                bin.join("echo-ceiling").display().to_string(),
                "--mode".into(),
                mode.into(),
                "--port".into(),
                "{port}".into(),
            ],
            role: Role::Ceiling,
        });
    }
    for (name, flags, stream, c10k) in MODELS {
        let mut argv = vec![
            bin.join("echo-server").display().to_string(),
            "--model".into(),
        ];
        argv.extend(flags.split_whitespace().map(String::from));
        argv.extend(["--port".into(), "{port}".into()]);
        out.push(Target {
            name: (*name).into(),
            argv,
            role: Role::Model {
                stream: *stream,
                c10k: *c10k,
            },
        });
    }
    if udp {
        for model in UDP_MODELS {
            out.push(Target {
                name: format!("{model} udp"),
                argv: vec![
                    bin.join("echo-server").display().to_string(),
                    "--model".into(),
                    (*model).into(),
                    "--udp".into(),
                    "--port".into(),
                    "{port}".into(),
                ],
                role: Role::Udp,
            });
        }
    }
    for (i, cmd) in servers.iter().enumerate() {
        let argv = shlex::split(cmd)
            .filter(|a| !a.is_empty())
            .with_context(|| format!("--server: cannot split `{cmd}`"))?;
        out.push(Target {
            name: if servers.len() == 1 {
                "yours".into()
            } else {
                format!("yours-{}", i + 1)
            },
            argv,
            role: Role::Yours,
        });
    }
    Ok(out)
}

/// Runs the benchmark with `reps` repetitions of `seconds` each.
pub fn run(sh: &Shell, reps: usize, seconds: f64, servers: &[String]) -> anyhow::Result<()> {
    cmd!(
        sh,
        "cargo build --release --quiet -p echo-servers -p echo-clients"
    )
    .run()?;
    let bin = crate::root().join("target/release");
    let pin = launch::pin_cpus();
    let out_dir = crate::root().join("target/bench");
    std::fs::create_dir_all(&out_dir)?;
    let udp = launch::serves_udp(&bin);
    if !udp {
        eprintln!("echo-server has no --udp: the datagram row is skipped");
    }
    let c_peer = match peers::c_epoll(&out_dir) {
        Ok(path) => Some(path),
        Err(why) => {
            eprintln!("the C epoll peer is skipped: {why}");
            None
        }
    };
    let targets = targets(&bin, c_peer.as_deref(), servers, udp)?;
    // (target, load) → samples and the last full report.
    let mut samples: BTreeMap<(String, &str), (Vec<f64>, Value)> = BTreeMap::new();
    for rep in 0..reps {
        eprintln!("repetition {} of {reps}", rep + 1);
        for t in &targets {
            for load in LOADS.iter().filter(|l| (l.takes)(&t.name, t.role)) {
                let server = launch::start(&t.argv, pin, t.role == Role::Udp)?;
                let r = launch::load(&bin, server.port, server.pgid(), load.flags, seconds, pin);
                drop(server);
                let r = r.with_context(|| format!("{} under {}", t.name, load.name))?;
                let entry = samples
                    .entry((t.name.clone(), load.name))
                    .or_insert_with(|| (Vec::new(), Value::Null));
                entry.0.push(r[load.figure].as_f64().unwrap_or(0.0));
                entry.1 = r;
            }
        }
    }
    let results = summarise(&targets, &samples);
    let ab = ab_comparison(&bin, pin, seconds, reps)?;
    let table = table(&results, &ab);
    println!("{table}");
    std::fs::write(out_dir.join("table.txt"), &table)?;
    std::fs::write(out_dir.join("chart.svg"), chart::svg(&results))?;
    let doc = json!({
        "machine": machine(),
        "kernel": nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).ok(),
        "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "pinned": pin.map(|(s, c)| format!("server on CPU {s}, client on CPU {c}")),
        "reps": reps,
        "seconds": seconds,
        "results": results,
        "ab": ab,
    });
    std::fs::write(
        out_dir.join("bench.json"),
        serde_json::to_string_pretty(&doc)?,
    )?;
    println!(
        "written: {0}/bench.json, {0}/table.txt, {0}/chart.svg",
        out_dir.display()
    );
    Ok(())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// One row per (load, target): the median, its ratios, and the last run's CPU and errors.
fn summarise(
    targets: &[Target],
    samples: &BTreeMap<(String, &str), (Vec<f64>, Value)>,
) -> Vec<Value> {
    let mut rows = Vec::new();
    for load in LOADS {
        let of = |name: &str, load: &str| {
            samples
                .get(&(name.to_string(), load))
                .map(|(s, _)| median(s))
        };
        let fastest = targets
            .iter()
            .filter(|t| matches!(t.role, Role::Model { .. } | Role::Udp))
            .filter_map(|t| of(&t.name, load.name))
            .fold(0.0, f64::max);
        let ceiling = load.ceiling.and_then(|(t, l)| of(t, l));
        let c_peer = of(C_PEER, load.name);
        for t in targets {
            let Some((s, last)) = samples.get(&(t.name.clone(), load.name)) else {
                continue;
            };
            let m = median(s);
            let ratio = |base: f64| (base > 0.0).then(|| m / base);
            rows.push(json!({
                "load": load.name,
                "figure": load.figure,
                "target": t.name,
                "role": match t.role { Role::Ceiling => "ceiling", Role::Model { .. } | Role::Udp => "model", Role::Yours => "yours", Role::Peer => "peer" },
                "median": m,
                "samples": s,
                "vs_fastest_model": if matches!(t.role, Role::Ceiling) { None } else { ratio(fastest) },
                "vs_ceiling": ratio(ceiling.unwrap_or(0.0)),
                "vs_c_peer": if matches!(t.role, Role::Ceiling) { None } else { ratio(c_peer.unwrap_or(0.0)) },
                "p99_us": last["p99_us"],
                "client_cpu": last["client_cpu"],
                "server_cpu": last["server_cpu"],
                "server_rss_kib": last["server_rss_kib"],
                "bottleneck": last["bottleneck"],
                "client_engine": last["engine"],
                "errors": last["errors"],
                "loss_percent": last["loss_percent"],
                "datagram": datagram_figures(last),
            }));
        }
    }
    rows
}

/// The datagram figures of an `echo-load` report, or null for the TCP loads.
fn datagram_figures(report: &Value) -> Value {
    if report["sent"].is_null() {
        return Value::Null;
    }
    let keys = [
        "sent",
        "answered",
        "lost",
        "loss_percent",
        "duplicates",
        "late",
        "reordered",
        "mismatches",
        "mismatch_sample",
    ];
    keys.iter()
        .map(|k| ((*k).to_string(), report[*k].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// `ab -n 20000 -c 50` beside `echo-load` (connection per request, 50 at once, an ab-sized
/// request) against the same oneshot server, which closes after its reply as ab needs; `reps`
/// times each, in alternating order, compared by medians.
fn ab_comparison(
    bin: &std::path::Path,
    pin: Option<(usize, usize)>,
    seconds: f64,
    reps: usize,
) -> anyhow::Result<Value> {
    if !launch::has_ab() {
        eprintln!(
            "ab: not installed (apt-get install apache2-utils); the ab comparison is skipped"
        );
        return Ok(json!({"skipped": "ab is not installed (apt-get install apache2-utils)"}));
    }
    let mut rows = Vec::new();
    for model in ["epoll", "tokio"] {
        let argv: Vec<String> = [
            bin.join("echo-server").display().to_string(),
            "--model".into(),
            model.into(),
            "--oneshot".into(),
            "--port".into(),
            "{port}".into(),
        ]
        .to_vec();
        // Each connection leaves a TIME_WAIT behind, and whichever client runs second meets the
        // first one's: the order alternates between repetitions, and the medians are compared.
        let (mut ab_rates, mut our_rates, mut ab_failed) = (Vec::new(), Vec::new(), 0u64);
        for rep in 0..reps {
            let server = launch::start(&argv, pin, false)?;
            let run_ab = || launch::ab(server.port, 20_000, 50, pin);
            // ab's request is about 80 bytes; echo-load sends the same amount.
            let run_ours = || {
                launch::load(
                    bin,
                    server.port,
                    server.pgid(),
                    "--mode conn-per-request --connections 50 --payload 80",
                    seconds,
                    pin,
                )
            };
            let (ab, ours) = if rep % 2 == 0 {
                let ab = run_ab();
                (ab, run_ours())
            } else {
                let ours = run_ours();
                (run_ab(), ours)
            };
            drop(server);
            let (rate, failed) = ab?;
            ab_rates.push(rate);
            ab_failed += failed;
            our_rates.push(ours?["rate"].as_f64().unwrap_or(0.0));
        }
        let (ab_rate, rate) = (median(&ab_rates), median(&our_rates));
        rows.push(json!({
            "server": format!("{model} --oneshot"),
            "ab_rate": ab_rate,
            "ab_samples": ab_rates,
            "ab_failed": ab_failed,
            "echo_load_rate": rate,
            "echo_load_samples": our_rates,
            "ratio": if ab_rate > 0.0 { rate / ab_rate } else { 0.0 },
        }));
    }
    Ok(json!({"rows": rows}))
}

fn fmt_value(figure: &str, v: f64) -> String {
    if figure == "throughput" {
        format!("{:.2} GB/s", v / 1e9)
    } else {
        format!("{v:.0} /s")
    }
}

fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "-".into(), |r| format!("{:.0}%", 100.0 * r))
}

fn table(results: &[Value], ab: &Value) -> String {
    let mut text = format!(
        "{:<24} {:<14} {:>13} {:>9} {:>9} {:>9} {:>7} {:>9} {:>7} {:>7} {:>11}  {}\n",
        "load",
        "target",
        "median",
        "vs best",
        "vs C",
        "vs ceil",
        "loss",
        "p99 µs",
        "srv cpu",
        "cli cpu",
        "srv RSS",
        "limited by"
    );
    for r in results {
        let figure = r["figure"].as_str().unwrap_or("rate");
        let cpu = |k: &str| {
            r[k].as_f64()
                .map_or_else(|| "-".into(), |c| format!("{c:.2}"))
        };
        text.push_str(&format!(
            "{:<24} {:<14} {:>13} {:>9} {:>9} {:>9} {:>7} {:>9} {:>7} {:>7} {:>11}  {}\n",
            r["load"].as_str().unwrap_or("?"),
            r["target"].as_str().unwrap_or("?"),
            fmt_value(figure, r["median"].as_f64().unwrap_or(0.0)),
            pct(&r["vs_fastest_model"]),
            pct(&r["vs_c_peer"]),
            pct(&r["vs_ceiling"]),
            r["loss_percent"]
                .as_f64()
                .map_or_else(|| "-".into(), |l| format!("{l:.2}%")),
            r["p99_us"]
                .as_u64()
                .map_or_else(|| "-".into(), |v| v.to_string()),
            cpu("server_cpu"),
            cpu("client_cpu"),
            r["server_rss_kib"]
                .as_u64()
                .map_or_else(|| "-".into(), |k| format!("{k} KiB")),
            r["bottleneck"].as_str().unwrap_or("?"),
        ));
    }
    text.push_str(&peer_lines(results));
    if let Some(rows) = ab["rows"].as_array() {
        text.push_str(
            "\nab -n 20000 -c 50 beside echo-load (conn/request ×50, 80 B), same oneshot server, medians of alternating runs:\n",
        );
        for r in rows {
            text.push_str(&format!(
                "  {:<16} ab {:>8.0} /s ({} failed: the reply is not HTTP)   echo-load {:>8.0} /s   echo-load/ab {:.0}%\n",
                r["server"].as_str().unwrap_or("?"),
                r["ab_rate"].as_f64().unwrap_or(0.0),
                r["ab_failed"],
                r["echo_load_rate"].as_f64().unwrap_or(0.0),
                100.0 * r["ratio"].as_f64().unwrap_or(0.0)
            ));
        }
    } else if let Some(s) = ab["skipped"].as_str() {
        text.push_str(&format!("\nab comparison skipped: {s}\n"));
    }
    text
}

/// The comparisons issue 19 asks for, one line each: a model over its peer on a load.
fn peer_lines(results: &[Value]) -> String {
    let median = |target: &str, load: &str| {
        results
            .iter()
            .find(|r| r["target"] == target && r["load"] == load)
            .and_then(|r| r["median"].as_f64())
    };
    let mut text = String::from("\nmodels against their peers (median over median, same run):\n");
    for (model, peer) in [("epoll", C_PEER), ("tokio", TOKIO_PEER)] {
        for load in [
            "ping-pong 64 B ×10",
            "throughput 64 KiB ×1",
            "conn/request 64 B ×50",
        ] {
            match (median(model, load), median(peer, load)) {
                (Some(m), Some(p)) if p > 0.0 => text.push_str(&format!(
                    "  {model:<6} / {peer:<14} {load:<24} {:.2}\n",
                    m / p
                )),
                _ => text.push_str(&format!("  {model:<6} / {peer:<14} {load:<24} -\n")),
            }
        }
    }
    text
}

fn machine() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
    })
}

#[cfg(test)]
mod tests;
