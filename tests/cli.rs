//! Snapshots of the read-only subcommands a user meets first: `list` and `explain`.

use crate::util::{check_output, check_rejected, exit};

/// `list` without the `priv.*` lines: the privilege cases are snapshotted with their own tests, so
/// that work on them does not churn these snapshots.
fn list(args: &[&str]) -> String {
    let mut all = vec!["list"];
    all.extend_from_slice(args);
    check_output(&all)
        .lines()
        .filter(|l| {
            !l.split_whitespace()
                .nth(1)
                .is_some_and(|id| id.starts_with("priv."))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn explain_all_bytes() {
    insta::assert_snapshot!(check_output(&["explain", "echo.binary.all-bytes"]));
}

#[test]
fn list_default_claims() {
    insta::assert_snapshot!(list(&[]));
}

#[test]
fn list_oneshot_sequential_claims() {
    insta::assert_snapshot!(list(&["--claims", "oneshot,sequential"]));
}

#[test]
fn list_json_names_every_case_once() {
    let out = check_output(&["list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("list --format json is JSON");
    let text = v.to_string();
    for id in [
        "echo.binary.all-bytes",
        "stream.idle-pause",
        "lifecycle.single.exits",
    ] {
        assert_eq!(
            text.matches(&format!("\"{id}\"")).count(),
            1,
            "{id} in {v:#}"
        );
    }
}

#[test]
fn explain_unknown_case() {
    let (stderr, _) = check_rejected(&["explain", "echo.nosuch"], exit::USAGE);
    assert!(stderr.contains("echo.nosuch"), "{stderr}");
}
