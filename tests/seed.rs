//! The seed-faithful Python models (`seed-servers/`) against the whole spec, each under the claims
//! its model makes. Every claimed case must PASS except the true findings listed, with their
//! reasons, in `seed-servers/expected.toml`, and the list must be exact: a new case that wrongly
//! fails a faithful model breaks the build, and so does a finding that went away unnoticed.
//!
//! A model runs for one to three minutes, so these tests are `#[ignore]`d in an ordinary
//! `cargo test`; CI runs them with `cargo test --workspace -- --ignored`.

crate::findings::findings_tests! {
    "seed-servers", min 8,
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
