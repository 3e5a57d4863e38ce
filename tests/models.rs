//! Every reference model against the spec with its own claims (exit 0, every claimed case PASS), and
//! under `--detect` the distinguishing cases of the claims it does not make must FAIL: a profile that
//! cannot tell models apart is a bug ("expected to fail but passed" is a failure).
//!
//! One `--detect` run per model proves both halves: claimed cases still decide the exit code, and the
//! unclaimed ones run too.

use crate::util::{check_run, exit, model_claims, server_cmd};
use rstest::rstest;

/// Fails only for a server that serves one connection and exits (`single`).
const FOREVER: &str = "lifecycle.connect-close.200";
/// Fails for a server that lets an idle client block another (`sequential`, or `single`).
const CONCURRENT: &str = "concurrency.idle-does-not-block";
/// Fails for a server that replies once and closes (`oneshot`).
const STREAM: &str = "echo.stream.1mib";
/// Fails for a server that keeps serving (`forever`).
const SINGLE: &str = "lifecycle.single.exits";
/// Fails for a server that echoes until the client closes (`stream`).
const ONESHOT: &str = "oneshot.reply-then-close";

/// The groups run here. The `priv.*` cases are proven by the privilege tests; under `--detect` they
/// would add a fresh launch per case to every model for no discrimination between these models.
const GROUPS: &[&str] = &[
    "--case",
    "echo.*",
    "--case",
    "stream.*",
    "--case",
    "lifecycle.*",
    "--case",
    "oneshot.*",
    "--case",
    "concurrency.*",
];

#[rstest]
#[case::basic("basic", &[], &[FOREVER, CONCURRENT, ONESHOT])]
#[case::sequential("sequential", &[], &[STREAM, CONCURRENT, SINGLE])]
#[case::handler("handler", &[], &[STREAM, CONCURRENT, SINGLE])]
#[case::handler_uppercase("handler", &["--transform", "uppercase"], &[STREAM, CONCURRENT, SINGLE])]
#[case::threaded("threaded", &[], &[ONESHOT, SINGLE])]
#[case::prefork("prefork", &[], &[STREAM, SINGLE])]
#[case::select("select", &[], &[ONESHOT, SINGLE])]
#[case::poll("poll", &[], &[ONESHOT, SINGLE])]
#[case::epoll("epoll", &[], &[ONESHOT, SINGLE])]
#[case::tokio("tokio", &[], &[ONESHOT, SINGLE])]
fn model_passes_its_claims_and_fails_the_alternatives(
    #[case] model: &str,
    #[case] flags: &[&str],
    #[case] must_fail: &[&str],
) {
    let claims = model_claims(model, flags);
    let mut args = vec!["--claims", &claims, "--detect"];
    args.extend_from_slice(GROUPS);
    let report = check_run(&server_cmd(model, flags), &args, exit::OK);
    report.assert_claimed_pass();
    let ran: usize = report
        .cases()
        .iter()
        .filter(|c| c["claimed"] == true)
        .count();
    assert!(ran >= 9, "{model} claims too little to be tested: {claims}");
    for id in must_fail {
        let c = report.case(id);
        assert_eq!(
            c["claimed"], false,
            "{model} ({claims}) should not claim `{id}`\n{c:#}"
        );
        assert_eq!(
            c["grade"], "FAIL",
            "{model} ({claims}) should FAIL `{id}`, which distinguishes a claim it does not make; \
             expected to fail but it did not\n{c:#}"
        );
        assert!(
            c["evidence"].as_str().is_some_and(|e| !e.is_empty()),
            "{c:#}"
        );
    }
    // The detected profile agrees with the declared one on the dimensions the spec can observe.
    let detected = report.0["detected"].as_str().unwrap_or_default();
    for claim in claims.split(',') {
        if [
            "stream",
            "oneshot",
            "forever",
            "single",
            "concurrent",
            "sequential",
        ]
        .contains(&claim)
        {
            assert!(
                detected.split(',').any(|d| d == claim),
                "{model} claims `{claim}` but --detect found `{detected}`\n{:#}",
                report.0
            );
        }
    }
}
