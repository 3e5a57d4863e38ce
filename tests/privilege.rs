//! The privilege profile: the reference models pass every `priv.*` case when they drop to
//! nobody/nogroup, and each privilege mutant FAILs the case it names. These need root, so they are
//! `#[ignore = "needs root …"]`: `cargo test` lists them as ignored, and CI (which is root) runs
//! them with `cargo test --workspace -- --ignored`. Run that way without root, they fail and say why.

use crate::util::{check_run, exit, model_claims, mutant_cmd, server_cmd};
use rstest::rstest;

/// Fails the test, saying why, when it cannot bind port 7 and drop privileges.
fn require_root(test: &str) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "{test} needs root to bind port 7 and drop to nobody; run it as root (CI does)"
    );
}

#[rstest]
#[case::privdrop("privdrop", &[])]
#[case::threaded("threaded", &["--user", "nobody", "--group", "nogroup"])]
#[case::prefork("prefork", &["--user", "nobody", "--group", "nogroup"])]
#[case::tokio("tokio", &["--user", "nobody", "--group", "nogroup"])]
#[case::tokio_tcp_udp("tokio", &["--transport", "both", "--user", "nobody", "--group", "nogroup"])]
#[case::epoll_udp("epoll", &["--udp", "--user", "nobody", "--group", "nogroup"])]
#[ignore = "needs root: binds port 7 and drops to nobody (CI runs it with --ignored)"]
fn reference_drops_correctly(#[case] model: &str, #[case] extra: &[&str]) {
    require_root(&format!("reference_drops_correctly::{model}"));
    let claims = model_claims(model, extra);
    assert!(
        claims.contains("privileged"),
        "{model} {extra:?} claims {claims}"
    );
    let report = check_run(
        &server_cmd(model, extra),
        &["--claims", &claims, "--case", "priv.*"],
        exit::OK,
    );
    report.assert_claimed_pass();
    // The `priv.*` cases speak TCP, but for `priv.udp.bound-by-root`: a UDP-only server is judged
    // by that one.
    let ids: &[&str] = if claims.contains("tcp") || !claims.contains("udp") {
        &[
            "priv.uid.all-four",
            "priv.gid.all-four",
            "priv.tree.all-tasks",
            "priv.listen.bound-by-root",
            "priv.no-regain",
        ]
    } else {
        &[]
    };
    for id in ids {
        report.assert_grade(id, "PASS");
    }
    if claims.contains("udp") {
        report.assert_grade("priv.udp.bound-by-root", "PASS");
    }
}

#[rstest]
#[case::setuid_before_setgid("setuid-before-setgid", "priv.gid.all-four", exit::CASE_FAILED)]
#[case::no_setgroups("no-setgroups", "priv.groups.subset", exit::CASE_FAILED)]
#[case::seteuid_only("seteuid-only", "priv.uid.all-four", exit::CASE_FAILED)]
#[case::umask_decimal("umask-decimal", "priv.umask", exit::CASE_FAILED)]
#[case::one_thread_drop("one-thread-drop", "priv.tree.all-tasks", exit::CASE_FAILED)]
#[case::root_master("root-master", "priv.tree.all-tasks", exit::CASE_FAILED)]
#[case::escape_setsid_root("escape-setsid-root", "priv.tree.all-tasks", exit::CASE_FAILED)]
#[case::bind_after_drop("bind-after-drop", "priv.listen.bound-by-root", exit::SERVER)]
#[case::ignore_failure("ignore-failure", "priv.no-regain", exit::CASE_FAILED)]
#[case::udp_root_helper("udp-root-helper", "priv.udp.bound-by-root", exit::CASE_FAILED)]
#[ignore = "needs root: binds port 7 and drops to nobody (CI runs it with --ignored)"]
fn privilege_mutant_fails_its_case(#[case] mutant: &str, #[case] case: &str, #[case] code: i32) {
    require_root(&format!("privilege_mutant_fails_its_case::{mutant}"));
    let claims = if case.starts_with("priv.udp.") {
        "privileged,stream,forever,concurrent,tcp,udp"
    } else {
        "privileged,stream,forever,concurrent"
    };
    let report = check_run(
        &mutant_cmd(mutant),
        &["--claims", claims, "--case", case],
        code,
    );
    report.assert_grade(case, "FAIL");
    let evidence = report.case(case)["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        evidence.contains("/proc/") || evidence.contains("status 77"),
        "{mutant}: evidence should quote /proc or the exit:\n{evidence}"
    );
}

#[test]
#[ignore = "needs root: binds port 7 and drops to nobody (CI runs it with --ignored)"]
fn listen_bound_by_root_judges_the_udp_socket_too() {
    require_root("listen_bound_by_root_judges_the_udp_socket_too");
    // The root helper holds only the UDP socket: the TCP listener alone would pass.
    let report = check_run(
        &mutant_cmd("udp-root-helper"),
        &[
            "--claims",
            "privileged,stream,forever,concurrent,tcp,udp",
            "--case",
            "priv.listen.bound-by-root",
        ],
        exit::CASE_FAILED,
    );
    report.assert_failed(
        "priv.listen.bound-by-root",
        "PRIVILEGE",
        &["/net/udp: UDP socket bound to", "has not dropped to"],
    );
}

#[test]
fn privilege_cases_skip_with_a_reason_when_not_claimed_by_root_rules() {
    // Whatever the user, a non-privileged run never grades priv.* cases: they are not claimed.
    let report = check_run(
        &server_cmd("tokio", &[]),
        &["--case", "priv.uid.all-four"],
        exit::OK,
    );
    report.assert_grade("priv.uid.all-four", "NOT-CLAIMED");
}
