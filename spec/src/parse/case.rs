//! The fields of a case that its kind decides: the kind itself, a `concurrent` case's clients and
//! stagger, a `process` case's `rlimit_nofile`, and the deadline overrides every kind takes.

use super::{Ctx, Res, MAX_CLIENTS, MAX_MS};
use crate::model::{CaseKind, Step, Timeouts};
use crate::raw::RawCase;
use toml::Spanned;

/// The longest pause between two concurrent clients' starts (`stagger_ms`).
const MAX_STAGGER_MS: u64 = 1_000;

/// Reserved kinds: part of the closed set in the design, not implemented by this version.
const RESERVED_KINDS: [&str; 2] = ["hostile", "load"];

impl Ctx<'_> {
    /// The case's deadline overrides, each within 1..=[`MAX_MS`]; none when it gives no table.
    pub(super) fn timeouts(&self, id: &str, raw: Option<&Spanned<Timeouts>>) -> Res<Timeouts> {
        let Some(t) = raw else {
            return Ok(Timeouts::default());
        };
        let v = *t.get_ref();
        for (name, ms) in [
            ("no_progress_ms", v.no_progress_ms),
            ("step_ms", v.step_ms),
            ("case_ms", v.case_ms),
        ] {
            if let Some(ms) = ms {
                if ms == 0 || ms > MAX_MS {
                    return Err(self.err(
                        t.span(),
                        id,
                        &format!("timeouts.{name}"),
                        format!("{ms} is outside 1..={MAX_MS}"),
                    ));
                }
            }
        }
        Ok(v)
    }

    /// The kind a case with steps names, holding `steps`: `script`, `process` or `concurrent`.
    pub(super) fn kind(&self, id: &str, raw: &RawCase, steps: Vec<Step>) -> Res<CaseKind> {
        Ok(match raw.kind.get_ref().as_str() {
            "script" => CaseKind::Script { steps },
            "process" => CaseKind::Process { steps },
            "concurrent" => self.concurrent(id, raw, steps)?,
            other if RESERVED_KINDS.contains(&other) => {
                return Err(self.err(
                    raw.kind.span(),
                    id,
                    "kind",
                    format!("kind `{other}` is reserved and not supported by this version"),
                ));
            }
            other => {
                return Err(self.err(
                    raw.kind.span(),
                    id,
                    "kind",
                    format!(
                        "unknown kind `{other}` (known: script, process, concurrent, property)"
                    ),
                ))
            }
        })
    }

    /// A `concurrent` case: 2..=[`MAX_CLIENTS`] clients, started at most [`MAX_STAGGER_MS`]
    /// apart.
    pub(super) fn concurrent(&self, id: &str, raw: &RawCase, steps: Vec<Step>) -> Res<CaseKind> {
        let Some(clients) = raw.clients.as_ref() else {
            return Err(self.err(
                raw.kind.span(),
                id,
                "clients",
                "a `concurrent` case needs `clients = N`",
            ));
        };
        let n = *clients.get_ref();
        if !(2..=MAX_CLIENTS).contains(&n) {
            return Err(self.err(
                clients.span(),
                id,
                "clients",
                format!("{n} is outside 2..={MAX_CLIENTS}"),
            ));
        }
        let stagger_ms = match &raw.stagger_ms {
            None => 0,
            Some(s) if *s.get_ref() <= MAX_STAGGER_MS => *s.get_ref(),
            Some(s) => {
                return Err(self.err(
                    s.span(),
                    id,
                    "stagger_ms",
                    format!("{} is outside 0..={MAX_STAGGER_MS}", s.get_ref()),
                ))
            }
        };
        Ok(CaseKind::Concurrent {
            clients: n,
            stagger_ms,
            steps,
        })
    }

    /// Checks that `clients` and `stagger_ms` appear only in a `concurrent` case and
    /// `rlimit_nofile` only in a `process` case; returns the checked `rlimit_nofile`.
    pub(super) fn kind_fields(&self, id: &str, raw: &RawCase, kind: &CaseKind) -> Res<Option<u64>> {
        if let (Some(clients), false) = (&raw.clients, matches!(kind, CaseKind::Concurrent { .. }))
        {
            return Err(self.err(
                clients.span(),
                id,
                "clients",
                "only `concurrent` cases take `clients`",
            ));
        }
        if let (Some(s), false) = (&raw.stagger_ms, matches!(kind, CaseKind::Concurrent { .. })) {
            return Err(self.err(
                s.span(),
                id,
                "stagger_ms",
                "only `concurrent` cases take `stagger_ms`",
            ));
        }
        match &raw.rlimit_nofile {
            None => Ok(None),
            Some(r) if !matches!(kind, CaseKind::Process { .. }) => Err(self.err(
                r.span(),
                id,
                "rlimit_nofile",
                "only `process` cases launch their own server, so only they take `rlimit_nofile`",
            )),
            Some(r) if !(16..=1 << 20).contains(r.get_ref()) => Err(self.err(
                r.span(),
                id,
                "rlimit_nofile",
                format!("{} is outside 16..=1048576", r.get_ref()),
            )),
            Some(r) => Ok(Some(*r.get_ref())),
        }
    }
}
