//! The privilege profile: the reference models pass every `priv.*` case when they drop to
//! nobody/nogroup, and each privilege mutant FAILs the case it names. These need root (CI is root);
//! elsewhere each test prints why it is skipped and returns.

use crate::util::{check_run, exit, model_claims, mutant_cmd, server_cmd};
use rstest::rstest;

/// True when the tests can bind port 7 and drop privileges; prints the reason when not.
fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        true
    } else {
        println!("SKIP {test}: needs root to bind port 7 and drop to nobody (CI runs as root)");
        false
    }
}

#[rstest]
#[case::privdrop("privdrop", &[])]
#[case::threaded("threaded", &["--user", "nobody", "--group", "nogroup"])]
#[case::prefork("prefork", &["--user", "nobody", "--group", "nogroup"])]
#[case::tokio("tokio", &["--user", "nobody", "--group", "nogroup"])]
#[case::tokio_tcp_udp("tokio", &["--transport", "both", "--user", "nobody", "--group", "nogroup"])]
#[case::epoll_udp("epoll", &["--udp", "--user", "nobody", "--group", "nogroup"])]
fn reference_drops_correctly(#[case] model: &str, #[case] extra: &[&str]) {
    if !root_or_skip(&format!("reference_drops_correctly::{model}")) {
        return;
    }
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
#[case::bind_after_drop("bind-after-drop", "priv.listen.bound-by-root", exit::SERVER)]
#[case::ignore_failure("ignore-failure", "priv.no-regain", exit::CASE_FAILED)]
#[case::udp_root_helper("udp-root-helper", "priv.udp.bound-by-root", exit::CASE_FAILED)]
fn privilege_mutant_fails_its_case(#[case] mutant: &str, #[case] case: &str, #[case] code: i32) {
    if !root_or_skip(&format!("privilege_mutant_fails_its_case::{mutant}")) {
        return;
    }
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
fn listen_bound_by_root_judges_the_udp_socket_too() {
    if !root_or_skip("listen_bound_by_root_judges_the_udp_socket_too") {
        return;
    }
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
