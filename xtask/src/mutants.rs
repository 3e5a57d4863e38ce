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
    for line in list.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(name), Some(case), Some(defect)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if case == "-" {
            // Caught by the launcher, not by a case: the run must exit 3.
            let command = format!("{} --mutant {name} --port {{port}}", mutant.display());
            let out = cmd!(sh, "{conform} run --cmd {command} --case echo.text.short")
                .quiet()
                .ignore_status()
                .output()?;
            record(
                out.status.code() == Some(3),
                name,
                "exit 3",
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
            c if c.starts_with("scale.") => "c10k",
            c if c.starts_with("priv.") => "privileged,stream,forever,concurrent",
            _ => "",
        };
        let command = format!("{} --mutant {name} --port {{port}}", mutant.display());
        let out = cmd!(
            sh,
            "{conform} run --cmd {command} --claims {claims} --case {case} --format json"
        )
        .quiet()
        .ignore_status()
        .output()?;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let failed = json["cases"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["id"] == case && c["grade"] == "FAIL"));
        record(failed, name, case, defect, &mut caught, &mut missed);
    }
    let total = caught.len() + missed.len();
    println!("mutation score: {}/{total} caught", caught.len());
    for s in &skipped {
        println!("skipped: {s}");
    }
    if !missed.is_empty() {
        bail!("mutants not caught:\n  {}", missed.join("\n  "));
    }
    Ok(())
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
