//! The xtask command line.

use anyhow::bail;

/// What `cargo xtask` was asked to do.
#[derive(Debug)]
pub enum Cmd {
    /// Run the reference matrix, or one third-party server.
    Conform(Conform),
    /// Prove each mutant is caught.
    Mutants,
    /// Benchmark every model.
    Bench {
        /// Repetitions per model and load.
        reps: usize,
        /// Measured seconds per repetition.
        seconds: f64,
        /// Third-party server commands with `{port}`, benchmarked beside the models.
        servers: Vec<String>,
    },
    /// Build static binaries with checksums into `target/dist/`.
    Dist {
        /// Only build them (CI starts the build early, at low priority).
        build_only: bool,
    },
    /// Check the example crate's `cargo test`: its listing and a filter.
    Example,
    /// Open the conform matrix page in headless Chromium and check what it rendered.
    HtmlCheck,
    /// Write the spec files' JSON Schema to `spec/schema/echo-spec.schema.json` and the JSON
    /// report's to `conformance/schema/report.schema.json`.
    Schema,
    /// Everything CI runs.
    Ci,
    /// Print usage.
    Help,
}

/// Flags of `conform`.
#[derive(Debug, Default)]
pub struct Conform {
    /// A third-party server command with `{port}`, instead of the reference models.
    pub server: Option<String>,
    /// Its claims.
    pub claims: Option<String>,
    /// Only these reference variants.
    pub only: Vec<String>,
    /// Runs side by side (`matrix --jobs`); two per CPU when not given.
    pub jobs: Option<u16>,
}

/// Usage text.
pub const HELP: &str = "\
usage: cargo xtask <task>
  conform [--server 'CMD {port}' [--claims LIST]] [--only VARIANT]... [--jobs N]
          echo-conform matrix over reference-servers/targets.toml (and the server, as the
          last column): check the matrix, write target/conform/ and check the page in chromium
  mutants  run every mutant server and check the case it names catches it
  bench [--reps N] [--seconds S] [--server 'CMD {port}']...
           every model, a C epoll peer (built with cc), a minimal tokio echo and your servers
           under the same loads, pinned; medians and ratios to the fastest model, the C peer
           and the loopback ceilings; ab beside echo-load
  dist [--build-only]
           static echo-conform, echo-server and echo-load with SHA256SUMS and a tarball in
           target/dist/; checks them with ldd and from a directory with no toolchain on PATH
           (--build-only: build them in target/dist-build/ and stop)
  example  the example crate's cargo test lists one trial per case; a filter runs one
  html-check
           open target/conform/index.html in headless chromium, screenshot it, check the DOM
  schema   write spec/schema/echo-spec.schema.json from the parser's types and
           conformance/schema/report.schema.json from the report's
  ci       fmt, clippy, tests, conform and mutants";

/// Parses the arguments after `cargo xtask`.
pub fn parse(args: &[String]) -> anyhow::Result<Cmd> {
    let Some((first, rest)) = args.split_first() else {
        return Ok(Cmd::Help);
    };
    match first.as_str() {
        "conform" => {
            let mut c = Conform::default();
            let mut it = rest.iter();
            while let Some(a) = it.next() {
                let mut value = || {
                    it.next()
                        .cloned()
                        .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))
                };
                match a.as_str() {
                    "--server" => c.server = Some(value()?),
                    "--claims" => c.claims = Some(value()?),
                    "--only" => c.only.push(value()?),
                    "--jobs" => c.jobs = Some(value()?.parse()?),
                    other => bail!("conform: unknown flag `{other}`\n{HELP}"),
                }
            }
            Ok(Cmd::Conform(c))
        }
        "mutants" if rest.is_empty() => Ok(Cmd::Mutants),
        "bench" => {
            let (mut reps, mut seconds, mut servers) = (3usize, 1.0f64, Vec::new());
            let mut it = rest.iter();
            while let Some(a) = it.next() {
                let v = it
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))?;
                match a.as_str() {
                    "--reps" => reps = v.parse()?,
                    "--seconds" => seconds = v.parse()?,
                    "--server" => servers.push(v.clone()),
                    other => bail!("bench: unknown flag `{other}`\n{HELP}"),
                }
            }
            Ok(Cmd::Bench {
                reps: reps.clamp(1, 20),
                seconds: seconds.clamp(0.2, 60.0),
                servers,
            })
        }
        "ci" if rest.is_empty() => Ok(Cmd::Ci),
        "example" if rest.is_empty() => Ok(Cmd::Example),
        "dist" => match rest {
            [] => Ok(Cmd::Dist { build_only: false }),
            [flag] if flag == "--build-only" => Ok(Cmd::Dist { build_only: true }),
            _ => bail!("dist: unknown arguments {rest:?}\n{HELP}"),
        },
        "html-check" if rest.is_empty() => Ok(Cmd::HtmlCheck),
        "schema" if rest.is_empty() => Ok(Cmd::Schema),
        "help" | "--help" | "-h" => Ok(Cmd::Help),
        other => bail!("unknown task `{other}`\n{HELP}"),
    }
}
