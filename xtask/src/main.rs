//! `cargo xtask`: the project's automation, in plain Rust.
//!
//! - `cargo xtask conform`: every reference model against the spec, with the discrimination check;
//! - `cargo xtask mutants`: every mutant server must fail the case it names;
//! - `cargo xtask bench`: every model under the same loads, medians and ratios;
//! - `cargo xtask dist`: static binaries, checksums and a tarball in `target/dist/`;
//! - `cargo xtask example`: the example crate's own `cargo test` runs the suite as trials;
//! - `cargo xtask html-check`: the conform matrix page in headless Chromium;
//! - `cargo xtask schema`: regenerate the spec files' JSON Schema;
//! - `cargo xtask ci`: fmt, clippy, tests, conform and mutants, as CI runs them.

mod bench;
mod conform;
mod dist;
mod example;
mod flags;
mod html;
mod mutants;

use std::path::PathBuf;

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = flags::parse(&args)?;
    let sh = xshell::Shell::new()?;
    sh.change_dir(root());
    match cmd {
        flags::Cmd::Conform(c) => conform::run(&sh, &c),
        flags::Cmd::Mutants => mutants::run(&sh),
        flags::Cmd::Bench {
            reps,
            seconds,
            servers,
        } => bench::run(&sh, reps, seconds, &servers),
        flags::Cmd::Example => example::run(&sh),
        flags::Cmd::Dist { build_only: true } => dist::build(&sh).map(|_| ()),
        flags::Cmd::Dist { build_only: false } => dist::run(&sh).map(|_| ()),
        flags::Cmd::HtmlCheck => html::check(&sh, &root().join("target/conform")),
        flags::Cmd::Schema => {
            let path = root().join(SCHEMA_PATH);
            std::fs::create_dir_all(path.parent().expect("a parent"))?;
            std::fs::write(&path, echo_spec::json_schema())?;
            println!("wrote {}", path.display());
            Ok(())
        }
        flags::Cmd::Ci => {
            xshell::cmd!(sh, "cargo fmt --all -- --check").run()?;
            xshell::cmd!(sh, "cargo clippy --workspace --all-targets -- -D warnings").run()?;
            xshell::cmd!(sh, "cargo test --workspace").run()?;
            example::run(&sh)?;
            conform::run(&sh, &flags::Conform::default())?;
            mutants::run(&sh)
        }
        flags::Cmd::Help => {
            println!("{}", flags::HELP);
            Ok(())
        }
    }
}

/// The variable naming the machine lock that runs side by side share
/// (`echo_conform::os::machine::LOCK_ENV`; xtask does not link the runner).
const LOCK_ENV: &str = "ECHO_CONFORM_MACHINE_LOCK";

/// Where `cargo xtask schema` writes the spec files' JSON Schema.
const SCHEMA_PATH: &str = "spec/schema/echo-spec.schema.json";

/// The workspace root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Builds the binaries the tasks run and returns the directory holding them.
///
/// The same packages as the integration tests build (`tests/util.rs`): a different set resolves
/// `echo-clients` with other features, and each alternation rebuilt it and the runner (37 s).
fn build(sh: &xshell::Shell) -> anyhow::Result<PathBuf> {
    xshell::cmd!(
        sh,
        "cargo build --quiet -p echo-conform -p echo-servers -p echo-clients"
    )
    .run()?;
    Ok(target_dir().join("debug"))
}

/// The cargo target directory (`CARGO_TARGET_DIR`, or `target/` of the workspace).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}
