//! A self-contained HTML page for one run: no external assets. It opens with the verdict and the
//! findings (each linking to the cases it explains); then one row per case coloured by grade, the
//! claimed failures first (in the findings' order, so the first row is the primary case of the
//! first finding, its evidence open), the other cases in spec order, and the NOT-CLAIMED cases in
//! a collapsed `<details>`. Each case's evidence is in a `<details>` element that opens on click.

use super::{CaseResult, Grade, RunReport};
use crate::findings::Finding;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSS class of a grade (`g-pass`, `g-fail`, …), shared with the conform matrix.
pub fn grade_class(grade: Grade) -> String {
    format!("g-{}", grade.label().to_ascii_lowercase())
}

/// The stylesheet for grades, shared with the conform matrix.
pub const GRADE_CSS: &str = "\
.g-pass{background:#c8f0c8}.g-fail{background:#f6b3b3;font-weight:bold}\
.g-skip{background:#fbe7a1}.g-not-claimed{background:#eee;color:#777}\
.g-info{background:#cfe8f6}.g-flaky{background:#e7c6f5;font-weight:bold}\
.g-xfail{background:#f7dcb4}.g-xpass{background:#fff2a8;font-weight:bold}";

/// The anchor of a case's row (`case-echo.text.short`), which the findings link to.
fn case_anchor(id: &str) -> String {
    format!("case-{id}")
}

/// The anchor of the `n`th finding, counted from 1.
fn finding_anchor(n: usize) -> String {
    format!("finding-{n}")
}

/// A link to a case's row, its id as code.
fn case_link(id: &str) -> String {
    format!(
        "<a href=\"#{}\"><code>{}</code></a>",
        escape(&case_anchor(id)),
        escape(id)
    )
}

/// The findings section: one item per finding with its level, diagnosis, primary case, fix and
/// the cases it explains; empty when there are none.
fn findings_section(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return String::new();
    }
    let title = match findings.len() {
        1 => "1 defect found".to_string(),
        n => format!("{n} defects found"),
    };
    let mut items = String::new();
    for (i, f) in findings.iter().enumerate() {
        let fix = f
            .fix
            .as_ref()
            .map(|fix| format!("<br>fix: {}", escape(fix)))
            .unwrap_or_default();
        let cases: Vec<String> = f.cases.iter().map(|c| case_link(c)).collect();
        items.push_str(&format!(
            "<li id=\"{anchor}\" class=\"finding\"><b>[{level}]</b> {diagnosis}\
<br>primary case: {primary} (run it alone: <code>--case {primary_id}</code>){fix}\
<br>explains {n}: {cases}</li>\n",
            anchor = finding_anchor(i + 1),
            level = escape(&f.level_label()),
            diagnosis = escape(&f.diagnosis),
            primary = case_link(&f.primary),
            primary_id = escape(&f.primary),
            n = match f.cases.len() {
                1 => "1 case".to_string(),
                n => format!("{n} cases"),
            },
            cases = cases.join(", "),
        ));
    }
    format!("<section id=\"findings\"><h2>{title}</h2><ol>\n{items}</ol></section>\n")
}

/// The table of `rows`, the head of every case table of the page.
fn table(id: &str, rows: &str) -> String {
    format!(
        "<table id=\"{id}\"><thead><tr><th>case</th><th>level</th><th>grade</th><th>class</th><th>time</th><th>title</th></tr></thead><tbody>\n{rows}</tbody></table>"
    )
}

/// One case's row: its evidence (open when `open`), its measurements, and for a claimed failure a
/// link to the finding that explains it.
fn row(c: &CaseResult, findings: &[Finding], open: bool) -> String {
    let shown = if c.claimed || c.grade == Grade::NotClaimed {
        c.grade.label().to_string()
    } else {
        format!("{} (not claimed)", c.grade.label())
    };
    let finding = crate::findings::of_case(findings, &c.id)
        .map(|(i, f)| {
            format!(
                "<div class=\"finding-ref\"><a href=\"#{}\">finding {} of {}</a> [{}]: {}</div>",
                finding_anchor(i + 1),
                i + 1,
                findings.len(),
                escape(&f.level_label()),
                escape(&f.diagnosis)
            )
        })
        .unwrap_or_default();
    let mut evidence = match &c.evidence {
        Some(e) => format!(
            "<details{}><summary>evidence</summary><pre>{}</pre></details>",
            if open { " open" } else { "" },
            escape(e)
        ),
        None => String::new(),
    };
    let mut measured: Vec<String> = c.notes.clone();
    if let Some(seed) = c.seed {
        measured.insert(0, format!("seed {seed} (repeat with --seed {seed})"));
    }
    if !measured.is_empty() {
        evidence.push_str(&format!(
            "<details><summary>measured</summary><pre>{}</pre></details>",
            escape(&measured.join("\n"))
        ));
    }
    format!(
        "<tr class=\"{cls}\" id=\"{anchor}\"><td><code>{id}</code></td><td>{level}</td><td>{grade}</td><td>{failure}</td><td>{ms}&nbsp;ms</td><td>{title}{finding}{evidence}</td></tr>\n",
        cls = grade_class(c.grade),
        anchor = escape(&case_anchor(&c.id)),
        id = escape(&c.id),
        level = c.level.as_str(),
        grade = escape(&shown),
        failure = escape(c.failure.map(|f| f.label()).unwrap_or("")),
        ms = c.duration_ms,
        title = escape(&c.title),
    )
}

/// Where a case's row goes: the claimed failures first, in the findings' order (each finding's
/// primary case first) and then in spec order; every other case after them in spec order.
fn order(c: &CaseResult, findings: &[Finding]) -> (u8, usize, usize) {
    if !(c.claimed && c.grade.is_failing()) {
        return (1, 0, 0);
    }
    match crate::findings::of_case(findings, &c.id) {
        Some((i, f)) => (0, i, f.cases.iter().position(|x| *x == c.id).unwrap_or(0)),
        None => (0, findings.len(), 0),
    }
}

/// Renders the page.
pub fn render(report: &RunReport) -> String {
    let findings = &report.findings;
    let (not_claimed, mut shown): (Vec<&CaseResult>, Vec<&CaseResult>) = report
        .cases
        .iter()
        .partition(|c| c.grade == Grade::NotClaimed);
    // A stable sort: spec order within each place.
    shown.sort_by_key(|c| order(c, findings));
    let mut rows = String::new();
    let mut opened = false;
    for c in &shown {
        let first_failure = !opened && c.claimed && c.grade.is_failing();
        opened |= first_failure;
        rows.push_str(&row(c, findings, first_failure));
    }
    let not_claimed = if not_claimed.is_empty() {
        String::new()
    } else {
        let rows: String = not_claimed
            .iter()
            .map(|c| row(c, findings, false))
            .collect();
        format!(
            "\n<details id=\"not-claimed\"><summary>{} not claimed: the server's claims do not select {}</summary>\n{}</details>",
            match not_claimed.len() {
                1 => "1 case".to_string(),
                n => format!("{n} cases"),
            },
            if not_claimed.len() == 1 { "it" } else { "them" },
            table("not-claimed-cases", &rows)
        )
    };
    let summary: Vec<String> = report
        .summary
        .iter()
        .map(|(g, n)| format!("{n} {}", g.label()))
        .collect();
    let problems: String = report
        .server_problems
        .iter()
        .map(|p| {
            format!(
                "<p class=\"problem\">server: {}</p>",
                escape(&p.to_string())
            )
        })
        .collect();
    let gate = report
        .gate
        .as_ref()
        .map(|g| format!("<pre>{}</pre>", escape(&super::human::gate_summary(g))))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>echo-conform report</title>\n\
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}\
td,th{{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}}\
pre{{white-space:pre-wrap;max-width:90ch}}.problem{{color:#a00;font-weight:bold}}\
.verdict{{font-size:1.2em}}.verdict.ok b{{color:#070}}.verdict.not-ok b{{color:#a00}}\
.finding{{margin-bottom:.6em}}.finding-ref{{font-size:.9em;margin-top:.2em}}\
#not-claimed{{margin-top:1em}}{css}</style></head>\n\
<body><h1>echo-conform</h1>\n<p id=\"verdict\" class=\"verdict {verdict_class}\">verdict: <b>{verdict}</b> (exit {exit})</p>\n{findings}\
<p>target <code>{target}</code> · claims <code>{claims}</code>{detected} · exit code <b>{exit}</b></p>\n\
<p>{summary}</p>{problems}{gate}\n{cases}{not_claimed}</body></html>\n",
        css = GRADE_CSS,
        verdict_class = if report.exit_code == 0 { "ok" } else { "not-ok" },
        verdict = escape(&super::verdict_text(report)),
        findings = findings_section(findings),
        target = escape(&report.target.value),
        claims = escape(&report.claims),
        detected = report
            .detected
            .as_ref()
            .map(|d| format!(" · detected <code>{}</code>", escape(d)))
            .unwrap_or_default(),
        exit = report.exit_code,
        summary = escape(&summary.join(", ")),
        cases = table("cases", &rows),
    )
}
