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

/// Every XML event of `text`, or the parser's complaint: a well-formedness check.
fn xml_text(text: &str) -> Result<String, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut shown = String::new();
    let mut depth = 0i32;
    for _ in 0..1_000_000 {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth -= 1,
            Event::Text(t) => {
                let raw = t.decode().map_err(|e| e.to_string())?;
                shown.push_str(&quick_xml::escape::unescape(&raw).map_err(|e| e.to_string())?);
            }
            Event::GeneralRef(r) => {
                let raw = format!("&{};", String::from_utf8_lossy(&r));
                shown.push_str(&quick_xml::escape::unescape(&raw).map_err(|e| e.to_string())?);
            }
            Event::CData(c) => shown.push_str(&String::from_utf8_lossy(&c)),
            Event::Eof => {
                return if depth == 0 {
                    Ok(shown)
                } else {
                    Err(format!("{depth} elements left open"))
                };
            }
            _ => {}
        }
    }
    Err("more than a million XML events".into())
}

/// The `escapes` server prints invalid UTF-8, terminal escapes, HTML, a CDATA end and TAP lines,
/// then dies on its first connection, so that output becomes the evidence. The terminal gets no raw
/// escape, and the HTML page, JUnit and TAP stay well-formed and show that output as text.
#[test]
fn server_output_is_escaped_on_the_terminal_and_in_every_report_format() {
    let cmd = cmd("escapes");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let run = conform(&[
        "run",
        "--cmd",
        &cmd,
        "--case",
        "echo.text.short",
        "--report-dir",
        out,
    ]);
    // It dies on its first connection: a crash of the run (exit 3), its output the evidence.
    assert_eq!(run.code(), exit::SERVER, "{run}");
    let text = String::from_utf8_lossy(&run.out.stdout);
    assert!(text.contains("bad utf-8"), "the output is quoted: {text}");
    assert!(
        !run.out.stdout.contains(&0x1b) && !run.out.stdout.contains(&0x07),
        "no raw escape or bell reaches the terminal: {text}"
    );
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();

    let html = read("index.html");
    assert!(
        html.contains("&lt;/pre&gt;&lt;script&gt;"),
        "quoted as text: {html}"
    );
    assert!(
        !html.contains("alert('pwned')</script>"),
        "no raw script: {html}"
    );
    assert!(!html.contains('\u{1b}'), "no raw escape in HTML");

    let junit = read("junit.xml");
    let shown =
        xml_text(&junit).unwrap_or_else(|e| panic!("junit.xml is not well-formed ({e}):\n{junit}"));
    assert!(
        shown.contains("</pre><script>"),
        "the output is kept, as text: {shown}"
    );
    assert!(
        shown.contains("]]>"),
        "the CDATA end is kept, as text: {shown}"
    );

    let tap = read("report.tap");
    let lines: Vec<&str> = tap
        .lines()
        .filter(|l| l.starts_with("ok") || l.starts_with("not ok"))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one test line, none forged by the server:\n{tap}"
    );
    assert!(
        tap.contains("forged by the server"),
        "the output is kept, indented: {tap}"
    );
    assert!(left("escapes").is_empty());
}
