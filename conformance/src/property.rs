//! Runs `property` cases: the `--seed` and `--prop-cases` overrides, the verdict with the shrunk
//! sequence as evidence, and `--emit-regressions DIR`, which writes each shrunk counterexample as a
//! spec file holding one `script` case.

use crate::grade::ClientFailure;
use crate::plan::Planned;
use echo_clients::property::{run_property, Counterexample, PropertyOutcome, ShrinkLimits};
use echo_clients::FailureKind;
use echo_clients::ScriptConfig;
use echo_spec::{emit_file, emit_step, parse_file, Case, CaseKind, PropertyParams, MAX_PROP_CASES};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Most time spent shrinking one failure, before `--time-scale`.
const SHRINK_TIME: Duration = Duration::from_secs(20);
/// Most shrinking runs for one failure.
const SHRINK_ITERS: u32 = 512;

/// Checks `--seed` (it must fit a TOML integer, so a regression file can name it) and
/// `--prop-cases` (1..=`MAX_PROP_CASES`).
pub fn check_overrides(seed: Option<u64>, count: Option<u32>) -> Result<(), String> {
    if let Some(seed) = seed.filter(|s| *s > i64::MAX as u64) {
        return Err(format!(
            "--seed: {seed} is over {} (the largest TOML integer)",
            i64::MAX
        ));
    }
    if let Some(n) = count.filter(|n| !(1..=MAX_PROP_CASES).contains(n)) {
        return Err(format!("--prop-cases: {n} is outside 1..={MAX_PROP_CASES}"));
    }
    Ok(())
}

/// Replaces the seed and the case count of every property case, where the flags give them.
pub fn apply_overrides(cases: &mut [Planned], seed: Option<u64>, count: Option<u32>) {
    for p in cases {
        if let CaseKind::Property { params } = &mut p.case.kind {
            if let Some(seed) = seed {
                params.seed = seed;
            }
            if let Some(count) = count {
                params.cases = count;
            }
        }
    }
}

/// Runs a property case; `None` when every sequence passed, else the failure class and evidence.
/// With `regressions`, a failure's shrunk steps are written there as a spec file.
pub fn execute(
    case: &Case,
    params: &PropertyParams,
    cfg: &ScriptConfig,
    regressions: Option<&Path>,
) -> Option<ClientFailure> {
    let limits = ShrinkLimits {
        max_iters: SHRINK_ITERS,
        max_time: SHRINK_TIME.mul_f64(cfg.time_scale).min(cfg.case_budget),
        budget: cfg.case_budget,
    };
    let outcome = run_property(params, cfg, &limits);
    let head = format!(
        "property: seed {}, {} sequences of up to {} operations, at most {} open at once (repeat with --seed {} --prop-cases {})",
        params.seed,
        params.cases,
        params.max_ops,
        match params.connections {
            1 => "one connection".to_string(),
            n => format!("{n} connections"),
        },
        params.seed,
        params.cases
    );
    if let Some(cx) = &outcome.failure {
        let mut evidence = format!("{head}\n{}", describe_failure(&outcome, params.cases, cx));
        if let Some(dir) = regressions {
            match write_regression(dir, case, params, cx) {
                Ok(path) => evidence.push_str(&format!(
                    "\nregression written to {} (run it with --spec {})",
                    path.display(),
                    dir.display()
                )),
                Err(e) => evidence.push_str(&format!("\ncannot write the regression: {e}")),
            }
        }
        return Some(ClientFailure::Step {
            kind: cx.error.failure.kind,
            evidence,
            symptom: cx.error.failure.symptom.as_deref().cloned(),
            step: Some(cx.error.step),
        });
    }
    if let Some(reason) = &outcome.aborted {
        return Some(ClientFailure::Abort(format!(
            "{head}\nthe generator gave up after {} sequences: {reason}",
            outcome.cases_run
        )));
    }
    if outcome.cases_skipped > 0 {
        return Some(ClientFailure::Step {
            symptom: None,
            step: None,
            kind: FailureKind::Slow,
            evidence: format!(
                "{head}\nonly {} of {} sequences ran within the case budget of {} ms",
                outcome.cases_run,
                params.cases,
                cfg.case_budget.as_millis()
            ),
        });
    }
    None
}

fn describe_failure(outcome: &PropertyOutcome, total: u32, cx: &Counterexample) -> String {
    let mut text = format!(
        "sequence {} of {total} failed; shrunk from {} to {} steps in {} runs ({} ms in all)\n",
        outcome.cases_run,
        cx.original_steps,
        cx.steps.len(),
        cx.shrink_runs,
        outcome.elapsed.as_millis()
    );
    if let Some(note) = &cx.note {
        text.push_str(note);
        text.push('\n');
    }
    if !cx.reproduced {
        text.push_str(
            "the shrunk steps passed when run once more: the failure depends on timing\n",
        );
    }
    text.push_str("shrunk steps:\n");
    for (i, s) in cx.steps.iter().enumerate() {
        text.push_str(&format!("  {i:>2}. {}\n", emit_step(s)));
    }
    text.push_str(&format!(
        "{}\ntranscript (last events):\n{}",
        cx.error,
        crate::text::indent(&cx.transcript.tail(10))
    ));
    text
}

/// The `script` case that replays `cx`: same level, claims and timeouts as the property case.
pub fn regression_case(case: &Case, params: &PropertyParams, cx: &Counterexample) -> Case {
    Case {
        id: format!("regression.{}.s{}", case.id, params.seed),
        title: format!(
            "shrunk counterexample of {} (seed {})",
            case.id, params.seed
        ),
        source: format!(
            "property case `{}`, seed {}, {} cases, found by echo-conform --emit-regressions; {}",
            case.id, params.seed, params.cases, case.source
        ),
        level: case.level,
        requires: case.requires.clone(),
        tags: vec!["regression".into()],
        timeouts: case.timeouts,
        rlimit_nofile: None,
        kind: CaseKind::Script {
            steps: cx.steps.clone(),
        },
        origin: case.origin.clone(),
    }
}

/// Writes `DIR/<case-id>.seed-<seed>.toml`, after checking that the text parses back to the case.
fn write_regression(
    dir: &Path,
    case: &Case,
    params: &PropertyParams,
    cx: &Counterexample,
) -> Result<PathBuf, String> {
    let regression = regression_case(case, params, cx);
    let name = format!("{}.seed-{}.toml", case.id, params.seed);
    let comment = format!(
        "Written by echo-conform --emit-regressions: the shrunk counterexample of property case\n`{}` (seed {}). It failed with:\n{}",
        case.id, params.seed, cx.error
    );
    let text = emit_file(&comment, std::slice::from_ref(&regression));
    let parsed =
        parse_file(&name, &text).map_err(|e| format!("the emitted case does not parse: {e}"))?;
    if parsed.first().map(|c| &c.kind) != Some(&regression.kind) {
        return Err("the emitted case does not parse back to the same steps".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use echo_clients::{Failure, FailureKind, StepError, Transcript};
    use echo_spec::{Spec, Step};

    fn property_case() -> Case {
        Spec::embedded()
            .expect("the embedded spec is valid")
            .get("property.stream.one-connection")
            .expect("the case exists")
            .clone()
    }

    fn counterexample() -> Counterexample {
        Counterexample {
            steps: vec![
                Step::Connect { name: "c0".into() },
                Step::Send {
                    payload: echo_spec::Payload::Bytes(vec![0xff, 0xff]),
                    chunking: echo_spec::Chunking::default(),
                },
                Step::ShutdownWrite,
                Step::ExpectEof,
            ],
            original_steps: 9,
            shrink_runs: 3,
            error: StepError {
                path: "steps[3]".into(),
                step: "expect_eof",
                conn: Some("c0".into()),
                failure: Failure::new(FailureKind::EarlyEof, "EOF after 1 B\nsecond line"),
            },
            transcript: Transcript::default(),
            reproduced: true,
            note: None,
        }
    }

    #[test]
    fn overrides_replace_seed_and_count_of_property_cases_only() {
        let spec = Spec::embedded().expect("the embedded spec is valid");
        let mut cases: Vec<Planned> = spec
            .cases
            .into_iter()
            .map(|case| Planned {
                case,
                claimed: true,
                over: None,
            })
            .collect();
        apply_overrides(&mut cases, Some(42), Some(3));
        let props: Vec<_> = cases
            .iter()
            .filter_map(|p| p.case.kind.property())
            .collect();
        assert!(!props.is_empty());
        assert!(props.iter().all(|p| p.seed == 42 && p.cases == 3));
        assert!(check_overrides(Some(i64::MAX as u64), Some(MAX_PROP_CASES)).is_ok());
        assert!(check_overrides(Some(i64::MAX as u64 + 1), None).is_err());
        assert!(check_overrides(None, Some(0)).is_err());
    }

    #[test]
    fn regression_file_parses_back_and_keeps_level_claims_and_timeouts() {
        let case = property_case();
        let params = case.kind.property().expect("a property case").clone();
        let dir = std::env::temp_dir().join(format!("echo-conform-regress-{}", std::process::id()));
        let path = write_regression(&dir, &case, &params, &counterexample()).expect("written");
        let text = std::fs::read_to_string(&path).expect("readable");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(path.ends_with("property.stream.one-connection.seed-862.toml"));
        assert!(text.starts_with("# Written by echo-conform"), "{text}");
        assert!(
            text.contains("# second line"),
            "every comment line is commented: {text}"
        );
        let parsed = parse_file("r.toml", &text).expect("valid spec");
        let r = &parsed[0];
        assert_eq!(r.id, "regression.property.stream.one-connection.s862");
        assert_eq!(
            (r.level, &r.requires, r.timeouts),
            (case.level, &case.requires, case.timeouts)
        );
        assert_eq!(r.kind.steps(), counterexample().steps.as_slice());
        assert!(r.source.contains("seed 862"));
    }
}
