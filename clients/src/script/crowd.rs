//! The hostile crowd steps of the script executor: connect storms (`storm`), held crowds (`hold`,
//! `ping_held`, `release`) and the search for a server's pool size (`measure_pool`).

use super::Executor;
use crate::conn::Limits;
use crate::crowd::{open_many_paced, storm};
use crate::failure::{Failure, FailureKind};
use crate::symptom::Symptom;
use crate::transcript::EventKind;
use echo_spec::Step;
use std::time::{Duration, Instant};

/// Connections a `hold` or `storm` step attempts at once.
const CROWD_BURST: u32 = 256;
/// Held connections probed at once by `ping_held`.
const PING_BATCH: usize = 1024;
/// How long a storm's connect (and probe) may take: past the SYN retries at 1 s and 3 s.
const STORM_CONNECT: Duration = Duration::from_millis(4_000);
/// How long one more client waits for its echo in a `measure_pool` trial, before `--time-scale`.
const POOL_PROBE_WAIT_MS: u64 = 500;

impl Executor<'_, '_> {
    /// Runs one crowd step, within `limits`.
    pub(super) fn crowd_step(&mut self, step: &Step, limits: Limits) -> Result<(), Failure> {
        match step {
            Step::Storm {
                connects,
                burst,
                max_failed,
            } => self.storm(*connects, *burst, *max_failed, limits),
            Step::Hold {
                count,
                burst,
                pause_ms,
            } => self.hold(*count, *burst, *pause_ms, limits),
            Step::MeasurePool { max } => {
                self.measure_pool(*max, limits);
                Ok(())
            }
            Step::PingHeld => self.ping_held(limits),
            Step::Release => {
                self.release();
                Ok(())
            }
            other => unreachable!("`{}` is not a crowd step", other.name()),
        }
    }

    /// `storm`: `connects` connects, `burst` at a time, each probed and reset; notes the tally and
    /// fails when more than `max_failed` did not succeed.
    fn storm(
        &mut self,
        connects: u32,
        burst: u32,
        max_failed: u32,
        limits: Limits,
    ) -> Result<(), Failure> {
        // A connect whose SYN met a full queue is retried after 1 s and again 3 s in:
        // that is the kernel's pace, not the server's, so a storm waits past it.
        let per_connect = self
            .cfg
            .no_progress
            .max(STORM_CONNECT.mul_f64(self.cfg.time_scale));
        let tally = storm(
            self.cfg.addr,
            connects,
            burst,
            per_connect,
            limits.deadline,
            &self.cfg.transform,
        );
        let note = format!("storm: {tally}");
        self.note("storm", note);
        if tally.unsuccessful() > max_failed {
            return Err(Failure::new(
                FailureKind::Connects,
                format!(
                    "{} connects did not succeed (at most {max_failed} may): {tally}",
                    tally.unsuccessful()
                ),
            ));
        }
        Ok(())
    }

    /// `hold`: opens `count` more connections, `burst` at a time and `pause_ms` (scaled) apart,
    /// and keeps them; every one must open.
    fn hold(
        &mut self,
        count: u32,
        burst: Option<u32>,
        pause_ms: u64,
        limits: Limits,
    ) -> Result<(), Failure> {
        let need = u64::from(count) + self.held.len() as u64;
        if let Some(why) = crate::crowd::crowd_out_of_reach(need) {
            return Err(Failure::new(FailureKind::Environment, why));
        }
        let (crowd, tally) = open_many_paced(
            self.cfg.addr,
            count,
            burst.unwrap_or(CROWD_BURST),
            self.scaled(pause_ms),
            self.cfg.no_progress,
            limits.deadline,
        );
        self.held.extend(crowd);
        let note = format!("hold: {tally}; {} held in all", self.held.len());
        self.note("hold", note);
        if tally.unsuccessful() > 0 {
            // Where the client's own descriptor limit stopped it, the server is not to blame.
            let kind = if tally.client_limit {
                FailureKind::Environment
            } else {
                FailureKind::Connects
            };
            let failure = Failure::new(
                kind,
                format!("not every held connection could be opened: {tally}"),
            );
            // Every connect that failed was refused: nothing listens there.
            // (A failed burst leaves the later ones unattempted.)
            let refused_only = tally.refused > 0
                && tally.opened == 0
                && tally.refused + tally.not_attempted == tally.unsuccessful();
            return Err(if refused_only {
                failure.with_symptom(Symptom::Refused)
            } else {
                failure
            });
        }
        Ok(())
    }

    /// `measure_pool`: searches for how many clients the server serves at once (up to `max`),
    /// and records it as figures and a note.
    fn measure_pool(&mut self, max: u32, limits: Limits) {
        let found = crate::crowd::measure_pool(
            self.cfg.addr,
            max,
            self.scaled(POOL_PROBE_WAIT_MS),
            self.cfg.no_progress,
            limits.deadline,
        );
        self.figures
            .insert("pool.served_at_once".into(), found.served_at_once.into());
        self.figures.insert("pool.max".into(), found.max.into());
        self.note("measure_pool", format!("measure_pool: {found}"));
    }

    /// `ping_held`: every held connection must echo a probe; notes how long that took.
    fn ping_held(&mut self, limits: Limits) -> Result<(), Failure> {
        let start = Instant::now();
        let transform = self.cfg.transform.clone();
        self.held
            .ping_all(&transform, PING_BATCH, limits.deadline)?;
        let note = format!(
            "ping_held: {} held connections each echoed a probe in {:.2} s",
            self.held.len(),
            start.elapsed().as_secs_f64()
        );
        self.note("ping_held", note);
        Ok(())
    }

    /// `release`: resets every held connection.
    fn release(&mut self) {
        let n = self.held.len();
        std::mem::take(&mut self.held).reset_all();
        self.transcript.record(
            "",
            EventKind::Note(format!("released {n} held connections")),
        );
    }
}
