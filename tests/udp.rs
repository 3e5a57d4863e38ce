//! The UDP half of RFC 862 and the address families: every `udp.*` and `family.*` case FAILs
//! the mutant written against it and PASSes a reference; `--family both` runs every case over
//! 127.0.0.1 and ::1, and a server that answers on one family only is reported as such.

use crate::mutants::assert_caught;
use crate::util::{check_run, exit, model_claims, server_cmd, Report};
use rstest::rstest;
use std::sync::OnceLock;

/// The UDP and family mutants, each tested below.
pub const MUTANTS: [&str; 10] = [
    "udp-truncate",
    "udp-drop-empty",
    "udp-cstring",
    "udp-other-source",
    "udp-wrong-peer",
    "udp-twice",
    "udp-shared-peer",
    "udp-lossy",
    "udp-icmp-dies",
    "v6only",
];

/// Every `udp.*` case against the tokio model serving UDP only, run once and shared.
fn udp_reference() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        let claims = model_claims("tokio", &["--udp"]);
        check_run(
            &server_cmd("tokio", &["--udp"]),
            &["--claims", &claims, "--case", "udp.*", "--strict"],
            exit::OK,
        )
    })
}

#[rstest]
#[case::truncate("udp-truncate", "udp.echo.sizes", "MISMATCH", &["TRUNCATED", "first 8192 of the 8193 B"])]
#[case::drop_empty("udp-drop-empty", "udp.echo.empty", "HANG", &["got no answer", "0 B []"])]
#[case::cstring("udp-cstring", "udp.echo.all-bytes", "MISMATCH", &["TRUNCATED", "first 0 of the 256 B"])]
#[case::other_source("udp-other-source", "udp.echo.one-datagram", "MISMATCH", &["not from 127.0.0.1:", "connect()s its socket"])]
#[case::wrong_peer("udp-wrong-peer", "udp.reply-to-sender", "HANG", &["got no answer", "arrived on socket `first`", "answered the wrong sender"])]
#[case::twice("udp-twice", "udp.one-answer", "MISMATCH", &["a second answer to a datagram already answered"])]
#[case::shared_peer("udp-shared-peer", "udp.many-senders", "HANG|MISMATCH", &["of 8 clients failed"])]
#[case::lossy("udp-lossy", "udp.burst", "LOSS", &["10.00% of the datagrams were lost", "tolerated"])]
#[case::icmp_dies("udp-icmp-dies", "udp.icmp-unreachable", "DIED", &["Connection refused", "exited with status 1"])]
fn udp_mutant_fails_its_case(
    #[case] mutant: &str,
    #[case] case: &str,
    #[case] class: &str,
    #[case] needles: &[&str],
) {
    let report = assert_caught(
        mutant,
        case,
        class,
        needles,
        &["--claims", "udp", "--strict"],
    );
    assert_eq!(report.cases().len(), 1, "--case selects exactly one case");
    udp_reference().assert_grade(case, "PASS");
}

#[test]
fn v6only_fails_dual_stack_which_a_dual_stack_model_passes() {
    assert_caught(
        "v6only",
        "family.dual-stack",
        "REFUSED",
        &["127.0.0.1"],
        &["--claims", "dual-stack"],
    );
    let claims = model_claims("threaded", &["--bind", "::"]);
    assert!(claims.ends_with(",dual-stack"), "{claims}");
    check_run(
        &server_cmd("threaded", &["--bind", "::"]),
        &["--claims", &claims, "--case", "family.*"],
        exit::OK,
    )
    .assert_grade("family.dual-stack", "PASS");
}

#[rstest]
#[case::sequential("sequential")]
#[case::epoll("epoll")]
fn udp_models_pass_every_udp_case(#[case] model: &str) {
    let claims = model_claims(model, &["--udp"]);
    let report = check_run(
        &server_cmd(model, &["--udp"]),
        &["--claims", &claims, "--strict"],
        exit::OK,
    );
    report.assert_claimed_pass();
    assert_eq!(report.ids_graded("PASS").len(), 9, "the nine udp.* cases");
    assert!(report
        .ids_graded("PASS")
        .iter()
        .all(|id| id.starts_with("udp.")));
}

#[test]
fn family_both_runs_every_case_over_both_loopbacks() {
    let claims = model_claims("epoll", &["--transport", "both", "--bind", "::"]);
    let report = check_run(
        &server_cmd("epoll", &["--transport", "both", "--bind", "{bind}"]),
        &[
            "--claims",
            &claims,
            "--family",
            "both",
            "--case",
            "echo.text.short",
            "--case",
            "udp.echo.*",
            "--case",
            "family.*",
        ],
        exit::OK,
    );
    report.assert_claimed_pass();
    for id in ["echo.text.short", "udp.echo.sizes", "family.dual-stack"] {
        report.assert_grade(id, "PASS");
    }
    for id in ["echo.text.short@ipv6", "udp.echo.sizes@ipv6"] {
        report.assert_grade(id, "PASS");
    }
    // The family cases pick their families themselves: no twin.
    assert!(report
        .cases()
        .iter()
        .all(|c| c["id"] != "family.dual-stack@ipv6"));
}

#[test]
fn a_one_family_server_is_reported_and_fails_only_when_it_claims_dual_stack() {
    // Bound to 127.0.0.1 only: the IPv6 twins are skipped with the reason, and the measurement
    // says ::1 was refused.
    let report = check_run(
        &server_cmd("tokio", &["--bind", "127.0.0.1"]),
        &[
            "--family",
            "both",
            "--case",
            "echo.text.short",
            "--case",
            "family.*",
        ],
        exit::OK,
    );
    assert_twin_skipped(
        &report,
        "echo.text.short",
        &["does not answer on [::1]", "serves ipv4 only"],
    );
    report.assert_grade("family.ipv6-loopback", "INFO");
    // The same server claiming dual-stack: the twins run, and fail.
    let report = check_run(
        &server_cmd("tokio", &["--bind", "127.0.0.1"]),
        &[
            "--claims",
            "dual-stack",
            "--family",
            "both",
            "--case",
            "echo.text.short",
            "--case",
            "family.dual-stack",
        ],
        exit::CASE_FAILED,
    );
    report.assert_failed("family.dual-stack", "REFUSED", &["[::1]"]);
    report.assert_failed("echo.text.short@ipv6", "REFUSED", &["[::1]"]);
}

#[test]
fn family_6_uses_the_ipv6_loopback_only() {
    let report = check_run(
        &server_cmd("tokio", &["--udp", "--bind", "{bind}"]),
        &[
            "--claims",
            "udp",
            "--family",
            "6",
            "--case",
            "udp.echo.one-datagram",
        ],
        exit::OK,
    );
    report.assert_grade("udp.echo.one-datagram", "PASS");
    // A server that binds IPv4 only is not ready for --family 6: the runner says where it is bound.
    let run = crate::util::conform(&[
        "run",
        "--cmd",
        &server_cmd("tokio", &["--udp", "--bind", "127.0.0.1"]),
        "--claims",
        "udp",
        "--family",
        "6",
        "--case",
        "udp.echo.one-datagram",
        "--ready-timeout",
        "1",
    ]);
    assert_eq!(run.code(), exit::SERVER, "{run}");
    let stderr = run.stderr();
    assert!(
        stderr.contains("has UDP port")
            && stderr.contains("on ::1")
            && stderr.contains("UDP 127.0.0.1:"),
        "{stderr}"
    );
}

#[test]
fn a_udp_only_server_on_one_family_is_probed_by_datagram() {
    let report = check_run(
        &server_cmd("tokio", &["--udp", "--bind", "127.0.0.1"]),
        &[
            "--claims",
            "udp",
            "--family",
            "both",
            "--case",
            "udp.echo.all-bytes",
        ],
        exit::OK,
    );
    assert_twin_skipped(&report, "udp.echo.all-bytes", &["UDP:", "serves ipv4 only"]);
}

#[test]
fn the_burst_fails_on_duplicate_and_wrong_answers_too() {
    // `udp-twice` is named by `udp.one-answer`; the burst's own check of duplicates catches it too.
    let report = check_run(
        &crate::util::mutant_cmd("udp-twice"),
        &["--claims", "udp", "--strict", "--case", "udp.burst"],
        exit::CASE_FAILED,
    );
    report.assert_failed(
        "udp.burst",
        "MISMATCH",
        &["duplicate answers", "stopped early"],
    );
    // `udp-cstring` answers each burst datagram cut at its first NUL (the sequence number's high
    // bytes): answers that match no datagram sent are counted wrong, and fail the burst.
    let report = check_run(
        &crate::util::mutant_cmd("udp-cstring"),
        &["--claims", "udp", "--strict", "--case", "udp.burst"],
        exit::CASE_FAILED,
    );
    report.assert_failed("udp.burst", "MISMATCH", &["wrong and 0 duplicate answers"]);
}

/// `id` passed over 127.0.0.1 and its `@ipv6` twin was skipped, the reason holding `needles`.
fn assert_twin_skipped(report: &Report, id: &str, needles: &[&str]) {
    report.assert_grade(id, "PASS");
    let twin = report.case(&format!("{id}@ipv6"));
    assert_eq!(twin["grade"], "SKIP", "{twin:#}");
    let why = twin["evidence"].as_str().unwrap_or_default();
    for n in needles {
        assert!(why.contains(n), "`{n}` not in the reason: {why}");
    }
}

/// UDP cases against a server that serves TCP only: the kernel's ICMP port unreachable is a
/// definitive answer, so each fails as REFUSED with that evidence instead of running out its wait
/// (the burst's loss timeout and deadline are seconds).
#[test]
fn udp_cases_against_a_tcp_only_server_fail_at_once_as_refused() {
    let report = check_run(
        &server_cmd("epoll", &[]),
        &[
            "--claims",
            "stream,forever,concurrent",
            "--detect",
            "--case",
            "udp.burst",
            "--case",
            "udp.echo.one-datagram",
        ],
        exit::OK,
    );
    for id in ["udp.burst", "udp.echo.one-datagram"] {
        report.assert_failed(
            id,
            "REFUSED",
            &["nothing listens on UDP", "ICMP port unreachable"],
        );
        let ms = report.case(id)["duration_ms"].as_u64().unwrap_or(u64::MAX);
        assert!(
            ms < 2_000,
            "{id} took {ms} ms: it waited instead of failing at once"
        );
    }
}

/// `scale.c100k` asks for more connections than the client's descriptors allow here: reported
/// at once from the limits, not found by running into them.
#[test]
fn a_crowd_beyond_the_clients_limits_is_skipped_with_the_limit() {
    let report = check_run(
        &server_cmd("epoll", &[]),
        &[
            "--claims",
            "stream,forever,concurrent,c10k",
            "--heavy",
            "--case",
            "scale.c100k",
        ],
        exit::OK,
    );
    let c = report.case("scale.c100k");
    let evidence = c["evidence"].as_str().unwrap_or_default();
    assert_eq!(c["grade"], "SKIP", "{c:#}");
    // One destination gives at most 28 232 source ports by default, and descriptors run out first
    // here (RLIMIT_NOFILE 20 000): either limit is named.
    assert!(
        evidence.contains("cannot hold 100000 connections")
            && (evidence.contains("RLIMIT_NOFILE") || evidence.contains("ip_local_port_range")),
        "{c:#}"
    );
}
