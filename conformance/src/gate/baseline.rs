//! `--write-baseline FILE` and `--baseline FILE`: the grades of one run, kept so a later run can be
//! judged against them. Only grades are kept; durations never matter.
//!
//! The ratchet: a claimed case that passed in the baseline and now fails (or is FLAKY) is a
//! REGRESSION; one that failed in the baseline and fails now is known and does not gate; one that
//! failed and now passes is an IMPROVEMENT; one the baseline does not know is new and gates as usual.

use super::{failing, GateReport};
use crate::config::UsageError;
use crate::outcome::{CaseResult, Grade};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// A baseline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// The tool that wrote it (`echo-conform`).
    pub tool: String,
    /// Its version.
    pub version: String,
    /// The claims the run was made with.
    pub claims: String,
    /// Case id → grade, sorted by id.
    pub cases: BTreeMap<String, Grade>,
}

impl Baseline {
    /// The baseline of a finished run.
    pub fn of(claims: &str, results: &[CaseResult]) -> Baseline {
        Baseline {
            tool: "echo-conform".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            claims: claims.into(),
            cases: results.iter().map(|r| (r.id.clone(), r.grade)).collect(),
        }
    }

    /// The file's text: pretty JSON in a stable order, ending in a newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a baseline; every error names the file (and the line and column where serde knows them).
    pub fn read(path: &Path) -> Result<Baseline, UsageError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("--baseline: cannot read {}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| {
            UsageError(format!(
                "--baseline: {}:{}:{}: not a baseline written by --write-baseline: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })
    }
}

/// Compares the run's claimed results with the baseline and fills the baseline part of `gate`.
pub fn compare(base: &Baseline, claims: &str, results: &[CaseResult], gate: &mut GateReport) {
    if base.claims != claims {
        gate.notes.push(format!(
            "the baseline was written for claims `{}`, this run claims `{claims}`",
            base.claims
        ));
    }
    for r in results.iter().filter(|r| r.claimed) {
        let now_fails = failing(r.grade);
        match base.cases.get(&r.id) {
            None if matches!(r.grade, Grade::NotClaimed | Grade::Skip) => {}
            None => gate.new_cases.push(r.id.clone()),
            Some(Grade::Pass) if now_fails => gate.regressions.push(r.id.clone()),
            Some(before) if failing(*before) || *before == Grade::XFail => {
                if now_fails {
                    gate.known_failures.push(r.id.clone());
                } else if r.grade == Grade::Pass {
                    gate.improvements.push(r.id.clone());
                }
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use echo_spec::Level;

    fn case(id: &str, grade: Grade) -> CaseResult {
        CaseResult {
            duration_ms: 42,
            ..crate::gate::fixture(id, Level::Must, grade)
        }
    }

    #[test]
    fn the_ratchet() {
        let before = Baseline::of(
            "stream",
            &[
                case("a", Grade::Pass),
                case("b", Grade::Fail),
                case("c", Grade::Fail),
                case("d", Grade::Pass),
            ],
        );
        let now = [
            case("a", Grade::Fail),
            case("b", Grade::Fail),
            case("c", Grade::Pass),
            case("d", Grade::Flaky),
            case("e", Grade::Fail),
        ];
        let mut gate = GateReport::default();
        compare(&before, "stream", &now, &mut gate);
        assert_eq!(gate.regressions, ["a", "d"]);
        assert_eq!(gate.known_failures, ["b"]);
        assert_eq!(gate.improvements, ["c"]);
        assert_eq!(gate.new_cases, ["e"]);
        assert!(gate.notes.is_empty());
    }

    #[test]
    fn round_trip_is_stable_and_ignores_durations() {
        let a = Baseline::of("x", &[case("z", Grade::Pass), case("a", Grade::XFail)]);
        let text = a.to_text();
        assert!(text.find("\"a\"") < text.find("\"z\""), "{text}");
        assert!(!text.contains("42"), "{text}");
        let back: Baseline = serde_json::from_str(&text).expect("reads back");
        assert_eq!(a, back);
    }
}
