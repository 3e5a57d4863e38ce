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

mod claims;
mod pool;
mod verdict;

use crate::targets::RefTarget;
use anyhow::bail;
use claims::{claims_for, reference_for, requires_of, Requires};
use pool::Pool;
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::sync::Mutex;
use verdict::{escape_caught, findings_match, grade};
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
    // The spec's cases: each one's level, so that a mutant's run covers the MUST cases and its
    // targets' levels, and its `requires`, which give the claims; at the end, the cases no mutant
    // exercises.
    let text = cmd!(sh, "{conform} list --format json").read()?;
    let listed: Value = serde_json::from_str(&text)?;
    let requires = crate::conform::spec_requires(&text)?;
    let refs = crate::targets::load()?;
    let (mutants, skipped) = read_mutants(&list, nix::unistd::geteuid().is_root(), &requires);
    let pool = Pool::new(&conform)?;
    let plan = plan(&mutants, &mutant, &listed, &requires);
    let (caught, missed) = judge_mutants(&pool, &mutants, &plan.runs)?;
    let unsound = check_references(&pool, &bin.join("echo-server"), &refs, &plan.judged)?;
    finish(&listed, &plan.judged, &caught, &missed, &skipped, &unsound)
}

/// The mutants `echo-mutant --list` prints (one per line: name, cases, defect, tab-separated),
/// and the lines saying which are skipped and why: when not `root`, those whose first case
/// requires `privileged` in `spec`.
fn read_mutants(list: &str, root: bool, spec: &Requires) -> (Vec<Mutant>, Vec<String>) {
    let mut mutants = Vec::new();
    let mut skipped = Vec::new();
    for line in list.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(name), Some(case), Some(defect)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let first = case.split(',').next().unwrap_or(case);
        if !root && requires_of(spec, first).iter().any(|r| r == "privileged") {
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
    (mutants, skipped)
}

/// What the mutants are run as: one argument list per mutant, in order, and each (case, claims)
/// a mutant is judged by, so the references can be shown to pass it.
struct Plan {
    runs: Vec<Vec<String>>,
    judged: Vec<(String, &'static str)>,
}

/// Plans one run per mutant of `mutants`, started by the `echo-mutant` binary `mutant`; `listed`
/// is the spec's list, which gives each case's level, and `spec` each case's `requires`.
fn plan(mutants: &[Mutant], mutant: &Path, listed: &Value, spec: &Requires) -> Plan {
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
    let mut plan = Plan {
        runs: Vec::new(),
        judged: Vec::new(),
    };
    for m in mutants {
        let command = format!("{} --mutant {} --port {{port}}", mutant.display(), m.name);
        if m.case == "-" {
            // Caught by the runner, not by a case: either the run exits 3 (the server does not
            // start), or the server leaks a process out of its group, which the run notes and
            // ends, so none is left afterwards.
            plan.runs.push(args(&command, None, "echo.text.short"));
            continue;
        }
        let claims = claims_for(&m.case, spec);
        for t in &m.targets {
            if !plan.judged.iter().any(|(c, _)| c == t) {
                plan.judged.push((t.clone(), claims));
            }
        }
        plan.runs.push(mutant_args(m, &command, claims, level_of));
    }
    plan
}

/// The arguments of the run judging `m`, started by `command` under `claims`: its first case
/// alone when one of its cases is heavy, else the whole default spec at the MUST level and its
/// cases' own levels (`level_of`).
fn mutant_args(
    m: &Mutant,
    command: &str,
    claims: &str,
    level_of: impl Fn(&str) -> String,
) -> Vec<String> {
    // A mutant whose server cannot start as the whole spec launches it (bind-after-drop's
    // bind fails on port 7) is judged on its case alone too.
    let heavy = m
        .targets
        .iter()
        .any(|t| HEAVY.contains(&t.as_str()) || t.as_str() == "priv.listen.bound-by-root");
    let mut a = args(command, Some(claims), &m.case);
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
    a
}

/// Judges every mutant's run and prints a line for each; returns the lines of the caught
/// mutants and of the missed ones.
fn judge_mutants(
    pool: &Pool,
    mutants: &[Mutant],
    runs: &[Vec<String>],
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    // What each mutant's last judged run found, for the report.
    let seen: Mutex<Vec<String>> = Mutex::new(vec![String::new(); mutants.len()]);
    let outcomes = pool.judge(runs, |i, out| {
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
        let (ok, text) = caught(m, out);
        if let Ok(mut s) = seen.lock() {
            s[i] = text;
        }
        ok
    })?;
    let seen = seen.into_inner().unwrap_or_default();
    Ok(report_mutants(mutants, &outcomes, &seen))
}

/// Whether a run catches `m` (each of its cases FAILs, with one finding per defect), and what
/// the run found.
fn caught(m: &Mutant, out: &Output) -> (bool, String) {
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
    (failed.is_empty() && findings.is_ok(), text)
}

/// Prints one line per mutant (caught or MISSED, what its run found, why a split defect shows
/// as several findings) and returns the caught lines and the missed ones.
fn report_mutants(
    mutants: &[Mutant],
    outcomes: &[(bool, bool)],
    seen: &[String],
) -> (Vec<String>, Vec<String>) {
    let (mut caught, mut missed) = (Vec::new(), Vec::new());
    for (i, (m, (ok, alone))) in mutants.iter().zip(outcomes).enumerate() {
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
    (caught, missed)
}

/// A case that fails every server would catch every mutant: each naming case must pass against
/// a reference model (a target of `reference-servers/targets.toml`, run by `server`) that makes
/// the same claims. Prints a line per case and
/// returns what is wrong.
fn check_references(
    pool: &Pool,
    server: &Path,
    refs: &[RefTarget],
    judged: &[(String, &'static str)],
) -> anyhow::Result<Vec<String>> {
    let models = judged
        .iter()
        .map(|(_, claims)| reference_for(claims, refs))
        .collect::<anyhow::Result<Vec<String>>>()?;
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
    Ok(unsound)
}

/// Prints the mutation score, the cases no mutant exercises and the skipped mutants; an error
/// when a mutant was missed or a reference does not pass its case.
fn finish(
    listed: &Value,
    judged: &[(String, &'static str)],
    caught: &[String],
    missed: &[String],
    skipped: &[String],
    unsound: &[String],
) -> anyhow::Result<()> {
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
    for s in skipped {
        println!("skipped: {s}");
    }
    if !missed.is_empty() || !unsound.is_empty() {
        bail!(
            "the self-test failed:\n  {}",
            missed
                .iter()
                .chain(unsound)
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

/// What a line adds when its judgement was made again alone.
fn note(alone: bool) -> &'static str {
    if alone {
        " (judged alone: it went the other way beside other runs)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::read_mutants;

    #[test]
    fn a_mutant_whose_first_case_requires_privileged_is_skipped_unless_root() {
        let spec = [
            ("priv.umask".to_string(), vec!["privileged".to_string()]),
            ("echo.text.short".to_string(), vec![]),
        ];
        let list =
            "leaky-umask\tpriv.umask\tumask 022\nbanner\techo.text.short,priv.umask\tsays hi\n";
        let (mutants, skipped) = read_mutants(list, false, &spec);
        assert_eq!(mutants.len(), 1);
        assert_eq!(mutants[0].targets, ["echo.text.short", "priv.umask"]);
        assert!(
            skipped[0].starts_with("leaky-umask (priv.umask)"),
            "{skipped:?}"
        );
        assert_eq!(read_mutants(list, true, &spec).0.len(), 2);
    }
}
