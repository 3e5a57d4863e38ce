//! The library's entry point: [`Run`], one run of the spec against one server, built from typed
//! values, checked once, and carried out once into a [`RunReport`]. The CLI, the harness and each
//! target of the matrix (a child `echo-conform run`) all come through here. The crate's front page
//! has an example.

use crate::config::{self, RunConfig};
use crate::error::Error;
use crate::events::Sink;
use crate::gate;
use crate::plan::Plan;
use crate::report::{self, RunReport};
use echo_spec::{Level, Spec};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the server under test is.
#[derive(Debug, Clone, PartialEq)]
pub enum Server {
    /// Launched by this command line: `{port}` becomes a free port and `{bind}` the address to
    /// bind. Split as a shell would, never run through one.
    Command(String),
    /// Already listening at `HOST:PORT` (loopback, unless [`RunBuilder::allow_remote`]).
    Addr(String),
}

/// Which loopback addresses the cases use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// 127.0.0.1 only.
    V4,
    /// ::1 only.
    V6,
    /// Every case over 127.0.0.1, then again over ::1 (its id gets `@ipv6`).
    Both,
}

/// The settings of a run before they are checked. Every field has the CLI's default.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    pub server: Server,
    pub allow_remote: bool,
    pub claims: String,
    pub family: Option<Family>,
    pub transform: Option<String>,
    pub prefix_regex: String,
    pub cases: Vec<String>,
    pub levels: Vec<Level>,
    pub heavy: bool,
    pub time_scale: f64,
    pub spec_dir: Option<PathBuf>,
    pub detect: bool,
    pub strict: bool,
    pub jobs: usize,
    pub ready_line: Option<String>,
    pub ready_timeout: f64,
    pub priv_port: u16,
    pub priv_user: String,
    pub priv_group: Option<String>,
    pub priv_umask: String,
    pub require_root: bool,
    pub report_dir: Option<PathBuf>,
    pub baseline: Option<PathBuf>,
    pub write_baseline: Option<PathBuf>,
    pub expect_fail: Option<PathBuf>,
    pub repeat: u32,
    pub seed: Option<u64>,
    pub prop_cases: Option<u32>,
    pub emit_regressions: Option<PathBuf>,
}

impl Settings {
    fn new(server: Server) -> Settings {
        Settings {
            server,
            allow_remote: false,
            claims: String::new(),
            family: None,
            transform: None,
            prefix_regex: DEFAULT_PREFIX_REGEX.to_string(),
            cases: Vec::new(),
            levels: Vec::new(),
            heavy: false,
            time_scale: 1.0,
            spec_dir: None,
            detect: false,
            strict: false,
            jobs: DEFAULT_JOBS,
            ready_line: None,
            ready_timeout: DEFAULT_READY_TIMEOUT_S,
            priv_port: crate::privilege::DEFAULT_PORT,
            priv_user: crate::privilege::DEFAULT_USER.to_string(),
            priv_group: None,
            priv_umask: DEFAULT_UMASK.to_string(),
            require_root: false,
            report_dir: None,
            baseline: None,
            write_baseline: None,
            expect_fail: None,
            repeat: 1,
            seed: None,
            prop_cases: None,
            emit_regressions: None,
        }
    }
}

/// The regex a `prefix` server's replies start with, unless [`RunBuilder::prefix_regex`] says.
pub const DEFAULT_PREFIX_REGEX: &str = r"[A-Za-z0-9_() -]+: ";
/// Cases at once against a concurrent server, unless [`RunBuilder::jobs`] says.
pub const DEFAULT_JOBS: usize = 4;
/// Seconds a launched server has to become ready, unless [`RunBuilder::ready_timeout`] says.
pub const DEFAULT_READY_TIMEOUT_S: f64 = 10.0;
/// The umask a `privileged` server must set, unless [`RunBuilder::privilege_umask`] says.
pub const DEFAULT_UMASK: &str = "0007";

/// A run being described; [`RunBuilder::build`] checks it. Each method is a flag of
/// `echo-conform run` (named in its doc) and checked exactly as that flag is.
#[derive(Debug, Clone, PartialEq)]
pub struct RunBuilder {
    settings: Settings,
}

impl RunBuilder {
    /// `--claims`: the server's claims, comma-separated (`stream,forever,concurrent`, `pool=8`).
    /// Dimensions left out take the defaults of a full RFC 862 TCP server.
    pub fn claims(mut self, value: &str) -> RunBuilder {
        self.settings.claims = value.to_string();
        self
    }

    /// `--family`.
    pub fn family(mut self, value: Family) -> RunBuilder {
        self.settings.family = Some(value);
        self
    }

    /// `--transform`: `identity`, `uppercase` or `prefix`.
    pub fn transform(mut self, value: &str) -> RunBuilder {
        self.settings.transform = Some(value.to_string());
        self
    }

    /// `--prefix-regex`: with the `prefix` transform, the regex each reply starts with.
    pub fn prefix_regex(mut self, value: &str) -> RunBuilder {
        self.settings.prefix_regex = value.to_string();
        self
    }

    /// `--level`: run only cases of these levels (all when empty).
    pub fn levels(mut self, value: Vec<Level>) -> RunBuilder {
        self.settings.levels = value;
        self
    }

    /// `--heavy`: also run the cases tagged `heavy`.
    pub fn heavy(mut self, value: bool) -> RunBuilder {
        self.settings.heavy = value;
        self
    }

    /// `--time-scale`: multiply every deadline and pause by this factor, in (0, 100].
    pub fn time_scale(mut self, value: f64) -> RunBuilder {
        self.settings.time_scale = value;
        self
    }

    /// `--spec`: read the spec from this directory instead of the embedded one.
    pub fn spec_dir(mut self, value: impl Into<PathBuf>) -> RunBuilder {
        self.settings.spec_dir = Some(value.into());
        self
    }

    /// `--detect`: also run unclaimed cases, and report the strongest profile met.
    pub fn detect(mut self, value: bool) -> RunBuilder {
        self.settings.detect = value;
        self
    }

    /// `--strict`: SHOULD cases gate too.
    pub fn strict(mut self, value: bool) -> RunBuilder {
        self.settings.strict = value;
        self
    }

    /// `--jobs`: cases at once against a concurrent server, in 1..=64.
    pub fn jobs(mut self, value: usize) -> RunBuilder {
        self.settings.jobs = value;
        self
    }

    /// `--ready-line`: the server is ready when a line of its output matches this regex.
    pub fn ready_line(mut self, value: &str) -> RunBuilder {
        self.settings.ready_line = Some(value.to_string());
        self
    }

    /// `--priv-port`: with the `privileged` claim and root, the port `{port}` becomes.
    pub fn privilege_port(mut self, value: u16) -> RunBuilder {
        self.settings.priv_port = value;
        self
    }

    /// `--priv-user`: the user a `privileged` server must drop to.
    pub fn privilege_user(mut self, value: &str) -> RunBuilder {
        self.settings.priv_user = value.to_string();
        self
    }

    /// `--priv-group`: the group a `privileged` server must drop to.
    pub fn privilege_group(mut self, value: &str) -> RunBuilder {
        self.settings.priv_group = Some(value.to_string());
        self
    }

    /// `--priv-umask`: the umask a `privileged` server must set, in octal.
    pub fn privilege_umask(mut self, value: &str) -> RunBuilder {
        self.settings.priv_umask = value.to_string();
        self
    }

    /// `--require-root`: an environment error instead of skipping the privilege cases when the
    /// runner is not root.
    pub fn require_root(mut self, value: bool) -> RunBuilder {
        self.settings.require_root = value;
        self
    }

    /// `--allow-remote`: let [`Server::Addr`] name a host off this machine.
    pub fn allow_remote(mut self, value: bool) -> RunBuilder {
        self.settings.allow_remote = value;
        self
    }

    /// `--report-dir`: also write every report format into this directory.
    pub fn report_dir(mut self, value: impl Into<PathBuf>) -> RunBuilder {
        self.settings.report_dir = Some(value.into());
        self
    }

    /// `--baseline`: judge the run against a baseline file.
    pub fn baseline(mut self, value: impl Into<PathBuf>) -> RunBuilder {
        self.settings.baseline = Some(value.into());
        self
    }

    /// `--write-baseline`: write this run's grades as a baseline.
    pub fn write_baseline(mut self, value: impl Into<PathBuf>) -> RunBuilder {
        self.settings.write_baseline = Some(value.into());
        self
    }

    /// `--expect-fail`: a TOML file of known failures with reasons.
    pub fn expect_fail(mut self, value: impl Into<PathBuf>) -> RunBuilder {
        self.settings.expect_fail = Some(value.into());
        self
    }

    /// `--repeat`: run each case this many times, in 1..=100.
    pub fn repeat(mut self, value: u32) -> RunBuilder {
        self.settings.repeat = value;
        self
    }

    /// `--seed`: the seed of every property case.
    pub fn seed(mut self, value: u64) -> RunBuilder {
        self.settings.seed = Some(value);
        self
    }

    /// `--prop-cases`: how many sequences every property case runs.
    pub fn prop_cases(mut self, value: u32) -> RunBuilder {
        self.settings.prop_cases = Some(value);
        self
    }

    /// `--emit-regressions`: write each failing property case's shrunk steps into this directory.
    pub fn emit_regressions(mut self, value: impl Into<PathBuf>) -> RunBuilder {
        self.settings.emit_regressions = Some(value.into());
        self
    }

    /// `--case`: adds a glob of case ids to run (all cases when none is given).
    pub fn case(mut self, glob: &str) -> RunBuilder {
        self.settings.cases.push(glob.to_string());
        self
    }

    /// Replaces the case globs given so far.
    pub fn cases(mut self, globs: Vec<String>) -> RunBuilder {
        self.settings.cases = globs;
        self
    }

    /// `--ready-timeout`: how long a launched server has to become ready (scaled by the time
    /// scale), at most 600 s.
    pub fn ready_timeout(mut self, within: Duration) -> RunBuilder {
        self.settings.ready_timeout = within.as_secs_f64();
        self
    }

    /// Points the run at another server, keeping every other setting.
    pub fn server(mut self, server: Server) -> RunBuilder {
        self.settings.server = server;
        self
    }

    /// The server the run is pointed at.
    pub fn target(&self) -> &Server {
        &self.settings.server
    }

    /// Whether any `--case` glob was given.
    pub fn has_case_filter(&self) -> bool {
        !self.settings.cases.is_empty()
    }

    /// Whether heavy cases are asked for.
    pub fn is_heavy(&self) -> bool {
        self.settings.heavy
    }

    /// Checks every setting against the spec (embedded, or [`RunBuilder::spec_dir`]) and plans
    /// the run. Errors are usage errors (a bad value, named as its flag) or spec errors.
    pub fn build(self) -> Result<Run, Error> {
        let s = self.settings;
        let spec = load(s.spec_dir.as_deref())?;
        let cfg = config::run_config(&s, &spec)?;
        let gating = gate::Options::new(&s, &spec)?;
        Ok(Run {
            spec,
            cfg,
            gating,
            report_dir: s.report_dir,
        })
    }
}

/// The spec in `dir`, or the embedded one when `None`.
pub fn load(dir: Option<&std::path::Path>) -> Result<Spec, Error> {
    match dir {
        Some(d) => Spec::load_dir(d),
        None => Spec::embedded(),
    }
    .map_err(|e| Error::Spec(format!("spec error: {e}")))
}

/// A checked run: the spec, the plan and the gating options. [`Run::execute`] carries it out.
#[derive(Debug)]
pub struct Run {
    spec: Spec,
    cfg: RunConfig,
    gating: gate::Options,
    report_dir: Option<PathBuf>,
}

impl Run {
    /// A run against a server launched by `cmd` (`{port}` is replaced by a free port).
    pub fn command(cmd: impl Into<String>) -> RunBuilder {
        Run::builder(Server::Command(cmd.into()))
    }

    /// A run against a server listening at `addr` (`HOST:PORT`).
    pub fn addr(addr: impl Into<String>) -> RunBuilder {
        Run::builder(Server::Addr(addr.into()))
    }

    /// A run against `server`, with every other setting at its default.
    pub fn builder(server: Server) -> RunBuilder {
        RunBuilder {
            settings: Settings::new(server),
        }
    }

    /// The planned cases, in spec order (with their `@ipv6` twins under [`Family::Both`]).
    pub fn plan(&self) -> &Plan {
        &self.cfg.plan
    }

    /// Whether SHOULD cases gate.
    pub fn strict(&self) -> bool {
        self.cfg.strict
    }

    /// The spec the run uses.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// The checked configuration.
    pub fn config(&self) -> &RunConfig {
        &self.cfg
    }

    /// Carries the run out: every case (each `repeat` times), attribution, the gate. `sink`
    /// sees every event as it happens. Writes what [`RunBuilder::report_dir`] and
    /// [`RunBuilder::write_baseline`] ask for.
    pub fn execute(&self, sink: Sink<'_>) -> Result<RunReport, Error> {
        if self.cfg.require_root {
            if let Some(reason) = &self.cfg.plan.privilege_skip {
                return Err(Error::Environment(format!(
                    "--require-root: the privilege cases cannot run: {reason}"
                )));
            }
        }
        crate::os::groups::install_cleanup_hooks();
        let started = Instant::now();
        let mut runs = Vec::new();
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        let mut attribution = Vec::new();
        for _ in 0..self.gating.repeat {
            let outcome = crate::execute::run(&self.cfg.plan, sink)?;
            problems.extend(outcome.server_problems);
            notes.extend(outcome.notes);
            attribution.extend(outcome.attribution);
            runs.push(outcome.results);
        }
        let mut results = gate::repeat::fold(runs);
        let gate = self
            .gating
            .judge(&self.cfg.plan.claims.to_string(), &mut results);
        let outcome = crate::execute::Outcome {
            results,
            server_problems: problems,
            notes,
            attribution,
        };
        let report = report::build(&self.cfg, &self.spec, outcome, started, gate);
        self.write_files(&report)?;
        Ok(report)
    }

    fn write_files(&self, report: &RunReport) -> Result<(), Error> {
        if let Some(dir) = &self.report_dir {
            report::dir::write(dir, report).map_err(|e| {
                Error::Io(format!("--report-dir: cannot write {}: {e}", dir.display()))
            })?;
        }
        if let Some(path) = &self.gating.write_baseline {
            let base = gate::baseline::Baseline::of(&report.claims, &report.cases);
            std::fs::write(path, base.to_text()).map_err(|e| {
                Error::Io(format!(
                    "--write-baseline: cannot write {}: {e}",
                    path.display()
                ))
            })?;
        }
        Ok(())
    }
}
