//! `cargo xtask conform`: every reference model variant against the spec with its declared claims.
//!
//! Each variant must pass every case it claims, and for each claim it does not make, some case of
//! that claim must fail against it: a profile that cannot tell the models apart is a bug.

use crate::flags::Conform;
use anyhow::{bail, Context};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use xshell::{cmd, Shell};

/// The reference variants: a name, the flags after `--model` (`{bind}` is the address for the
/// run's families), and the runner's `--family`. The claims are read with `{bind}` as the family
/// implies (`::` for both, so a dual-stack server claims `dual-stack`).
pub const VARIANTS: &[(&str, &str, &str)] = &[
    ("basic", "basic", "4"),
    ("sequential", "sequential", "4"),
    ("handler", "handler", "4"),
    ("handler-upper", "handler --transform uppercase", "4"),
    ("threaded", "threaded", "4"),
    ("prefork", "prefork", "4"),
    ("select", "select", "4"),
    ("poll", "poll", "4"),
    ("epoll", "epoll", "4"),
    ("tokio", "tokio", "4"),
    // UDP: the blocking loop, the epoll loop and tokio, UDP only.
    ("sequential-udp", "sequential --udp", "4"),
    ("epoll-udp", "epoll --udp", "4"),
    ("tokio-udp", "tokio --udp", "4"),
    // IPv6: epoll on ::1 only, and tokio on `::` serving TCP and UDP over both families.
    ("epoll-v6", "epoll --bind {bind}", "6"),
    ("tokio-dual", "tokio --transport both --bind {bind}", "both"),
];

/// Claim values that have an alternative in the same dimension, which a case may test.
const ALTERNATIVES: &[(&str, &str)] = &[
    ("stream", "oneshot"),
    ("oneshot", "stream"),
    ("forever", "single"),
    ("single", "forever"),
    ("sequential", "concurrent"),
];

/// Runs the task.
pub fn run(sh: &Shell, flags: &Conform) -> anyhow::Result<()> {
    let bin = crate::build(sh)?;
    let out_dir = crate::root().join("target/conform");
    std::fs::create_dir_all(&out_dir)?;
    let conform = bin.join("echo-conform");
    // The server under test (with `--server`) runs first and becomes the matrix's last column.
    let mut under_test = None;
    if let Some(server) = &flags.server {
        let claims = flags.claims.clone().unwrap_or_default();
        let report = out_dir.join("server.json");
        let status = cmd!(sh, "{conform} run --cmd {server} --claims {claims} --detect --heavy --format json --output {report}").quiet().ignore_status().output()?;
        let json = load(&report)?;
        print_human(&json);
        under_test = Some((claims, json, status.status.code().unwrap_or(1)));
    }
    let server_bin = bin.join("echo-server");
    let spec = spec_requires(&cmd!(sh, "{conform} list --format json").read()?)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut variants: Vec<(&str, &str, &str)> = VARIANTS.to_vec();
    if nix::unistd::geteuid().is_root() {
        // The privilege variants bind port 7 and drop to nobody, so only as root; the runner gives
        // them a private network namespace.
        variants.push(("privdrop", "privdrop", "4"));
        variants.push(("tokio-nobody", "tokio --user nobody --group nogroup", "4"));
    } else {
        eprintln!(
            "privdrop, tokio-nobody: skipped, the privilege variants need root (CI runs as root)"
        );
    }
    for (name, model_flags, family) in variants
        .iter()
        .filter(|(n, _, _)| flags.only.is_empty() || flags.only.iter().any(|o| o == n))
    {
        let bind = match *family {
            "6" => "::1",
            "both" => "::",
            _ => "127.0.0.1",
        };
        let claim_flags = model_flags.replace("{bind}", bind);
        let args: Vec<&str> = claim_flags.split_whitespace().collect();
        let claims = cmd!(sh, "{server_bin} --model {args...} --claims")
            .read()
            .with_context(|| format!("claims of {name}"))?;
        let command = format!(
            "{} --model {model_flags} --port {{port}}",
            server_bin.display()
        );
        let report = out_dir.join(format!("{name}.json"));
        // A model's known failures (its design, with the reason) are listed in xtask/expected/.
        let expected = crate::root().join(format!("xtask/expected/{name}.toml"));
        let expect_fail: Vec<String> = if expected.is_file() {
            vec!["--expect-fail".into(), expected.display().to_string()]
        } else {
            Vec::new()
        };
        let output = cmd!(sh, "{conform} run --cmd {command} --claims {claims} --family {family} --detect --heavy {expect_fail...} --format json --output {report}").quiet().ignore_status().output()?;
        let code = output.status.code().unwrap_or(-1);
        let json = load(&report)
            .with_context(|| format!("{name}: {}", String::from_utf8_lossy(&output.stderr)))?;
        problems.extend(check(name, &claims, code, &json, &spec));
        eprintln!(
            "{name:<14} claims {claims:<52} exit {code}  detected {}",
            json["detected"].as_str().unwrap_or("?")
        );
        rows.push((name.to_string(), claims, json));
    }
    let matrix = matrix(&rows);
    println!("{matrix}");
    std::fs::write(out_dir.join("matrix.txt"), &matrix)?;
    let mut columns: Vec<crate::html::Column> = rows
        .iter()
        .map(|(name, claims, json)| crate::html::Column {
            name,
            claims,
            under_test: false,
            report: json,
        })
        .collect();
    if let Some((claims, json, _)) = &under_test {
        columns.push(crate::html::Column {
            name: "server",
            claims,
            under_test: true,
            report: json,
        });
    }
    let data = crate::html::data(&columns);
    std::fs::write(
        out_dir.join("matrix.json"),
        serde_json::to_string_pretty(&data)?,
    )?;
    std::fs::write(out_dir.join("index.html"), crate::html::render(&data))?;
    println!("matrix page: {}", out_dir.join("index.html").display());
    crate::html::check(sh, &out_dir)?;
    if let Some((_, _, code)) = under_test.filter(|(_, _, code)| *code != 0 && problems.is_empty())
    {
        eprintln!("the server under test: echo-conform exited {code}");
        std::process::exit(code);
    }
    if problems.is_empty() {
        println!("every model passes what it claims, and every claim it does not make is caught by a failing case");
        println!("reports: {}", out_dir.display());
        Ok(())
    } else {
        bail!("the matrix is wrong:\n  {}", problems.join("\n  "))
    }
}

fn load(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("no report at {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("bad JSON in {}", path.display()))
}

fn cases(json: &Value) -> Vec<&Value> {
    json["cases"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// What is wrong with one variant's report, if anything.
fn check(
    name: &str,
    claims: &str,
    code: i32,
    json: &Value,
    spec: &[(String, Vec<String>)],
) -> Vec<String> {
    let mut problems = Vec::new();
    for c in cases(json) {
        let id = c["id"].as_str().unwrap_or("?");
        match c["grade"].as_str() {
            Some("XFAIL") => println!(
                "{name}: known failure of {id}: {}",
                c["evidence"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("")
            ),
            Some("XPASS") => problems.push(format!(
                "{name}: {id} is listed in xtask/expected/{name}.toml but passed; remove it there"
            )),
            Some("FAIL") if c["claimed"] == true => {
                let evidence = c["evidence"]
                    .as_str()
                    .unwrap_or("")
                    .lines()
                    .next()
                    .unwrap_or("");
                problems.push(format!("{name}: fails claimed case {id}: {evidence}"));
            }
            _ => {}
        }
    }
    if code != 0 && problems.is_empty() {
        problems.push(format!("{name}: echo-conform exited {code}"));
    }
    let claimed: Vec<&str> = claims.split(',').collect();
    for (have, alt) in ALTERNATIVES {
        if !claimed.contains(have) {
            continue;
        }
        let alt_cases: Vec<&String> = spec
            .iter()
            .filter(|(_, req)| req.iter().any(|r| r == alt))
            .map(|(id, _)| id)
            .collect();
        if alt_cases.is_empty() {
            continue;
        }
        let caught = cases(json)
            .iter()
            .any(|c| c["grade"] == "FAIL" && alt_cases.iter().any(|id| c["id"] == id.as_str()));
        if !caught {
            problems.push(format!("{name}: claims `{have}`, yet no `{alt}` case fails against it; the profile cannot tell them apart"));
        }
    }
    problems
}

/// Every case id with its `requires`, from the JSON of `echo-conform list --format json`. An empty
/// or unreadable list is an error: the discrimination check must never pass for want of cases.
fn spec_requires(list_json: &str) -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let json: Value =
        serde_json::from_str(list_json).context("`echo-conform list` printed bad JSON")?;
    let cases: Vec<(String, Vec<String>)> = json
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let req = c["requires"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(String::from))
                .collect();
            (c["id"].as_str().unwrap_or("").to_string(), req)
        })
        .collect();
    if cases.is_empty() {
        bail!("`echo-conform list` listed no cases");
    }
    Ok(cases)
}

/// The group of a report's case: the first part of its id (`echo` of `echo.text.short`).
fn group(case: &Value) -> &str {
    case["id"]
        .as_str()
        .unwrap_or("")
        .split('.')
        .next()
        .unwrap_or("")
}

/// Models × case groups: claimed passes over claimed cases, then unclaimed cases caught failing.
fn matrix(rows: &[(String, String, Value)]) -> String {
    let mut groups: Vec<String> = Vec::new();
    for (_, _, json) in rows {
        for c in cases(json) {
            let g = group(c).to_string();
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    let mut text = format!("{:<14}", "model");
    for g in &groups {
        text.push_str(&format!(" {g:>13}"));
    }
    text.push_str("   cell = claimed passed/claimed run, then (unclaimed cases that failed ✗)\n");
    for (name, _, json) in rows {
        let mut per: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
        for c in cases(json) {
            let e = per.entry(group(c)).or_default();
            if c["claimed"] == true {
                e.1 += 1;
                // A measurement (level info) is graded INFO when it ran.
                if c["grade"] == "PASS" || (c["level"] == "info" && c["grade"] == "INFO") {
                    e.0 += 1;
                }
            } else if c["grade"] == "FAIL" {
                e.2 += 1;
            }
        }
        text.push_str(&format!("{name:<14}"));
        for g in &groups {
            let (p, n, x) = per.get(g.as_str()).copied().unwrap_or_default();
            let cell = match (n, x) {
                (0, 0) => "-".to_string(),
                (0, x) => format!("({x}✗)"),
                (n, 0) => format!("{p}/{n}"),
                (n, x) => format!("{p}/{n} ({x}✗)"),
            };
            text.push_str(&format!(" {cell:>13}"));
        }
        text.push('\n');
    }
    text
}

fn print_human(json: &Value) {
    for c in cases(json) {
        println!(
            "{:<6} {:<40} {}",
            c["grade"].as_str().unwrap_or("?"),
            c["id"].as_str().unwrap_or("?"),
            if c["claimed"] == true {
                ""
            } else {
                "(not claimed)"
            }
        );
    }
    println!(
        "claims {}  detected {}",
        json["claims"].as_str().unwrap_or("?"),
        json["detected"].as_str().unwrap_or("?")
    );
}
