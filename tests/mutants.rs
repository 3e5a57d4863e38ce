//! Every non-privilege mutant FAILs the case it was written against, with evidence naming the failure
//! class, and a correct reference server PASSes that same case: a case that cannot tell a broken server
//! from a correct one proves nothing ("expected to fail but passed" is itself a failure).

use crate::util::{
    bin, check_run, conform, describe, exit, model_claims, mutant_cmd, server_cmd, tokio_reference,
    Report,
};
use rstest::rstest;
use std::process::Command;

/// The mutants of the `priv.*` cases are tested with the privilege cases, not here.
const PRIVILEGE_PREFIX: &str = "priv.";

#[rstest]
#[case::truncate("truncate", "echo.stream.1mib", "STALL", &["B owed still missing"])]
#[case::drop_nul("drop-nul", "echo.binary.all-bytes", "MISMATCH", &["first difference at offset 0", "expected [00 01"])]
#[case::store_and_forward("store-and-forward", "stream.not-store-and-forward", "HANG", &["nothing arrived", "0 B received"])]
#[case::never_answer("never-answer", "echo.text.short", "HANG", &["0 B received"])]
#[case::flood("flood", "echo.no-banner", "MISMATCH", &["`expect_silence`", "unexpected byte(s) at offset 0"])]
#[case::banner("banner", "echo.no-banner", "MISMATCH", &["`expect_silence`", "[68 65 6c 6c 6f 0d 0a]"])]
#[case::newline("newline", "echo.nothing-added", "MISMATCH", &["unexpected byte(s) at offset 48", "[0a] \"\\n\""])]
#[case::crlf("crlf", "echo.nothing-added", "MISMATCH", &["first difference at offset 8", "received [0d 0a"])]
#[case::strip("strip", "echo.nothing-removed", "MISMATCH", &["first difference at offset 0", "expected [20 20"])]
#[case::close_on_half_close("close-on-half-close", "stream.half-close.flush-then-eof", "EARLY-EOF", &["`expect_eof`", "still owed"])]
#[case::slow_drip("slow-drip", "echo.exchange.100", "SLOW", &["total budget"])]
#[case::sequential_stream("sequential-stream", "concurrency.idle-does-not-block", "HANG", &["on `busy`"])]
#[case::cross_talk("cross-talk", "concurrency.clients.50", "MISMATCH", &["of 50 clients failed", " at offset "])]
#[case::reset_breaks("reset-breaks", "lifecycle.reset.next-served", "HANG", &["on `next`"])]
#[case::telnet_iac("telnet-iac", "property.stream.one-connection", "MISMATCH|EARLY-EOF|HANG", &["shrunk steps:", "ffff"])]
fn mutant_fails_its_case(
    #[case] mutant: &str,
    #[case] case: &str,
    #[case] class: &str,
    #[case] needles: &[&str],
) {
    let report = assert_caught(mutant, case, class, needles, &[]);
    assert_eq!(report.cases().len(), 1, "--case selects exactly one case");
    tokio_reference().assert_grade(case, "PASS");
}

/// A server with two defects gets two findings, each named by the case about it, whichever other
/// cases the two defects fail.
#[rstest]
#[case::nul_and_sequential(
    "nul-and-sequential",
    "echo.binary.all-bytes",
    "NUL bytes (0x00) are left out",
    "concurrency.idle-does-not-block",
    "head-of-line blocking"
)]
#[case::newline_and_fd_leak(
    "newline-and-fd-leak",
    "echo.nothing-added",
    "one extra byte [0a]",
    "resources.no-leaks",
    "keeps file descriptors"
)]
#[case::strip_and_sigpipe(
    "strip-and-sigpipe",
    "echo.nothing-removed",
    "whitespace",
    "hostile.reset-during-echo",
    "SIGPIPE"
)]
fn a_double_mutant_gets_two_findings(
    #[case] mutant: &str,
    #[case] first: &str,
    #[case] first_says: &str,
    #[case] second: &str,
    #[case] second_says: &str,
) {
    assert_eq!(listed_case(mutant), format!("{first},{second}"));
    // A mutant that dies (of SIGPIPE, when a client leaves while it writes) ends the run with 3.
    let cmd = mutant_cmd(mutant);
    let run = crate::util::conform(&[
        "run", "--cmd", &cmd, "--format", "json", "--case", "echo.*", "--case", second,
        // One case at a time: a death beside others, attributed to no case, is a finding too.
        "--jobs", "1",
    ]);
    assert!(
        [exit::CASE_FAILED, exit::SERVER].contains(&run.code()),
        "{run}"
    );
    let report = run.report();
    let findings = report.0["findings"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        findings.len(),
        2,
        "two defects, two findings: {findings:#?}"
    );
    for (case, says) in [(first, first_says), (second, second_says)] {
        let f = findings
            .iter()
            .find(|f| {
                f["cases"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c == case))
            })
            .unwrap_or_else(|| panic!("no finding explains {case}: {findings:#?}"));
        let diagnosis = f["diagnosis"].as_str().unwrap_or_default();
        assert!(diagnosis.contains(says), "{case}: {diagnosis}");
    }
}

/// Checks that `echo-mutant --list` names `case` for `mutant`, and that a run of `case` against
/// the mutant (with `extra` flags) exits 1 with the case FAILed as `class`, its evidence holding
/// every needle. Returns the report.
pub fn assert_caught(
    mutant: &str,
    case: &str,
    class: &str,
    needles: &[&str],
    extra: &[&str],
) -> Report {
    assert_eq!(
        listed_case(mutant),
        case,
        "`echo-mutant --list` names another case"
    );
    let mut args = vec!["--case", case];
    args.extend_from_slice(extra);
    let tries = if TIMED_DEFECTS.contains(&mutant) {
        TIMED_TRIES
    } else {
        1
    };
    for _ in 1..tries {
        let mut all = vec!["run", "--cmd", &mutant_cmd(mutant), "--format", "json"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let run = conform(&all);
        if run.code() == exit::CASE_FAILED {
            let report = run.report();
            report.assert_failed(case, class, needles);
            return report;
        }
        eprintln!(
            "{mutant}: its defect did not show in this run (exit {}); again",
            run.code()
        );
    }
    let report = check_run(&mutant_cmd(mutant), &args, exit::CASE_FAILED);
    report.assert_failed(case, class, needles);
    report
}

/// Mutants whose defect shows only when the client's timing meets the server's: `close-on-half-close`
/// drops what it holds when the FIN comes, and holds data for at most one 5 ms batch, so a client
/// that pauses longer between its last write and its FIN (a loaded machine) finds nothing dropped.
/// Their check may take [`TIMED_TRIES`] runs; the last one must catch them.
const TIMED_DEFECTS: &[&str] = &["close-on-half-close"];

/// Runs of a mutant of [`TIMED_DEFECTS`] before its check must pass.
const TIMED_TRIES: usize = 3;

#[test]
fn single_keeps_listening_fails_single_exits() {
    let case = "lifecycle.single.exits";
    assert_eq!(listed_case("single-keeps-listening"), case);
    let report = check_run(
        &mutant_cmd("single-keeps-listening"),
        &["--case", case, "--claims", "single,sequential"],
        exit::CASE_FAILED,
    );
    report.assert_failed(case, "PROCESS", &["still running"]);
    // The reference for `single` is `basic`, which serves one connection and exits 0.
    let basic = check_run(
        &server_cmd("basic", &[]),
        &["--case", case, "--claims", &model_claims("basic", &[])],
        exit::OK,
    );
    basic.assert_grade(case, "PASS");
}

#[test]
fn die_after_first_fails_connect_close_and_names_the_death() {
    let case = "lifecycle.connect-close.200";
    assert_eq!(listed_case("die-after-first"), case);
    let run = crate::util::conform(&[
        "run",
        "--cmd",
        &mutant_cmd("die-after-first"),
        "--case",
        case,
        "--format",
        "json",
    ]);
    let report = run.report();
    let c = report.case(case);
    assert_eq!(c["grade"], "FAIL", "{run}");
    // A crash is exit 3, with the death (status and the server's last words) in the case's evidence.
    assert_eq!(run.code(), exit::SERVER, "{run}");
    let problems = report.0["server_problems"].to_string();
    assert!(problems.contains("exited with status 1"), "{run}");
    let evidence = c["evidence"].as_str().unwrap_or_default();
    assert!(
        evidence.contains("crashing after the first connection"),
        "{run}"
    );
    tokio_reference().assert_grade(case, "PASS");
}

#[test]
fn oneshot_reset_dies_fails_oneshot_reset_next_served() {
    let case = "oneshot.reset.next-served";
    let claims = "oneshot,forever,sequential";
    assert_eq!(listed_case("oneshot-reset-dies"), case);
    // A crash of the server is exit 3, the death the case's evidence.
    let report = check_run(
        &mutant_cmd("oneshot-reset-dies"),
        &["--case", case, "--claims", claims],
        exit::SERVER,
    );
    report.assert_failed(
        case,
        "DIED",
        &["exited with status 1", "oneshot-reset-dies:"],
    );
    // The faithful sequential reference closes with unread input too, and survives the reset.
    let reference = check_run(
        &server_cmd("sequential", &[]),
        &["--case", case, "--claims", claims],
        exit::OK,
    );
    reference.assert_grade(case, "PASS");
}

#[test]
fn every_non_privilege_mutant_is_covered() {
    let mut covered = vec![
        "truncate",
        "drop-nul",
        "store-and-forward",
        "never-answer",
        "flood",
        "banner",
        "crlf",
        "close-on-half-close",
        "slow-drip",
        "sequential-stream",
        "cross-talk",
        "reset-breaks",
        "oneshot-reset-dies",
        "strip",
        "telnet-iac",
        "single-keeps-listening",
        "die-after-first",
        "newline",
        // Two defects each: `a_double_mutant_gets_two_findings`.
        "nul-and-sequential",
        "newline-and-fd-leak",
        "strip-and-sigpipe",
        // Tested in bad_input: the runner must exit 3.
        "exit-at-once",
        // Tested in processes: the runner finds and ends the daemon it leaks.
        "daemonize-leak",
    ];
    covered.extend(crate::hostile::MUTANTS);
    covered.extend(crate::udp::MUTANTS);
    covered.sort_unstable();
    let mut listed: Vec<String> = mutant_list()
        .into_iter()
        .filter(|(_, case)| !case.starts_with(PRIVILEGE_PREFIX))
        .map(|(name, _)| name)
        .collect();
    listed.sort_unstable();
    assert_eq!(
        listed, covered,
        "a mutant was added or removed; test it here"
    );
}

/// `(name, case)` for every mutant, from `echo-mutant --list`.
pub fn mutant_list() -> Vec<(String, String)> {
    let mut cmd = Command::new(bin("echo-mutant"));
    cmd.arg("--list");
    let out = cmd.output().expect("running echo-mutant --list");
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect()
}

pub fn listed_case(mutant: &str) -> String {
    mutant_list()
        .into_iter()
        .find(|(n, _)| n == mutant)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("`echo-mutant --list` has no `{mutant}`"))
}
