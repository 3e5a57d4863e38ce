//! Converts the process and privilege steps (see [`StepArea::Process`](crate::StepArea::Process)
//! and [`StepArea::Privilege`](crate::StepArea::Privilege)): the server's exit, its resources,
//! signals and restarts, and the privilege checks, with the bounds of their parameters.

use super::{At, Ctx, Res};
use crate::model::{PrivCheck, SignalName, Step, ALL_PRIV_CHECKS};
use crate::raw::{RawResources, RawRss};
use std::ops::Range;

impl Ctx<'_> {
    /// An `expect_priv` step: one of the named privilege checks.
    pub(super) fn expect_priv(&self, at: &At, name: String) -> Res<Step> {
        match PrivCheck::from_name(&name) {
            Some(check) => Ok(Step::ExpectPriv { check }),
            None => {
                let known: Vec<_> = ALL_PRIV_CHECKS.iter().map(|c| c.as_str()).collect();
                Err(self.step_err(
                    at,
                    &at.sub("expect_priv"),
                    format!(
                        "unknown privilege check `{name}` (known: {})",
                        known.join(", ")
                    ),
                ))
            }
        }
    }

    /// An `expect_resources` step: the deltas allowed, and a settling time of at most
    /// [`MAX_MS`](super::MAX_MS).
    pub(super) fn expect_resources(&self, at: &At, r: RawResources) -> Res<Step> {
        Ok(Step::ExpectResources {
            fd_delta: r.fd_delta,
            threads_delta: r.threads_delta,
            settle_ms: self.ms(at, r.settle_ms, "settle_ms")?,
        })
    }

    /// An `expect_rss` step: a growth bound, a total bound, or both.
    pub(super) fn expect_rss(&self, at: &At, r: RawRss) -> Res<Step> {
        if r.max_growth_kib.is_none() && r.max_kib.is_none() {
            return Err(self.step_err(
                at,
                &at.sub("expect_rss"),
                "give `max_growth_kib`, `max_kib`, or both",
            ));
        }
        Ok(Step::ExpectRss {
            max_growth_kib: r.max_growth_kib,
            max_kib: r.max_kib,
        })
    }

    /// A `restart` step: the server is stopped with TERM or KILL.
    pub(super) fn restart(&self, at: &At, name: String) -> Res<Step> {
        let f = at.sub("restart");
        let signal = self.signal(at.id, &f, at.span.clone(), &name)?;
        if !matches!(signal, SignalName::Term | SignalName::Kill) {
            return Err(self.step_err(
                at,
                &f,
                "a restart stops the server with TERM (then the grace period) or KILL",
            ));
        }
        Ok(Step::Restart { signal })
    }

    /// The signal named `name`, one of [`SignalName::ALL`].
    pub(super) fn signal(
        &self,
        id: &str,
        field: &str,
        span: Range<usize>,
        name: &str,
    ) -> Res<SignalName> {
        SignalName::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                let known: Vec<_> = SignalName::ALL.iter().map(|s| s.as_str()).collect();
                self.err(
                    span,
                    id,
                    field,
                    format!("unknown signal `{name}` (known: {})", known.join(", ")),
                )
            })
    }
}
