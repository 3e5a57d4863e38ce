//! `--report-dir DIR`: every format of one run side by side, for CI artifacts.

use super::{html, human, json, junit, tap, RunReport};
use std::path::Path;

/// The files written, in order.
pub const FILES: &[&str] = &[
    "report.txt",
    "report.json",
    "junit.xml",
    "report.tap",
    "index.html",
];

/// The human report without colour: every case line, then the summary.
pub fn human_text(report: &RunReport) -> String {
    let mut text = String::new();
    for c in &report.cases {
        text.push_str(&human::case_line(c, false, true));
    }
    text.push_str(&human::summary(report, false, true));
    text
}

/// Writes every format into `dir`, creating it.
pub fn write(dir: &Path, report: &RunReport) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let texts = [
        human_text(report),
        json::render(report),
        junit::render(report),
        tap::render(report),
        html::render(report),
    ];
    for (name, text) in FILES.iter().zip(texts) {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

/// A report with one case of every grade, for the renderers' tests.
#[cfg(test)]
pub(crate) fn sample() -> RunReport {
    use super::{CaseResult, Grade, TargetInfo};
    let case = |id: &str, grade: Grade, claimed: bool, evidence: Option<&str>| CaseResult {
        id: id.into(),
        title: format!("title of {id}"),
        level: echo_spec::Level::Must,
        claimed,
        grade,
        duration_ms: 7,
        failure: matches!(grade, Grade::Fail | Grade::Flaky).then_some(
            crate::outcome::FailureClass::Client(echo_clients::FailureKind::Hang),
        ),
        evidence: evidence.map(String::from),
        notes: Vec::new(),
        figures: Default::default(),
        seed: None,
        prop_cases: None,
        runs: None,
        // The claimed failures share one cause, so the sample has one finding.
        cause: (claimed && matches!(grade, Grade::Fail | Grade::Flaky))
            .then(|| Box::new(crate::cause::Cause::of(crate::cause::Signature::Silent))),
        attribution: None,
        weight: 0,
    };
    let cases = vec![
        case("echo.pass", Grade::Pass, true, None),
        case(
            "echo.fail",
            Grade::Fail,
            true,
            Some("steps[1] <hang>\nline two"),
        ),
        case(
            "echo.flaky",
            Grade::Flaky,
            true,
            Some("passed 1 of 2 runs; one failure:\nx"),
        ),
        case("priv.skip", Grade::Skip, true, Some("not root")),
        case("oneshot.nc", Grade::NotClaimed, false, None),
        case(
            "oneshot.detect",
            Grade::Fail,
            false,
            Some("unclaimed failure"),
        ),
        case(
            "stream.xfail",
            Grade::XFail,
            true,
            Some("expected failure: known"),
        ),
        case(
            "stream.xpass",
            Grade::XPass,
            true,
            Some("listed but passed"),
        ),
        case("lifecycle.info", Grade::Info, true, Some("42 per second")),
    ];
    RunReport {
        target: TargetInfo {
            mode: "cmd",
            value: "server {port}".into(),
        },
        environment: crate::environment::Environment::probe(1.0),
        claims: "stream".into(),
        detected: None,
        summary: RunReport::summarise(&cases),
        findings: crate::findings::group(&cases),
        cases,
        server_problems: vec![],
        run_notes: vec![],
        attribution: vec![],
        duration_ms: 100,
        exit_code: 1,
        gate: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_grade_in_junit_tap_and_html() {
        let r = super::sample();
        let xml = super::junit::render(&r);
        assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
        assert!(xml.contains("type=\"FLAKY HANG\""), "{xml}");
        assert_eq!(xml.matches("<skipped").count(), 4, "{xml}");
        assert!(xml.contains("not claimed; run by --detect: FAIL"), "{xml}");
        assert!(
            xml.contains("<system-out>42 per second</system-out>"),
            "{xml}"
        );
        assert!(xml.contains("classname=\"lifecycle\""), "{xml}");
        let tap = super::tap::render(&r);
        assert!(tap.starts_with("TAP version 14\n1..9\n"), "{tap}");
        assert!(
            tap.contains("not ok 2 - echo.fail - title of echo.fail\n  ---\n"),
            "{tap}"
        );
        assert!(
            tap.contains("ok 4 - priv.skip - title of priv.skip # SKIP not root\n"),
            "{tap}"
        );
        assert!(
            tap.contains(
                "not ok 7 - stream.xfail - title of stream.xfail # TODO expected failure: known\n"
            ),
            "{tap}"
        );
        assert!(
            tap.contains("ok 6 - oneshot.detect - title of oneshot.detect # SKIP not claimed"),
            "{tap}"
        );
        let finding = "finding 1 of 1 [MUST]: no echo comes back";
        assert!(
            xml.contains(&format!("<failure message=\"{finding}")),
            "a failure's message opens with its finding\n{xml}"
        );
        assert!(tap.contains(&format!("  message: \"{finding}")), "{tap}");
        let html = super::html::render(&r);
        assert!(
            html.contains("steps[1] &lt;hang&gt;"),
            "evidence is escaped"
        );
        // The verdict, then the findings, then the cases.
        let verdict = html.find("id=\"verdict\"").expect("a verdict");
        let findings = html.find("id=\"findings\"").expect("a findings section");
        let cases = html.find("id=\"cases\"").expect("a case table");
        assert!(verdict < findings && findings < cases, "{html}");
        assert!(
            html.contains("primary case: <a href=\"#case-echo.fail\">"),
            "{html}"
        );
        // Failures first, the first one's evidence open; the NOT-CLAIMED row collapsed at the end.
        let rows: Vec<&str> = html
            .split("<tr class=\"")
            .skip(1)
            .map(|r| r.split('"').next().unwrap_or(""))
            .collect();
        assert_eq!(rows[..2], ["g-fail", "g-flaky"], "{html}");
        assert_eq!(rows.last(), Some(&"g-not-claimed"), "{html}");
        assert!(
            html.contains("<details open><summary>evidence</summary><pre>steps[1]"),
            "{html}"
        );
        assert_eq!(html.matches("<details open>").count(), 1, "{html}");
        assert_eq!(html.matches("<details>").count(), 6, "{html}");
        assert!(html.contains("<details id=\"not-claimed\">"), "{html}");
    }
}
