//! Servers hostile to the kit itself (`tests/servers/hostile_to_the_kit.py`): a flood of output,
//! invalid UTF-8 and terminal escapes, a thousand children, an endless answer, closed standard
//! streams, a new process name, and a child that serves while the launched parent exits. Each
//! gets a clear grade, the run ends, and no process of the server is left.

use crate::util::{conform, exit};
use rstest::rstest;
use std::path::Path;

const CASES: &[&str] = &[
    "--case",
    "echo.text.short",
    "--case",
    "echo.no-banner",
    "--case",
    "echo.stream.1mib",
];

fn cmd(mode: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("servers/hostile_to_the_kit.py");
    format!("python3 {} {mode} {{port}}", script.display())
}

/// The processes of `mode`'s server still alive.
fn left(mode: &str) -> Vec<crate::util::Proc> {
    crate::util::procs_containing(&format!("hostile_to_the_kit.py {mode} "))
}

#[rstest]
#[case::chatty("chatty", exit::OK, "PASS", None)]
#[case::forks("forks", exit::OK, "PASS", None)]
#[case::firehose("firehose", exit::CASE_FAILED, "FAIL", Some("MISMATCH"))]
#[case::no_stdio("no-stdio", exit::OK, "PASS", None)]
#[case::renamed("renamed", exit::OK, "PASS", None)]
#[case::child_binds("child-binds", exit::OK, "PASS", None)]
fn a_server_hostile_to_the_kit_gets_a_clear_grade_and_is_ended(
    #[case] mode: &str,
    #[case] code: i32,
    #[case] grade: &str,
    #[case] class: Option<&str>,
) {
    let cmd = cmd(mode);
    let mut args = vec!["run", "--cmd", &cmd, "--format", "json"];
    args.extend_from_slice(CASES);
    let run = conform(&args);
    assert_eq!(run.code(), code, "{run}");
    let report = run.report();
    report.assert_grade("echo.text.short", grade);
    if let Some(class) = class {
        report.assert_failed("echo.text.short", class, &[]);
    }
    if mode == "child-binds" {
        let notes = report.0["run_notes"].to_string();
        assert!(
            notes.contains("exited with status 0 and left 1 process"),
            "{notes}"
        );
    }
    assert!(left(mode).is_empty(), "left behind: {:#?}", left(mode));
}

#[test]
fn output_with_invalid_utf8_and_escapes_is_shown_escaped() {
    let cmd = cmd("escapes");
    let run = conform(&["run", "--cmd", &cmd, "--case", "echo.text.short"]);
    // It dies on its first connection: a crash of the run (exit 3), its output the evidence.
    assert_eq!(run.code(), exit::SERVER, "{run}");
    let text = String::from_utf8_lossy(&run.out.stdout);
    assert!(text.contains("bad utf-8"), "the output is quoted: {text}");
    assert!(
        !run.out.stdout.contains(&0x1b) && !run.out.stdout.contains(&0x07),
        "no raw escape or bell reaches the terminal: {text}"
    );
    assert!(left("escapes").is_empty());
}
