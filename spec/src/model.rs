//! The typed case model: what a spec file means once parsed and validated. The steps a case
//! holds are in `step.rs`; [`Step`] and [`StepArea`] are re-exported here.

use crate::claims::Claim;
use crate::property::PropertyParams;
use serde::{Deserialize, Serialize};

pub use crate::step::{Step, StepArea};

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
