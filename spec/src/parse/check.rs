//! The rules that span several steps of a case: a connection or UDP socket is opened before it is
//! used, steps stand only in the kinds that allow them, a baseline comes before what compares with
//! it, and the case stays bounded once its `repeat`s are expanded.

use super::{Ctx, Res, MAX_EXPANDED_STEPS};
use crate::model::{CaseKind, Step, StepArea};
use std::collections::HashSet;
use std::ops::Range;

impl Ctx<'_> {
    /// Checks rules that span several steps: connections exist before use, kind-only steps, bounded size.
    pub(super) fn check_steps(&self, id: &str, kind: &CaseKind, span: Range<usize>) -> Res<()> {
        let mut names = HashSet::new();
        let mut current = None;
        let mut marked = false;
        let expanded = walk(kind.steps(), &mut names, &mut current, &mut marked, kind)
            .map_err(|msg| self.err(span.clone(), id, "steps", msg))?;
        walk_udp(kind.steps(), &mut HashSet::new(), &mut None)
            .map_err(|msg| self.err(span.clone(), id, "steps", msg))?;
        if expanded > MAX_EXPANDED_STEPS {
            return Err(self.err(
                span,
                id,
                "steps",
                format!(
                    "{expanded} steps once repeats are expanded; the limit is {MAX_EXPANDED_STEPS}"
                ),
            ));
        }
        Ok(())
    }
}

/// Walks the steps in order, tracking open connections; returns the expanded step count.
fn walk(
    steps: &[Step],
    names: &mut HashSet<String>,
    current: &mut Option<String>,
    marked: &mut bool,
    kind: &CaseKind,
) -> Result<u64, String> {
    let mut count = 0u64;
    for (i, step) in steps.iter().enumerate() {
        count = count.saturating_add(1);
        match step {
            Step::Mark => *marked = true,
            Step::Restart { .. } => *marked = false,
            _ => {}
        }
        match step {
            Step::Connect { name } | Step::ConnectOver { name, .. } => {
                names.insert(name.clone());
                *current = Some(name.clone());
            }
            // UDP leaves are checked by `walk_udp`; a `repeat` holding them is walked below.
            s if s.is_udp_step() && !matches!(s, Step::Repeat { .. }) => {}
            Step::On { name } => {
                if !names.contains(name) {
                    return Err(format!(
                        "step {i}: `on = \"{name}\"` names no connection opened before it"
                    ));
                }
                *current = Some(name.clone());
            }
            Step::Repeat { times, steps } => {
                let inner = walk(steps, names, current, marked, kind)?;
                count = count.saturating_add(u64::from(*times).saturating_mul(inner));
            }
            Step::Barrier if !matches!(kind, CaseKind::Concurrent { .. }) => {
                return Err(format!(
                    "step {i}: `barrier` only makes sense in a `concurrent` case"
                ));
            }
            s if s.is_process_step() && !matches!(kind, CaseKind::Process { .. }) => {
                return Err(format!(
                    "step {i}: `{}` observes the server process and needs `kind = \"process\"`",
                    s.name()
                ));
            }
            Step::ExpectResources { .. }
            | Step::ExpectCpu { .. }
            | Step::ExpectRss {
                max_growth_kib: Some(_),
                ..
            } if !*marked => {
                return Err(format!(
                    "step {i}: `{}` compares with a baseline: put a `\"mark\"` step before it (a `restart` drops the baseline)",
                    step.name()
                ));
            }
            Step::ExpectBindDenied
                if i != 0 || !std::ptr::eq(steps.as_ptr(), kind.steps().as_ptr()) =>
            {
                return Err(format!(
                    "step {i}: `expect_bind_denied` changes how the server is launched, so it must be the case's first step"
                ));
            }
            // It opens and checks a connection of its own.
            Step::ExpectRefused => {}
            // Control, crowd and process steps act on no connection of the script's.
            s if s.area() != StepArea::Stream => {}
            other => {
                if current.is_none() {
                    return Err(format!(
                        "step {i}: `{}` needs an open connection; add `\"connect\"` before it",
                        other.name()
                    ));
                }
                if matches!(other, Step::Reset | Step::Close | Step::Leave { .. }) {
                    if let Some(name) = current.take() {
                        names.remove(&name);
                    }
                }
            }
        }
    }
    Ok(count)
}

/// Checks that every UDP step acts on a socket opened before it.
fn walk_udp(
    steps: &[Step],
    names: &mut HashSet<String>,
    current: &mut Option<String>,
) -> Result<(), String> {
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::UdpOpen { name, .. } => {
                names.insert(name.clone());
                *current = Some(name.clone());
            }
            Step::UdpOn { name } => {
                if !names.contains(name) {
                    return Err(format!(
                        "step {i}: `udp_on = \"{name}\"` names no UDP socket opened before it"
                    ));
                }
                *current = Some(name.clone());
            }
            Step::Repeat { steps, .. } => walk_udp(steps, names, current)?,
            s if s.is_udp_step() => {
                if current.is_none() {
                    return Err(format!(
                        "step {i}: `{}` needs a UDP socket; add `\"udp_open\"` before it",
                        s.name()
                    ));
                }
                if matches!(s, Step::UdpClose) {
                    if let Some(name) = current.take() {
                        names.remove(&name);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}
