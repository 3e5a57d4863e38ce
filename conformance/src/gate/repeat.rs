//! `--repeat N`: the whole selection runs N times, and each case's N results fold into one grade.
//! All passed: PASS. None passed: FAIL (the first failure's evidence). Some: FLAKY, "passed k of N",
//! with the evidence of one failure.

use crate::outcome::CaseResult;

/// The largest `--repeat`.
pub const MAX_REPEAT: u32 = 100;

/// Folds the results of several runs of the same plan (each in plan order) into one list.
pub fn fold(runs: Vec<Vec<CaseResult>>) -> Vec<CaseResult> {
    let n = runs.len();
    let mut iters: Vec<_> = runs.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    loop {
        let column: Vec<CaseResult> = iters.iter_mut().filter_map(Iterator::next).collect();
        if column.is_empty() {
            return out;
        }
        out.push(fold_case(column, n));
    }
}

/// Folds the results of one case over `n` runs (see [`crate::grade::fold_runs`]).
pub fn fold_case(results: Vec<CaseResult>, n: usize) -> CaseResult {
    crate::grade::fold_runs(results, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{FailureClass, Grade};

    fn r(grade: Grade, ev: &str) -> CaseResult {
        CaseResult {
            duration_ms: 10,
            failure: (grade == Grade::Fail)
                .then_some(FailureClass::Client(echo_clients::FailureKind::Hang)),
            evidence: Some(ev.into()),
            ..crate::gate::fixture("a", echo_spec::Level::Must, grade)
        }
    }

    #[test]
    fn all_none_some() {
        let all = fold_case(vec![r(Grade::Pass, ""), r(Grade::Pass, "")], 2);
        assert_eq!(all.grade, Grade::Pass);
        let none = fold_case(vec![r(Grade::Fail, "x"), r(Grade::Fail, "y")], 2);
        assert_eq!(none.grade, Grade::Fail);
        assert!(none
            .evidence
            .as_deref()
            .unwrap_or("")
            .contains("failed all 2 runs"));
        let some = fold_case(
            vec![
                r(Grade::Pass, ""),
                r(Grade::Fail, "boom"),
                r(Grade::Pass, ""),
            ],
            3,
        );
        assert_eq!(some.grade, Grade::Flaky);
        assert_eq!(some.failure.map(|f| f.label()), Some("HANG"));
        let ev = some.evidence.unwrap_or_default();
        assert!(
            ev.starts_with("passed 2 of 3 runs") && ev.contains("boom"),
            "{ev}"
        );
    }

    #[test]
    fn fold_keeps_plan_order() {
        let mk = |id: &str, g| CaseResult {
            id: id.into(),
            ..r(g, "")
        };
        let runs = vec![
            vec![mk("a", Grade::Pass), mk("b", Grade::Fail)],
            vec![mk("a", Grade::Pass), mk("b", Grade::Pass)],
        ];
        let out = fold(runs);
        assert_eq!(out[0].grade, Grade::Pass);
        assert_eq!(out[1].id, "b");
        assert_eq!(out[1].grade, Grade::Flaky);
    }
}
