//! Reports and CI gating: snapshots of every output format of one small deterministic run, the
//! baseline ratchet (exit 5), `--expect-fail` (XFAIL, XPASS), `--repeat` (FLAKY), the requirements
//! trace, and the JSON Schemas: each fresh, and every report written here valid under the report's.
//!
//! Snapshots are taken after durations, ports, pids, paths, transcripts and the environment line
//! are redacted: only what the run decided stays.

use crate::util::{bin, conform, exit, mutant_cmd, redact, server_cmd, Run};
use serde_json::Value;
use std::path::Path;

/// The cases of the deterministic run: two that `drop-nul` passes and one it fails.
const CASES: &[&str] = &[
    "--case",
    "echo.text.short",
    "--case",
    "echo.binary.all-bytes",
    "--case",
    "echo.no-banner",
];

/// Removes what changes between runs and machines from any report text.
fn scrub(text: &str) -> String {
    let rules: [(&str, &str); 5] = [
        // Transcript lines: timestamps and how reads were split vary from run to run.
        (r"(?m)^[ \t]*\d+\.\d ms  .*(\n|$)", ""),
        (r"(?m)^environment: .*$", "environment: [ENV]"),
        (r#"time="[\d.]+""#, r#"time="[TIME]""#),
        (r"duration_ms: \d+", "duration_ms: [TIME]"),
        // The padded duration column of the human lines.
        (r"[ \t]{2,}\d+ ms\b", "  [TIME]"),
    ];
    let mut s = text.to_string();
    for (re, with) in rules {
        s = regex::Regex::new(re)
            .expect("a valid regex")
            .replace_all(&s, with)
            .into_owned();
    }
    redact(&s, &[])
}

/// The JSON report with the environment, durations and the command replaced.
fn scrub_json(text: &str) -> String {
    let mut v: Value = serde_json::from_str(text).expect("report.json is JSON");
    v["environment"] = Value::String("[ENV]".into());
    v["duration_ms"] = Value::from(0);
    v["target"]["value"] = Value::String("[CMD]".into());
    for c in v["cases"].as_array_mut().into_iter().flatten() {
        c["duration_ms"] = Value::from(0);
        if let Some(e) = c["evidence"].as_str() {
            c["evidence"] = Value::String(scrub(e));
        }
    }
    for field in ["attribution", "run_notes"] {
        for n in v
            .get_mut(field)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(t) = n.as_str() {
                *n = Value::String(scrub(t));
            } else if let Some(t) = n["text"].as_str() {
                n["text"] = Value::String(scrub(t));
            }
        }
    }
    serde_json::to_string_pretty(&v).expect("serialises")
}

/// Runs `run --cmd CMD ARGS --report-dir DIR` and checks the exit code.
fn check_gated(cmd: &str, args: &[&str], expect_code: i32) -> Run {
    let mut all = vec!["run", "--cmd", cmd];
    all.extend_from_slice(args);
    let run = conform(&all);
    assert_eq!(run.code(), expect_code, "{run}");
    run
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{} was not written: {e}", dir.join(name).display()))
}

fn snapshot_all(tag: &str, cmd: &str, code: i32) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let d = dir.path().to_str().expect("UTF-8 path");
    let mut args = CASES.to_vec();
    // One case at a time, in plan order: the failing case always shares its instance with the
    // case before it, so whether it is confirmed alone (a line of the snapshot) never depends on
    // how busy the machine is.
    args.extend(["--jobs", "1", "--report-dir", d]);
    let run = check_gated(cmd, &args, code);
    let stdout = String::from_utf8_lossy(&run.out.stdout);
    assert!(
        stdout.contains("verdict:"),
        "stdout keeps the human report\n{run}"
    );
    for name in crate::util::REPORT_FILES {
        assert!(dir.path().join(name).is_file(), "{name} missing\n{run}");
    }
    let report: Value = serde_json::from_str(&read(dir.path(), "report.json")).expect("JSON");
    assert_valid_report(&report, &run);
    if code != exit::OK {
        // The schema bites: a grade, a failure class or a signature it does not know.
        for (pointer, wrong) in [
            ("/cases/1/grade", "GREEN"),
            ("/cases/1/failure", "OOPS"),
            ("/findings/0/signature/kind", "gremlins"),
        ] {
            let mut bad = report.clone();
            *bad.pointer_mut(pointer).expect(pointer) = Value::from(wrong);
            assert!(
                !report_validator().is_valid(&bad),
                "the schema accepts {pointer} = {wrong}"
            );
        }
    }
    let html = read(dir.path(), "index.html");
    assert!(
        !html.contains("<link") && !html.contains("src=\"http"),
        "self-contained"
    );
    assert_eq!(html.matches("<tr class=\"g-").count(), 3, "{html}");
    // The page opens with the verdict, then the findings (if any), then the cases.
    let verdict = html.find("<p id=\"verdict\"").expect("a verdict");
    let cases = html.find("<table id=\"cases\"").expect("a case table");
    assert!(verdict < cases, "{html}");
    if code != exit::OK {
        let findings = html.find("<section id=\"findings\">").expect("findings");
        assert!(verdict < findings && findings < cases, "{html}");
        // The first row is a failure, its evidence open.
        let first = html[cases..].split("<tr class=\"").nth(1).unwrap_or("");
        assert!(
            first.starts_with("g-fail") && first.contains("<details open>"),
            "{html}"
        );
    }
    insta::assert_snapshot!(
        format!("{tag}_human"),
        scrub(&read(dir.path(), "report.txt"))
    );
    insta::assert_snapshot!(
        format!("{tag}_json"),
        scrub_json(&read(dir.path(), "report.json"))
    );
    insta::assert_snapshot!(
        format!("{tag}_junit"),
        scrub(&read(dir.path(), "junit.xml"))
    );
    insta::assert_snapshot!(format!("{tag}_tap"), scrub(&read(dir.path(), "report.tap")));
    // Each `</pre>` on a line of its own, so that scrubbing the transcript's last line keeps it.
    insta::assert_snapshot!(
        format!("{tag}_html"),
        scrub(
            &html
                .replace("&nbsp;ms", " ms")
                .replace("</pre>", "\n</pre>")
        )
    );
}

#[test]
fn report_formats_of_a_failing_mutant() {
    snapshot_all("drop_nul", &mutant_cmd("drop-nul"), exit::CASE_FAILED);
}

#[test]
fn report_formats_of_the_reference() {
    snapshot_all("tokio", &server_cmd("tokio", &[]), exit::OK);
}

#[test]
fn format_flag_prints_junit_and_tap_on_stdout() {
    let cmd = mutant_cmd("drop-nul");
    let mut args = CASES.to_vec();
    args.extend(["--format", "junit"]);
    let run = check_gated(&cmd, &args, exit::CASE_FAILED);
    let xml = String::from_utf8_lossy(&run.out.stdout);
    assert!(xml.starts_with("<?xml"), "{run}");
    assert!(xml.contains("type=\"MISMATCH\""), "{run}");
    // A failure's message opens with the finding that explains it.
    let finding = "finding 1 of 1 [MUST]: NUL bytes (0x00) are left out of the echo \
                   (primary case: echo.binary.all-bytes)";
    assert!(
        xml.contains(&format!("<failure message=\"{finding} — FAIL: steps[2]")),
        "{run}"
    );
    let mut args = CASES.to_vec();
    args.extend(["--format", "tap"]);
    let run = check_gated(&cmd, &args, exit::CASE_FAILED);
    let tap = String::from_utf8_lossy(&run.out.stdout);
    assert!(tap.starts_with("TAP version 14\n1..3\n"), "{run}");
    assert!(tap.contains("not ok 2 - echo.binary.all-bytes"), "{run}");
    assert!(
        tap.contains(&format!("  ---\n  message: \"{finding}\"\n  grade: FAIL\n")),
        "{run}"
    );
}

fn write_baseline(cmd: &str, path: &Path, code: i32) {
    let mut args = CASES.to_vec();
    args.extend(["--write-baseline", path.to_str().expect("UTF-8")]);
    check_gated(cmd, &args, code);
}

#[test]
fn baseline_regression_exits_5_and_improvement_is_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.json");
    let bad = dir.path().join("bad.json");
    write_baseline(&server_cmd("tokio", &[]), &good, exit::OK);
    write_baseline(&mutant_cmd("drop-nul"), &bad, exit::CASE_FAILED);
    let text = std::fs::read_to_string(&good).expect("baseline written");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(v["cases"]["echo.binary.all-bytes"], "PASS", "{text}");
    assert!(
        !text.contains("duration"),
        "durations never enter a baseline: {text}"
    );

    // Passed in the baseline, fails now: a regression.
    let mut args = CASES.to_vec();
    args.extend(["--baseline", good.to_str().expect("UTF-8")]);
    let run = check_gated(&mutant_cmd("drop-nul"), &args, exit::REGRESSION);
    let out = String::from_utf8_lossy(&run.out.stdout);
    assert!(
        out.contains("REGRESSIONS") && out.contains("echo.binary.all-bytes"),
        "{run}"
    );

    // Failing in both: known, does not gate (the ratchet).
    let mut args = CASES.to_vec();
    args.extend([
        "--baseline",
        bad.to_str().expect("UTF-8"),
        "--format",
        "json",
    ]);
    let run = check_gated(&mutant_cmd("drop-nul"), &args, exit::OK);
    let report = run.report();
    assert_valid_report(&report.0, &run);
    assert_eq!(
        report.0["gate"]["known_failures"][0],
        "echo.binary.all-bytes"
    );

    // Failing in the baseline, passes now: an improvement, with the hint to re-write it.
    let mut args = CASES.to_vec();
    args.extend(["--baseline", bad.to_str().expect("UTF-8")]);
    let run = check_gated(&server_cmd("tokio", &[]), &args, exit::OK);
    let out = String::from_utf8_lossy(&run.out.stdout);
    assert!(out.contains("IMPROVEMENTS"), "{run}");
    assert!(out.contains("--write-baseline"), "{run}");
}

#[test]
fn bad_baseline_files_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\n  \"tool\": \"echo-conform\",\n  \"cases\": [\n",
    )
    .expect("write");
    let cmd = server_cmd("tokio", &[]);
    let b = broken.to_str().expect("UTF-8");
    let run = check_gated(&cmd, &["--baseline", b], exit::USAGE);
    let err = run.stderr();
    assert!(err.contains(&format!("{b}:")), "names the file\n{run}");
    let missing = dir.path().join("missing.json");
    let run = check_gated(
        &cmd,
        &["--baseline", missing.to_str().expect("UTF-8")],
        exit::USAGE,
    );
    assert!(run.stderr().contains("missing.json"), "{run}");
}

fn expect_list(dir: &Path, body: &str) -> String {
    let path = dir.join("expect-fail.toml");
    std::fs::write(&path, body).expect("write");
    path.to_str().expect("UTF-8").to_string()
}

#[test]
fn expect_fail_grades_xfail_and_xpass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let list = expect_list(
        dir.path(),
        "[[expect_fail]]\nid = \"echo.binary.all-bytes\"\nreason = \"drops NUL, ticket 7\"\n",
    );
    let mut args = CASES.to_vec();
    args.extend(["--expect-fail", &list, "--format", "json"]);
    let run = check_gated(&mutant_cmd("drop-nul"), &args, exit::OK);
    let report = run.report();
    assert_valid_report(&report.0, &run);
    report.assert_grade("echo.binary.all-bytes", "XFAIL");
    assert_eq!(
        report.0["gate"]["expected"][0]["reason"],
        "drops NUL, ticket 7"
    );

    let run = check_gated(&server_cmd("tokio", &[]), &args, exit::OK);
    run.report().assert_grade("echo.binary.all-bytes", "XPASS");
    args.push("--strict");
    let run = check_gated(&server_cmd("tokio", &[]), &args, exit::CASE_FAILED);
    assert!(
        run.report().0["gate"]["expected"][0]["grade"] == "XPASS",
        "{run}"
    );
    let mut human = CASES.to_vec();
    human.extend(["--expect-fail", &list]);
    let run = check_gated(&server_cmd("tokio", &[]), &human, exit::OK);
    assert!(
        String::from_utf8_lossy(&run.out.stdout).contains("remove it from the list"),
        "{run}"
    );
}

#[test]
fn bad_expect_fail_files_exit_2_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cmd = server_cmd("tokio", &[]);
    let cases: [(&str, &str); 3] = [
        (
            "[[expect_fail]]\nid = \"echo.text.short\"\nreason = \"r\"\nticket = 3\n",
            "expect-fail.toml:4: unknown field `ticket`",
        ),
        (
            "# known\n[[expect_fail]]\nid = \"echo.nope\"\nreason = \"r\"\n",
            "expect-fail.toml:3: `echo.nope` names no case",
        ),
        (
            "[[expect_fail]]\nid = \"echo.text.short\"\n",
            "missing field `reason`",
        ),
    ];
    for (body, needle) in cases {
        let list = expect_list(dir.path(), body);
        let run = check_gated(&cmd, &["--expect-fail", &list], exit::USAGE);
        assert!(run.stderr().contains(needle), "wanted `{needle}`\n{run}");
        assert!(run.out.stdout.is_empty(), "nothing ran\n{run}");
    }
}

#[test]
fn repeat_marks_a_sometimes_failing_server_flaky_and_gates() {
    // A launcher that alternates between a broken and a correct server on each launch: with
    // `--repeat 2` each case sees one of each, deterministically.
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("alternate.sh");
    let counter = dir.path().join("count");
    std::fs::write(
        &script,
        format!(
            "n=$(cat '{c}' 2>/dev/null || echo 0)\necho $((n + 1)) > '{c}'\n\
             if [ $((n % 2)) -eq 0 ]; then exec '{m}' --mutant drop-nul --port \"$1\"; fi\n\
             exec '{s}' --model tokio --port \"$1\"\n",
            c = counter.display(),
            m = bin("echo-mutant").display(),
            s = bin("echo-server").display(),
        ),
    )
    .expect("write script");
    let cmd = format!("sh {} {{port}}", script.display());
    let run = check_gated(
        &cmd,
        &[
            "--case",
            "echo.binary.all-bytes",
            "--repeat",
            "2",
            "--format",
            "json",
        ],
        exit::CASE_FAILED,
    );
    let report = run.report();
    assert_valid_report(&report.0, &run);
    report.assert_grade("echo.binary.all-bytes", "FLAKY");
    let ev = report.case("echo.binary.all-bytes")["evidence"]
        .as_str()
        .unwrap_or("");
    assert!(ev.starts_with("passed 1 of 2 runs"), "{run}");
    assert!(ev.contains("MISMATCH"), "one failure's evidence\n{run}");

    let run = check_gated(
        &server_cmd("tokio", &[]),
        &["--case", "echo.text.short", "--repeat", "3"],
        exit::OK,
    );
    assert!(
        String::from_utf8_lossy(&run.out.stdout).contains("each case ran 3 times"),
        "{run}"
    );
    for bad in ["0", "101"] {
        let run = check_gated(&server_cmd("tokio", &[]), &["--repeat", bad], exit::USAGE);
        assert!(run.stderr().contains("--repeat"), "{run}");
    }
}

#[test]
fn trace_lists_requirements_and_flags_gaps() {
    let run = conform(&["list", "--trace"]);
    assert_eq!(run.code(), exit::OK, "{run}");
    let text = String::from_utf8_lossy(&run.out.stdout).into_owned();
    insta::assert_snapshot!("trace_listing", text);
    let run = conform(&["list", "--trace", "--format", "json"]);
    assert_eq!(run.code(), exit::OK, "{run}");
    let v: Value = serde_json::from_slice(&run.out.stdout).expect("JSON");
    let without = v["requirements_without_case"].as_array().expect("array");
    assert!(
        without.iter().any(|r| r == "priv.rule.12-file-modes")
            && !without
                .iter()
                .any(|r| r.as_str().is_some_and(|r| r.starts_with("rfc862."))),
        "{v}"
    );
    assert!(v["cases_without_requirement"].is_array(), "{v}");
}

#[test]
fn validate_rejects_a_requirement_that_matches_no_case() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/cases/echo.toml");
    std::fs::copy(spec, dir.path().join("echo.toml")).expect("copy");
    std::fs::write(
        dir.path().join("requirements.toml"),
        "[[requirement]]\nid = \"r.ok\"\ntext = \"t\"\nsource = \"s\"\ncases = [\"echo.*\"]\n\n\
         [[requirement]]\nid = \"r.bad\"\ntext = \"t\"\nsource = \"s\"\ncases = [\"hostile.*\"]\n",
    )
    .expect("write");
    let d = dir.path().to_str().expect("UTF-8");
    let run = conform(&["validate", d]);
    assert_eq!(run.code(), exit::USAGE, "{run}");
    let err = redact(&run.stderr(), &[(dir.path(), "[SPEC]")]);
    assert_eq!(
        err.trim(),
        "echo-conform: requirements error: [SPEC]/requirements.toml:8:1: requirement `r.bad`: cases: `hostile.*` matches no case id (see `echo-conform list`)"
    );
    std::fs::remove_file(dir.path().join("requirements.toml")).expect("remove");
    let run = conform(&["validate", d]);
    assert_eq!(
        run.code(),
        exit::OK,
        "a spec without a registry is valid\n{run}"
    );
}

#[test]
fn the_checked_in_schema_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/schema/echo-spec.schema.json");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let fresh = echo_spec::json_schema();
    assert!(
        on_disk == fresh,
        "{} is stale or missing; run `cargo xtask schema` to update",
        path.display()
    );
    let run = conform(&["schema"]);
    assert_eq!(run.code(), exit::OK, "{run}");
    assert_eq!(String::from_utf8_lossy(&run.out.stdout), fresh);
}

#[test]
fn the_checked_in_report_schema_is_up_to_date() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/schema/report.schema.json");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let fresh = echo_conform::report::schema::json();
    assert!(
        on_disk == fresh,
        "{} is stale or missing; run `cargo xtask schema` to update",
        path.display()
    );
    let run = conform(&["schema", "--report"]);
    assert_eq!(run.code(), exit::OK, "{run}");
    assert_eq!(String::from_utf8_lossy(&run.out.stdout), fresh);
}

/// The validator of the JSON report's schema.
fn report_validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&echo_conform::report::schema::json()).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// Checks `report` against the JSON report's schema.
fn assert_valid_report(report: &Value, run: &Run) {
    let errors: Vec<String> = report_validator()
        .iter_errors(report)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "the report does not match its schema: {errors:#?}\n{run}"
    );
}

/// A spec file as the JSON a schema validator sees.
fn toml_as_json(text: &str) -> Value {
    toml::from_str::<Value>(text).expect("valid TOML")
}

#[test]
fn the_schema_accepts_every_shipped_case_file_and_rejects_bad_ones() {
    let schema: Value = serde_json::from_str(&echo_spec::json_schema()).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/cases");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("spec/cases") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let doc = toml_as_json(&std::fs::read_to_string(&path).expect("read"));
            let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            checked += 1;
        }
    }
    assert!(
        checked >= 6,
        "only {checked} case files found in {}",
        dir.display()
    );
    let good = "[[case]]\nid = \"x.y\"\ntitle = \"t\"\nsource = \"s\"\nlevel = \"must\"\nkind = \"script\"\nsteps = [\"connect\", { send = { text = \"a\" } }, \"expect_echo\"]\n";
    assert!(validator.is_valid(&toml_as_json(good)));
    let bad = [
        (
            "an unknown field",
            good.replace("kind =", "colour = \"red\"\nkind ="),
        ),
        (
            "a wrong type",
            good.replace("level = \"must\"", "level = 3"),
        ),
        (
            "an unknown step",
            good.replace("\"expect_echo\"", "\"expect_magic\""),
        ),
        (
            "an unknown claim",
            good.replace("kind =", "requires = [\"fast\"]\nkind ="),
        ),
        ("a missing field", good.replace("title = \"t\"\n", "")),
    ];
    for (what, text) in bad {
        assert!(
            !validator.is_valid(&toml_as_json(&text)),
            "the schema accepts {what}:\n{text}"
        );
    }
}

#[test]
fn measurements_reach_junit_tap_and_html() {
    let cmd = server_cmd("tokio", &[]);
    let case = ["--case", "hostile.storm.2000"];
    for (format, needle) in [
        (
            "junit",
            "<system-out>measured: storm: 2000 of 2000 connected",
        ),
        ("tap", "\n# measured: storm: 2000 of 2000 connected"),
    ] {
        let mut args = case.to_vec();
        args.extend(["--format", format]);
        let run = check_gated(&cmd, &args, exit::OK);
        let out = String::from_utf8_lossy(&run.out.stdout);
        assert!(
            out.contains(needle),
            "{format} lacks the measurement\n{run}"
        );
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let dir_arg = dir.path().display().to_string();
    let mut args = case.to_vec();
    args.extend(["--report-dir", &dir_arg]);
    check_gated(&cmd, &args, exit::OK);
    let html = read(dir.path(), "index.html");
    assert!(
        html.contains("<summary>measured</summary><pre>storm: 2000 of 2000 connected"),
        "index.html lacks the measurement"
    );
}
