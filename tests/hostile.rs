//! The hostile-client and resource cases: each FAILs against the mutant written for it, with the
//! failure class and evidence it should give, and PASSes against the tokio reference (which runs
//! the whole spec with `--heavy --strict`). SHOULD cases gate here through `--strict`.

use crate::mutants::listed_case;
use crate::util::{check_run, exit, mutant_cmd, tokio_reference};
use rstest::rstest;

/// The mutants tested here, for the coverage check in `mutants`.
pub const MUTANTS: [&str; 9] = [
    "unbounded-buffer",
    "sigpipe-dies",
    "slow-accept",
    "pool-of-8",
    "emfile-spin",
    "fd-leak",
    "zombie-children",
    "term-abandons",
    "term-orphans",
];

#[rstest]
#[case::unbounded_buffer("unbounded-buffer", "hostile.slow-reader.bounded-memory", "MEMORY", &["grew by", "since the baseline (limit 16384 KiB)"])]
#[case::sigpipe_dies("sigpipe-dies", "hostile.reset-during-echo", "RESET|REFUSED|EARLY-EOF", &["was killed by signal 13 (SIGPIPE)"])]
#[case::slow_accept("slow-accept", "hostile.storm.2000", "CONNECTS", &["connected but not echoed"])]
#[case::pool_of_8("pool-of-8", "hostile.idle-holders.100", "HANG", &["`expect_echo` on `main`"])]
#[case::emfile_spin("emfile-spin", "hostile.emfile.recovers", "CPU", &["spins instead of waiting", "/stat: comm echo-mutant"])]
#[case::fd_leak("fd-leak", "resources.no-leaks", "LEAK", &["descriptors open", "-> socket:["])]
#[case::zombie_children("zombie-children", "resources.no-leaks", "LEAK", &["zombie children never reaped", "state Z"])]
#[case::term_abandons("term-abandons", "resources.sigterm.graceful", "RESET|EARLY-EOF", &["step signal"])]
#[case::term_orphans("term-orphans", "resources.sigterm.graceful", "PROCESS", &["`expect_group_empty`", "--mutant term-orphans"])]
fn hostile_mutant_fails_its_case(
    #[case] mutant: &str,
    #[case] case: &str,
    #[case] class: &str,
    #[case] needles: &[&str],
) {
    assert_eq!(
        listed_case(mutant),
        case,
        "`echo-mutant --list` names another case"
    );
    let report = check_run(
        &mutant_cmd(mutant),
        &["--case", case, "--strict"],
        exit::CASE_FAILED,
    );
    report.assert_failed(case, class, needles);
    tokio_reference().assert_grade(case, "PASS");
}
