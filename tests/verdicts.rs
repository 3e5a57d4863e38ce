//! The runner's verdicts on the two first reference models: `tokio` is a full RFC 862 server;
//! `sequential` is the classic oneshot loop, which the default claims must reject and its own accept.

use crate::util::{check_run, exit, server_cmd, tokio_reference};

/// The ids of the cases that need a stream session or concurrency, which a oneshot sequential loop fails
/// (a prefix each).
const STREAM_OR_CONCURRENCY: &[&str] = &[
    "stream.",
    "echo.stream.",
    "echo.dribble.",
    "echo.exchange.",
    "concurrency.",
    "hostile.slow-reader.",
    "hostile.reset-during-echo",
    "lifecycle.reset.next-served",
    "hostile.idle-holders.",
    "property.stream.",
];

#[test]
fn tokio_passes_the_default_claims() {
    let report = tokio_reference();
    report.assert_claimed_pass();
    assert_eq!(
        report.0["claims"], "stream,forever,concurrent,identity,unprivileged",
        "the default claims are a full RFC 862 server"
    );
    assert!(report.0["server_problems"]
        .as_array()
        .is_some_and(Vec::is_empty));
    assert!(report.ids_graded("FAIL").is_empty());
}

#[test]
fn sequential_fails_the_default_claims_on_stream_and_concurrency_cases() {
    let report = check_run(&server_cmd("sequential", &[]), &[], exit::CASE_FAILED);
    let failed = report.ids_graded("FAIL");
    assert!(!failed.is_empty());
    for id in &failed {
        assert!(
            STREAM_OR_CONCURRENCY.iter().any(|p| id.starts_with(p)),
            "`{id}` failed, but a oneshot sequential loop should fail only stream and concurrency cases\n{:#}",
            report.case(id)
        );
        let c = report.case(id);
        assert!(
            c["failure"].is_string()
                && c["evidence"].as_str().is_some_and(|e| e.contains("steps[")),
            "a FAIL names its class and the failing step\n{c:#}"
        );
    }
    // The two defining defects: the reply is cut at one read, and an idle client blocks everyone.
    // Like the seed, it closes with the rest of the megabyte unread, so the client sees the close
    // as EOF or as a reset (RFC 1122 §4.2.2.13): while it is still sending (`send`, steps[1]) or,
    // when the whole megabyte fitted in the socket buffers first, while it waits for the echo
    // (`expect_echo`, steps[2], after the 1024 bytes of the one reply).
    report.assert_failed("echo.stream.1mib", "EARLY-EOF|RESET", &[]);
    let evidence = report.case("echo.stream.1mib")["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        evidence.starts_with("steps[1] `send`")
            || (evidence.starts_with("steps[2] `expect_echo`")
                && evidence.contains("after 1024 of 1048576 owed B")),
        "the close must show while sending, or after the one 1024-byte reply:\n{evidence}"
    );
    report.assert_failed("concurrency.idle-does-not-block", "HANG", &["on `busy`"]);
    // What it does do, it does right.
    for id in [
        "echo.text.short",
        "echo.binary.all-bytes",
        "lifecycle.sequential.1000",
    ] {
        report.assert_grade(id, "PASS");
    }
}

#[test]
fn sequential_passes_its_own_claims() {
    let report = check_run(
        &server_cmd("sequential", &[]),
        &["--claims", "oneshot,sequential"],
        exit::OK,
    );
    report.assert_claimed_pass();
    report.assert_grade("oneshot.reply-then-close", "PASS");
    report.assert_grade("echo.stream.1mib", "NOT-CLAIMED");
    report.assert_grade("concurrency.idle-does-not-block", "NOT-CLAIMED");
}

/// A crowd case's verdict does not depend on the kit's own parallelism: against a fork-per-
/// connection server whose children run `cat`, `concurrency.clients.50` gets the same grade alone
/// and in the full run, where it could otherwise run beside other cases' crowds.
#[test]
fn a_crowd_case_gets_the_same_grade_alone_and_in_the_full_run() {
    let server = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("servers/fork_cat.py");
    let cmd = format!("python3 {} {{port}}", server.display());
    let case = "concurrency.clients.50";
    let alone = crate::util::conform(&["run", "--cmd", &cmd, "--case", case, "--format", "json"]);
    let full = crate::util::conform(&["run", "--cmd", &cmd, "--format", "json"]);
    let (alone, full) = (alone.report(), full.report());
    assert_eq!(alone.grade(case), "PASS", "{:#}", alone.case(case));
    assert_eq!(
        full.grade(case),
        alone.grade(case),
        "alone: {:#}\nin the full run: {:#}",
        alone.case(case),
        full.case(case)
    );
}
