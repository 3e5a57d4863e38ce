//! The JUnit XML report, through `quick-junit`: one testsuite per run, one testcase per case.
//!
//! FAIL and FLAKY are failures typed by their class (HANG, MISMATCH, …) with the evidence as text,
//! their message opening with the finding that explains them ([`crate::findings::line`]);
//! SKIP, NOT-CLAIMED, XFAIL and unclaimed cases run by `--detect` are skipped with a reason; PASS,
//! INFO and XPASS pass, INFO and XPASS with their note as system-out.

use super::{CaseResult, Grade, RunReport};
use crate::findings::Finding;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

/// The group of a case id: `echo` of `echo.text.short`, the testcase's classname.
pub fn group(id: &str) -> &str {
    id.split('.').next().unwrap_or(id)
}

fn first_line(text: Option<&str>) -> String {
    text.and_then(|t| t.lines().next())
        .unwrap_or("")
        .to_string()
}

fn status(c: &CaseResult, findings: &[Finding]) -> TestCaseStatus {
    if !c.claimed && c.grade != Grade::NotClaimed {
        let mut s = TestCaseStatus::skipped();
        s.set_message(format!("not claimed; run by --detect: {}", c.grade.label()));
        if let Some(e) = &c.evidence {
            s.set_description(e.clone());
        }
        return s;
    }
    match c.grade {
        Grade::Pass | Grade::Info | Grade::XPass => TestCaseStatus::success(),
        Grade::Fail | Grade::Flaky => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let class = c.failure.map(|f| f.label()).unwrap_or("FAIL");
            let ty = if c.grade == Grade::Flaky {
                format!("FLAKY {class}")
            } else {
                class.to_string()
            };
            s.set_type(ty);
            let verdict = format!("{}: {}", c.grade.label(), first_line(c.evidence.as_deref()));
            s.set_message(match crate::findings::line(findings, &c.id) {
                Some(finding) => format!("{finding} — {verdict}"),
                None => verdict,
            });
            s.set_description(c.evidence.clone().unwrap_or_default());
            s
        }
        Grade::Skip | Grade::NotClaimed | Grade::XFail => {
            let mut s = TestCaseStatus::skipped();
            let reason = match c.grade {
                Grade::NotClaimed => {
                    "not claimed: the server's claims do not select this case".into()
                }
                _ => first_line(c.evidence.as_deref()),
            };
            s.set_type(c.grade.label());
            s.set_message(reason);
            if let Some(e) = &c.evidence {
                s.set_description(e.clone());
            }
            s
        }
    }
}

/// Renders the report as JUnit XML.
pub fn render(report: &RunReport) -> String {
    let mut suite = TestSuite::new("echo-conform");
    suite.set_time(Duration::from_millis(report.duration_ms));
    suite.add_property(("target", report.target.value.as_str()));
    suite.add_property(("claims", report.claims.as_str()));
    suite.add_property(("exit_code", report.exit_code.to_string().as_str()));
    for c in &report.cases {
        let mut case = TestCase::new(c.id.clone(), status(c, &report.findings));
        case.set_classname(group(&c.id));
        case.set_time(Duration::from_millis(c.duration_ms));
        // What a reviewer wants beside the verdict: measurements, the seed that repeats a
        // property run, and (for INFO and XPASS) the note the case left.
        let mut out = Vec::new();
        if let Some(seed) = c.seed {
            out.push(format!(
                "seed {seed}, {} sequences (repeat with --seed {seed})",
                c.prop_cases.unwrap_or(0)
            ));
        }
        out.extend(c.notes.iter().map(|n| format!("measured: {n}")));
        if matches!(c.grade, Grade::Info | Grade::XPass) && c.claimed {
            if let Some(e) = &c.evidence {
                out.push(e.clone());
            }
        }
        if !out.is_empty() {
            case.set_system_out(out.join("\n"));
        }
        suite.add_test_case(case);
    }
    if !report.server_problems.is_empty() {
        let lines: Vec<String> = report
            .server_problems
            .iter()
            .map(|p| p.to_string())
            .collect();
        suite.set_system_err(lines.join("\n"));
    }
    let mut junit = Report::new("echo-conform");
    junit.add_test_suite(suite);
    let mut text = junit
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot serialise the JUnit report: {e} -->"));
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}
