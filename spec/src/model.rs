//! The typed case model: what a spec file means once parsed and validated.

use crate::claims::Claim;
use crate::property::PropertyParams;
use serde::{Deserialize, Serialize};

/// How strongly a case is required (RFC 2119), or `info` for measurements that never fail.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// An absolute requirement: a failure gates.
    Must,
    /// Recommended: a failure gates only under `--strict`.
    Should,
    /// Optional behaviour: reported, never gates.
    May,
    /// A measurement: never fails.
    Info,
}

impl Level {
    /// The level's spelling in spec files.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "must",
            Level::Should => "should",
            Level::May => "may",
            Level::Info => "info",
        }
    }
}

/// Where a case was defined, for error messages and `explain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The spec file, relative to the spec directory (`echo.toml`).
    pub file: String,
    /// 1-based line of the case's `id`.
    pub line: usize,
}

/// Per-case deadline overrides, in milliseconds before `--time-scale`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// A wait fails when no byte moved for this long.
    pub no_progress_ms: Option<u64>,
    /// A single wait (one step) fails when it takes longer than this, progress or not.
    pub step_ms: Option<u64>,
    /// The whole case fails when it takes longer than this.
    pub case_ms: Option<u64>,
}

/// One conformance case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    /// Stable dotted identifier, never reused.
    pub id: String,
    /// One line a user reads in a report.
    pub title: String,
    /// Where the requirement comes from.
    pub source: String,
    /// How strongly it is required.
    pub level: Level,
    /// The claims a server must make for this case to apply.
    pub requires: Vec<Claim>,
    /// Free-form tags; `heavy` marks slow cases.
    pub tags: Vec<String>,
    /// Deadline overrides.
    pub timeouts: Timeouts,
    /// `process` only: the server is launched with RLIMIT_NOFILE set to this (soft and hard).
    pub rlimit_nofile: Option<u64>,
    /// What the case does.
    pub kind: CaseKind,
    /// Where it was defined.
    pub origin: Origin,
}

/// The tag of slow or resource-hungry cases (C10k, descriptor exhaustion, the big property case):
/// left out of a default run, run alone with `--heavy`.
pub const HEAVY_TAG: &str = "heavy";

/// The tag of a case whose subject is not the echo's bytes (leaks, lifecycle, idle clients): its
/// echoes are checked by count only, so that a server that changes its echo fails the cases about
/// bytes, and this case still judges its own subject. Its payloads are printable text with no
/// whitespace at either end, so that no byte defect changes their length.
pub const ECHO_COUNTED_TAG: &str = "echo-counted";

impl Case {
    /// True for a case tagged [`ECHO_COUNTED_TAG`].
    pub fn echo_counted(&self) -> bool {
        self.tags.iter().any(|t| t == ECHO_COUNTED_TAG)
    }

    /// True for a case tagged [`HEAVY_TAG`].
    pub fn is_heavy(&self) -> bool {
        self.tags.iter().any(|t| t == HEAVY_TAG)
    }

    /// The least time the case's steps spend waiting by design (sleeps, silences watched, paused
    /// reading, the pauses between chunked writes, and the stall each `write_until_blocked` waits
    /// out), in milliseconds: the runner starts the longest waits first, and gives cases that
    /// mostly wait a thread beyond `--jobs`, so that they overlap the rest of a phase instead of
    /// ending it.
    pub fn waits_at_least_ms(&self) -> u64 {
        fn waits(steps: &[Step]) -> u64 {
            steps
                .iter()
                .map(|s| match s {
                    Step::Sleep { ms } | Step::ExpectSilence { ms } | Step::PauseReading { ms } => {
                        *ms
                    }
                    Step::WriteUntilBlocked { stall_ms, .. } => *stall_ms,
                    Step::Hold {
                        count,
                        burst: Some(b),
                        pause_ms,
                    } => u64::from(count.div_ceil((*b).max(1)).saturating_sub(1))
                        .saturating_mul(*pause_ms),
                    Step::Send { payload, chunking } if chunking.pause_ms > 0 => {
                        writes(payload.len(), &chunking.sizes)
                            .saturating_sub(1)
                            .saturating_mul(chunking.pause_ms)
                    }
                    Step::Repeat { times, steps } => u64::from(*times).saturating_mul(waits(steps)),
                    _ => 0,
                })
                .fold(0, u64::saturating_add)
        }
        /// How many writes a send of `len` bytes cut by `sizes` (cycled) takes; one when unsized.
        fn writes(len: u64, sizes: &[u32]) -> u64 {
            let round: u64 = sizes.iter().map(|&s| u64::from(s)).sum();
            if round == 0 {
                return 1;
            }
            let mut count = (len / round).saturating_mul(sizes.len() as u64);
            let mut left = len % round;
            for &s in sizes {
                if left == 0 {
                    break;
                }
                left = left.saturating_sub(u64::from(s));
                count += 1;
            }
            count.max(1)
        }
        waits(self.kind.steps())
    }

    /// True when the case opens a crowd of connections or datagrams (`hold`, `storm`,
    /// `udp_burst`, or many concurrent clients): its figures, and its neighbours' verdicts,
    /// depend on nothing else running against the same server.
    pub fn opens_crowd(&self) -> bool {
        fn crowd(steps: &[Step]) -> bool {
            steps.iter().any(|s| match s {
                Step::Hold { .. }
                | Step::Storm { .. }
                | Step::UdpBurst { .. }
                | Step::MeasurePool { .. } => true,
                Step::Repeat { steps, .. } => crowd(steps),
                _ => false,
            })
        }
        matches!(self.kind, CaseKind::Concurrent { .. }) || crowd(self.kind.steps())
    }
}

/// The closed set of case kinds, each with typed parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseKind {
    /// One client follows the steps; it may open several named connections.
    Script {
        /// The steps, in order.
        steps: Vec<Step>,
    },
    /// Like `script`, and may also observe the server process; runs alone against a fresh server.
    Process {
        /// The steps, in order; process steps allowed.
        steps: Vec<Step>,
    },
    /// `clients` copies of the steps run at once; seeded payloads get the client's index added to the seed.
    Concurrent {
        /// How many clients run the steps at the same time.
        clients: u32,
        /// Client `i` starts `i × stagger_ms` after the first (before `--time-scale`), so that
        /// connects arrive over time; 0 starts them all at once. A `barrier` after `connect` still
        /// lines their traffic up.
        stagger_ms: u64,
        /// The steps each client runs; `barrier` waits for all clients.
        steps: Vec<Step>,
    },
    /// Generated client sequences whose failures shrink into `script` cases; it has no steps.
    Property {
        /// What to generate and how much.
        params: PropertyParams,
    },
}

impl CaseKind {
    /// The kind's spelling in spec files.
    pub fn name(&self) -> &'static str {
        match self {
            CaseKind::Script { .. } => "script",
            CaseKind::Process { .. } => "process",
            CaseKind::Concurrent { .. } => "concurrent",
            CaseKind::Property { .. } => "property",
        }
    }

    /// The steps of the case (none for a `property` case, whose steps are generated).
    pub fn steps(&self) -> &[Step] {
        match self {
            CaseKind::Script { steps }
            | CaseKind::Process { steps }
            | CaseKind::Concurrent { steps, .. } => steps,
            CaseKind::Property { .. } => &[],
        }
    }

    /// The parameters of a `property` case.
    pub fn property(&self) -> Option<&PropertyParams> {
        match self {
            CaseKind::Property { params } => Some(params),
            _ => None,
        }
    }
}

/// What to send: exactly one source of bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// Literal bytes (from `text` or `hex`).
    Bytes(Vec<u8>),
    /// A deterministic pseudo-random stream of `len` bytes from `seed`, generated on the fly.
    Seeded {
        /// The generator's seed.
        seed: u64,
        /// Number of bytes.
        len: u64,
    },
    /// The 256 byte values 0x00..=0xff, in order.
    AllBytes,
}

impl Payload {
    /// Number of bytes the payload holds.
    pub fn len(&self) -> u64 {
        match self {
            Payload::Bytes(b) => b.len() as u64,
            Payload::Seeded { len, .. } => *len,
            Payload::AllBytes => 256,
        }
    }

    /// True for a payload of zero bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How a `send` is cut into writes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Chunking {
    /// Write sizes, used in turn and cycled; empty means "as large as the socket takes".
    pub sizes: Vec<u32>,
    /// Pause between writes, in milliseconds (scaled by `--time-scale`).
    pub pause_ms: u64,
}

/// An address family: which loopback address a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    /// 127.0.0.1.
    Ipv4,
    /// ::1.
    Ipv6,
}

impl IpFamily {
    /// The family's spelling in spec files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
        }
    }

    /// The loopback address of the family.
    pub fn loopback(self) -> std::net::IpAddr {
        match self {
            IpFamily::Ipv4 => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpFamily::Ipv6 => std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        }
    }

    /// The family of `ip`.
    pub fn of(ip: std::net::IpAddr) -> IpFamily {
        if ip.is_ipv4() {
            IpFamily::Ipv4
        } else {
            IpFamily::Ipv6
        }
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

/// The closed set of privilege checks a `expect_priv` step can name. Each reads the server from
/// outside through `/proc`; "target" is the user and group the runner expects the server to drop
/// to (`--priv-user`, `--priv-group`), "the leader" is the launched process (its main task).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrivCheck {
    /// The listening socket is on a port below 1024, its `/proc/net/tcp{,6}` LISTEN row (and the
    /// `/proc/net/udp{,6}` row of a UDP socket on the port, if any) has uid 0 (created by root), and
    /// a process of the server whose four Uid fields are the target holds it.
    ListenBoundByRoot,
    /// The leader's real, effective, saved and filesystem uid are all the target uid.
    UidAllFour,
    /// The leader's real, effective, saved and filesystem gid are all the target gid.
    GidAllFour,
    /// The leader's supplementary groups are a subset of {target gid}.
    GroupsSubset,
    /// The leader's supplementary groups are empty.
    GroupsEmpty,
    /// The leader's CapPrm, CapEff and CapAmb are all zero.
    CapsZero,
    /// The leader's umask is the expected one (0007 unless the runner was told otherwise).
    Umask,
    /// Every task of every process of the server's process group passes the uid, gid, groups
    /// (subset), capabilities and umask checks.
    AllTasks,
    /// The server side of every open connection to the server (its ESTABLISHED row) has the
    /// target uid: no connection was accepted while root.
    AcceptedByTarget,
    /// No task of any process has 0 in any uid or gid field, nor CAP_SETUID, CAP_SETGID or
    /// CAP_SETPCAP in CapPrm, CapEff or CapAmb: it cannot regain root.
    NoRegain,
    /// A UDP socket is bound on the port (below 1024), its `/proc/net/udp{,6}` row has uid 0
    /// (bound by root), and only processes whose four Uid fields are the target hold it.
    UdpBoundByRoot,
}

/// The signals a `signal` step can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SignalName {
    /// SIGTERM: stop, gracefully.
    Term,
    /// SIGINT: interrupted from the terminal.
    Int,
    /// SIGHUP: hang-up (often "reload").
    Hup,
    /// SIGKILL: ends the process at once.
    Kill,
    /// SIGSTOP: freezes the server (sent to its whole process group) until `CONT`.
    Stop,
    /// SIGCONT: thaws a stopped server (sent to its whole process group).
    Cont,
}

impl SignalName {
    /// Every signal a spec may name.
    pub const ALL: [SignalName; 6] = [
        SignalName::Term,
        SignalName::Int,
        SignalName::Hup,
        SignalName::Kill,
        SignalName::Stop,
        SignalName::Cont,
    ];

    /// The name as written in spec files (`TERM`).
    pub fn as_str(self) -> &'static str {
        match self {
            SignalName::Term => "TERM",
            SignalName::Int => "INT",
            SignalName::Hup => "HUP",
            SignalName::Kill => "KILL",
            SignalName::Stop => "STOP",
            SignalName::Cont => "CONT",
        }
    }

    /// The signal's number on Linux.
    pub fn number(self) -> i32 {
        match self {
            SignalName::Term => 15,
            SignalName::Int => 2,
            SignalName::Hup => 1,
            SignalName::Kill => 9,
            SignalName::Stop => 19,
            SignalName::Cont => 18,
        }
    }

    /// True for the signals that may end the server (all but `STOP` and `CONT`).
    pub fn may_end(self) -> bool {
        !matches!(self, SignalName::Stop | SignalName::Cont)
    }
}

/// Every privilege check, in the order the case file header documents them.
pub const ALL_PRIV_CHECKS: [PrivCheck; 11] = [
    PrivCheck::ListenBoundByRoot,
    PrivCheck::UidAllFour,
    PrivCheck::GidAllFour,
    PrivCheck::GroupsSubset,
    PrivCheck::GroupsEmpty,
    PrivCheck::CapsZero,
    PrivCheck::Umask,
    PrivCheck::AllTasks,
    PrivCheck::AcceptedByTarget,
    PrivCheck::NoRegain,
    PrivCheck::UdpBoundByRoot,
];

impl PrivCheck {
    /// The check's spelling in spec files.
    pub fn as_str(self) -> &'static str {
        match self {
            PrivCheck::ListenBoundByRoot => "listen-bound-by-root",
            PrivCheck::UidAllFour => "uid-all-four",
            PrivCheck::GidAllFour => "gid-all-four",
            PrivCheck::GroupsSubset => "groups-subset",
            PrivCheck::GroupsEmpty => "groups-empty",
            PrivCheck::CapsZero => "caps-zero",
            PrivCheck::Umask => "umask",
            PrivCheck::AllTasks => "all-tasks",
            PrivCheck::AcceptedByTarget => "accepted-by-target",
            PrivCheck::NoRegain => "no-regain",
            PrivCheck::UdpBoundByRoot => "udp-bound-by-root",
        }
    }

    /// The check named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<PrivCheck> {
        ALL_PRIV_CHECKS.into_iter().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for PrivCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

    /// True for steps that observe the server process and so need a `process` case.
    pub fn is_process_step(&self) -> bool {
        matches!(
            self,
            Step::ExpectExit { .. }
                | Step::ExpectPriv { .. }
                | Step::ExpectBindDenied
                | Step::Mark
                | Step::ExpectResources { .. }
                | Step::ExpectRss { .. }
                | Step::ExpectCpu { .. }
                | Step::Signal { .. }
                | Step::ExpectGroupEmpty
                | Step::Restart { .. }
        )
    }

    /// True for the steps that speak UDP.
    pub fn is_udp_step(&self) -> bool {
        match self {
            Step::UdpOpen { .. }
            | Step::UdpOn { .. }
            | Step::UdpSend { .. }
            | Step::UdpExpectEcho
            | Step::UdpExpectNone { .. }
            | Step::UdpClose
            | Step::UdpBurst { .. } => true,
            Step::Repeat { steps, .. } => steps.iter().any(Step::is_udp_step),
            _ => false,
        }
    }

    /// True for steps that need the runner to be root and to know the privilege target.
    pub fn is_privilege_step(&self) -> bool {
        match self {
            Step::ExpectPriv { .. } | Step::ExpectBindDenied => true,
            Step::Repeat { steps, .. } => steps.iter().any(Step::is_privilege_step),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Spec;

    fn waits(id: &str) -> u64 {
        let spec = Spec::embedded().expect("the embedded spec");
        let case = spec.cases.iter().find(|c| c.id == id).expect(id);
        case.waits_at_least_ms()
    }

    #[test]
    fn designed_waits_count_sleeps_silences_stalls_and_pauses_between_writes() {
        assert_eq!(waits("stream.idle-pause"), 2000);
        assert_eq!(waits("echo.no-banner"), 500);
        // "dribbled one byte at a time": 27 one-byte writes, 26 pauses of 15 ms between them.
        assert_eq!(waits("echo.dribble.one-byte"), 26 * 15);
        // Ten stalls of 100 ms, then a 100 ms sleep.
        assert_eq!(waits("hostile.reset-during-echo"), 1100);
        assert_eq!(waits("echo.text.short"), 0);
    }
}
