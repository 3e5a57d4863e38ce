//! Findings: the failures of a run grouped by their typed [`Signature`], one finding per distinct
//! defect, each with a diagnosis in plain words, its primary case (the simplest case that shows
//! it, as a shrinker would choose) and the other cases it explains, and the usual fix where the
//! signature is a known mistake.

mod advice;

use crate::cause::Signature;
use crate::outcome::{CaseResult, Grade};
use echo_spec::{Case, CaseKind, Level, PrivCheck, Step};
use serde::Serialize;

/// One distinct defect of the server under test.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Finding {
    /// What the failures it groups share.
    pub signature: Signature,
    /// The defect in one sentence.
    pub diagnosis: String,
    /// The usual fix, where the signature is a known mistake.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The simplest failing case that shows it: run it alone with `--case`.
    pub primary: String,
    /// Every failing case it explains, the primary first.
    pub cases: Vec<String>,
    /// The strongest level among its cases.
    pub level: Level,
}

impl Finding {
    /// `MUST`, `SHOULD`… of the finding.
    pub fn level_label(&self) -> String {
        self.level.as_str().to_ascii_uppercase()
    }
}

/// Groups the claimed failing cases of `results` into findings: MUST findings first, then by the
/// number of cases they explain.
pub fn group(results: &[CaseResult]) -> Vec<Finding> {
    let mut groups: Groups<'_> = Vec::new();
    for r in results.iter().filter(|r| counts(r)) {
        let Some(cause) = &r.cause else { continue };
        match groups.iter_mut().find(|(s, _)| *s == cause.signature) {
            Some((_, members)) => members.push(r),
            None => groups.push((cause.signature.clone(), vec![r])),
        }
    }
    let groups = merge_behind_others(merge_never_echoed(merge_left_out(merge_same_cut(groups))));
    let mut findings: Vec<Finding> = groups
        .into_iter()
        .map(|(signature, members)| {
            let primary = members
                .iter()
                .min_by(|a, b| (a.weight, &a.id).cmp(&(b.weight, &b.id)))
                .map(|r| r.id.clone())
                .unwrap_or_default();
            let mut cases = vec![primary.clone()];
            cases.extend(
                members
                    .iter()
                    .map(|r| r.id.clone())
                    .filter(|id| *id != primary),
            );
            let level = members
                .iter()
                .map(|r| r.level)
                .min_by_key(|l| rank(*l))
                .unwrap_or(Level::Must);
            let mut simplest_first = members.clone();
            simplest_first.sort_by(|a, b| (a.weight, &a.id).cmp(&(b.weight, &b.id)));
            let (diagnosis, fix) = advice::diagnose(&signature, &simplest_first);
            Finding {
                signature,
                diagnosis,
                fix,
                primary,
                cases,
                level,
            }
        })
        .collect();
    findings.sort_by_key(|f| (rank(f.level), std::cmp::Reverse(f.cases.len())));
    findings
}

/// A connection that ends after the same N bytes in every case is one defect, a cut at N, however
/// each case saw it end (silence, a close, or after its half-close): groups of wait failures
/// whose members all stopped at the same N > 0 join the largest such group.
fn merge_same_cut(groups: Groups<'_>) -> Groups<'_> {
    let cut_at = |members: &[&CaseResult]| common(members, |c| c.received).filter(|n| *n > 0);
    let waits = |s: &Signature| {
        matches!(
            s,
            Signature::Cut | Signature::Stopped | Signature::LostAfterHalfClose
        )
    };
    join_while(groups, |groups, i| {
        let at = cut_at(&groups[i].1)?;
        if !waits(&groups[i].0) {
            return None;
        }
        (0..groups.len()).find(|&j| {
            j != i
                && waits(&groups[j].0)
                && groups[j].1.len() >= groups[i].1.len()
                && cut_at(&groups[j].1) == Some(at)
        })
    })
}

/// An echo that ends short by exactly its NULs (or its whitespace) is the removal another case
/// shows as a byte difference: a group of failures whose missing bytes were all of one class joins
/// the group of that class's removal, when there is one.
fn merge_left_out(groups: Groups<'_>) -> Groups<'_> {
    join_while(groups, |groups, i| {
        let class = common(&groups[i].1, |c| c.owed_only)?;
        groups
            .iter()
            .position(|(s, _)| *s == Signature::BytesRemoved { class })
    })
}

/// A server that never echoes (silent, or closing every connection before a byte of echo) also
/// gives nothing to a client that half-closes: when some cases saw that without a half-close, the
/// half-close cases that got nothing at all join them.
fn merge_never_echoed(mut groups: Groups<'_>) -> Groups<'_> {
    let nothing = |members: &[&CaseResult]| common(members, |c| c.received) == Some(0);
    let silent = groups.iter().position(|(s, members)| {
        *s == Signature::Silent || (*s == Signature::Cut && nothing(members))
    });
    // A close that never came on a connection that never got a byte is the same silence.
    let lost = groups.iter().position(|(s, members)| {
        matches!(
            s,
            Signature::LostAfterHalfClose | Signature::NoCloseAfterFin
        ) && nothing(members)
    });
    if let (Some(silent), Some(lost)) = (silent, lost) {
        join(&mut groups, lost, silent);
    }
    groups
}

/// On a server that serves one connection at a time, a close that does not come while other
/// connections are open waits behind them: when some cases show that head-of-line blocking, the
/// missing closes seen beside other connections join it.
fn merge_behind_others(mut groups: Groups<'_>) -> Groups<'_> {
    let beside = |r: &&CaseResult| r.cause.as_ref().is_some_and(|c| c.others_open);
    let all_beside = |signature: Signature| {
        groups
            .iter()
            .position(|(s, members)| *s == signature && members.iter().all(beside))
    };
    if let (Some(blocked), Some(no_close)) = (
        all_beside(Signature::Silent),
        all_beside(Signature::NoCloseAfterFin),
    ) {
        join(&mut groups, no_close, blocked);
    }
    groups
}

/// Failures grouped by signature, in the order their first case was reported.
type Groups<'a> = Vec<(Signature, Vec<&'a CaseResult>)>;

/// The value `fact` gives for every member's cause, when they all give the same one.
fn common<T: PartialEq>(
    members: &[&CaseResult],
    fact: impl Fn(&crate::cause::Cause) -> Option<T>,
) -> Option<T> {
    let mut values = members.iter().map(|r| r.cause.as_deref().and_then(&fact));
    let first = values.next()??;
    values.all(|v| v.as_ref() == Some(&first)).then_some(first)
}

/// Moves the failures of group `from` into group `into`.
fn join(groups: &mut Groups<'_>, from: usize, into: usize) {
    let (_, members) = groups.remove(from);
    let into = if into > from { into - 1 } else { into };
    groups[into].1.extend(members);
}

/// Joins group `i` into the group `target` names for it, as long as one names another group.
/// Bounded: every join removes a group.
fn join_while<'a>(
    mut groups: Groups<'a>,
    target: impl Fn(&Groups<'a>, usize) -> Option<usize>,
) -> Groups<'a> {
    for _ in 0..groups.len() {
        let pair =
            (0..groups.len()).find_map(|i| target(&groups, i).filter(|&j| j != i).map(|j| (i, j)));
        let Some((from, into)) = pair else { break };
        join(&mut groups, from, into);
    }
    groups
}

/// The finding that explains case `id`, if any.
pub fn of_case<'a>(findings: &'a [Finding], id: &str) -> Option<(usize, &'a Finding)> {
    findings
        .iter()
        .enumerate()
        .find(|(_, f)| f.cases.iter().any(|c| c == id))
}

/// The finding that explains case `id`, as the first line of a failure's message in every
/// format that reports cases one by one (JUnit, TAP, the HTML page, the harness's trials):
/// `finding 1 of 3 [MUST]: <diagnosis> (primary case: <id>)`. `None` when no finding explains
/// the case (it passed, or it is not claimed).
pub fn line(findings: &[Finding], id: &str) -> Option<String> {
    let (i, f) = of_case(findings, id)?;
    Some(format!(
        "finding {} of {} [{}]: {} (primary case: {})",
        i + 1,
        findings.len(),
        f.level_label(),
        f.diagnosis,
        f.primary
    ))
}

/// True for a result that a finding explains: a claimed case that failed or was flaky.
fn counts(r: &CaseResult) -> bool {
    r.claimed && matches!(r.grade, Grade::Fail | Grade::Flaky)
}

fn rank(level: Level) -> u8 {
    match level {
        Level::Must => 0,
        Level::Should => 1,
        Level::May => 2,
        Level::Info => 3,
    }
}

/// How much a case does: steps run (repeats counted), bytes sent, clients and connections
/// opened, and waits. The failing case of a finding with the least is its primary case.
pub fn weight(case: &Case) -> u64 {
    match &case.kind {
        CaseKind::Script { steps } | CaseKind::Process { steps } => steps_weight(steps),
        CaseKind::Concurrent { clients, steps, .. } => {
            steps_weight(steps).saturating_mul(u64::from(*clients))
        }
        // Generated sequences: many runs of random steps.
        CaseKind::Property { .. } => 1 << 40,
    }
}

fn steps_weight(steps: &[Step]) -> u64 {
    steps.iter().map(step_weight).fold(0, u64::saturating_add)
}

fn step_weight(step: &Step) -> u64 {
    // A step costs 1000; a byte 1; a millisecond of waiting 10; a crowd 1000 a connection.
    const STEP: u64 = 1000;
    match step {
        Step::Repeat { times, steps } => steps_weight(steps).saturating_mul(u64::from(*times)),
        Step::Send { payload, .. } | Step::UdpSend { payload } => STEP + payload.len(),
        Step::WriteUntilBlocked { .. } => STEP + (4 << 20),
        Step::Storm { connects, .. } => STEP * (1 + u64::from(*connects)),
        Step::Hold { count, .. } => STEP * (1 + u64::from(*count)),
        Step::UdpBurst { count, size, .. } => STEP + u64::from(*count) * u64::from(*size),
        Step::MeasurePool { max } => STEP * (1 + u64::from(*max)),
        Step::Sleep { ms }
        | Step::ExpectSilence { ms }
        | Step::PauseReading { ms }
        | Step::UdpExpectNone { ms }
        | Step::Leave { ms } => STEP + 10 * ms,
        Step::Restart { .. } => 20 * STEP,
        // The checks over every task, or over what the drop implies, are less specific than
        // the one-field checks: a broken drop is shown first by the field it leaves wrong.
        Step::ExpectPriv {
            check: PrivCheck::AllTasks | PrivCheck::NoRegain,
        } => 2 * STEP,
        _ => STEP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::{ByteClass, Cause};

    fn failed(id: &str, level: Level, weight: u64, signature: Signature) -> CaseResult {
        let mut r = crate::gate::fixture(id, level, Grade::Fail);
        r.weight = weight;
        r.cause = Some(Box::new(Cause::of(signature)));
        r
    }

    #[test]
    fn one_finding_per_signature_with_the_simplest_case_first() {
        let nul = Signature::BytesRemoved {
            class: ByteClass::Nul,
        };
        let added = Signature::BytesAdded { bytes: "0a".into() };
        let results = vec![
            failed("echo.stream.1mib", Level::Must, 5_000, added.clone()),
            failed("echo.text.short", Level::Must, 3_012, added.clone()),
            failed(
                "hostile.storm.2000",
                Level::Should,
                9_000,
                Signature::AcceptQueueOverflow,
            ),
            failed("echo.binary.all-bytes", Level::Must, 3_256, nul.clone()),
            failed("concurrency.clients.50", Level::Must, 90_000, added.clone()),
            crate::gate::fixture("echo.no-banner", Level::Must, Grade::Pass),
        ];
        let findings = group(&results);
        assert_eq!(findings.len(), 3, "{findings:#?}");
        // MUST findings first, the one explaining the most cases leading.
        assert_eq!(findings[0].signature, added);
        assert_eq!(findings[0].primary, "echo.text.short");
        assert_eq!(
            findings[0].cases,
            [
                "echo.text.short",
                "echo.stream.1mib",
                "concurrency.clients.50"
            ]
        );
        assert!(
            findings[0].diagnosis.contains("[0a] \"\\n\""),
            "{}",
            findings[0].diagnosis
        );
        assert_eq!(findings[1].signature, nul);
        assert_eq!(findings[2].level, Level::Should);
        assert!(findings[2].fix.as_deref().unwrap_or("").contains("backlog"));
        assert_eq!(
            line(&findings, "echo.stream.1mib").as_deref(),
            Some(
                "finding 1 of 3 [MUST]: the echo has one extra byte [0a] \"\\n\" added (inside a \
                 longer stream in 3) (primary case: echo.text.short)"
            )
        );
        assert_eq!(line(&findings, "echo.no-banner"), None);
    }

    #[test]
    fn unclaimed_and_expected_failures_are_not_findings() {
        let mut unclaimed = failed("echo.text.short", Level::Must, 1, Signature::Silent);
        unclaimed.claimed = false;
        let mut xfail = failed("echo.no-banner", Level::Must, 1, Signature::Silent);
        xfail.grade = Grade::XFail;
        assert!(group(&[unclaimed, xfail]).is_empty());
    }

    #[test]
    fn a_simpler_case_weighs_less() {
        let spec = echo_spec::Spec::embedded().expect("the embedded spec parses");
        let w = |id: &str| {
            weight(
                spec.cases
                    .iter()
                    .find(|c| c.id == id)
                    .unwrap_or_else(|| panic!("no case {id}")),
            )
        };
        assert!(w("echo.text.short") < w("echo.nothing-added"));
        assert!(w("echo.nothing-added") < w("echo.stream.1mib"));
        assert!(w("echo.stream.1mib") < w("concurrency.clients.50"));
    }
}
