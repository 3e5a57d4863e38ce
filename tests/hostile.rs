//! The hostile-client and resource cases: each FAILs against the mutant written for it, with the
//! failure class and evidence it should give, and PASSes against the tokio reference (which runs
//! the whole spec with `--heavy --strict`; for the scale cases, claiming `c10k`). SHOULD cases gate
//! here through `--strict`.

use crate::mutants::assert_caught;
use crate::util::{check_run, exit, server_cmd, tokio_reference};
use rstest::rstest;

/// The mutants tested here, for the coverage check in `mutants`.
pub const MUTANTS: [&str; 13] = [
    "unbounded-buffer",
    "sigpipe-dies",
    "slow-accept",
    "pool-of-8",
    "short-backlog",
    "emfile-spin",
    "fd-leak",
    "zombie-children",
    "term-abandons",
    "term-orphans",
    "fat-connections",
    "no-reuseaddr",
    "stale-pidfile",
];

/// The cases whose steps measure the server's CPU time (`expect_cpu`).
const CPU_CASES: &[&str] = &["hostile.emfile.recovers"];

#[rstest]
#[case::unbounded_buffer("unbounded-buffer", "hostile.slow-reader.bounded-memory", "MEMORY", &["grew by", "since the baseline (limit 16384 KiB)"])]
#[case::sigpipe_dies("sigpipe-dies", "hostile.reset-during-echo", "DIED", &["was killed by signal 13 (SIGPIPE)"])]
#[case::slow_accept("slow-accept", "hostile.storm.2000", "CONNECTS", &["connected but not echoed"])]
#[case::short_backlog("short-backlog", "hostile.storm.2000", "CONNECTS", &["root cause: the server listens", "with backlog 5", "accept-queue overflow", "listen with a larger backlog"])]
#[case::pool_of_8("pool-of-8", "hostile.idle-holders.100", "HANG", &["`expect_echo_prefix` on `main`"])]
#[case::emfile_spin("emfile-spin", "hostile.emfile.recovers", "CPU", &["spins instead of waiting", "/stat: comm echo-mutant"])]
#[case::fd_leak("fd-leak", "resources.no-leaks", "LEAK", &["descriptors open", "-> socket:["])]
#[case::zombie_children("zombie-children", "resources.no-leaks", "LEAK", &["zombie children never reaped", "state Z"])]
#[case::term_abandons("term-abandons", "resources.sigterm.graceful", "RESET|EARLY-EOF", &["step signal"])]
#[case::term_orphans("term-orphans", "resources.sigterm.graceful", "PROCESS", &["`expect_group_empty`", "--mutant term-orphans"])]
#[case::no_reuseaddr("no-reuseaddr", "lifecycle.restart.same-port", "PROCESS", &["could not start again", "Address already in use"])]
#[case::stale_pidfile("stale-pidfile", "lifecycle.restart.after-kill", "PROCESS", &["could not start again", "pid file"])]
#[case::fat_connections("fat-connections", "scale.c10k", "MEMORY", &["(limit 102400 KiB)"])]
fn hostile_mutant_fails_its_case(
    #[case] mutant: &str,
    #[case] case: &str,
    #[case] class: &str,
    #[case] needles: &[&str],
) {
    // The scale cases apply to servers that claim `c10k`.
    let claims = if case.starts_with("scale.") {
        "c10k"
    } else {
        ""
    };
    // A case that measures CPU time sees a spinning mutant only if the mutant gets the CPU: it runs
    // alone, and the other cases' crowds run beside each other only.
    let (quiet, loading) = if CPU_CASES.contains(&case) {
        (Some(crate::util::cpu_quiet()), None)
    } else {
        (None, Some(crate::util::cpu_loading()))
    };
    assert_caught(
        mutant,
        case,
        class,
        needles,
        &["--strict", "--claims", claims],
    );
    drop((quiet, loading));
    if claims.is_empty() {
        tokio_reference().assert_grade(case, "PASS");
    } else {
        check_run(
            &server_cmd("tokio", &[]),
            &["--case", case, "--claims", claims],
            exit::OK,
        )
        .assert_grade(case, "PASS");
    }
}

#[test]
fn the_short_backlog_mutant_passes_with_a_backlog_of_1024() {
    // The same server with one argument changed: the root cause the evidence names is the cause.
    // (The storm's bursts are 500 connects: a queue that holds a burst costs it nothing but time.)
    let cmd = crate::util::mutant_cmd("short-backlog").replace(" --port", " --backlog 1024 --port");
    let case = "hostile.storm.2000";
    let report = check_run(&cmd, &["--strict", "--case", case], exit::OK);
    report.assert_grade(case, "PASS");
}

#[test]
fn idle_holders_pass_a_short_backlog_that_only_a_burst_overflows() {
    // The holders arrive 2 at a time, 10 ms apart, so a queue of 5 is enough for a server that
    // accepts in 2 ms;
    // idle clients blocking the others is what the case is about (see `pool-of-8`).
    let case = "hostile.idle-holders.100";
    let report = check_run(
        &crate::util::mutant_cmd("short-backlog"),
        &["--case", case],
        exit::OK,
    );
    report.assert_grade(case, "PASS");
}

#[test]
fn cpu_cases_lists_every_case_that_measures_cpu() {
    let spec = echo_spec::Spec::embedded().expect("the embedded spec");
    let measuring: Vec<&str> = spec
        .cases
        .iter()
        .filter(|c| {
            c.kind
                .steps()
                .iter()
                .any(|s| matches!(s, echo_spec::Step::ExpectCpu { .. }))
        })
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(
        measuring, CPU_CASES,
        "CPU_CASES must name every case with `expect_cpu`"
    );
}
