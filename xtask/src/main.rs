//! `cargo xtask`: the project's automation, in plain Rust.
//!
//! - `cargo xtask conform`: every reference model against the spec, with the discrimination check;
//! - `cargo xtask mutants`: every mutant server must fail the case it names;
//! - `cargo xtask bench`: every model under the same loads, medians and ratios;
//! - `cargo xtask dist`: static binaries, checksums and a tarball in `target/dist/`;
//! - `cargo xtask example`: the example crate's own `cargo test` runs the suite as trials;
//! - `cargo xtask html-check`: the conform matrix page in headless Chromium;
//! - `cargo xtask schema`: regenerate the JSON Schemas of the spec files and of the report;
//! - `cargo xtask ci`: fmt, clippy, tests, conform and mutants, as CI runs them.

mod bench;
mod conform;
mod dist;
mod example;
mod flags;
mod html;
mod mutants;
mod targets;

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
        flags::Cmd::Schema => schema(&sh),
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

/// Where `cargo xtask schema` writes the JSON report's schema.
const REPORT_SCHEMA_PATH: &str = "conformance/schema/report.schema.json";

/// Writes both JSON Schemas: the spec files' from the spec crate, the report's from what a fresh
/// `echo-conform schema --report` prints (xtask does not link the runner).
fn schema(sh: &xshell::Shell) -> anyhow::Result<()> {
    let conform = build(sh)?.join("echo-conform");
    let out = xshell::cmd!(sh, "{conform} schema --report").output()?;
    let report = String::from_utf8(out.stdout)?;
    for (rel, text) in [
        (SCHEMA_PATH, echo_spec::json_schema()),
        (REPORT_SCHEMA_PATH, report),
    ] {
        let path = root().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        std::fs::write(&path, text)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

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
