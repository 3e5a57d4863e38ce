//! The steps of the script executor that pace a script rather than act on a socket: `sleep`
//! (reading on the current connection, if any, meanwhile), `barrier` and `repeat`.

use super::Executor;
use crate::conn::Limits;
use crate::failure::{Failure, FailureKind};
use echo_spec::Step;
use std::time::{Duration, Instant};

impl Executor<'_, '_> {
    /// Runs one pacing step, within `limits`. `repeat` never comes here: `run` expands it.
    pub(super) fn control_step(&mut self, step: &Step, limits: Limits) -> Result<(), Failure> {
        match step {
            Step::Sleep { ms } => self.sleep(*ms)?,
            Step::Barrier => {
                if let Some(b) = self.barrier {
                    if !b.wait(limits.deadline) {
                        return Err(Failure::new(
                            FailureKind::Hang,
                            "not every concurrent client reached the barrier in time",
                        ));
                    }
                }
            }
            Step::Repeat { .. } => unreachable!("repeat is expanded by run"),
            other => unreachable!("`{}` is not a pacing step", other.name()),
        }
        Ok(())
    }

    /// `sleep`: waits `ms` (scaled), reading on the current connection if there is one.
    fn sleep(&mut self, ms: u64) -> Result<(), Failure> {
        let until = Instant::now() + self.scaled(ms);
        let window = Limits {
            no_progress: self.scaled(ms) + Duration::from_secs(1),
            deadline: until + Duration::from_secs(1),
        };
        match self.conn_and_transcript() {
            Ok((conn, transcript)) => {
                conn.drive(None, window, transcript, |_, _| Instant::now() >= until)?
            }
            Err(_) => std::thread::sleep(until.saturating_duration_since(Instant::now())),
        }
        Ok(())
    }
}
