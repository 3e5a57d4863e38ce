//! The process steps of the script executor: each goes to the launcher's [`ProcessHooks`]
//! (`crate::hooks::dispatch`), and a measurement it returns becomes a note.
//!
//! [`ProcessHooks`]: crate::hooks::ProcessHooks

use super::Executor;
use crate::conn::Limits;
use crate::failure::{Failure, FailureKind};
use echo_spec::Step;
use std::time::Instant;

impl Executor<'_, '_> {
    /// Runs one process step on the hooks, with what is left of `limits` to observe in; fails
    /// when there is no server process to observe.
    pub(super) fn process_step(&mut self, step: &Step, limits: Limits) -> Result<(), Failure> {
        let within = limits.deadline.saturating_duration_since(Instant::now());
        let Some(h) = self.hooks.as_deref_mut() else {
            return Err(Failure::new(
                FailureKind::Process,
                "no server process to observe",
            ));
        };
        let note = crate::hooks::dispatch(h, step, within, self.cfg.time_scale)?;
        if let Some(note) = note {
            self.note(step.name(), note);
        }
        Ok(())
    }
}
