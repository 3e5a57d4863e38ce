//! Bad input gets a one-line error naming the culprit and the documented exit code, never a panic:
//! broken spec directories (exit 2), bad flags (exit 2), servers that cannot start or never become
//! ready (exit 3), and servers that misbehave on the wire (a graded FAIL within its deadline).
//!
//! Each rejection's stderr is an insta snapshot, after ports, pids, times and paths are redacted.

use crate::util::{
    bin, check_rejected, check_run, conform, exit, mutant_cmd, procs_matching, redact, server_cmd,
};
use rstest::rstest;
use std::path::Path;
use std::time::Duration;

/// A case file that is valid apart from what each test breaks.
const GOOD_CASE: &str = r#"
[[case]]
id = "x.good"
title = "a valid case"
source = "the tests"
level = "must"
kind = "script"
steps = ["connect", { send = { text = "hi" } }, "expect_echo"]
"#;

/// The boundary "a spec directory": writes `files`, then checks both `validate DIR` and
/// `run --spec DIR` reject it with exit 2 and the same one-line error, and snapshots it.
fn check_bad_spec(name: &str, files: &[(&str, &str)]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (file, text) in files {
        std::fs::write(dir.path().join(file), text).expect("writing a case file");
    }
    let spec = dir.path().to_str().expect("a UTF-8 path");
    let (_, run) = check_rejected(&["validate", spec], exit::USAGE);
    let validate = redact(&run.stderr(), &[(dir.path(), "[SPEC]")]);
    let (_, run2) = check_rejected(
        &["run", "--cmd", &server_cmd("tokio", &[]), "--spec", spec],
        exit::USAGE,
    );
    let on_run = redact(&run2.stderr(), &[(dir.path(), "[SPEC]")]);
    assert_eq!(validate, on_run, "validate and run disagree\n{run}\n{run2}");
    assert_eq!(validate.trim().lines().count(), 1, "one line\n{run}");
    assert!(
        validate.contains("[SPEC]/"),
        "the error names the file\n{run}"
    );
    insta::assert_snapshot!(format!("bad_spec_{name}"), validate);
}

#[test]
fn spec_malformed_toml() {
    check_bad_spec(
        "malformed_toml",
        &[(
            "a.toml",
            "[[case]]\nid = \"x.y\"\ntitle = \"t\"\nlevel = \n",
        )],
    );
}

#[test]
fn spec_unknown_step() {
    let text = GOOD_CASE.replace("\"expect_echo\"", "\"frobnicate\"");
    check_bad_spec("unknown_step", &[("a.toml", &text)]);
}

#[test]
fn spec_unknown_claim() {
    let text = GOOD_CASE.replace("kind = ", "requires = [\"telepathic\"]\nkind = ");
    check_bad_spec("unknown_claim", &[("a.toml", &text)]);
}

#[test]
fn spec_duplicate_id() {
    check_bad_spec(
        "duplicate_id",
        &[("a.toml", GOOD_CASE), ("b.toml", GOOD_CASE)],
    );
}

#[rstest]
#[case::unknown_claim_flag("unknown_claim_flag", &["--claims", "stream,telepathic"])]
#[case::no_such_case("no_such_case", &["--case", "nosuch*"])]
fn bad_run_flags(#[case] name: &str, #[case] flags: &[&str]) {
    let cmd = server_cmd("tokio", &[]);
    let mut args = vec!["run", "--cmd", &cmd];
    args.extend_from_slice(flags);
    let (stderr, _) = check_rejected(&args, exit::USAGE);
    insta::assert_snapshot!(format!("bad_flag_{name}"), stderr);
}

#[test]
fn cmd_without_port_placeholder() {
    let cmd = format!("{} --model tokio", bin("echo-server").display());
    let (stderr, _) = check_rejected(&["run", "--cmd", &cmd], exit::USAGE);
    insta::assert_snapshot!(stderr);
}

#[test]
fn addr_of_the_other_family_is_refused() {
    let (stderr, _) = check_rejected(
        &["run", "--addr", "[::1]:7007", "--family", "4"],
        exit::USAGE,
    );
    insta::assert_snapshot!(stderr);
    let (stderr, _) = check_rejected(
        &["run", "--addr", "127.0.0.1:7007", "--family", "7"],
        exit::USAGE,
    );
    assert!(
        stderr.contains("invalid value '7' for '--family"),
        "{stderr}"
    );
}

#[test]
fn non_loopback_addr_is_refused() {
    let (stderr, _) = check_rejected(&["run", "--addr", "10.1.2.3:7"], exit::USAGE);
    insta::assert_snapshot!(stderr);
}

#[test]
fn server_that_exits_at_once() {
    let (stderr, run) =
        check_rejected(&["run", "--cmd", &mutant_cmd("exit-at-once")], exit::SERVER);
    assert!(
        stderr.contains("exited with status 1"),
        "names the status\n{run}"
    );
    assert!(
        stderr.contains("giving up before binding anything"),
        "quotes the server's last output\n{run}"
    );
    insta::assert_snapshot!(stderr);
}

#[test]
fn server_that_never_becomes_ready() {
    let (stderr, run) = check_rejected(
        &["run", "--cmd", "sleep 30 {port}", "--ready-timeout", "1"],
        exit::SERVER,
    );
    assert!(run.took < Duration::from_secs(8), "gave up late\n{run}");
    // The launched `sleep` is ended with its group, not left to run its 30 s.
    let port = regex::Regex::new(r"port (\d+)")
        .expect("a valid regex")
        .captures(&run.stderr())
        .map(|c| c[1].to_string())
        .unwrap_or_else(|| panic!("the error names the port\n{run}"));
    let left = procs_matching(&format!("sleep 30 {port}"), None);
    assert!(left.is_empty(), "left behind: {left:?}\n{run}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn nonexistent_program() {
    let (stderr, _) = check_rejected(
        &["run", "--cmd", "/nonexistent/echo-server {port}"],
        exit::SERVER,
    );
    insta::assert_snapshot!(stderr);
}

/// The no-progress deadline of a script wait (`ScriptConfig::new`), at time scale 1.
const NO_PROGRESS_MS: u64 = 2000;

#[test]
fn server_that_accepts_and_never_answers_hangs_within_its_deadline() {
    let report = check_run(
        &mutant_cmd("never-answer"),
        &["--case", "echo.text.short"],
        exit::CASE_FAILED,
    );
    report.assert_failed("echo.text.short", "HANG", &["nothing moved for 2000 ms"]);
    let took = report.case("echo.text.short")["duration_ms"]
        .as_u64()
        .expect("duration_ms");
    assert!(
        (NO_PROGRESS_MS..NO_PROGRESS_MS + 3000).contains(&took),
        "a HANG is declared at its deadline, not long after: {took} ms"
    );
    let total = report.0["duration_ms"].as_u64().expect("duration_ms");
    assert!(total < NO_PROGRESS_MS + 8000, "the run took {total} ms");
}

#[test]
fn server_that_floods_is_a_mismatch_in_no_banner() {
    let report = check_run(
        &mutant_cmd("flood"),
        &["--case", "echo.no-banner"],
        exit::CASE_FAILED,
    );
    report.assert_failed(
        "echo.no-banner",
        "MISMATCH",
        &["unexpected byte(s) at offset 0", "78 78 78 78"],
    );
    let total = report.0["duration_ms"].as_u64().expect("duration_ms");
    assert!(
        total < 10_000,
        "a flood must not hold the runner: {total} ms"
    );
}

#[test]
fn spec_directory_that_does_not_exist() {
    let missing = Path::new("/nonexistent/spec-dir");
    let run = conform(&["validate", missing.to_str().expect("UTF-8")]);
    assert_eq!(run.code(), exit::USAGE, "{run}");
}

#[test]
fn addr_where_nothing_answers_stops_at_once_with_exit_3() {
    let port = crate::util::free_port();
    let addr = format!("127.0.0.1:{port}");
    let run = crate::util::conform(&["run", "--addr", &addr]);
    assert_eq!(run.code(), exit::SERVER, "{run}");
    assert!(
        run.stderr().contains(&format!("nothing answers at {addr}")),
        "{run}"
    );
    assert!(run.out.stdout.is_empty(), "no case ran\n{run}");
}
