//! `cargo xtask example`: the example crate's own `cargo test` lists one trial per case of the
//! embedded spec, and a filter runs exactly one of them, against its server.

use anyhow::{ensure, Context};

/// Runs the checks, printing what each found.
pub fn run(sh: &xshell::Shell) -> anyhow::Result<()> {
    let cases = echo_spec::Spec::embedded()
        .context("the embedded spec")?
        .cases
        .len();
    let listed = xshell::cmd!(
        sh,
        "cargo test --quiet -p threaded-echo --test conformance -- --list --format terse"
    )
    .read()?;
    let trials = listed.lines().filter(|l| l.ends_with(": test")).count();
    ensure!(
        trials == cases,
        "the example lists {trials} trials, and the spec has {cases} cases:\n{listed}"
    );
    println!("example: {trials} trials listed, one per case of the spec");
    let one = xshell::cmd!(
        sh,
        "cargo test --quiet -p threaded-echo --test conformance -- --exact echo/echo.text.short"
    )
    .read()?;
    let want = format!(
        "1 passed; 0 failed; 0 ignored; 0 measured; {} filtered out",
        cases - 1
    );
    ensure!(
        one.contains(&want),
        "`--exact echo/echo.text.short` should run one passing trial ({want}):\n{one}"
    );
    println!("example: `--exact echo/echo.text.short` ran that one trial, and it passed");
    Ok(())
}
