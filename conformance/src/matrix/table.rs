//! The matrix as text (`matrix.txt`): one row per server, one column per case group; a cell is
//! claimed cases passed over claimed cases run, then the unclaimed cases that failed. The last
//! column, `defects`, counts the findings of the server's run (its report's `findings`).

use serde_json::Value;
use std::collections::BTreeMap;

fn cases(json: &Value) -> Vec<&Value> {
    json["cases"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// The group of a report's case: the first part of its id (`echo` of `echo.text.short`).
fn group(case: &Value) -> &str {
    case["id"]
        .as_str()
        .unwrap_or("")
        .split('.')
        .next()
        .unwrap_or("")
}

/// The number of findings of a run's report, `-` for a report without a `findings` field.
fn defects(json: &Value) -> String {
    json["findings"]
        .as_array()
        .map_or_else(|| "-".to_string(), |f| f.len().to_string())
}

/// Servers × case groups (a row per server): claimed passes over claimed cases, then unclaimed
/// cases caught failing; then the number of defects found.
pub fn render(rows: &[(String, String, Value)]) -> String {
    let mut groups: Vec<String> = Vec::new();
    for (_, _, json) in rows {
        for c in cases(json) {
            let g = group(c).to_string();
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    let mut text = format!("{:<14}", "server");
    for g in &groups {
        text.push_str(&format!(" {g:>13}"));
    }
    text.push_str(&format!(" {:>7}", "defects"));
    text.push_str("   cell = claimed passed/claimed run, then (unclaimed cases that failed ✗)\n");
    for (name, _, json) in rows {
        let mut per: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
        for c in cases(json) {
            let e = per.entry(group(c)).or_default();
            if c["claimed"] == true {
                e.1 += 1;
                // A measurement (level info) is graded INFO when it ran.
                if c["grade"] == "PASS" || (c["level"] == "info" && c["grade"] == "INFO") {
                    e.0 += 1;
                }
            } else if c["grade"] == "FAIL" {
                e.2 += 1;
            }
        }
        text.push_str(&format!("{name:<14}"));
        for g in &groups {
            let (p, n, x) = per.get(g.as_str()).copied().unwrap_or_default();
            let cell = match (n, x) {
                (0, 0) => "-".to_string(),
                (0, x) => format!("({x}✗)"),
                (n, 0) => format!("{p}/{n}"),
                (n, x) => format!("{p}/{n} ({x}✗)"),
            };
            text.push_str(&format!(" {cell:>13}"));
        }
        text.push_str(&format!(" {:>7}\n", defects(json)));
    }
    text
}
