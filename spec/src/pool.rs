//! Cases scaled to a pool: a server that claims `pool=N` serves N clients at once, so a case that
//! needs concurrency is run with at most N connections at a time. N−1 idle holders and one served
//! client must work; a case that `requires = ["pool"]` holds all N, to see what the next one gets.

use crate::model::{Case, CaseKind, Step};
use crate::Claim;

/// `case` as it runs against a pool of `n`, or `None` when nothing in it needs scaling.
pub fn scaled_to_pool(case: &Case, n: u32) -> Option<Case> {
    let beyond = case.requires.contains(&Claim::Pool);
    if !beyond && !case.requires.contains(&Claim::Concurrent) {
        return None;
    }
    // The held crowd: all of the pool when the case looks beyond it, else all but one worker.
    let holders = if beyond {
        n
    } else {
        n.saturating_sub(1).max(1)
    };
    let mut changes = Vec::new();
    let mut scaled = case.clone();
    scaled.kind = match &case.kind {
        CaseKind::Script { steps } => CaseKind::Script {
            steps: scale_steps(steps, holders, &mut changes),
        },
        CaseKind::Process { steps } => CaseKind::Process {
            steps: scale_steps(steps, holders, &mut changes),
        },
        CaseKind::Concurrent {
            clients,
            stagger_ms,
            steps,
        } if *clients > n => {
            changes.push(format!("{n} clients instead of {clients}"));
            CaseKind::Concurrent {
                clients: n,
                stagger_ms: *stagger_ms,
                steps: scale_steps(steps, holders, &mut changes),
            }
        }
        CaseKind::Property { params } if params.connections > n => {
            changes.push(format!(
                "{n} connections at most instead of {}",
                params.connections
            ));
            let mut params = params.clone();
            params.connections = n;
            CaseKind::Property { params }
        }
        other => other.clone(),
    };
    if changes.is_empty() {
        return None;
    }
    scaled.title = format!(
        "{} [scaled to pool={n}: {}]",
        case.title,
        changes.join(", ")
    );
    Some(scaled)
}

fn scale_steps(steps: &[Step], holders: u32, changes: &mut Vec<String>) -> Vec<Step> {
    steps
        .iter()
        .map(|s| match s {
            Step::Hold {
                count,
                burst,
                pause_ms,
            } if *count != holders => {
                changes.push(format!("{holders} held instead of {count}"));
                Step::Hold {
                    count: holders,
                    burst: burst.map(|b| b.min(holders)),
                    pause_ms: *pause_ms,
                }
            }
            Step::Repeat { times, steps } => Step::Repeat {
                times: *times,
                steps: scale_steps(steps, holders, changes),
            },
            other => other.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Spec;

    #[test]
    fn concurrent_cases_hold_one_less_than_the_pool() {
        let spec = Spec::embedded().expect("the embedded spec");
        let holders = spec.get("hostile.idle-holders.100").expect("case");
        let scaled = scaled_to_pool(holders, 20).expect("scaled");
        assert!(scaled.kind.steps().contains(&Step::Hold {
            count: 19,
            burst: Some(2),
            pause_ms: 10
        }));
        assert!(scaled
            .title
            .contains("[scaled to pool=20: 19 held instead of 100]"));
        let fifty = spec.get("concurrency.clients.50").expect("case");
        let scaled = scaled_to_pool(fifty, 20).expect("scaled");
        assert!(matches!(
            scaled.kind,
            CaseKind::Concurrent { clients: 20, .. }
        ));
        assert!(
            scaled_to_pool(fifty, 64).is_none(),
            "50 clients fit a pool of 64"
        );
        let interleaved = spec.get("property.stream.interleaved").expect("case");
        let scaled = scaled_to_pool(interleaved, 2).expect("scaled");
        assert!(matches!(&scaled.kind, CaseKind::Property { params } if params.connections == 2));
        let plain = spec.get("echo.text.short").expect("case");
        assert!(scaled_to_pool(plain, 20).is_none());
    }

    #[test]
    fn a_case_beyond_the_pool_holds_all_of_it() {
        let spec = Spec::embedded().expect("the embedded spec");
        let beyond = spec.get("concurrency.pool.beyond").expect("case");
        let scaled = scaled_to_pool(beyond, 20).expect("scaled");
        assert!(scaled.kind.steps().contains(&Step::Hold {
            count: 20,
            burst: None,
            pause_ms: 0
        }));
    }
}
