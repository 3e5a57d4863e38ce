//! The run as data, before anything starts: where the server is ([`Target`]), the cases selected
//! for it ([`Planned`]) and the settings the executor needs ([`Plan`]). `config` builds it from the
//! flags; `schedule` decides where each case runs; `execute` carries it out.

use crate::server::LaunchSpec;
use echo_clients::Transform;
use echo_spec::{Case, ClaimSet, IpFamily};
use std::net::SocketAddr;

/// Where the server under test is. Built once per run, so the size of `LaunchSpec` does not matter.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Target {
    /// Launched by the runner, once or many times.
    Launch(LaunchSpec),
    /// Started elsewhere.
    Addr(SocketAddr),
}

/// A case selected for the run, with whether the server claims it.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The case.
    pub case: Case,
    /// True when the server's claims satisfy the case's `requires`.
    pub claimed: bool,
    /// The family this copy of the case runs over, when it is the `--family both` twin; `None`
    /// runs it over the target's own address.
    pub over: Option<IpFamily>,
}

impl Planned {
    /// The id the reports give this copy of the case: the case's own id, with `@ipv6` (or
    /// `@ipv4`) after it for the `--family both` twin.
    pub fn id(&self) -> String {
        match self.over {
            Some(f) => format!("{}@{}", self.case.id, f.as_str()),
            None => self.case.id.clone(),
        }
    }

    /// True when the case's own steps choose the families they use (`connect_over`), so it gets
    /// no `--family both` twin.
    pub fn picks_its_families(&self) -> bool {
        self.case.kind.steps().iter().any(|s| {
            matches!(
                s,
                echo_spec::Step::ConnectOver { .. }
                    | echo_spec::Step::UdpOpen {
                        family: Some(_),
                        ..
                    }
            )
        })
    }

    /// The address this case talks to, given the server's.
    pub fn at(&self, server: SocketAddr) -> SocketAddr {
        match self.over {
            Some(f) => SocketAddr::new(f.loopback(), server.port()),
            None => server,
        }
    }
}

/// Everything the scheduler and the executor need.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The target.
    pub target: Target,
    /// The server's claims.
    pub claims: ClaimSet,
    /// The declared transform.
    pub transform: Transform,
    /// Cases in spec order; unclaimed ones run only under `detect`.
    pub cases: Vec<Planned>,
    /// Run unclaimed cases too.
    pub detect: bool,
    /// Multiplies every deadline.
    pub time_scale: f64,
    /// Cases run at once on a shared concurrent server.
    pub jobs: usize,
    /// Why privilege cases cannot run here (not root, no target user), or `None` when they can.
    pub privilege_skip: Option<String>,
    /// Where failing property cases write their shrunk steps (`--emit-regressions`).
    pub regressions: Option<std::path::PathBuf>,
    /// With `--family both`: the second family, whose twins of the cases are in `cases`.
    pub twin: Option<IpFamily>,
    /// How much re-running failures alone may cost (crash and wedge attribution).
    pub rerun_budget: RerunBudget,
}

/// The bound on confirming failures alone: at most this many fresh launches and this long in all.
#[derive(Debug, Clone, Copy)]
pub struct RerunBudget {
    /// Most fresh instances started for confirmation and attribution.
    pub launches: usize,
    /// Most time spent on them, before `--time-scale`.
    pub seconds: f64,
}

impl Default for RerunBudget {
    fn default() -> Self {
        RerunBudget {
            launches: 48,
            seconds: 180.0,
        }
    }
}
