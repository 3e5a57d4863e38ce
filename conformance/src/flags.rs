//! Command-line flags as typed by the user, before validation (see `config` for the checked form).

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Tells whether a TCP echo server (RFC 862) is correct, safe and fast.
#[derive(Debug, Parser)]
#[command(name = "echo-conform", version, about, after_help = crate::exit::HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands. Parsed once per process, so the size of `RunArgs` does not matter.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the spec against a server, launched by command or reached by address.
    #[command(after_help = crate::exit::HELP)]
    Run(RunArgs),
    /// List the cases, with whether the given claims select them.
    List(ListArgs),
    /// Show one case: title, source, level, claims and steps.
    Explain(ExplainArgs),
    /// Check spec files without running anything.
    Validate(ValidateArgs),
    /// Print the JSON Schema of spec files (for editors: Taplo, Even Better TOML), or with
    /// `--report` that of the JSON report.
    Schema(SchemaArgs),
    /// Run every server of a targets file (side by side where the machine allows) and write one
    /// matrix of cases × servers: index.html, matrix.json, matrix.txt, and a report directory each.
    #[command(after_help = crate::exit::HELP)]
    Matrix(MatrixArgs),
}

/// Flags of `matrix`.
#[derive(Debug, clap::Args)]
pub struct MatrixArgs {
    /// The targets file: one `[[target]]` per server (name, cmd or addr, claims, args,
    /// expect_fail, baseline, root). Commands run in the file's directory; `{bin}` is the
    /// directory holding echo-conform.
    pub targets: PathBuf,
    /// Where the matrix and each server's report directory go.
    #[arg(long, default_value = "echo-conform-matrix")]
    pub out: PathBuf,
    /// Runs side by side (default: two per CPU, since runs mostly wait on their servers). Crowd
    /// and heavy cases still keep the machine to themselves.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: Option<u16>,
    /// Only these targets (repeatable).
    #[arg(long, value_name = "NAME")]
    pub only: Vec<String>,
    /// Servers shown as "under test": a cell whose grade differs from every other column is framed.
    #[arg(long, value_name = "NAME")]
    pub under_test: Vec<String>,
    /// A run still going after this many seconds is ended (exit 3 for that target).
    #[arg(long, default_value_t = 1800, value_parser = clap::value_parser!(u64).range(10..=86400))]
    pub target_timeout: u64,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for people.
    Human,
    /// One JSON object.
    Json,
    /// JUnit XML, one testcase per case (`run` only).
    Junit,
    /// TAP version 14 (`run` only).
    Tap,
}

/// `--family`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FamilyArg {
    /// 127.0.0.1 only.
    #[value(name = "4")]
    V4,
    /// ::1 only.
    #[value(name = "6")]
    V6,
    /// 127.0.0.1, then ::1.
    #[value(name = "both")]
    Both,
}

/// Flags of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Launch the server with this command; `{port}` is replaced by a free port, `{bind}` by the
    /// address to bind for --family (127.0.0.1, ::1, or :: for both). Split like a shell would,
    /// but never run through one.
    #[arg(long, conflicts_with = "addr", required_unless_present = "addr")]
    pub cmd: Option<String>,
    /// Test a server already listening at HOST:PORT (loopback unless --allow-remote).
    #[arg(long)]
    pub addr: Option<String>,
    /// Allow --addr to name a non-loopback host.
    #[arg(long)]
    pub allow_remote: bool,
    /// The server's claims, comma-separated (session: stream|oneshot, lifetime: forever|single,
    /// concurrency: concurrent|sequential, transform: identity|uppercase|prefix, transport:
    /// tcp|udp|tcp,udp, and the extras c10k and dual-stack). Dimensions left out default to a
    /// full RFC 862 TCP server: stream,forever,concurrent,identity,unprivileged,tcp.
    #[arg(long, default_value = "")]
    pub claims: String,
    /// Which loopback the cases use: 4 (127.0.0.1), 6 (::1), or both (every case over 127.0.0.1,
    /// then again over ::1 with `@ipv6` after its id). Default: 4 with --cmd, the address's own
    /// family with --addr.
    #[arg(long, value_enum)]
    pub family: Option<FamilyArg>,
    /// The server's transform (shorthand for the transform claim).
    #[arg(long, value_parser = ["identity", "uppercase", "prefix"])]
    pub transform: Option<String>,
    /// With `--transform prefix`: the regex each reply starts with.
    #[arg(long, default_value = crate::run::DEFAULT_PREFIX_REGEX)]
    pub prefix_regex: String,
    /// Run only cases whose id matches this glob (repeatable).
    #[arg(long = "case", value_name = "GLOB")]
    pub cases: Vec<String>,
    /// Run only cases of these levels (repeatable or comma-separated: must,should,may,info).
    #[arg(long = "level", value_delimiter = ',')]
    pub levels: Vec<String>,
    /// Also run the cases tagged `heavy` (C10k, descriptor exhaustion): slower and hungrier, so
    /// left out by default; CI and `cargo xtask conform` pass it.
    #[arg(long)]
    pub heavy: bool,
    /// Multiply every deadline and pause by this factor (for slow machines or sanitizers).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Read the spec from this directory instead of the embedded one.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Also run the cases the server does not claim, and print the strongest profile it meets.
    #[arg(long)]
    pub detect: bool,
    /// Gate on SHOULD cases too.
    #[arg(long)]
    pub strict: bool,
    /// Show how each failure was confirmed (run again alone, reproduced, blamed on another case)
    /// under its evidence; by default one line of the summary says failures were confirmed alone.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Cases run at once against a concurrent server; also how many fresh servers may run at once
    /// for the cases that need their own (at most one per CPU). Cases that mostly wait by design
    /// (pauses, watched silences) run beyond this count; 1 runs one case at a time.
    #[arg(long, default_value_t = crate::run::DEFAULT_JOBS)]
    pub jobs: usize,
    /// Consider a launched server ready when a line of its output matches this regex, instead of
    /// watching /proc for its LISTEN socket.
    #[arg(long)]
    pub ready_line: Option<String>,
    /// Seconds a launched server has to become ready (scaled by --time-scale).
    #[arg(long, default_value_t = crate::run::DEFAULT_READY_TIMEOUT_S)]
    pub ready_timeout: f64,
    /// With the `privileged` claim and root: the port `{port}` becomes (below 1024).
    #[arg(long, default_value_t = crate::privilege::DEFAULT_PORT)]
    pub priv_port: u16,
    /// The user a `privileged` server must drop to.
    #[arg(long, default_value = crate::privilege::DEFAULT_USER)]
    pub priv_user: String,
    /// The group a `privileged` server must drop to [default: nogroup, or the user's primary group
    /// where no `nogroup` exists (Fedora, Arch); the report says which].
    #[arg(long)]
    pub priv_group: Option<String>,
    /// The umask a `privileged` server must set, in octal.
    #[arg(long, default_value = crate::run::DEFAULT_UMASK)]
    pub priv_umask: String,
    /// Exit 4 (ENVIRONMENT) instead of skipping the privilege cases when the runner is not root.
    #[arg(long)]
    pub require_root: bool,
    /// Do not give launched servers a private network namespace (root only; the default when root).
    #[arg(long)]
    pub no_netns: bool,
    /// Also write every format (report.txt, report.json, junit.xml, report.tap, index.html) into DIR.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Judge the run against a baseline: a case that passed there and fails now exits 5; cases
    /// failing in both do not gate.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Write this run's grades as a baseline (JSON, sorted by case id).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Known failures: a TOML file of `[[expect_fail]]` tables with `id` and `reason`. A listed case
    /// that fails is XFAIL and does not gate; one that passes is XPASS (gates under --strict).
    #[arg(long, value_name = "FILE")]
    pub expect_fail: Option<PathBuf>,
    /// Run each selected case N times (1..=100); a case that passes only some runs is FLAKY, and a
    /// FLAKY MUST case gates like a failure.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repeat: u32,
    /// The seed of every property case, instead of the seed its spec entry gives.
    #[arg(long)]
    pub seed: Option<u64>,
    /// How many sequences every property case runs, instead of its spec entry's count.
    #[arg(long, value_name = "N")]
    pub prop_cases: Option<u32>,
    /// Write each failing property case's shrunk steps to `DIR/<case-id>.seed-<seed>.toml`, a spec
    /// file with one `script` case (run it with --spec DIR).
    #[arg(long, value_name = "DIR")]
    pub emit_regressions: Option<PathBuf>,
}

/// Flags of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Mark which cases these claims select.
    #[arg(long, default_value = "")]
    pub claims: String,
    /// Read the spec from this directory.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Print each requirement (RFC 862, privilege rules, seed models, design rules) with the cases
    /// that check it; flag requirements without a case and cases covered by no requirement.
    #[arg(long)]
    pub trace: bool,
}

/// Flags of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The case id.
    pub id: String,
    /// Read the spec from this directory.
    #[arg(long)]
    pub spec: Option<PathBuf>,
}

/// Flags of `schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the schema of the JSON report (`run --format json`, report.json) instead of the
    /// spec files'.
    #[arg(long)]
    pub report: bool,
}

/// Flags of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The spec directory (default: the embedded spec).
    pub dir: Option<PathBuf>,
}
