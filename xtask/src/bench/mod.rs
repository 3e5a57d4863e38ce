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

mod ab;
mod chart;
mod launch;
mod loads;
mod peers;
mod summary;
mod table;
mod targets;

use anyhow::Context;
use loads::{Role, LOADS};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use targets::Target;
use xshell::{cmd, Shell};

/// The samples of each (target, load), and the last full `echo-load` report.
type Samples = BTreeMap<(String, &'static str), (Vec<f64>, Value)>;

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
    let refs = crate::targets::load()?;
    let targets = targets::targets(&bin, &refs, c_peer.as_deref(), servers, udp)?;
    let samples = measure(&bin, &targets, pin, reps, seconds)?;
    let results = summary::summarise(&targets, &samples);
    let ab = ab::ab_comparison(&bin, pin, seconds, reps)?;
    write(&out_dir, &results, &ab, pin, reps, seconds)
}

/// Runs every load each target takes, `reps` times over, a fresh server per run: repetitions
/// are interleaved across targets so that noise spreads over all of them.
fn measure(
    bin: &Path,
    targets: &[Target],
    pin: Option<(usize, usize)>,
    reps: usize,
    seconds: f64,
) -> anyhow::Result<Samples> {
    let mut samples = Samples::new();
    for rep in 0..reps {
        eprintln!("repetition {} of {reps}", rep + 1);
        for t in targets {
            for load in LOADS.iter().filter(|l| (l.takes)(&t.name, t.role)) {
                let server = launch::start(&t.argv, pin, t.role == Role::Udp)?;
                let r = launch::load(bin, server.port, server.pgid(), load.flags, seconds, pin);
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
    Ok(samples)
}

/// Prints the table and writes `table.txt`, `chart.svg` and `bench.json` into `out_dir`.
fn write(
    out_dir: &Path,
    results: &[Value],
    ab: &Value,
    pin: Option<(usize, usize)>,
    reps: usize,
    seconds: f64,
) -> anyhow::Result<()> {
    let table = table::table(results, ab);
    println!("{table}");
    std::fs::write(out_dir.join("table.txt"), &table)?;
    std::fs::write(out_dir.join("chart.svg"), chart::svg(results))?;
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

/// The CPU model `/proc/cpuinfo` names, if any.
fn machine() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
    })
}

#[cfg(test)]
mod tests;
