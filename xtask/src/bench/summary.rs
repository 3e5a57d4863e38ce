//! The rows of `bench.json`: one per (load, target), with the median of its samples, its ratios to
//! the fastest model, the ceiling and the C peer, and what the last run measured beside.

use super::loads::{Role, LOADS};
use super::targets::{Target, C_PEER};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The median of `v` (the upper one of an even count), 0 when empty.
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// One row per (load, target): the median, its ratios, and the last run's CPU and errors.
pub fn summarise(
    targets: &[Target],
    samples: &BTreeMap<(String, &str), (Vec<f64>, Value)>,
) -> Vec<Value> {
    let mut rows = Vec::new();
    for load in LOADS {
        let of = |name: &str, load: &str| {
            samples
                .get(&(name.to_string(), load))
                .map(|(s, _)| median(s))
        };
        let fastest = targets
            .iter()
            .filter(|t| matches!(t.role, Role::Model { .. } | Role::Udp))
            .filter_map(|t| of(&t.name, load.name))
            .fold(0.0, f64::max);
        let ceiling = load.ceiling.and_then(|(t, l)| of(t, l));
        let c_peer = of(C_PEER, load.name);
        for t in targets {
            let Some((s, last)) = samples.get(&(t.name.clone(), load.name)) else {
                continue;
            };
            let m = median(s);
            let ratio = |base: f64| (base > 0.0).then(|| m / base);
            rows.push(json!({
                "load": load.name,
                "figure": load.figure,
                "target": t.name,
                "role": match t.role { Role::Ceiling => "ceiling", Role::Model { .. } | Role::Udp => "model", Role::Yours => "yours", Role::Peer => "peer" },
                "median": m,
                "samples": s,
                "vs_fastest_model": if matches!(t.role, Role::Ceiling) { None } else { ratio(fastest) },
                "vs_ceiling": ratio(ceiling.unwrap_or(0.0)),
                "vs_c_peer": if matches!(t.role, Role::Ceiling) { None } else { ratio(c_peer.unwrap_or(0.0)) },
                "p99_us": last["p99_us"],
                "client_cpu": last["client_cpu"],
                "server_cpu": last["server_cpu"],
                "server_rss_kib": last["server_rss_kib"],
                "bottleneck": last["bottleneck"],
                "client_engine": last["engine"],
                "errors": last["errors"],
                "loss_percent": last["loss_percent"],
                "datagram": datagram_figures(last),
            }));
        }
    }
    rows
}

/// The datagram figures of an `echo-load` report, or null for the TCP loads.
pub fn datagram_figures(report: &Value) -> Value {
    if report["sent"].is_null() {
        return Value::Null;
    }
    let keys = [
        "sent",
        "answered",
        "lost",
        "loss_percent",
        "duplicates",
        "late",
        "reordered",
        "mismatches",
        "mismatch_sample",
    ];
    keys.iter()
        .map(|k| ((*k).to_string(), report[*k].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}
