//! The step vocabulary of a scripted client: [`Step`], its spelling in spec files, and
//! [`StepArea`], the one classification of every step by what it acts on.
//!
//! A new step word touches three hand-written files:
//!
//! - `spec/src/step.rs`: the [`Step`] variant, its arm in [`Step::name`], and its arm in
//!   [`Step::area`] (an exhaustive match, so the compiler asks for it). The area decides which
//!   case kinds may use the step, whether it needs an open connection or UDP socket, and which
//!   executor of the client library runs it.
//! - `spec/src/parse/step_word.rs`: its TOML form, a `RawStep` variant; its arm in `Ctx::step`,
//!   which converts and bounds it; and its arm in `emit_step`, which writes it back. The JSON
//!   schema `spec/schema/echo-spec.schema.json` is generated from `RawStep` (`cargo xtask schema`).
//! - the executor of its area in the client library: `clients/src/script/stream.rs`,
//!   `datagram.rs`, `crowd.rs` or `control.rs`; a process step is instead a method of
//!   `ProcessHooks` in `clients/src/hooks.rs`, implemented by the runner's observer in
//!   `conformance/src/observer/`.
//!
//! A step whose parameters need a table of their own also adds it to `spec/src/raw.rs`, and its
//! bounds to its area's file under `spec/src/parse/`. A step that waits by design or opens a crowd
//! also has an arm in `Case::waits_at_least_ms` or `Case::opens_crowd` (`spec/src/model.rs`), and
//! `explain` shows a step's parameters when `steps_text` in `conformance/src/report/catalog.rs`
//! has an arm for it (both match with a wildcard, so the compiler does not ask for them). Its round
//! trip is tested in `spec/src/emit/tests.rs`.

use crate::model::{Chunking, IpFamily, Payload, PrivCheck, SignalName};
use serde::Serialize;

/// What a step acts on: the one classification of the step vocabulary. [`Step::area`] gives every
/// step exactly one area, and the parser's rules about where a step may stand follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepArea {
    /// A TCP connection: opening one, choosing one, writing, reading and expecting bytes,
    /// closing. Every stream step but `connect`, `connect_over`, `on` and `expect_refused` (which
    /// opens and checks its own connection) acts on the current connection, so one must be open.
    Stream,
    /// A UDP socket: opening one, choosing one, sending datagrams and expecting their answers.
    /// Every datagram step but `udp_open` acts on the current socket, so one must be open.
    Datagram,
    /// A crowd of connections the client holds apart from its named ones (`storm`, `hold`,
    /// `ping_held`, `measure_pool`, `release`); they need no current connection.
    Crowd,
    /// An observation of, or an action on, the server process (exit status, resources, signals,
    /// restarts): only `process` cases, which launch their own server, may use it.
    Process,
    /// A process step that also needs the runner to be root and to know the privilege target
    /// (`expect_priv`, `expect_bind_denied`). [`StepArea::observes_process`] is true for it, so
    /// [`Step::is_process_step`] holds for these steps too.
    Privilege,
    /// The script's own flow: `sleep`, `repeat` (whose inner steps keep their own areas) and
    /// `barrier`.
    Control,
}

impl StepArea {
    /// True for the areas whose steps observe the server process and so need a `process` case:
    /// [`StepArea::Process`] and [`StepArea::Privilege`].
    pub fn observes_process(self) -> bool {
        matches!(self, StepArea::Process | StepArea::Privilege)
    }
}

/// One action or expectation of a scripted client. The vocabulary is closed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Open a connection and make it current; `name` defaults to `main`.
    Connect {
        /// The connection's name, for `on`.
        name: String,
    },
    /// Open a TCP connection to the server's port on the loopback address of `family`, whatever
    /// family the run uses, and make it current.
    ConnectOver {
        /// The connection's name, for `on`.
        name: String,
        /// The family to connect over.
        family: IpFamily,
    },
    /// Open a UDP socket on the loopback address of `family` (the run's family when `None`),
    /// bound to an ephemeral port and not connected, and make it the current UDP socket.
    UdpOpen {
        /// The socket's name, for `udp_on`.
        name: String,
        /// The family, when the case fixes one.
        family: Option<IpFamily>,
    },
    /// Make the named UDP socket current.
    UdpOn {
        /// A name given by an earlier `udp_open`.
        name: String,
    },
    /// Send one datagram (possibly empty) from the current UDP socket to the server's port;
    /// its answer is owed.
    UdpSend {
        /// The datagram's bytes.
        payload: Payload,
    },
    /// One answer for every datagram owed on the current socket: identical bytes, one datagram
    /// each, coming from the server's address and port. Answers may come in any order.
    UdpExpectEcho,
    /// No datagram arrives on the current UDP socket for `ms` milliseconds.
    UdpExpectNone {
        /// How long to watch.
        ms: u64,
    },
    /// Close the current UDP socket, so an answer still on its way draws an ICMP port-unreachable.
    UdpClose,
    /// From the current UDP socket, send `count` distinct datagrams of `size` bytes, at most
    /// `in_flight` unanswered at a time; a datagram unanswered within the no-progress deadline
    /// (at most 500 ms, both scaled by `--time-scale`) is lost. Loss is reported as a figure; the step fails when it exceeds `max_loss_pct`, or when
    /// any answer is wrong or duplicated (it stops early after `in_flight` of those).
    UdpBurst {
        /// Datagrams in all.
        count: u32,
        /// Bytes per datagram (at least 8: each carries its sequence number).
        size: u32,
        /// Datagrams sent and not yet answered, at most.
        in_flight: u32,
        /// The loss tolerated, in percent of `count`.
        max_loss_pct: f64,
    },
    /// Make the named connection current.
    On {
        /// A name given by an earlier `connect`.
        name: String,
    },
    /// Send bytes, read concurrently so a correct server never deadlocks the client.
    Send {
        /// What to send.
        payload: Payload,
        /// How to cut it into writes.
        chunking: Chunking,
    },
    /// Everything sent and not yet echoed comes back (after the server's declared transform).
    ExpectEcho,
    /// Exactly these bytes come next, independent of what was sent.
    Expect {
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Read until EOF; what arrived is a non-empty prefix of the pending echo (a `oneshot` reply).
    ExpectEchoPrefix,
    /// Half-close: `shutdown(SHUT_WR)`.
    ShutdownWrite,
    /// Everything pending arrives, then EOF, and no reset.
    ExpectEof,
    /// Nothing arrives for `ms` milliseconds.
    ExpectSilence {
        /// How long to watch.
        ms: u64,
    },
    /// Abortive close: SO_LINGER 0, then close, so the server sees a reset.
    Reset,
    /// Orderly close of the current connection, without waiting for anything.
    Close,
    /// Leave the way a client that is done leaves, paced by the server: half-close at once, wait
    /// up to `ms` for the server's EOF or reset (whatever arrives meanwhile is read but not
    /// checked, as a full close would never have seen it; the wait itself is never a failure),
    /// then close. A client that connects and leaves in a loop then
    /// never outruns a server that closes when its client goes, however short its `listen`
    /// queue. When a server has not closed within `ms` once, later `leave` steps of the script do
    /// not wait: such a server gives no pace to follow, and other cases judge its closing.
    Leave {
        /// The longest wait for the server's close.
        ms: u64,
    },
    /// Wait, still reading and checking whatever arrives.
    Sleep {
        /// How long.
        ms: u64,
    },
    /// Set SO_RCVBUF on the current connection.
    SetRcvbuf {
        /// Requested size in bytes (the kernel may double it).
        bytes: u32,
    },
    /// Stop reading for `ms` milliseconds (writes go on).
    PauseReading {
        /// How long.
        ms: u64,
    },
    /// Run the inner steps `times` times.
    Repeat {
        /// Iterations.
        times: u32,
        /// The steps of one iteration.
        steps: Vec<Step>,
    },
    /// In a `concurrent` case, wait until every client reaches this step.
    Barrier,
    /// A new connection is refused (nothing listens).
    ExpectRefused,
    /// Send one byte on the current connection as TCP urgent data (`send` with `MSG_OOB`). The
    /// byte is out of band: a server reading the stream does not get it in line (unless it sets
    /// `SO_OOBINLINE`), so no echo of it is owed. A server's select or poll loop sees an
    /// exceptional condition (`POLLPRI`) on the connection.
    SendUrgent {
        /// The byte sent.
        byte: u8,
    },
    /// `process` only: the server exits with this status within the step deadline.
    ExpectExit {
        /// Expected exit status.
        status: i32,
    },
    /// `process` only: one named privilege check holds, read from `/proc` (see [`PrivCheck`]).
    ExpectPriv {
        /// The check.
        check: PrivCheck,
    },
    /// Without reading, write a seeded stream until the writes block (nothing more is taken for
    /// `stall_ms`) or `max_bytes` are written; everything written is owed as echo, and reading
    /// resumes afterwards. A server that buffers without limit lets all `max_bytes` through.
    WriteUntilBlocked {
        /// The most bytes written.
        max_bytes: u64,
        /// How long writes must make no progress to count as blocked.
        stall_ms: u64,
    },
    /// Open `connects` connections in bursts of `burst` (non-blocking connects). Each sends a
    /// short probe once established and is reset as soon as the probe's echo is back, so a
    /// sequential server can serve a whole burst; fails when more than `max_failed` of them were
    /// not connected and echoed within the no-progress deadline of their connect.
    Storm {
        /// Connections in all.
        connects: u32,
        /// Connections attempted at once.
        burst: u32,
        /// Connections that may fail (refused or timed out) before the step fails.
        max_failed: u32,
    },
    /// Open `count` more idle connections, in bursts, and keep them until `release`; every one
    /// must connect.
    Hold {
        /// How many.
        count: u32,
        /// Connects started at once; `None` is the client's default (256).
        burst: Option<u32>,
        /// The pause after each burst, in milliseconds: clients that arrive over time rather
        /// than all at once, so a short `listen` queue is not what the step tests.
        pause_ms: u64,
    },
    /// Send a short distinct probe on every held connection; each must come back intact.
    PingHeld,
    /// Measure how many clients the server serves at once, up to `max`: idle clients are held and
    /// one more asks for an echo, in a doubling then bisecting search. A figure, never a failure;
    /// every connection is closed in order (FIN) after each trial.
    MeasurePool {
        /// The search's ceiling: the concurrent cases' crowd size.
        max: u32,
    },
    /// Close every held connection with a reset (SO_LINGER 0), so thousands of closes leave no
    /// TIME_WAIT behind.
    Release,
    /// `process` only: record the server's resources (descriptors, threads, RSS, CPU time) as the
    /// baseline for the `expect_resources`, `expect_rss` and `expect_cpu` steps that follow.
    Mark,
    /// `process` only: within `settle_ms`, the server's descriptors and threads come back to at
    /// most the baseline plus the deltas, and it holds no CLOSE_WAIT socket and no zombie child.
    ExpectResources {
        /// Descriptors allowed above the baseline.
        fd_delta: u32,
        /// Threads allowed above the baseline.
        threads_delta: u32,
        /// How long the server has to get there.
        settle_ms: u64,
    },
    /// `process` only: the server's resident memory (peak, over every process) grew at most
    /// `max_growth_kib` since `mark`, and stays under `max_kib` in all, where given.
    ExpectRss {
        /// Growth allowed over the baseline, in KiB.
        max_growth_kib: Option<u64>,
        /// Total allowed, in KiB.
        max_kib: Option<u64>,
    },
    /// `process` only: the server used at most `max_ms` of CPU time (user + system, every
    /// process) since `mark`; scaled by `--time-scale`.
    ExpectCpu {
        /// The CPU budget in milliseconds.
        max_ms: u64,
    },
    /// `process` only: send a signal to the server's main process.
    Signal {
        /// The signal.
        signal: SignalName,
    },
    /// `process` only: within the step deadline, no process of the server's process group is left.
    ExpectGroupEmpty,
    /// `process` only: stop the server with `signal`, TERM (then the usual grace and SIGKILL) or
    /// KILL (at once), start it again on the same port, and wait until it listens. Connections
    /// it held are left in FIN_WAIT/TIME_WAIT, so a server without SO_REUSEADDR cannot bind,
    /// and one that leaves a stale pid or socket file behind cannot start.
    Restart {
        /// How the server is stopped.
        signal: SignalName,
    },
    /// `process` only, and only as the first step: the runner launches the server as the
    /// target user (not root), and it must refuse to start: a non-zero exit whose output names
    /// the permission problem (EACCES), with no listening socket left.
    ExpectBindDenied,
}

impl Step {
    /// The step's spelling in spec files.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Connect { .. } => "connect",
            Step::ConnectOver { .. } => "connect_over",
            Step::UdpOpen { .. } => "udp_open",
            Step::UdpOn { .. } => "udp_on",
            Step::UdpSend { .. } => "udp_send",
            Step::UdpExpectEcho => "udp_expect_echo",
            Step::UdpExpectNone { .. } => "udp_expect_none",
            Step::UdpClose => "udp_close",
            Step::UdpBurst { .. } => "udp_burst",
            Step::On { .. } => "on",
            Step::Send { .. } => "send",
            Step::ExpectEcho => "expect_echo",
            Step::Expect { .. } => "expect",
            Step::ExpectEchoPrefix => "expect_echo_prefix",
            Step::ShutdownWrite => "shutdown_write",
            Step::ExpectEof => "expect_eof",
            Step::ExpectSilence { .. } => "expect_silence",
            Step::Reset => "reset",
            Step::Close => "close",
            Step::Leave { .. } => "leave",
            Step::Sleep { .. } => "sleep",
            Step::SetRcvbuf { .. } => "set_rcvbuf",
            Step::PauseReading { .. } => "pause_reading",
            Step::Repeat { .. } => "repeat",
            Step::Barrier => "barrier",
            Step::ExpectRefused => "expect_refused",
            Step::SendUrgent { .. } => "send_urgent",
            Step::ExpectExit { .. } => "expect_exit",
            Step::ExpectPriv { .. } => "expect_priv",
            Step::ExpectBindDenied => "expect_bind_denied",
            Step::WriteUntilBlocked { .. } => "write_until_blocked",
            Step::Storm { .. } => "storm",
            Step::Hold { .. } => "hold",
            Step::MeasurePool { .. } => "measure_pool",
            Step::PingHeld => "ping_held",
            Step::Release => "release",
            Step::Mark => "mark",
            Step::ExpectResources { .. } => "expect_resources",
            Step::ExpectRss { .. } => "expect_rss",
            Step::ExpectCpu { .. } => "expect_cpu",
            Step::Signal { .. } => "signal",
            Step::ExpectGroupEmpty => "expect_group_empty",
            Step::Restart { .. } => "restart",
        }
    }
    /// The step's area. `repeat` is [`StepArea::Control`] whatever it holds; the predicates below
    /// say when they also look inside it.
    pub fn area(&self) -> StepArea {
        match self {
            Step::Connect { .. }
            | Step::ConnectOver { .. }
            | Step::On { .. }
            | Step::Send { .. }
            | Step::ExpectEcho
            | Step::Expect { .. }
            | Step::ExpectEchoPrefix
            | Step::ShutdownWrite
            | Step::ExpectEof
            | Step::ExpectSilence { .. }
            | Step::Reset
            | Step::Close
            | Step::Leave { .. }
            | Step::SetRcvbuf { .. }
            | Step::PauseReading { .. }
            | Step::WriteUntilBlocked { .. }
            | Step::SendUrgent { .. }
            | Step::ExpectRefused => StepArea::Stream,
            Step::UdpOpen { .. }
            | Step::UdpOn { .. }
            | Step::UdpSend { .. }
            | Step::UdpExpectEcho
            | Step::UdpExpectNone { .. }
            | Step::UdpClose
            | Step::UdpBurst { .. } => StepArea::Datagram,
            Step::Storm { .. }
            | Step::Hold { .. }
            | Step::PingHeld
            | Step::MeasurePool { .. }
            | Step::Release => StepArea::Crowd,
            Step::ExpectExit { .. }
            | Step::Mark
            | Step::ExpectResources { .. }
            | Step::ExpectRss { .. }
            | Step::ExpectCpu { .. }
            | Step::Signal { .. }
            | Step::ExpectGroupEmpty
            | Step::Restart { .. } => StepArea::Process,
            Step::ExpectPriv { .. } | Step::ExpectBindDenied => StepArea::Privilege,
            Step::Sleep { .. } | Step::Repeat { .. } | Step::Barrier => StepArea::Control,
        }
    }

    /// True for steps that observe the server process and so need a `process` case (the
    /// [`StepArea::Process`] and [`StepArea::Privilege`] steps). A `repeat` is not one, whatever
    /// it holds: the parser checks its inner steps one by one.
    pub fn is_process_step(&self) -> bool {
        self.area().observes_process()
    }

    /// True for the steps that speak UDP (the [`StepArea::Datagram`] steps), and for a `repeat`
    /// that holds one.
    pub fn is_udp_step(&self) -> bool {
        match self {
            Step::Repeat { steps, .. } => steps.iter().any(Step::is_udp_step),
            s => s.area() == StepArea::Datagram,
        }
    }

    /// True for steps that need the runner to be root and to know the privilege target (the
    /// [`StepArea::Privilege`] steps), and for a `repeat` that holds one.
    pub fn is_privilege_step(&self) -> bool {
        match self {
            Step::Repeat { steps, .. } => steps.iter().any(Step::is_privilege_step),
            s => s.area() == StepArea::Privilege,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Step, StepArea};
    use crate::model::{PrivCheck, SignalName};
    use crate::Spec;

    fn repeat(steps: Vec<Step>) -> Step {
        Step::Repeat { times: 2, steps }
    }

    #[test]
    fn privilege_steps_are_process_steps_and_not_the_other_way() {
        let expect_priv = Step::ExpectPriv {
            check: PrivCheck::UidAllFour,
        };
        assert_eq!(expect_priv.area(), StepArea::Privilege);
        assert!(expect_priv.is_process_step() && expect_priv.is_privilege_step());
        let signal = Step::Signal {
            signal: SignalName::Term,
        };
        assert_eq!(signal.area(), StepArea::Process);
        assert!(signal.is_process_step() && !signal.is_privilege_step());
        assert!(Step::ExpectBindDenied.is_privilege_step());
    }

    #[test]
    fn a_repeat_is_control_and_only_the_udp_and_privilege_predicates_look_inside() {
        let udp = repeat(vec![Step::UdpClose]);
        assert_eq!(udp.area(), StepArea::Control);
        assert!(udp.is_udp_step());
        let privileged = repeat(vec![Step::ExpectBindDenied]);
        assert!(privileged.is_privilege_step());
        assert!(!privileged.is_process_step());
        assert!(!repeat(vec![Step::Mark]).is_process_step());
        assert!(!repeat(vec![Step::ExpectEcho]).is_udp_step());
    }

    #[test]
    fn the_embedded_steps_sit_in_the_area_their_words_name() {
        fn each(steps: &[Step], f: &mut impl FnMut(&Step)) {
            for s in steps {
                f(s);
                if let Step::Repeat { steps, .. } = s {
                    each(steps, f);
                }
            }
        }
        let spec = Spec::embedded().expect("the embedded spec");
        let mut seen = 0;
        for case in &spec.cases {
            each(case.kind.steps(), &mut |s| {
                seen += 1;
                let udp = s.name().starts_with("udp_");
                assert_eq!(udp, s.area() == StepArea::Datagram, "{}", s.name());
            });
        }
        assert!(seen > 100, "only {seen} steps in the embedded spec");
    }
}
