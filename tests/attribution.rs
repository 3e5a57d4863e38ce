//! Crash and wedge attribution: when cases share a server, a failure is blamed on the case that
//! causes it, not on whichever case noticed it.
//!
//! The servers are small Python programs in `tests/servers/`, each with one planted flaw: one dies
//! when a client resets (as the seed's loop does), one dies only when two particular clients are
//! connected at once, and one stops answering everybody else after one client's message.

use crate::util::{check_run, exit, Report};
use std::path::{Path, PathBuf};

/// The command that launches `tests/servers/NAME` with `ARGS` and the port last.
fn python_server(name: &str, args: &[&str]) -> String {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("servers")
        .join(name);
    let mut cmd = format!("python3 {}", path.display());
    for a in args {
        cmd.push(' ');
        cmd.push_str(a);
    }
    cmd.push_str(" {port}");
    cmd
}

/// Writes `cases` as the only spec file of a temporary spec directory.
fn spec_dir(cases: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("attribution.toml"), cases).expect("write the spec file");
    dir
}

fn evidence<'a>(report: &'a Report, id: &str) -> &'a str {
    report.case(id)["evidence"].as_str().unwrap_or_default()
}

fn problems(report: &Report) -> Vec<String> {
    report.0["server_problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["text"].as_str().map(str::to_string))
        .collect()
}

/// Cases that never reset a connection, which this server passes when it is not killed under them.
const INNOCENT: &[&str] = &[
    "echo.text.short",
    "echo.binary.all-bytes",
    "echo.no-banner",
    "echo.exchange.100",
    "echo.nothing-added",
    "stream.half-close.flush-then-eof",
];
/// Cases whose client resets while the server writes: each kills this server alone.
const KILLERS: &[&str] = &["lifecycle.reset.next-served", "hostile.reset-during-echo"];

#[test]
fn a_crash_on_reset_is_blamed_on_the_cases_that_reset_and_no_other() {
    let mut args: Vec<&str> = vec!["--jobs", "4"];
    for id in INNOCENT.iter().chain(KILLERS) {
        args.extend(["--case", id]);
    }
    let report = check_run(
        &python_server("crash_on_reset.py", &[]),
        &args,
        exit::SERVER,
    );
    for id in KILLERS {
        report.assert_failed(id, "DIED", &["exited with status 1"]);
    }
    // The script case ran beside others on the shared instance, so its death was reproduced
    // alone; the process case ran on a fresh instance of its own to begin with.
    report.assert_failed(KILLERS[0], "DIED", &["ConnectionResetError"]);
    assert!(
        report.case(KILLERS[0])["attribution"]
            .as_str()
            .is_some_and(|a| a.contains("reproduced alone")),
        "the JSON says how the failure was confirmed\n{:#}",
        report.case(KILLERS[0])
    );
    // One finding: the death, named by the exception the server printed.
    let findings = report.0["findings"].as_array().cloned().unwrap_or_default();
    let deaths: Vec<_> = findings
        .iter()
        .filter(|f| f["signature"]["kind"] == "died")
        .collect();
    assert_eq!(deaths.len(), 1, "{findings:#?}");
    assert_eq!(
        deaths[0]["signature"]["exception"], "ConnectionResetError",
        "{findings:#?}"
    );
    for id in INNOCENT {
        report.assert_grade(id, "PASS");
    }
    let problems = problems(&report);
    // `hostile.reset-during-echo` is a process case, whose deaths are its evidence rather than
    // crashes of the run; the script case's death is one.
    assert!(
        problems
            .iter()
            .any(|p| p.contains(KILLERS[0]) && p.contains("reproduced alone")),
        "a server problem names `{}`: {problems:#?}",
        KILLERS[0]
    );
    for id in INNOCENT {
        assert!(
            !problems.iter().any(|p| p.contains(id)),
            "no server problem names `{id}`: {problems:#?}"
        );
    }
}

const PAIR_SPEC: &str = r#"
[[case]]
id = "pair.alpha"
title = "a client that says alpha and stays a while"
source = "test: attribution of a crash that needs two cases"
level = "must"
kind = "script"
steps = ["connect", { send = { text = "alpha" } }, "expect_echo", { sleep = { ms = 1500 } }, "shutdown_write", "expect_eof"]

[[case]]
id = "pair.beta"
title = "a client that says beta and stays a while"
source = "test: attribution of a crash that needs two cases"
level = "must"
kind = "script"
steps = ["connect", { sleep = { ms = 300 } }, { send = { text = "beta" } }, "expect_echo", { sleep = { ms = 1200 } }, "shutdown_write", "expect_eof"]

[[case]]
id = "pair.plain"
title = "a client that says something else"
source = "test: attribution of a crash that needs two cases"
level = "must"
kind = "script"
steps = ["connect", { send = { text = "plain" } }, "expect_echo", "shutdown_write", "expect_eof"]
"#;

#[test]
fn a_crash_that_needs_two_cases_names_both() {
    let dir = spec_dir(PAIR_SPEC);
    let spec = dir.path().to_str().expect("UTF-8 path");
    let report = check_run(
        &python_server("marker_server.py", &["crash-pair"]),
        &["--spec", spec, "--jobs", "3"],
        exit::SERVER,
    );
    report.assert_failed("pair.alpha", "DIED", &["together with `pair.beta`"]);
    report.assert_failed("pair.beta", "DIED", &["together with `pair.alpha`"]);
    for id in ["pair.alpha", "pair.beta"] {
        assert!(
            evidence(&report, id).contains("neither kills it alone"),
            "{:#}",
            report.case(id)
        );
    }
    report.assert_grade("pair.plain", "PASS");
    let problems = problems(&report);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`pair.alpha` and `pair.beta` together")
                || p.contains("`pair.beta` and `pair.alpha` together")),
        "the run's server problems name both cases: {problems:#?}"
    );
}

const WEDGE_SPEC: &str = r#"
[[case]]
id = "wedge.trigger"
title = "a client whose message makes the server ignore everybody else"
source = "test: attribution of a wedge"
level = "must"
kind = "script"
steps = ["connect", { send = { text = "wedge" } }, "expect_echo", "shutdown_write", "expect_eof"]

[[case]]
id = "wedge.victim.1"
title = "an ordinary client that comes a moment later"
source = "test: attribution of a wedge"
level = "must"
kind = "script"
timeouts = { no_progress_ms = 1000 }
steps = ["connect", { sleep = { ms = 500 } }, { send = { text = "hello one" } }, "expect_echo", "shutdown_write", "expect_eof"]

[[case]]
id = "wedge.victim.2"
title = "another ordinary client that comes a moment later"
source = "test: attribution of a wedge"
level = "must"
kind = "script"
timeouts = { no_progress_ms = 1000 }
steps = ["connect", { sleep = { ms = 500 } }, { send = { text = "hello two" } }, "expect_echo", "shutdown_write", "expect_eof"]
"#;

#[test]
fn a_wedge_fails_the_case_that_causes_it_and_names_its_effect() {
    let dir = spec_dir(WEDGE_SPEC);
    let spec = dir.path().to_str().expect("UTF-8 path");
    let report = check_run(
        &python_server("marker_server.py", &["wedge"]),
        &["--spec", spec, "--jobs", "3"],
        exit::CASE_FAILED,
    );
    report.assert_failed(
        "wedge.trigger",
        "INTERACTION",
        &[
            "the server no longer served other clients",
            "`wedge.victim.",
        ],
    );
    for id in ["wedge.victim.1", "wedge.victim.2"] {
        report.assert_grade(id, "PASS");
        let notes = report.case(id)["notes"].to_string();
        assert!(
            notes.contains("passes alone") && notes.contains("wedge.trigger"),
            "`{id}` keeps what it saw beside the others, and names the culprit: {:#}",
            report.case(id)
        );
    }
}

/// A server this test started itself, killed when dropped.
struct Started(std::process::Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_failure_beside_others_on_a_server_reached_by_address_says_it_is_unconfirmed() {
    use std::io::{BufRead, BufReader};
    let port = crate::util::free_port();
    let cmd = python_server("marker_server.py", &["wedge"]).replace("{port}", &port.to_string());
    let mut child = std::process::Command::new("sh")
        .args(["-c", &format!("exec {cmd}")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the Python server");
    let out = child.stdout.take().expect("piped stdout");
    let server = Started(child);
    let mut first = String::new();
    BufReader::new(out)
        .read_line(&mut first)
        .expect("the server's first line");
    assert!(first.contains("listening"), "{first}");

    let dir = spec_dir(WEDGE_SPEC);
    let addr = format!("127.0.0.1:{port}");
    let mut args = vec!["run", "--addr", &addr, "--format", "json"];
    args.extend([
        "--spec",
        dir.path().to_str().expect("UTF-8 path"),
        "--jobs",
        "3",
    ]);
    let run = crate::util::conform(&args);
    drop(server);
    assert_eq!(run.code(), exit::CASE_FAILED, "{run}");
    let report = run.report();
    for id in ["wedge.victim.1", "wedge.victim.2"] {
        report.assert_grade(id, "FAIL");
        assert!(
            evidence(&report, id).contains("not confirmed alone")
                && evidence(&report, id).contains("--addr"),
            "{:#}",
            report.case(id)
        );
    }
}
