//! The JSON report: one object with `target`, `environment`, `claims`, `summary` and `cases`.

use super::RunReport;

/// Renders the report as pretty JSON.
pub fn render(report: &RunReport) -> String {
    let mut text = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise the report: {e}\"}}"));
    text.push('\n');
    text
}
