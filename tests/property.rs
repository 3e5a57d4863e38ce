//! Property cases end to end: a mutant's failure shrinks into a spec file that fails against the
//! mutant and passes against the reference; the seed and case count are reported and overridable;
//! one-connection property cases suit a sequential stream server.

use crate::util::{check_rejected, check_run, conform, exit, mutant_cmd, server_cmd};
use echo_spec::{CaseKind, Spec};

/// The property case that catches `drop-nul` (it sends runs of 0x00), and its seed in the spec.
const CASE: &str = "property.stream.one-connection";
const SEED: u64 = 862;

#[test]
fn shrunk_counterexample_is_a_regression_that_fails_the_mutant_and_passes_the_reference() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dir_arg = dir.path().to_str().expect("a UTF-8 temporary path");
    let mutant = mutant_cmd("drop-nul");
    let report = check_run(
        &mutant,
        &["--case", CASE, "--emit-regressions", dir_arg],
        exit::CASE_FAILED,
    );
    let path = dir.path().join(format!("{CASE}.seed-{SEED}.toml"));
    report.assert_failed(
        CASE,
        "HANG|EARLY-EOF|MISMATCH",
        &[
            "shrunk steps:",
            "regression written to",
            &path.display().to_string(),
        ],
    );
    assert_eq!(report.case(CASE)["seed"].as_u64(), Some(SEED));
    assert_eq!(report.case(CASE)["prop_cases"].as_u64(), Some(24));

    let spec = Spec::load_dir(dir.path())
        .unwrap_or_else(|e| panic!("the emitted file is a valid spec: {e}"));
    let id = format!("regression.{CASE}.s{SEED}");
    let case = spec
        .get(&id)
        .unwrap_or_else(|| panic!("{id} in {:?}", spec.cases));
    let CaseKind::Script { steps } = &case.kind else {
        panic!("a script case: {:?}", case.kind)
    };
    assert!(
        steps.len() <= 10,
        "shrunk to {} steps: {steps:#?}",
        steps.len()
    );
    assert!(case.source.contains(CASE) && case.source.contains(&SEED.to_string()));

    let again = check_run(&mutant, &["--spec", dir_arg], exit::CASE_FAILED);
    again.assert_grade(&id, "FAIL");
    let reference = check_run(&server_cmd("tokio", &[]), &["--spec", dir_arg], exit::OK);
    reference.assert_grade(&id, "PASS");
}

#[test]
fn seed_and_case_count_are_overridden_and_reported() {
    let case = "property.stream.half-close-reset";
    let tokio = server_cmd("tokio", &[]);
    let args = ["--case", case, "--seed", "7", "--prop-cases", "3"];
    let report = check_run(&tokio, &args, exit::OK);
    report.assert_grade(case, "PASS");
    assert_eq!(report.case(case)["seed"].as_u64(), Some(7));
    assert_eq!(report.case(case)["prop_cases"].as_u64(), Some(3));

    let human = conform(&[
        "run",
        "--cmd",
        &tokio,
        "--case",
        case,
        "--seed",
        "7",
        "--prop-cases",
        "3",
    ]);
    assert_eq!(human.code(), exit::OK, "{human}");
    let stdout = String::from_utf8_lossy(&human.out.stdout);
    assert!(stdout.contains("(seed 7, 3 cases)"), "{stdout}");
}

#[test]
fn bad_overrides_are_usage_errors() {
    let tokio = server_cmd("tokio", &[]);
    let (stderr, _) = check_rejected(&["run", "--cmd", &tokio, "--prop-cases", "0"], exit::USAGE);
    assert!(
        stderr.contains("--prop-cases: 0 is outside 1..=10000"),
        "{stderr}"
    );
    let big = (u64::MAX).to_string();
    let (stderr, _) = check_rejected(&["run", "--cmd", &tokio, "--seed", &big], exit::USAGE);
    assert!(stderr.contains("--seed"), "{stderr}");
}

#[test]
fn one_connection_property_cases_pass_a_sequential_stream_server() {
    // `sequential-stream` is a correct stream echo that serves one client at a time: the
    // one-connection cases apply to it; the interleaved ones (which require `concurrent`) do not.
    let report = check_run(
        &mutant_cmd("sequential-stream"),
        &[
            "--case",
            "property.*",
            "--claims",
            "stream,forever,sequential",
        ],
        exit::OK,
    );
    report.assert_grade(CASE, "PASS");
    report.assert_grade("property.stream.half-close-reset", "PASS");
    report.assert_grade("property.stream.interleaved", "NOT-CLAIMED");
}
