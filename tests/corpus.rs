//! Echo servers from elsewhere (`corpus/`): distribution packages with an echo mode (socat, ncat,
//! busybox nc, xinetd's built-in echo) and the echo examples of two languages' documentation
//! (Node.js `net`, Python asyncio streams), each through the whole spec under the claims its design
//! makes. `corpus/expected.toml` lists each one's findings with the evidence; the test compares, so
//! a change in the kit that alters a verdict on a real server shows up as a diff to review.
//!
//! Slow like the seed models: `#[ignore]`d in an ordinary `cargo test`, run by CI with `--ignored`
//! after `.ci/run` installs the packages.

crate::findings::findings_tests! {
    "corpus", min 6,
    socat_fork => "socat-fork",
    ncat_exec_cat => "ncat-exec-cat",
    busybox_nc => "busybox-nc",
    xinetd_echo => "xinetd-echo",
    node_pipe => "node-pipe",
    asyncio_streams => "asyncio-streams",
}
