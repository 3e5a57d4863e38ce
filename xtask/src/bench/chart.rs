//! A self-contained SVG bar chart of the benchmark: one group per load, one bar per target,
//! its length the median as a share of the load's ceiling (or of the fastest target).

use serde_json::Value;
use std::fmt::Write;

const BAR_H: f64 = 16.0;
const LEFT: f64 = 330.0;
const WIDTH: f64 = 560.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart for `results` (rows of `bench.json`).
pub fn svg(results: &[Value]) -> String {
    let mut loads: Vec<&str> = Vec::new();
    for r in results {
        let l = r["load"].as_str().unwrap_or("?");
        if !loads.contains(&l) {
            loads.push(l);
        }
    }
    let mut body = String::new();
    let mut y = 30.0;
    for load in &loads {
        let rows: Vec<&Value> = results.iter().filter(|r| r["load"] == *load).collect();
        let top = rows
            .iter()
            .filter_map(|r| r["median"].as_f64())
            .fold(0.0, f64::max);
        let _ = writeln!(
            body,
            r#"<text x="8" y="{:.0}" font-weight="bold">{}</text>"#,
            y + 12.0,
            escape(load)
        );
        y += 20.0;
        for r in rows {
            let m = r["median"].as_f64().unwrap_or(0.0);
            let share = if top > 0.0 { m / top } else { 0.0 };
            let colour = match r["role"].as_str() {
                Some("ceiling") => "#999999",
                Some("yours") => "#d95f02",
                _ => "#1b9e77",
            };
            let label = if r["figure"] == "throughput" {
                format!("{:.2} GB/s", m / 1e9)
            } else {
                format!("{m:.0}/s")
            };
            let _ = writeln!(
                body,
                r#"<text x="24" y="{:.0}">{}</text><rect x="{LEFT}" y="{:.0}" width="{:.1}" height="{BAR_H}" fill="{colour}"/><text x="{:.1}" y="{:.0}">{}</text>"#,
                y + 12.0,
                escape(r["target"].as_str().unwrap_or("?")),
                y,
                (WIDTH * share).max(1.0),
                LEFT + WIDTH * share + 6.0,
                y + 12.0,
                escape(&label)
            );
            y += BAR_H + 4.0;
        }
        y += 10.0;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{:.0}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="8" y="18" font-size="14">cargo xtask bench: medians (grey: loopback ceilings, green: models, orange: yours)</text>
{body}</svg>
"#,
        LEFT + WIDTH + 120.0,
        y + 10.0
    )
}
