//! Echo servers from elsewhere (`corpus/`): distribution packages with an echo mode (socat, ncat,
//! busybox nc, xinetd's built-in echo) and the echo examples of two languages' documentation
//! (Node.js `net`, Python asyncio streams), each through the whole spec under the claims its design
//! makes. `corpus/expected.toml` lists each one's findings with the evidence; the test compares, so
//! a change in the kit that alters a verdict on a real server shows up as a diff to review.
//!
//! Slow like the seed models: `#[ignore]`d in an ordinary `cargo test`, run by CI with `--ignored`
//! after `.ci/run` installs the packages.

use crate::findings::{check_well_formed, expected, run_model};

#[test]
fn the_corpus_findings_file_is_well_formed() {
    check_well_formed("corpus", 6);
}

macro_rules! corpus_servers {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(
            #[test]
            #[ignore = "slow: a third-party server through the whole spec (CI runs it with --ignored)"]
            fn $test() {
                run_model("corpus", $name);
            }
        )*

        #[test]
        fn every_corpus_server_has_a_test() {
            let tested = [$($name),*];
            for m in expected("corpus").model {
                assert!(tested.contains(&m.name.as_str()), "corpus server `{}` has no test", m.name);
            }
        }
    };
}

corpus_servers! {
    socat_fork => "socat-fork",
    ncat_exec_cat => "ncat-exec-cat",
    busybox_nc => "busybox-nc",
    xinetd_echo => "xinetd-echo",
    node_pipe => "node-pipe",
    asyncio_streams => "asyncio-streams",
}
