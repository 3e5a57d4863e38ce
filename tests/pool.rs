//! The `pool=N` claim: a server that serves N clients at once by design (the seed's pre-fork
//! pool) is judged at its size, N−1 idle holders beside one served client, and what the client
//! after N gets is measured as INFO; a pool smaller than it claims fails.

use crate::util::{check_run, exit, model_claims, mutant_cmd, server_cmd};

#[test]
fn the_prefork_reference_claims_its_pool_and_passes_at_its_size() {
    let claims = model_claims("prefork", &[]);
    assert!(claims.contains("pool=20"), "{claims}");
    let report = check_run(
        &server_cmd("prefork", &[]),
        &[
            "--claims",
            &claims,
            "--detect",
            "--case",
            "hostile.idle-holders.100",
            "--case",
            "concurrency.*",
        ],
        exit::OK,
    );
    report.assert_grade("hostile.idle-holders.100", "PASS");
    let title = report.case("hostile.idle-holders.100")["title"].to_string();
    assert!(
        title.contains("[scaled to pool=20: 19 held instead of 100]"),
        "{title}"
    );
    // The 21st client is measured, not judged.
    let beyond = report.case("concurrency.pool.beyond");
    assert_eq!(beyond["grade"], "INFO", "{beyond:#}");
    assert!(
        beyond["title"].to_string().contains("20 held"),
        "{beyond:#}"
    );
    assert!(
        report.0["detected"]
            .as_str()
            .is_some_and(|d| d.contains("pool=20")),
        "{:#}",
        report.0["detected"]
    );
}

#[test]
fn a_pool_smaller_than_it_claims_fails() {
    let case = "hostile.idle-holders.100";
    let report = check_run(
        &mutant_cmd("pool-of-8"),
        &["--claims", "pool=20", "--case", case],
        exit::CASE_FAILED,
    );
    report.assert_failed(case, "HANG", &[]);
    let honest = check_run(
        &mutant_cmd("pool-of-8"),
        &["--claims", "pool=8", "--case", case],
        exit::OK,
    );
    honest.assert_grade(case, "PASS");
}

#[test]
fn a_pool_needs_a_size() {
    for bad in ["pool", "pool=1", "pool=many"] {
        let run = crate::util::conform(&["list", "--claims", bad]);
        assert_eq!(run.code(), exit::USAGE, "{bad}: {run}");
        assert!(run.stderr().contains("pool"), "{bad}: {run}");
    }
}

/// A server that does not say it is a pool, run with `--detect`: the concurrent cases fail, and
/// the measured pool size becomes the claim to try.
#[rstest::rstest]
#[case::prefork_reference(server_cmd("prefork", &[]), 20)]
#[case::pool_of_8(mutant_cmd("pool-of-8"), 8)]
fn detect_measures_an_undeclared_pool(#[case] cmd: String, #[case] size: u64) {
    let report = check_run(
        &cmd,
        &[
            "--claims",
            "oneshot,forever,concurrent",
            "--detect",
            "--case",
            "hostile.idle-holders.100",
            "--case",
            "concurrency.pool.size",
        ],
        exit::CASE_FAILED,
    );
    report.assert_grade("hostile.idle-holders.100", "FAIL");
    let measured = report.case("concurrency.pool.size");
    assert_eq!(measured["grade"], "INFO", "{measured:#}");
    assert_eq!(
        measured["figures"]["pool.served_at_once"], size,
        "{measured:#}"
    );
    let detected = report.0["detected"].as_str().unwrap_or_default();
    assert!(detected.contains(&format!("pool={size}")), "{detected}");
}

#[test]
fn detect_does_not_call_a_concurrent_server_a_pool() {
    let report = check_run(
        &server_cmd("threaded", &[]),
        &[
            "--claims",
            "stream,forever,concurrent",
            "--detect",
            "--case",
            "hostile.idle-holders.100",
            "--case",
            "concurrency.pool.size",
        ],
        exit::OK,
    );
    let measured = report.case("concurrency.pool.size");
    assert_eq!(
        measured["figures"]["pool.served_at_once"], 100,
        "{measured:#}"
    );
    let detected = report.0["detected"].as_str().unwrap_or_default();
    assert!(
        detected.contains("concurrent") && !detected.contains("pool"),
        "{detected}"
    );
}
