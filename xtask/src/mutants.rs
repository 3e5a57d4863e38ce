//! `cargo xtask mutants`: each deliberately broken server must FAIL the cases it names, its run
//! must report exactly one finding per defect (one for a single-defect mutant, two for a double
//! one), each finding explaining one of the named cases, and a reference with the same claims
//! must PASS those cases.
//!
//! A mutant is judged on the whole default spec under the claims of its first named case, at
//! the MUST level and its named cases' own (a heavy case is judged alone, with `--case`), so that
//! a defect that fails twenty cases still counts as one finding.
//! Every judgement is one `echo-conform run --case …`. They run two per CPU at once, sharing one
//! machine lock as `echo-conform matrix` does, so a heavy or crowd case still keeps the machine to
//! itself. A judgement that goes the wrong way beside others is made again alone, and that run
//! decides: a verdict never rests on a neighbour's noise.

use crate::LOCK_ENV;
use anyhow::bail;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use xshell::{cmd, Shell};

/// One mutant of `echo-mutant --list`.
struct Mutant {
    name: String,
    /// The first case that must catch it, or `-` when the runner itself must (exit 3, or an
    /// escape).
    case: String,
    /// Every case that must catch it, one per defect.
    targets: Vec<String>,
    defect: String,
}

/// Mutants whose one defect shows as more than one finding, with at most how many and why: the
/// kit cannot tell these failures share a cause from what the client sees, and says so.
const SPLIT: [(&str, usize, &str); 1] = [(
    "cross-talk",
    3,
    "its echo goes into another connection: each victim sees only what it lacks or what it never \
     sent (bytes not its own, an echo cut short, nothing after its half-close), and the client \
     cannot see where the missing bytes went",
)];

/// Cases of the spec that run only with `--heavy` or their own `--case`: a mutant naming one is
/// judged on that case alone.
const HEAVY: [&str; 4] = [
    "scale.c10k",
    "scale.c100k",
    "hostile.emfile.recovers",
    "property.stream.heavy",
];

/// Runs the task.
pub fn run(sh: &Shell) -> anyhow::Result<()> {
    let bin = crate::build(sh)?;
    let mutant = bin.join("echo-mutant");
    let conform = bin.join("echo-conform");
    let list = cmd!(sh, "{mutant} --list").read()?;
    let root = nix::unistd::geteuid().is_root();
    let mut mutants = Vec::new();
    let mut skipped = Vec::new();
    for line in list.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(name), Some(case), Some(defect)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if case.starts_with("priv.") && !root {
            skipped.push(format!(
                "{name} ({case}): privilege cases need root (CI runs as root)"
            ));
            continue;
        }
        let targets: Vec<String> = case.split(',').map(str::to_string).collect();
        mutants.push(Mutant {
            name: name.into(),
            case: targets[0].clone(),
            targets,
            defect: defect.into(),
        });
    }
    let pool = Pool::new(&conform)?;
    // The spec's cases: each one's level, so that a mutant's run covers the MUST cases and its
    // targets' levels, and at the end the cases no mutant exercises.
    let listed: serde_json::Value =
        serde_json::from_str(&cmd!(sh, "{conform} list --format json").read()?)?;
    let level_of = |id: &str| {
        listed
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["id"] == id)
            .and_then(|c| c["level"].as_str())
            .unwrap_or("must")
            .to_string()
    };
    // Each (case, claims) a mutant is judged by, so the references can be shown to pass it.
    let mut judged: Vec<(String, &'static str)> = Vec::new();
    let mut runs = Vec::new();
    for m in &mutants {
        let command = format!("{} --mutant {} --port {{port}}", mutant.display(), m.name);
        if m.case == "-" {
            // Caught by the runner, not by a case: either the run exits 3 (the server does not
            // start), or the server leaks a process out of its group, which the run notes and
            // ends, so none is left afterwards.
            runs.push(args(&command, None, "echo.text.short"));
            continue;
        }
        let claims = claims_for(&m.case);
        for t in &m.targets {
            if !judged.iter().any(|(c, _)| c == t) {
                judged.push((t.clone(), claims));
            }
        }
        // A mutant whose server cannot start as the whole spec launches it (bind-after-drop's
        // bind fails on port 7) is judged on its case alone too.
        let heavy = m
            .targets
            .iter()
            .any(|t| HEAVY.contains(&t.as_str()) || t.as_str() == "priv.listen.bound-by-root");
        let mut a = args(&command, Some(claims), &m.case);
        if !heavy {
            // The whole default spec at the MUST level and the targets' own: drop `--case`.
            let at = a.iter().position(|x| x == "--case").unwrap_or(a.len());
            a.drain(at..(at + 2).min(a.len()));
            let mut levels = vec!["must".to_string()];
            for t in &m.targets {
                let l = level_of(t);
                if !levels.contains(&l) {
                    levels.push(l);
                }
            }
            a.extend(["--level".into(), levels.join(",")]);
        }
        runs.push(a);
    }
    // What each mutant's last judged run found, for the report.
    let seen: Mutex<Vec<String>> = Mutex::new(vec![String::new(); mutants.len()]);
    let outcomes = pool.judge(&runs, |i, out| {
        let m = &mutants[i];
        // Each run's report stays for a look afterwards: target/mutants/NAME.json.
        let _ = std::fs::write(
            crate::target_dir()
                .join("mutants")
                .join(format!("{}.json", m.name)),
            &out.stdout,
        );
        if m.case == "-" {
            return escape_caught(out, &m.name);
        }
        let failed: Vec<&String> = m
            .targets
            .iter()
            .filter(|t| grade(out, t).as_deref() != Some("FAIL"))
            .collect();
        let expected = SPLIT
            .iter()
            .find(|(name, _, _)| *name == m.name)
            .map_or(m.targets.len(), |(_, most, _)| *most);
        let findings = findings_match(out, &m.targets, expected);
        let mut text = match &findings {
            Ok(found) | Err(found) => found.clone(),
        };
        if !failed.is_empty() {
            text.push_str(&format!("; does not FAIL {failed:?}"));
        }
        if let Ok(mut s) = seen.lock() {
            s[i] = text;
        }
        failed.is_empty() && findings.is_ok()
    })?;
    let seen = seen.into_inner().unwrap_or_default();
    let (mut caught, mut missed) = (Vec::new(), Vec::new());
    for (i, (m, (ok, alone))) in mutants.iter().zip(&outcomes).enumerate() {
        let targets = m.targets.join(",");
        let expected = if m.case == "-" {
            "exit 3, or an escape noted and ended"
        } else {
            &targets
        };
        let line = format!("{:<24} {expected:<36} {}{}", m.name, m.defect, note(*alone));
        println!("{} {line}", if *ok { "caught" } else { "MISSED" });
        if !seen[i].is_empty() {
            println!("       {}", seen[i]);
        }
        if let Some((_, n, why)) = SPLIT.iter().find(|(name, _, _)| *name == m.name) {
            println!("       one defect, up to {n} findings, as expected: {why}");
        }
        if *ok {
            caught.push(line);
        } else {
            missed.push(line);
        }
    }
    // A case that fails every server would catch every mutant: each naming case must pass against
    // a reference model that makes the same claims.
    let server = bin.join("echo-server");
    let models: Vec<&str> = judged.iter().map(|(_, c)| reference_for(c)).collect();
    let runs: Vec<Vec<String>> = judged
        .iter()
        .zip(&models)
        .map(|((case, claims), model)| {
            let command = format!("{} --model {model} --port {{port}}", server.display());
            args(&command, Some(claims), case)
        })
        .collect();
    let outcomes = pool.judge(&runs, |i, out| {
        grade(out, &judged[i].0).as_deref() == Some("PASS")
    })?;
    let mut unsound = Vec::new();
    for (((case, _), model), (passed, alone)) in judged.iter().zip(&models).zip(&outcomes) {
        println!(
            "{} reference {model:<20} {case}{}",
            if *passed { "passes" } else { "FAILS " },
            note(*alone)
        );
        if !passed {
            unsound.push(format!("{case}: the reference `{model}` does not pass it"));
        }
    }
    let unexercised: Vec<&str> = listed
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
        listed.as_array().map_or(0, Vec::len),
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

/// The arguments of one `echo-conform run` of `case` against the server `command` starts.
fn args(command: &str, claims: Option<&str>, case: &str) -> Vec<String> {
    let mut a = vec!["run".to_string(), "--cmd".into(), command.into()];
    if let Some(claims) = claims {
        a.extend(["--claims".into(), claims.into()]);
    }
    a.extend([
        "--case".into(),
        case.into(),
        "--format".into(),
        "json".into(),
    ]);
    a
}

/// The claims a mutant naming `case` is run with: those under which the case applies.
fn claims_for(case: &str) -> &'static str {
    match case {
        "lifecycle.single.exits" => "single,sequential",
        c if c.starts_with("oneshot.") => "oneshot,forever,sequential",
        c if c.starts_with("scale.") => "c10k",
        c if c.starts_with("priv.udp.") => "privileged,stream,forever,concurrent,tcp,udp",
        c if c.starts_with("priv.") => "privileged,stream,forever,concurrent",
        c if c.starts_with("udp.") => "udp",
        c if c.starts_with("family.") => "dual-stack",
        _ => "",
    }
}

/// True when the runner caught a mutant no case names: the run exited 3 (the server did not
/// start), or it noted a process that left the group and ended it, so none of it is left.
fn escape_caught(out: &Output, name: &str) -> bool {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let noted = json["run_notes"]
        .as_array()
        .is_some_and(|n| n.iter().any(|note| note["kind"] == "left-group"));
    out.status.code() == Some(3) || (noted && left_running(&format!("--mutant {name} ")).is_empty())
}

/// The grade a run's JSON report gives `case`; `None` when it has no such case (or no report).
fn grade(out: &Output, case: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    json["cases"].as_array().and_then(|cases| {
        cases
            .iter()
            .find(|c| c["id"] == case)
            .and_then(|c| c["grade"].as_str().map(String::from))
    })
}

/// Whether a run's findings are one per target case: as many findings as targets (up to `most`
/// where [`SPLIT`] allows more), each target explained by a finding of its own. Either way, the
/// text says what the run found.
fn findings_match(out: &Output, targets: &[String], most: usize) -> Result<String, String> {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let findings = json["findings"].as_array().cloned().unwrap_or_default();
    let summary: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "[{}] {} (primary {}, {} case(s))",
                f["level"].as_str().unwrap_or(""),
                f["diagnosis"].as_str().unwrap_or(""),
                f["primary"].as_str().unwrap_or(""),
                f["cases"].as_array().map_or(0, Vec::len)
            )
        })
        .collect();
    let explains = |f: &serde_json::Value, t: &str| {
        f["cases"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == t))
    };
    let mut used = vec![false; findings.len()];
    let mut matched = 0;
    for t in targets {
        if let Some(i) = (0..findings.len()).find(|&i| !used[i] && explains(&findings[i], t)) {
            used[i] = true;
            matched += 1;
        }
    }
    let text = format!("{} finding(s): {}", findings.len(), summary.join("; "));
    if (targets.len()..=most).contains(&findings.len()) && matched == targets.len() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// What a line adds when its judgement was made again alone.
fn note(alone: bool) -> &'static str {
    if alone {
        " (judged alone: it went the other way beside other runs)"
    } else {
        ""
    }
}

/// Runs `echo-conform` invocations side by side, two per CPU, under one machine lock.
struct Pool {
    conform: PathBuf,
    lock: PathBuf,
    jobs: usize,
}

impl Pool {
    fn new(conform: &Path) -> anyhow::Result<Self> {
        let dir = crate::target_dir().join("mutants");
        std::fs::create_dir_all(&dir)?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            conform: conform.to_path_buf(),
            // Under a machine lock already (a CI step beside others), share it.
            lock: std::env::var_os(LOCK_ENV)
                .map_or_else(|| dir.join(".machine.lock"), PathBuf::from),
            jobs: 2 * cpus,
        })
    }

    /// Runs every argument list of `runs` and judges each output with `ok`; a run judged not ok
    /// beside others runs again with nothing else running, and that run decides. Returns, in
    /// order, whether each was ok and whether it was judged alone.
    fn judge(
        &self,
        runs: &[Vec<String>],
        ok: impl Fn(usize, &Output) -> bool + Sync,
    ) -> anyhow::Result<Vec<(bool, bool)>> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<std::io::Result<Output>>>> =
            Mutex::new((0..runs.len()).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..self.jobs.min(runs.len()) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(a) = runs.get(i) else { break };
                    let out = self.command(a, true).output();
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(out);
                    }
                });
            }
        });
        let results = results
            .into_inner()
            .map_err(|_| anyhow::anyhow!("a run's thread panicked"))?;
        let mut judged = Vec::with_capacity(runs.len());
        for (i, out) in results.into_iter().enumerate() {
            let out = out.ok_or_else(|| anyhow::anyhow!("run {i} never ran"))??;
            if ok(i, &out) {
                judged.push((true, false));
            } else {
                let again = self.command(&runs[i], false).output()?;
                judged.push((ok(i, &again), true));
            }
        }
        Ok(judged)
    }

    fn command(&self, args: &[String], beside_others: bool) -> Command {
        let mut c = Command::new(&self.conform);
        c.args(args).stdin(Stdio::null()).stderr(Stdio::null());
        if beside_others {
            c.env(LOCK_ENV, &self.lock);
        } else {
            c.env_remove(LOCK_ENV);
        }
        c
    }
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
