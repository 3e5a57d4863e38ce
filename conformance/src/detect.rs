//! `--detect`: the strongest claim set a server met, from every case run against it.

use crate::report::{CaseResult, Grade};
use echo_spec::{Case, Claim, ClaimSet};

/// For each dimension, the stronger value when the server would pass had it claimed that value
/// (every case that requires it, and otherwise only what was declared, passed), else the weaker one;
/// `no-<dimension>` when neither value was met.
pub fn strongest(
    cases: &[Case],
    results: &[CaseResult],
    declared: &ClaimSet,
    declared_transform: Claim,
    declared_privilege: Claim,
) -> String {
    let met = |claim: Claim| -> Option<bool> {
        let relevant: Vec<_> = cases
            .iter()
            .filter(|c| c.requires.contains(&claim))
            .filter(|c| {
                c.requires
                    .iter()
                    .all(|r| *r == claim || declared.contains(*r))
            })
            .filter_map(|c| results.iter().find(|r| r.id == c.id))
            .filter(|r| matches!(r.grade, Grade::Pass | Grade::Fail))
            .collect();
        if relevant.is_empty() {
            None
        } else {
            Some(relevant.iter().all(|r| r.grade == Grade::Pass))
        }
    };
    let pick = |strong: Claim, weak: Claim, weak_by_default: bool| -> String {
        match (met(strong), met(weak)) {
            (Some(true), _) => strong.to_string(),
            (_, Some(true)) => weak.to_string(),
            (_, None) if weak_by_default => weak.to_string(),
            _ => format!("no-{}", dimension_name(weak)),
        }
    };
    // Session, lifetime and concurrency are told apart by TCP cases only.
    let mut parts = if declared.contains(Claim::Tcp) {
        vec![
            pick(Claim::Stream, Claim::Oneshot, false),
            pick(Claim::Forever, Claim::Single, false),
            match (declared.pool(), measured_pool(results)) {
                // A declared pool is met when every case scaled to it passed.
                (Some(n), _) if met(Claim::Concurrent) != Some(false) => format!("pool={n}"),
                // Not concurrent, yet it served more than one client at once, short of the
                // ceiling: a bounded pool of that size.
                (_, Some(n)) if met(Claim::Concurrent) == Some(false) && n >= 2 => {
                    format!("pool={n}")
                }
                _ => pick(Claim::Concurrent, Claim::Sequential, true),
            },
        ]
    } else {
        Vec::new()
    };
    parts.extend([
        declared_transform.to_string(),
        declared_privilege.to_string(),
    ]);
    if met(Claim::C10k) == Some(true) {
        parts.push(Claim::C10k.to_string());
    }
    // The transport is what the server was declared to serve, spelled as `ClaimSet` spells it:
    // only when it is not plain TCP.
    if declared.contains(Claim::Udp) {
        if declared.contains(Claim::Tcp) {
            parts.push(Claim::Tcp.to_string());
        }
        parts.push(Claim::Udp.to_string());
    }
    if met(Claim::DualStack) == Some(true) {
        parts.push(Claim::DualStack.to_string());
    }
    parts.join(",")
}

/// The most clients served at once that a `measure_pool` step found, when it stayed below the
/// search's ceiling (a server that reached it is not a bounded pool, as far as the kit can tell).
/// The cases scaled to that pool did not run: `pool=N` is the claim to try next, from a measurement.
fn measured_pool(results: &[CaseResult]) -> Option<u32> {
    results.iter().find_map(|r| {
        let served = *r.figures.get("pool.served_at_once")?;
        let max = *r.figures.get("pool.max")?;
        (served < max).then(|| u32::try_from(served).ok()).flatten()
    })
}

fn dimension_name(c: Claim) -> &'static str {
    match c.dimension() {
        echo_spec::Dimension::Session => "session",
        echo_spec::Dimension::Lifetime => "lifetime",
        echo_spec::Dimension::Concurrency => "concurrency",
        echo_spec::Dimension::Transform => "transform",
        echo_spec::Dimension::Privilege => "privilege",
        echo_spec::Dimension::Scale => "scale",
        echo_spec::Dimension::Transport => "transport",
        echo_spec::Dimension::Family => "family",
    }
}
