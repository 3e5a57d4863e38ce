//! `cargo xtask mutants`: each deliberately broken server must FAIL the case it names.

use anyhow::bail;
use xshell::{cmd, Shell};

/// Runs the task.
pub fn run(sh: &Shell) -> anyhow::Result<()> {
    let bin = crate::build(sh)?;
    let mutant = bin.join("echo-mutant");
    let conform = bin.join("echo-conform");
    let list = cmd!(sh, "{mutant} --list").read()?;
    let root = nix::unistd::geteuid().is_root();
    let (mut caught, mut missed, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    // Each (case, claims) a mutant is judged by, so the references can be shown to pass it.
    let mut judged: Vec<(String, &'static str)> = Vec::new();
    for line in list.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(name), Some(case), Some(defect)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if case == "-" {
            // Caught by the runner, not by a case: either the run exits 3 (the server does not
            // start), or the server leaks a process out of its group, which the run notes and
            // ends, so none is left afterwards.
            let command = format!("{} --mutant {name} --port {{port}}", mutant.display());
            let out = cmd!(
                sh,
                "{conform} run --cmd {command} --case echo.text.short --format json"
            )
            .quiet()
            .ignore_status()
            .output()?;
            let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let noted = json["run_notes"].as_array().is_some_and(|n| {
                n.iter()
                    .any(|l| l.to_string().contains("left the process group"))
            });
            let ok = out.status.code() == Some(3)
                || (noted && left_running(&format!("--mutant {name}")).is_empty());
            record(
                ok,
                name,
                "exit 3, or an escape noted and ended",
                defect,
                &mut caught,
                &mut missed,
            );
            continue;
        }
        if case.starts_with("priv.") && !root {
            skipped.push(format!(
                "{name} ({case}): privilege cases need root (CI runs as root)"
            ));
            continue;
        }
        let claims = match case {
            "lifecycle.single.exits" => "single,sequential",
            c if c.starts_with("oneshot.") => "oneshot,forever,sequential",
            c if c.starts_with("scale.") => "c10k",
            c if c.starts_with("priv.udp.") => "privileged,stream,forever,concurrent,tcp,udp",
            c if c.starts_with("priv.") => "privileged,stream,forever,concurrent",
            c if c.starts_with("udp.") => "udp",
            c if c.starts_with("family.") => "dual-stack",
            _ => "",
        };
        if !judged.iter().any(|(c, _)| c == case) {
            judged.push((case.to_string(), claims));
        }
        let command = format!("{} --mutant {name} --port {{port}}", mutant.display());
        let failed = grade(sh, &conform, &command, claims, case)?.as_deref() == Some("FAIL");
        record(failed, name, case, defect, &mut caught, &mut missed);
    }
    // A case that fails every server would catch every mutant: each naming case must pass against
    // a reference model that makes the same claims.
    let server = bin.join("echo-server");
    let mut unsound = Vec::new();
    for (case, claims) in &judged {
        let model = reference_for(claims);
        let command = format!("{} --model {model} --port {{port}}", server.display());
        let passed = grade(sh, &conform, &command, claims, case)?.as_deref() == Some("PASS");
        println!(
            "{} reference {model:<20} {case}",
            if passed { "passes" } else { "FAILS " }
        );
        if !passed {
            unsound.push(format!("{case}: the reference `{model}` does not pass it"));
        }
    }
    let list = cmd!(sh, "{conform} list --format json").read()?;
    let all: serde_json::Value = serde_json::from_str(&list)?;
    let unexercised: Vec<&str> = all
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str())
        .filter(|id| !judged.iter().any(|(c, _)| c == id))
        .collect();
    let total = caught.len() + missed.len();
    println!("mutation score: {}/{total} caught", caught.len());
    println!(
        "cases no mutant exercises ({} of {}): {}",
        unexercised.len(),
        all.as_array().map_or(0, Vec::len),
        unexercised.join(", ")
    );
    for s in &skipped {
        println!("skipped: {s}");
    }
    if !missed.is_empty() || !unsound.is_empty() {
        bail!(
            "the self-test failed:\n  {}",
            missed
                .iter()
                .chain(&unsound)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    Ok(())
}

/// The pids whose command line contains `needle`, other than this process.
fn left_running(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// The reference model (and its flags) run with the same claims as a mutant, to show its naming
/// case can pass.
fn reference_for(claims: &str) -> &'static str {
    match claims {
        "udp" => "tokio --udp",
        "dual-stack" => "threaded --bind ::",
        "single,sequential" => "basic",
        "oneshot,forever,sequential" => "sequential",
        c if c.starts_with("privileged") && c.contains("udp") => {
            "tokio --transport both --user nobody --group nogroup"
        }
        c if c.starts_with("privileged") => "privdrop",
        // The models that claim c10k: tokio (and epoll); threaded does not.
        c if c.contains("c10k") => "tokio",
        _ => "threaded",
    }
}

fn record(
    ok: bool,
    name: &str,
    case: &str,
    defect: &str,
    caught: &mut Vec<String>,
    missed: &mut Vec<String>,
) {
    let line = format!("{name:<24} {case:<36} {defect}");
    println!("{} {line}", if ok { "caught" } else { "MISSED" });
    if ok {
        caught.push(line);
    } else {
        missed.push(line);
    }
}

/// The grade `echo-conform` gives `case` against the server `command` launches with `claims`;
/// `None` when the report has no such case (or none at all).
fn grade(
    sh: &Shell,
    conform: &std::path::Path,
    command: &str,
    claims: &str,
    case: &str,
) -> anyhow::Result<Option<String>> {
    let out = cmd!(
        sh,
        "{conform} run --cmd {command} --claims {claims} --case {case} --format json"
    )
    .quiet()
    .ignore_status()
    .output()?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    Ok(json["cases"].as_array().and_then(|cases| {
        cases
            .iter()
            .find(|c| c["id"] == case)
            .and_then(|c| c["grade"].as_str().map(String::from))
    }))
}
