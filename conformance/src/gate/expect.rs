//! `--expect-fail FILE`: known failures, each with a reason, reported apart.
//!
//! ```toml
//! [[expect_fail]]
//! id = "echo.no-banner"
//! reason = "our server greets its clients; see ticket 12"
//! ```
//!
//! A listed case that fails is XFAIL and does not gate; one that passes is XPASS ("remove it from
//! the list"), which gates only under `--strict`. An id that names no case is a usage error.

use super::{Expected, GateReport};
use crate::config::UsageError;
use crate::outcome::CaseResult;
use echo_spec::Spec;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// One entry of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectFail {
    /// The case id.
    pub id: String,
    /// Why it fails.
    pub reason: String,
    /// The line of its `id` in the file.
    pub line: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    #[serde(default)]
    expect_fail: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: Spanned<String>,
    reason: Spanned<String>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Reads and checks the list against `spec`; every error names the file and line.
pub fn read(path: &Path, spec: &Spec) -> Result<Vec<ExpectFail>, UsageError> {
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("--expect-fail: cannot read {name}: {e}")))?;
    parse(&name.to_string(), &text, spec)
}

/// Parses the text of a list named `name`.
pub fn parse(name: &str, text: &str, spec: &Spec) -> Result<Vec<ExpectFail>, UsageError> {
    let raw: RawList = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        let msg = e.message().lines().next().unwrap_or("").to_string();
        UsageError(format!("--expect-fail: {name}:{line}: {msg}"))
    })?;
    let mut out: Vec<ExpectFail> = Vec::new();
    for entry in raw.expect_fail {
        let line = line_of(text, entry.id.span().start);
        let id = entry.id.into_inner();
        let reason = entry.reason.get_ref().trim().to_string();
        if reason.is_empty() {
            return Err(UsageError(format!(
                "--expect-fail: {name}:{}: `{id}` has an empty reason; say why it fails",
                line_of(text, entry.reason.span().start)
            )));
        }
        // `id@ipv6` (or `@ipv4`) names one family's copy under `--family both`.
        let base = match id.split_once('@') {
            Some((base, "ipv4" | "ipv6")) => base,
            Some(_) => {
                return Err(UsageError(format!(
                    "--expect-fail: {name}:{line}: `{id}`: only `@ipv4` or `@ipv6` may follow a case id"
                )))
            }
            None => id.as_str(),
        };
        if spec.get(base).is_none() {
            return Err(UsageError(format!(
                "--expect-fail: {name}:{line}: `{id}` names no case (see `echo-conform list`)"
            )));
        }
        if let Some(first) = out.iter().find(|e| e.id == id) {
            return Err(UsageError(format!(
                "--expect-fail: {name}:{line}: `{id}` is listed twice (first on line {})",
                first.line
            )));
        }
        out.push(ExpectFail { id, reason, line });
    }
    Ok(out)
}

/// Regrades the listed cases that ran: a failure becomes XFAIL, a pass becomes XPASS. An entry
/// without `@family` covers both copies of a case under `--family both`.
pub fn apply(list: &[ExpectFail], results: &mut [CaseResult], gate: &mut GateReport) {
    for e in list {
        let covers = |id: &str| {
            id == e.id
                || (!e.id.contains('@')
                    && id
                        .strip_prefix(e.id.as_str())
                        .is_some_and(|rest| rest == "@ipv4" || rest == "@ipv6"))
        };
        for r in results.iter_mut().filter(|r| covers(&r.id) && r.claimed) {
            regrade(e, r, gate);
        }
    }
}

/// Turns one listed result into XFAIL (it failed) or XPASS (it passed), through
/// [`crate::grade::expect_fail`].
fn regrade(e: &ExpectFail, r: &mut CaseResult, gate: &mut GateReport) {
    if let Some(grade) = crate::grade::expect_fail(r, &e.reason) {
        gate.expected.push(Expected {
            id: r.id.clone(),
            reason: e.reason.clone(),
            grade,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Grade;

    fn spec() -> Spec {
        Spec::embedded().expect("embedded spec")
    }

    #[test]
    fn errors_name_file_and_line() {
        let s = spec();
        let unknown_field = "[[expect_fail]]\nid = \"echo.text.short\"\nreason = \"x\"\nwhy = 1\n";
        let e = parse("xf.toml", unknown_field, &s).unwrap_err().0;
        assert!(
            e.starts_with("--expect-fail: xf.toml:4: unknown field `why`"),
            "{e}"
        );
        let missing_reason = "[[expect_fail]]\nid = \"echo.text.short\"\n";
        let e = parse("xf.toml", missing_reason, &s).unwrap_err().0;
        assert!(e.contains("xf.toml:1:") && e.contains("reason"), "{e}");
        let no_case = "\n[[expect_fail]]\nid = \"echo.nope\"\nreason = \"x\"\n";
        let e = parse("xf.toml", no_case, &s).unwrap_err().0;
        assert_eq!(
            e,
            "--expect-fail: xf.toml:3: `echo.nope` names no case (see `echo-conform list`)"
        );
    }

    #[test]
    fn xfail_and_xpass() {
        let list = parse(
            "xf.toml",
            "[[expect_fail]]\nid = \"echo.text.short\"\nreason = \"r1\"\n[[expect_fail]]\nid = \"echo.no-banner\"\nreason = \"r2\"\n",
            &spec(),
        )
        .expect("valid");
        let mk = |id: &str, grade| crate::gate::fixture(id, echo_spec::Level::Must, grade);
        let mut results = vec![
            mk("echo.text.short", Grade::Fail),
            mk("echo.no-banner", Grade::Pass),
        ];
        let mut gate = GateReport::default();
        apply(&list, &mut results, &mut gate);
        assert_eq!(results[0].grade, Grade::XFail);
        assert_eq!(results[1].grade, Grade::XPass);
        assert_eq!(gate.expected.len(), 2);
    }

    #[test]
    fn an_entry_covers_both_families_and_a_suffixed_one_only_its_own() {
        let list = parse(
            "xf.toml",
            "[[expect_fail]]\nid = \"echo.text.short\"\nreason = \"r1\"\n[[expect_fail]]\nid = \"echo.no-banner@ipv6\"\nreason = \"r2\"\n",
            &spec(),
        )
        .expect("valid");
        let mk = |id: &str| crate::gate::fixture(id, echo_spec::Level::Must, Grade::Fail);
        let mut results = vec![
            mk("echo.text.short"),
            mk("echo.text.short@ipv6"),
            mk("echo.no-banner"),
            mk("echo.no-banner@ipv6"),
        ];
        let mut gate = GateReport::default();
        apply(&list, &mut results, &mut gate);
        let grades: Vec<Grade> = results.iter().map(|r| r.grade).collect();
        assert_eq!(
            grades,
            [Grade::XFail, Grade::XFail, Grade::Fail, Grade::XFail]
        );
        let bad = "[[expect_fail]]\nid = \"echo.text.short@ipv5\"\nreason = \"x\"\n";
        let e = parse("xf.toml", bad, &spec()).unwrap_err().0;
        assert!(e.contains("only `@ipv4` or `@ipv6`"), "{e}");
    }
}
