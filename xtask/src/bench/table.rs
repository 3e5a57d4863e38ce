//! The bench's text table: a line per row, the models over their peers, and the ab comparison.

use super::targets::{C_PEER, TOKIO_PEER};
use serde_json::Value;

/// A median in the unit of its figure: bytes per second for throughput, per second for rates.
pub fn fmt_value(figure: &str, v: f64) -> String {
    if figure == "throughput" {
        format!("{:.2} GB/s", v / 1e9)
    } else {
        format!("{v:.0} /s")
    }
}

/// A ratio as a percentage, `-` when there is none.
pub fn pct(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "-".into(), |r| format!("{:.0}%", 100.0 * r))
}

/// The text table of `results`, then the peer comparisons and the ab comparison `ab`.
pub fn table(results: &[Value], ab: &Value) -> String {
    let mut text = format!(
        "{:<24} {:<14} {:>13} {:>9} {:>9} {:>9} {:>7} {:>9} {:>7} {:>7} {:>11}  {}\n",
        "load",
        "target",
        "median",
        "vs best",
        "vs C",
        "vs ceil",
        "loss",
        "p99 µs",
        "srv cpu",
        "cli cpu",
        "srv RSS",
        "limited by"
    );
    for r in results {
        let figure = r["figure"].as_str().unwrap_or("rate");
        let cpu = |k: &str| {
            r[k].as_f64()
                .map_or_else(|| "-".into(), |c| format!("{c:.2}"))
        };
        text.push_str(&format!(
            "{:<24} {:<14} {:>13} {:>9} {:>9} {:>9} {:>7} {:>9} {:>7} {:>7} {:>11}  {}\n",
            r["load"].as_str().unwrap_or("?"),
            r["target"].as_str().unwrap_or("?"),
            fmt_value(figure, r["median"].as_f64().unwrap_or(0.0)),
            pct(&r["vs_fastest_model"]),
            pct(&r["vs_c_peer"]),
            pct(&r["vs_ceiling"]),
            r["loss_percent"]
                .as_f64()
                .map_or_else(|| "-".into(), |l| format!("{l:.2}%")),
            r["p99_us"]
                .as_u64()
                .map_or_else(|| "-".into(), |v| v.to_string()),
            cpu("server_cpu"),
            cpu("client_cpu"),
            r["server_rss_kib"]
                .as_u64()
                .map_or_else(|| "-".into(), |k| format!("{k} KiB")),
            r["bottleneck"].as_str().unwrap_or("?"),
        ));
    }
    text.push_str(&peer_lines(results));
    if let Some(rows) = ab["rows"].as_array() {
        text.push_str(
            "\nab -n 20000 -c 50 beside echo-load (conn/request ×50, 80 B), same oneshot server, medians of alternating runs:\n",
        );
        for r in rows {
            text.push_str(&format!(
                "  {:<16} ab {:>8.0} /s ({} failed: the reply is not HTTP)   echo-load {:>8.0} /s   echo-load/ab {:.0}%\n",
                r["server"].as_str().unwrap_or("?"),
                r["ab_rate"].as_f64().unwrap_or(0.0),
                r["ab_failed"],
                r["echo_load_rate"].as_f64().unwrap_or(0.0),
                100.0 * r["ratio"].as_f64().unwrap_or(0.0)
            ));
        }
    } else if let Some(s) = ab["skipped"].as_str() {
        text.push_str(&format!("\nab comparison skipped: {s}\n"));
    }
    text
}

/// The models over their peers, one line each: epoll over the C epoll echo, tokio over the
/// minimal tokio echo, on each stream load and connection per request.
pub fn peer_lines(results: &[Value]) -> String {
    let median = |target: &str, load: &str| {
        results
            .iter()
            .find(|r| r["target"] == target && r["load"] == load)
            .and_then(|r| r["median"].as_f64())
    };
    let mut text = String::from("\nmodels against their peers (median over median, same run):\n");
    for (model, peer) in [("epoll", C_PEER), ("tokio", TOKIO_PEER)] {
        for load in [
            "ping-pong 64 B ×10",
            "throughput 64 KiB ×1",
            "conn/request 64 B ×50",
        ] {
            match (median(model, load), median(peer, load)) {
                (Some(m), Some(p)) if p > 0.0 => text.push_str(&format!(
                    "  {model:<6} / {peer:<14} {load:<24} {:.2}\n",
                    m / p
                )),
                _ => text.push_str(&format!("  {model:<6} / {peer:<14} {load:<24} -\n")),
            }
        }
    }
    text
}
