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
        text.push_str(&human::case_line(c, false));
    }
    text.push_str(&human::summary(report, false));
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
