//! What a script asks of whoever launched the server: the [`ProcessHooks`] trait, and the
//! dispatch of process steps to it.

use crate::failure::{Failure, FailureKind};
use echo_spec::{PrivCheck, SignalName, Step};
use std::time::Duration;

/// How long an `expect_priv` observation may wait for a drop in progress to settle, before `time_scale`.
pub const PRIV_SETTLE: Duration = Duration::from_millis(500);

/// Observations of the server process, provided by whoever launched it.
pub trait ProcessHooks {
    /// Waits up to `within` for the server to exit, and checks its status.
    fn expect_exit(&mut self, status: i32, within: Duration) -> Result<(), Failure>;

    /// Checks one privilege property of the server from outside, settling for at most `within`
    /// (a drop in progress is given that long to complete). The default observes nothing and fails.
    fn expect_priv(&mut self, check: PrivCheck, within: Duration) -> Result<(), Failure> {
        let _ = within;
        Err(Failure::new(
            FailureKind::Process,
            format!("this launcher cannot observe privileges (`{check}`)"),
        ))
    }

    /// Checks that a server launched as an unprivileged user refused to start: it exits non-zero
    /// within `within` and says why. The default observes nothing and fails.
    fn expect_bind_denied(&mut self, within: Duration) -> Result<(), Failure> {
        let _ = within;
        Err(Failure::new(
            FailureKind::Process,
            "this launcher cannot start the server as an unprivileged user",
        ))
    }

    /// Records the server's resources as the baseline; returns a line describing them.
    fn mark(&mut self) -> Result<String, Failure> {
        Err(unobservable("mark"))
    }

    /// Waits up to `settle` for descriptors and threads to come back to the baseline plus the
    /// deltas, with no CLOSE_WAIT socket and no zombie child; returns what was measured.
    fn expect_resources(
        &mut self,
        fd_delta: u32,
        threads_delta: u32,
        settle: Duration,
    ) -> Result<String, Failure> {
        let _ = (fd_delta, threads_delta, settle);
        Err(unobservable("expect_resources"))
    }

    /// Checks the server's peak resident memory against the baseline and a total; returns what
    /// was measured.
    fn expect_rss(
        &mut self,
        max_growth_kib: Option<u64>,
        max_kib: Option<u64>,
    ) -> Result<String, Failure> {
        let _ = (max_growth_kib, max_kib);
        Err(unobservable("expect_rss"))
    }

    /// Checks the CPU time the server used since the baseline; returns what was measured.
    fn expect_cpu(&mut self, max: Duration) -> Result<String, Failure> {
        let _ = max;
        Err(unobservable("expect_cpu"))
    }

    /// Sends `signal` to the server's main process.
    fn signal(&mut self, signal: SignalName) -> Result<(), Failure> {
        let _ = signal;
        Err(unobservable("signal"))
    }

    /// Waits up to `within` until no process of the server is left.
    fn expect_group_empty(&mut self, within: Duration) -> Result<(), Failure> {
        let _ = within;
        Err(unobservable("expect_group_empty"))
    }

    /// Stops the server with `signal`, starts it again on the same port and waits until it
    /// listens; returns what happened (how long it took).
    fn restart(&mut self, signal: SignalName) -> Result<String, Failure> {
        let _ = signal;
        Err(unobservable("restart"))
    }
}

fn unobservable(step: &str) -> Failure {
    Failure::new(
        FailureKind::Process,
        format!("this launcher cannot observe the server process (`{step}`)"),
    )
}

/// Runs one process step on `h`; `within` is what is left of the step's budget and `scale` the
/// time scale. Returns the measurement the step reports, if any.
pub(crate) fn dispatch(
    h: &mut (dyn ProcessHooks + '_),
    step: &Step,
    within: Duration,
    scale: f64,
) -> Result<Option<String>, Failure> {
    match step {
        Step::ExpectExit { status } => h.expect_exit(*status, within).map(|()| None),
        Step::ExpectPriv { check } => h
            .expect_priv(*check, within.min(PRIV_SETTLE.mul_f64(scale)))
            .map(|()| None),
        Step::ExpectBindDenied => h.expect_bind_denied(within).map(|()| None),
        Step::Mark => h.mark().map(Some),
        Step::ExpectResources {
            fd_delta,
            threads_delta,
            settle_ms,
        } => {
            let settle = Duration::from_millis(*settle_ms).mul_f64(scale).min(within);
            h.expect_resources(*fd_delta, *threads_delta, settle)
                .map(Some)
        }
        Step::ExpectRss {
            max_growth_kib,
            max_kib,
        } => h.expect_rss(*max_growth_kib, *max_kib).map(Some),
        Step::ExpectCpu { max_ms } => h
            .expect_cpu(Duration::from_millis(*max_ms).mul_f64(scale))
            .map(Some),
        Step::Signal { signal } => h.signal(*signal).map(|()| None),
        Step::ExpectGroupEmpty => h.expect_group_empty(within).map(|()| None),
        Step::Restart { signal } => h.restart(*signal).map(Some),
        other => Err(Failure::new(
            FailureKind::Process,
            format!("`{}` is not a process step", other.name()),
        )),
    }
}
