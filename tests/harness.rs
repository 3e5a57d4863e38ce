//! The harness crate: the suite as libtest trials, against a launched server, an in-process one
//! and a broken one. (The example crate under `examples/threaded-echo` runs it as its own
//! `cargo test`; `cargo xtask example` checks its listing and filter.)

use crate::util::{mutant_cmd, server_cmd};
use echo_conform_harness::{Arguments, Family, Suite};
use std::io::{Read, Write};
use std::net::TcpListener;

fn args(list: &[&str]) -> Arguments {
    Arguments::from_iter(std::iter::once("conformance").chain(list.iter().copied()))
}

/// Runs `suite` under libtest's `list` arguments with its output in a log file (so that a
/// failing trial this test expects does not print FAILED into the test run's own output), and
/// returns the conclusion and the log.
fn run_logged(suite: Suite, list: &[&str]) -> (echo_conform_harness::Conclusion, String) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let log = dir.path().join("trials.log");
    let mut a = args(list);
    a.logfile = Some(log.display().to_string());
    let conclusion = suite.run(&a);
    (
        conclusion,
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

fn spec_size() -> usize {
    echo_spec::Spec::embedded()
        .expect("embedded spec")
        .cases
        .len()
}

#[test]
fn lists_one_trial_per_case_and_launches_nothing() {
    // A command that cannot start: listing must not try.
    let trials = Suite::command("/nonexistent/echo {port}")
        .claims("stream,forever,concurrent")
        .trials(&args(&["--list"]))
        .expect("trials");
    assert_eq!(trials.len(), spec_size());
    let names: Vec<&str> = trials.iter().map(|t| t.name()).collect();
    assert!(names.contains(&"echo/echo.text.short"), "{names:?}");
    let ignored: Vec<&str> = trials
        .iter()
        .filter(|t| t.has_ignored_flag())
        .map(|t| t.name())
        .collect();
    assert!(ignored.contains(&"scale/scale.c100k"), "heavy: {ignored:?}");
    assert!(!ignored.contains(&"echo/echo.stream.1mib"), "{ignored:?}");
}

#[test]
fn an_unclaimed_case_is_ignored_with_its_reason_and_include_ignored_runs_it() {
    let suite = || Suite::command(server_cmd("threaded", &[])).claims("stream,forever,concurrent");
    let (conclusion, log) = run_logged(suite(), &["--exact", "oneshot/oneshot.reply-then-close"]);
    assert!(
        log.contains("NOT-CLAIMED: the case requires oneshot"),
        "{log}"
    );
    assert_eq!(
        (
            conclusion.num_passed,
            conclusion.num_failed,
            conclusion.num_ignored
        ),
        (0, 0, 1),
        "{conclusion:?}"
    );
    // Run as --detect runs it, the threaded model fails the oneshot case; unclaimed, it does not gate.
    let (conclusion, _) = run_logged(
        suite(),
        &[
            "--include-ignored",
            "--exact",
            "oneshot/oneshot.reply-then-close",
        ],
    );
    assert_eq!(
        (conclusion.num_failed, conclusion.num_ignored),
        (0, 1),
        "{conclusion:?}"
    );
}

#[test]
fn family_both_gives_ipv6_twins() {
    let trials = Suite::command(server_cmd("threaded", &["--bind {bind}"]))
        .claims("stream,forever,concurrent")
        .configure(|run| run.family(Family::Both))
        .trials(&args(&["--list"]))
        .expect("trials");
    let names: Vec<&str> = trials.iter().map(|t| t.name()).collect();
    assert!(names.contains(&"echo/echo.text.short@ipv6"), "{names:?}");
}

#[test]
fn a_filter_runs_only_the_cases_it_selects() {
    let (conclusion, _) = run_logged(
        Suite::command(server_cmd("threaded", &[])).claims("stream,forever,concurrent"),
        &["echo.stream"],
    );
    assert_eq!(conclusion.num_passed, 2, "{conclusion:?}");
    assert_eq!(conclusion.num_failed, 0, "{conclusion:?}");
    assert_eq!(
        conclusion.num_filtered_out as usize,
        spec_size() - 2,
        "{conclusion:?}"
    );
}

#[test]
fn a_broken_server_fails_the_trial_of_its_defect() {
    let (conclusion, log) = run_logged(
        Suite::command(mutant_cmd("truncate")).claims("stream,forever,concurrent"),
        &["--exact", "echo/echo.stream.1mib"],
    );
    assert_eq!(conclusion.num_failed, 1, "{conclusion:?}");
    // The failure's message names the finding that explains it, then gives the case's evidence.
    assert!(
        log.contains("finding 1 of 1 [MUST]: ") && log.contains("(primary case: echo.stream.1mib)"),
        "{log}"
    );
    assert!(
        log.contains("expect_echo") && log.contains("STALL"),
        "{log}"
    );
}

/// A server in the test process that echoes each read back through a transform.
fn in_process(transform: fn(&mut [u8])) -> Suite {
    Suite::in_process(move |addr| {
        let listener = TcpListener::bind(addr)?;
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut conn = conn;
                    let mut buf = [0u8; 8192];
                    while let Ok(n @ 1..) = conn.read(&mut buf) {
                        transform(&mut buf[..n]);
                        if conn.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Ok(())
    })
    .claims("stream,forever,concurrent")
}

#[test]
fn an_in_process_server_passes_and_its_process_cases_are_skipped() {
    let (conclusion, _) = run_logged(in_process(|_| {}), &["echo."]);
    assert_eq!(conclusion.num_failed, 0, "{conclusion:?}");
    assert!(conclusion.num_passed >= 8, "{conclusion:?}");
    let (conclusion, log) = run_logged(
        in_process(|_| {}),
        &["--exact", "resources/resources.no-leaks"],
    );
    assert_eq!(
        (conclusion.num_passed, conclusion.num_ignored),
        (0, 1),
        "a process case is skipped for a server in process: {conclusion:?}"
    );
    assert!(log.contains("SKIP"), "{log}");
}

#[test]
fn an_in_process_server_that_corrupts_bytes_fails() {
    let (conclusion, log) = run_logged(
        in_process(|b| b.iter_mut().for_each(|x| *x = x.to_ascii_uppercase())),
        &["--exact", "echo/echo.text.short"],
    );
    assert_eq!(conclusion.num_failed, 1, "{conclusion:?}");
    assert!(log.contains("MISMATCH"), "{log}");
}

#[test]
fn a_launcher_that_fails_fails_every_selected_trial() {
    let (conclusion, log) = run_logged(
        Suite::in_process(|_| -> std::io::Result<()> {
            Err(std::io::Error::other("no server today"))
        })
        .claims("stream,forever,concurrent"),
        &["echo.text"],
    );
    assert!(conclusion.num_failed >= 1, "{conclusion:?}");
    assert_eq!(conclusion.num_passed, 0, "{conclusion:?}");
    assert!(log.contains("no server today"), "{log}");
}

#[test]
fn a_bad_claim_is_a_setup_error_naming_the_flag() {
    let Err(err) = Suite::command("x {port}")
        .claims("stream,telepathy")
        .trials(&args(&[]))
    else {
        panic!("a bad claim was accepted");
    };
    assert!(err.to_string().contains("--claims"), "{err}");
}

#[test]
fn a_baseline_written_by_the_harness_makes_a_known_failure_an_ignored_trial() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let base = dir.path().join("baseline.json");
    let base = base.to_str().expect("a UTF-8 path");
    let suite = |write: bool| {
        Suite::command(mutant_cmd("truncate"))
            .claims("stream,forever,concurrent")
            .configure(|run| {
                if write {
                    run.write_baseline(base)
                } else {
                    run.baseline(base)
                }
            })
    };
    let one = ["--exact", "echo/echo.stream.1mib"];
    let (conclusion, _) = run_logged(suite(true), &one);
    assert_eq!(conclusion.num_failed, 1, "{conclusion:?}");
    assert!(
        std::path::Path::new(base).is_file(),
        "--write-baseline wrote nothing"
    );
    let (conclusion, log) = run_logged(suite(false), &one);
    assert_eq!(
        (conclusion.num_failed, conclusion.num_ignored),
        (0, 1),
        "{conclusion:?}\n{log}"
    );
    assert!(log.contains("known failure"), "{log}");
}

#[test]
fn a_setting_out_of_range_is_a_setup_error_naming_its_flag() {
    let Err(err) = Suite::command("x {port}")
        .configure(|run| run.time_scale(0.0))
        .trials(&args(&[]))
    else {
        panic!("a time scale of 0 was accepted");
    };
    assert!(err.to_string().contains("--time-scale"), "{err}");
}
