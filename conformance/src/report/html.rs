//! A self-contained HTML page for one run: no external assets, one row per case coloured by grade,
//! the evidence of each case in a `<details>` element that opens on click.

use super::{Grade, RunReport};

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

/// Renders the page.
pub fn render(report: &RunReport) -> String {
    let mut rows = String::new();
    for c in &report.cases {
        let shown = if c.claimed || c.grade == Grade::NotClaimed {
            c.grade.label().to_string()
        } else {
            format!("{} (not claimed)", c.grade.label())
        };
        let mut evidence = match &c.evidence {
            Some(e) => format!(
                "<details><summary>evidence</summary><pre>{}</pre></details>",
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
        rows.push_str(&format!(
            "<tr class=\"{cls}\"><td><code>{id}</code></td><td>{level}</td><td>{grade}</td><td>{failure}</td><td>{ms}&nbsp;ms</td><td>{title}{evidence}</td></tr>\n",
            cls = grade_class(c.grade),
            id = escape(&c.id),
            level = c.level.as_str(),
            grade = escape(&shown),
            failure = escape(c.failure.map(|f| f.label()).unwrap_or("")),
            ms = c.duration_ms,
            title = escape(&c.title),
        ));
    }
    let summary: Vec<String> = report
        .summary
        .iter()
        .map(|(g, n)| format!("{n} {}", g.label()))
        .collect();
    let problems: String = report
        .server_problems
        .iter()
        .map(|p| format!("<p class=\"problem\">server: {}</p>", escape(p)))
        .collect();
    let gate = report
        .gate
        .as_ref()
        .map(|g| format!("<pre>{}</pre>", escape(&crate::gate::summary_text(g))))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>echo-conform report</title>\n\
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}\
td,th{{border:1px solid #bbb;padding:4px 8px;text-align:left;vertical-align:top}}\
pre{{white-space:pre-wrap;max-width:90ch}}.problem{{color:#a00;font-weight:bold}}{css}</style></head>\n\
<body><h1>echo-conform</h1>\n<p>target <code>{target}</code> · claims <code>{claims}</code>{detected} · exit code <b>{exit}</b></p>\n\
<p>{summary}</p>{problems}{gate}\n<table id=\"cases\"><thead><tr><th>case</th><th>level</th><th>grade</th><th>class</th><th>time</th><th>title</th></tr></thead><tbody>\n{rows}</tbody></table></body></html>\n",
        css = GRADE_CSS,
        target = escape(&report.target.value),
        claims = escape(&report.claims),
        detected = report
            .detected
            .as_ref()
            .map(|d| format!(" · detected <code>{}</code>", escape(d)))
            .unwrap_or_default(),
        exit = report.exit_code,
        summary = escape(&summary.join(", ")),
    )
}
