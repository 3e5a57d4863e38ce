//! Shared helpers: finding (and building) the binaries, running `echo-conform` through one `check`
//! helper per boundary, reading its JSON report, redacting output for snapshots, and scanning `/proc`
//! for processes a run left behind.
//!
//! Every helper that fails panics with the command, its status, stdout and stderr, so a red test says
//! what to run to see it again.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The exit codes of `echo-conform`, as documented in its `--help` (the contract under test).
pub mod exit {
    /// Every claimed MUST case passed.
    pub const OK: i32 = 0;
    /// A claimed MUST case failed.
    pub const CASE_FAILED: i32 = 1;
    /// Usage error or invalid spec.
    pub const USAGE: i32 = 2;
    /// The server did not start, did not become ready, or crashed.
    pub const SERVER: i32 = 3;
    /// A case that passed in the baseline fails now.
    pub const REGRESSION: i32 = 5;
}

/// The files `--report-dir` writes.
pub const REPORT_FILES: &[&str] = &[
    "report.txt",
    "report.json",
    "junit.xml",
    "report.tap",
    "index.html",
];

/// Held exclusively by a test that measures a server's CPU time (a spinning mutant must be seen
/// spinning), and shared by the tests whose runs load the machine (the docs examples' whole-spec
/// runs, the other hostile cases' crowds), which would otherwise starve the measured server of the
/// CPU it spins on.
static CPU_QUIET: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Takes [`CPU_QUIET`] alone until the guard is dropped: no loading test runs meanwhile.
pub fn cpu_quiet() -> std::sync::RwLockWriteGuard<'static, ()> {
    CPU_QUIET.write().unwrap_or_else(|e| e.into_inner())
}

/// Takes [`CPU_QUIET`] shared with other loading tests until the guard is dropped.
pub fn cpu_loading() -> std::sync::RwLockReadGuard<'static, ()> {
    CPU_QUIET.read().unwrap_or_else(|e| e.into_inner())
}

/// The directory holding `echo-conform`, `echo-server`, `echo-mutant` and `echo-load`, built on
/// first use.
///
/// The test binary lives in `<target>/<profile>/deps/`, so the binaries are two levels up; building
/// them with `--target-dir <target>` puts them exactly there, whatever `CARGO_TARGET_DIR` says.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in <target>/<profile>/deps")
            .to_path_buf();
        build_binaries(&profile_dir);
        for name in ["echo-conform", "echo-server", "echo-mutant", "echo-load"] {
            assert!(
                profile_dir.join(name).is_file(),
                "{} is missing; run `cargo build -p echo-conform -p echo-servers -p echo-clients` first",
                profile_dir.join(name).display()
            );
        }
        profile_dir
    })
}

fn build_binaries(profile_dir: &Path) {
    let target_dir = profile_dir
        .parent()
        .expect("<target>/<profile> has a parent");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "echo-conform",
        "-p",
        "echo-servers",
        "-p",
        "echo-clients",
    ])
    .arg("--target-dir")
    .arg(target_dir)
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("running cargo build");
    assert!(
        out.status.success(),
        "building the binaries failed; run `cargo build -p echo-conform -p echo-servers -p echo-clients` to see why\n{}",
        describe(&cmd, &out)
    );
}

/// The path of one of the workspace's binaries.
pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// `--cmd` for a reference model, with extra flags before `--port {port}`.
pub fn server_cmd(model: &str, extra: &[&str]) -> String {
    let mut cmd = format!("{} --model {model}", bin("echo-server").display());
    for e in extra {
        cmd.push(' ');
        cmd.push_str(e);
    }
    cmd + " --port {port}"
}

/// `--cmd` for a mutant.
pub fn mutant_cmd(name: &str) -> String {
    format!(
        "{} --mutant {name} --port {{port}}",
        bin("echo-mutant").display()
    )
}

/// What a model claims, from `echo-server --model M [flags] --claims`.
pub fn model_claims(model: &str, extra: &[&str]) -> String {
    let mut cmd = Command::new(bin("echo-server"));
    cmd.args(["--model", model]).args(extra).arg("--claims");
    let out = cmd.output().expect("running echo-server --claims");
    assert!(out.status.success(), "{}", describe(&cmd, &out));
    String::from_utf8(out.stdout)
        .expect("claims are UTF-8")
        .trim()
        .to_string()
}

/// The command, its status, stdout and stderr, for panic messages.
pub fn describe(cmd: &Command, out: &Output) -> String {
    format!(
        "command: {cmd:?}\nstatus: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A finished `echo-conform` invocation.
pub struct Run {
    /// How it was invoked, for messages.
    pub cmd: Command,
    /// What it produced.
    pub out: Output,
    /// Wall time.
    pub took: Duration,
}

impl Run {
    /// The exit code (panics on death by signal).
    pub fn code(&self) -> i32 {
        self.out
            .status
            .code()
            .unwrap_or_else(|| panic!("echo-conform died by a signal\n{self}"))
    }

    /// Stderr as text.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    /// Stdout parsed as the JSON report.
    pub fn report(&self) -> Report {
        let v: Value = serde_json::from_slice(&self.out.stdout)
            .unwrap_or_else(|e| panic!("stdout is not a JSON report: {e}\n{self}"));
        Report(v)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\ntook: {:?}",
            describe(&self.cmd, &self.out),
            self.took
        )
    }
}

/// Runs `echo-conform ARGS` to completion.
pub fn conform(args: &[&str]) -> Run {
    let mut cmd = Command::new(bin("echo-conform"));
    cmd.args(args);
    let start = Instant::now();
    let out = cmd.output().expect("spawning echo-conform");
    Run {
        cmd,
        out,
        took: start.elapsed(),
    }
}

/// The boundary "a run against a server": runs `echo-conform run --cmd CMD --format json ARGS`,
/// checks the exit code, and returns the parsed report.
pub fn check_run(cmd: &str, args: &[&str], expect_code: i32) -> Report {
    let mut all = vec!["run", "--cmd", cmd, "--format", "json"];
    all.extend_from_slice(args);
    let run = conform(&all);
    assert_eq!(
        run.code(),
        expect_code,
        "echo-conform exited {} where {expect_code} was expected\n{run}",
        run.code()
    );
    let report = run.report();
    assert_eq!(
        report.0["exit_code"].as_i64(),
        Some(i64::from(expect_code)),
        "the report's exit_code disagrees with the process's\n{run}"
    );
    report
}

/// The boundary "bad input": runs `echo-conform ARGS`, checks the exit code and that stdout is empty,
/// and returns stderr with ports, pids, times and paths redacted.
pub fn check_rejected(args: &[&str], expect_code: i32) -> (String, Run) {
    let run = conform(args);
    assert_eq!(
        run.code(),
        expect_code,
        "echo-conform exited {} where {expect_code} was expected\n{run}",
        run.code()
    );
    let stderr = run.stderr();
    assert!(!stderr.trim().is_empty(), "a rejection must say why\n{run}");
    (redact(&stderr, &[]), run)
}

/// The boundary "a read-only subcommand" (`list`, `explain`): runs it, checks exit 0, returns stdout.
pub fn check_output(args: &[&str]) -> String {
    let run = conform(args);
    assert_eq!(run.code(), exit::OK, "{run}");
    String::from_utf8(run.out.stdout.clone()).expect("output is UTF-8")
}

/// Replaces what changes between runs (ports, pids, times, the binaries' and temporary paths).
pub fn redact(text: &str, paths: &[(&Path, &str)]) -> String {
    let mut s = text.to_string();
    for (p, name) in paths {
        s = s.replace(&*p.to_string_lossy(), name);
    }
    s = s.replace(&*bin_dir().to_string_lossy(), "[BIN]");
    let rules: [(&str, &str); 5] = [
        (r"/tmp/[A-Za-z0-9._-]+", "[TMP]"),
        (r"(127\.0\.0\.1|localhost|\[::1\]):\d+", "$1:[PORT]"),
        (r"port \d+", "port [PORT]"),
        (r"pids? \[[\d, ]*\]|pid \d+", "[PID]"),
        (r"\d+(\.\d+)? ?(ms|s)\b", "[TIME]"),
    ];
    for (re, with) in rules {
        s = regex::Regex::new(re)
            .expect("a valid regex")
            .replace_all(&s, with)
            .into_owned();
    }
    s
}

/// A parsed JSON report.
pub struct Report(pub Value);

impl Report {
    /// The case with this id (panics if absent).
    pub fn case(&self, id: &str) -> &Value {
        self.cases()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no case `{id}` in the report\n{:#}", self.0))
    }

    /// Every case.
    pub fn cases(&self) -> &Vec<Value> {
        self.0["cases"].as_array().expect("`cases` is an array")
    }

    /// The grade of a case.
    pub fn grade(&self, id: &str) -> &str {
        self.case(id)["grade"]
            .as_str()
            .expect("`grade` is a string")
    }

    /// Asserts a case's grade, printing the case on failure.
    pub fn assert_grade(&self, id: &str, grade: &str) {
        assert_eq!(
            self.grade(id),
            grade,
            "case `{id}`: expected {grade}\n{:#}",
            self.case(id)
        );
    }

    /// Asserts a case FAILed with this failure class (or one of `A|B`) and evidence containing the
    /// class and every one of `needles`.
    pub fn assert_failed(&self, id: &str, class: &str, needles: &[&str]) {
        let c = self.case(id);
        assert_eq!(c["grade"], "FAIL", "case `{id}` should FAIL\n{c:#}");
        let got = c["failure"].as_str().unwrap_or_default();
        assert!(
            class.split('|').any(|k| k == got),
            "case `{id}` should fail as {class}\n{c:#}"
        );
        let evidence = c["evidence"].as_str().unwrap_or_default();
        assert!(
            evidence.contains(got),
            "the evidence of `{id}` should name {got}\n{c:#}"
        );
        for n in needles {
            assert!(
                evidence.contains(n),
                "the evidence of `{id}` should contain `{n}`\n{c:#}"
            );
        }
    }

    /// Asserts every claimed case passed (a measurement, level `info`, is graded INFO).
    pub fn assert_claimed_pass(&self) {
        for c in self.cases() {
            if c["claimed"] == true {
                let want = if c["level"] == "info" { "INFO" } else { "PASS" };
                assert_eq!(c["grade"], want, "a claimed case did not pass\n{c:#}");
            }
        }
    }

    /// Ids of the cases with this grade.
    pub fn ids_graded(&self, grade: &str) -> Vec<&str> {
        self.cases()
            .iter()
            .filter(|c| c["grade"] == grade)
            .map(|c| c["id"].as_str().expect("`id` is a string"))
            .collect()
    }
}

/// The full default spec against the `tokio` reference, run once and shared: the reference verdicts.
pub fn tokio_reference() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        check_run(
            &server_cmd("tokio", &[]),
            &["--heavy", "--strict"],
            exit::OK,
        )
    })
}

/// A process found in `/proc`.
#[derive(Debug)]
pub struct Proc {
    /// Its pid (read only through `Debug`, in panic messages).
    #[allow(dead_code)]
    pub pid: i32,
    /// Its process group.
    pub pgid: i32,
    /// Its state letter (`R`, `S`, `Z`, …).
    pub state: char,
    /// Its command line, arguments joined by spaces.
    pub cmdline: String,
}

/// Every live (non-zombie) process whose command line starts with `marker` or whose group is `pgid`.
pub fn procs_matching(marker: &str, pgid: Option<i32>) -> Vec<Proc> {
    live_procs()
        .filter(|p| p.cmdline.starts_with(marker) || Some(p.pgid) == pgid)
        .collect()
}

/// Every live (non-zombie) process whose command line contains `needle` anywhere.
pub fn procs_containing(needle: &str) -> Vec<Proc> {
    live_procs()
        .filter(|p| p.cmdline.contains(needle))
        .collect()
}

/// Every live (non-zombie) process in `/proc`.
fn live_procs() -> impl Iterator<Item = Proc> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_proc)
        .filter(|p| p.state != 'Z')
}

/// A port on 127.0.0.1 that was free a moment ago (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn read_proc(pid: i32) -> Option<Proc> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; fields resume after the last `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgid = fields.next()?.parse().ok()?;
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
    Some(Proc {
        pid,
        pgid,
        state,
        cmdline,
    })
}

/// Waits up to `within` for no live process to match; returns the survivors.
pub fn wait_gone(marker: &str, pgid: Option<i32>, within: Duration) -> Vec<Proc> {
    let deadline = Instant::now() + within;
    loop {
        let left = procs_matching(marker, pgid);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A uniquely named link to `echo-server`, so every process of one run can be found by its command line.
pub struct MarkedServer {
    _dir: tempfile::TempDir,
    /// The link's path, unique to this test.
    pub path: PathBuf,
}

/// Creates a link named `echo-server-<tag>-<pid>` in a fresh temporary directory.
pub fn marked_server(tag: &str) -> MarkedServer {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir
        .path()
        .join(format!("echo-server-{tag}-{}", std::process::id()));
    std::os::unix::fs::symlink(bin("echo-server"), &path).expect("linking echo-server");
    MarkedServer { _dir: dir, path }
}
