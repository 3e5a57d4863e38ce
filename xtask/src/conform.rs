//! `cargo xtask conform`: every reference model variant against the spec with its declared claims,
//! through `echo-conform matrix reference-servers/targets.toml` (runs side by side, the page, the
//! JSON and the text matrix all come from there).
//!
//! What this task adds is the check of the reference models themselves: each variant must pass
//! every case it claims, and for each claim it does not make, some case of that claim must fail
//! against it: a profile that cannot tell the models apart is a bug.

use crate::flags::Conform;
use crate::targets::TARGETS;
use anyhow::{bail, Context};
use serde_json::Value;
use std::path::Path;
use xshell::{cmd, Shell};

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
    let mut targets = std::fs::read_to_string(crate::root().join(TARGETS))
        .with_context(|| format!("reading {TARGETS}"))?;
    // The server under test (with `--server`) becomes the matrix's last column.
    let mut extra: Vec<String> = Vec::new();
    if let Some(server) = &flags.server {
        let claims = flags.claims.clone().unwrap_or_default();
        targets.push_str(&format!(
            "\n[[target]]\nname = \"server\"\ncmd = {}\nclaims = {}\n",
            Value::from(server.as_str()),
            Value::from(claims.as_str())
        ));
        extra.extend(["--under-test".to_string(), "server".to_string()]);
    }
    for o in &flags.only {
        extra.extend(["--only".to_string(), o.clone()]);
    }
    if let Some(j) = flags.jobs {
        extra.extend(["--jobs".to_string(), j.to_string()]);
    }
    // The file stays in reference-servers/ so that relative paths in it mean what they say there.
    let file = crate::root().join("reference-servers/.targets.conform.toml");
    std::fs::write(&file, &targets)?;
    // Its progress and summary go straight to the terminal; the verdicts are read back from
    // matrix.json. A matrix that could not run at all (a bad file, say) leaves no matrix.json.
    let status = std::process::Command::new(&conform)
        .arg("matrix")
        .arg(&file)
        .arg("--out")
        .arg(&out_dir)
        .args(&extra)
        .status();
    let _ = std::fs::remove_file(&file);
    let matrix_code = status
        .context("starting echo-conform matrix")?
        .code()
        .unwrap_or(-1);
    let data = load(&out_dir.join("matrix.json"))
        .context("echo-conform matrix wrote no matrix.json (see its error above)")?;
    let spec = spec_requires(&cmd!(sh, "{conform} list --format json").read()?)?;
    let mut problems = Vec::new();
    let mut server_code = None;
    for col in data["columns"].as_array().into_iter().flatten() {
        let name = col["name"].as_str().unwrap_or("?");
        let claims = col["claims"].as_str().unwrap_or("");
        let exit = col["exit_code"].as_i64().unwrap_or(-1) as i32;
        let report = load(&out_dir.join(name).join("report.json"))?;
        if col["under_test"] == true {
            server_code = Some(exit);
            continue;
        }
        problems.extend(check(name, claims, exit, &report, &spec));
    }
    // A target whose run left no report has no column: the matrix's exit code says so.
    let columns = data["columns"].as_array().map_or(0, Vec::len);
    let expected = targets.matches("[[target]]").count()
        - if nix::unistd::geteuid().is_root() {
            0
        } else {
            targets.matches("root = true").count()
        };
    let expected = if flags.only.is_empty() {
        expected
    } else {
        flags.only.len()
    };
    if columns != expected {
        problems.push(format!(
            "{columns} columns in the matrix, {expected} targets run (exit {matrix_code}): a run left no report; see its run.log under {}",
            out_dir.display()
        ));
    }
    if !nix::unistd::geteuid().is_root() {
        eprintln!(
            "privdrop, tokio-nobody: skipped, the privilege variants need root (CI runs as root)"
        );
    }
    crate::html::check(sh, &out_dir)?;
    if let Some(code) = server_code.filter(|c| *c != 0 && problems.is_empty()) {
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
pub fn spec_requires(list_json: &str) -> anyhow::Result<Vec<(String, Vec<String>)>> {
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
