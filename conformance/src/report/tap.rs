//! The TAP version 14 report: `ok`/`not ok` per case, `# SKIP reason` for cases that did not run,
//! `# TODO reason` for expected failures, and a YAML diagnostic block under each failure whose
//! `message` names the finding that explains it.

use super::{CaseResult, Grade, RunReport};
use crate::findings::Finding;

/// Renders the report as TAP 14.
pub fn render(report: &RunReport) -> String {
    let mut text = format!(
        "TAP version 14\n1..{}\n# echo-conform: claims {}\n",
        report.cases.len(),
        report.claims
    );
    for (i, c) in report.cases.iter().enumerate() {
        text.push_str(&line(i + 1, c, &report.findings));
        if let Some(seed) = c.seed {
            text.push_str(&format!("# seed {seed} (repeat with --seed {seed})\n"));
        }
        for note in &c.notes {
            text.push_str(&format!("# measured: {}\n", one_line(note)));
        }
    }
    for p in &report.server_problems {
        text.push_str(&format!("# server: {}\n", one_line(&p.to_string())));
    }
    text.push_str(&format!("# exit code {}\n", report.exit_code));
    text
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ").replace('#', "\\#")
}

fn first(s: Option<&str>) -> String {
    one_line(s.and_then(|t| t.lines().next()).unwrap_or(""))
}

fn line(n: usize, c: &CaseResult, findings: &[Finding]) -> String {
    let name = format!("{} - {}", c.id, one_line(&c.title));
    if !c.claimed && c.grade != Grade::NotClaimed {
        return format!(
            "ok {n} - {name} # SKIP not claimed; run by --detect: {}\n",
            c.grade.label()
        );
    }
    match c.grade {
        Grade::Pass | Grade::Info => format!("ok {n} - {name}\n"),
        Grade::NotClaimed => format!("ok {n} - {name} # SKIP not claimed\n"),
        Grade::Skip => format!("ok {n} - {name} # SKIP {}\n", first(c.evidence.as_deref())),
        Grade::XFail => format!(
            "not ok {n} - {name} # TODO {}\n",
            first(c.evidence.as_deref())
        ),
        Grade::XPass => format!("ok {n} - {name} # TODO {}\n", first(c.evidence.as_deref())),
        Grade::Fail | Grade::Flaky => {
            let mut t = format!("not ok {n} - {name}\n  ---\n");
            if let Some(finding) = crate::findings::line(findings, &c.id) {
                // A JSON string is a YAML double-quoted scalar: the diagnosis may hold `: `.
                let quoted = serde_json::to_string(&finding).unwrap_or_default();
                t.push_str(&format!("  message: {quoted}\n"));
            }
            t.push_str(&format!("  grade: {}\n", c.grade.label()));
            if let Some(f) = &c.failure {
                t.push_str(&format!("  failure: {f}\n"));
            }
            t.push_str(&format!("  level: {}\n", c.level.as_str()));
            t.push_str(&format!("  duration_ms: {}\n", c.duration_ms));
            if let Some(e) = &c.evidence {
                t.push_str("  evidence: |\n");
                for l in e.lines() {
                    t.push_str(&format!("    {l}\n"));
                }
            }
            t.push_str("  ...\n");
            t
        }
    }
}
