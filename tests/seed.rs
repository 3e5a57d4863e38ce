//! The seed-faithful Python models (`seed-servers/`) against the whole spec, each under the claims
//! its model makes. Every claimed case must PASS except the true findings listed, with their
//! reasons, in `seed-servers/expected.toml`, and the list must be exact: a new case that wrongly
//! fails a faithful model breaks the build, and so does a finding that went away unnoticed.
//!
//! A model runs for one to three minutes, so these tests are `#[ignore]`d in an ordinary
//! `cargo test`; CI runs them with `cargo test --workspace -- --ignored`.

use crate::findings::{check_well_formed, expected, run_model};

#[test]
fn the_expected_findings_file_is_well_formed() {
    check_well_formed("seed-servers", 8);
}

macro_rules! seed_models {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            #[ignore = "slow: a seed model through the whole spec (CI runs it with --ignored)"]
            fn $test() {
                run_model("seed-servers", $name);
            }
        )*
    };
}

seed_models! {
    basic => "basic",
    loop_ => "loop",
    socketserver_upper => "socketserver_upper",
    threading_server => "threading_server",
    prefork => "prefork",
    selectors_select => "selectors-select",
    selectors_poll => "selectors-poll",
    selectors_epoll => "selectors-epoll",
    selectors_default => "selectors-default",
    selectors_as_printed => "selectors-as-printed",
    privdrop => "privdrop",
}

#[test]
fn every_model_in_the_file_has_a_test() {
    let tested = [
        "basic",
        "loop",
        "socketserver_upper",
        "threading_server",
        "prefork",
        "selectors-select",
        "selectors-poll",
        "selectors-epoll",
        "selectors-default",
        "selectors-as-printed",
        "privdrop",
    ];
    for m in expected("seed-servers").model {
        assert!(
            tested.contains(&m.name.as_str()),
            "model `{}` has no test",
            m.name
        );
    }
}
