//! Where each case runs, decided before any process starts: a pure function of the [`Plan`] (and
//! of which address families answered the probe), unit-tested without a server.
//!
//! A case is settled without running (SKIP or NOT-CLAIMED), or placed on the one shared instance
//! (beside other cases, or alone on it when it opens a crowd), or on a fresh instance of its own
//! (beside other fresh instances on ports of their own, or alone on the machine).

use crate::grade;
use crate::outcome::Verdict;
use crate::plan::{Plan, Planned, Target};
use echo_spec::{Case, CaseKind, Claim, IpFamily, Step};

/// Where one case runs.
#[derive(Debug, Clone)]
pub enum Placement {
    /// Decided without running: a SKIP with its reason, or NOT-CLAIMED.
    Settled(Verdict),
    /// On the shared instance, beside other shared cases (`--jobs` at a time on a concurrent server).
    Shared,
    /// On the shared instance, with no other case running against it: the case opens a crowd.
    SharedAlone,
    /// On a fresh instance on a port of its own; other fresh instances may run at the same time.
    FreshBeside,
    /// On a fresh instance, with nothing else running: a fixed port (the privileged one, or the
    /// bind an unprivileged start must be denied), a heavy case, or a server reached by address.
    FreshAlone,
}

/// The placement of every case, in plan order.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// One per case of the plan, at the same index.
    pub placements: Vec<Placement>,
}

impl Schedule {
    /// The indices of the cases placed as `want` says.
    pub fn indices(&self, want: fn(&Placement) -> bool) -> Vec<usize> {
        (0..self.placements.len())
            .filter(|&i| want(&self.placements[i]))
            .collect()
    }

    /// How many cases will run (are not settled).
    pub fn to_run(&self) -> usize {
        self.indices(|p| !matches!(p, Placement::Settled(_))).len()
    }
}

/// A family the server did not answer on in the `--family both` probe: `None` is the target's
/// own family, `Some` the twin's; with the reason its cases are skipped.
pub type FamilyGap = (Option<IpFamily>, String);

/// Places every case of `plan`.
pub fn schedule(plan: &Plan, gaps: &[FamilyGap]) -> Schedule {
    let placements = plan.cases.iter().map(|p| place(plan, p, gaps)).collect();
    Schedule { placements }
}

fn place(plan: &Plan, p: &Planned, gaps: &[FamilyGap]) -> Placement {
    let runs = p.claimed || plan.detect;
    if !runs {
        return Placement::Settled(grade::not_claimed());
    }
    if let Some(reason) = family_gap(plan, p, gaps) {
        return Placement::Settled(grade::skip(reason));
    }
    let process = matches!(p.case.kind, CaseKind::Process { .. });
    let steps = p.case.kind.steps();
    let launched = matches!(plan.target, Target::Launch(_));
    if process && !launched {
        return Placement::Settled(grade::skip(
            "observes the server process, which needs a launched server (--cmd)",
        ));
    }
    if launched && steps.iter().any(Step::is_privilege_step) {
        if let Some(reason) = &plan.privilege_skip {
            return Placement::Settled(grade::skip(reason.clone()));
        }
    }
    let single = plan.claims.contains(Claim::Single);
    if p.claimed && !single && !process {
        return if p.case.opens_crowd() {
            Placement::SharedAlone
        } else {
            Placement::Shared
        };
    }
    if can_run_beside_others(plan, &p.case) {
        Placement::FreshBeside
    } else {
        Placement::FreshAlone
    }
}

/// Why the case cannot run over its family, when the probe found that family unanswered (or the
/// case picks its own families and the server is remote).
fn family_gap(plan: &Plan, p: &Planned, gaps: &[FamilyGap]) -> Option<String> {
    let picks = picks_families(&p.case);
    if let Some((_, reason)) = gaps.iter().find(|(over, _)| *over == p.over && !picks) {
        return Some(reason.clone());
    }
    let remote = matches!(plan.target, Target::Addr(a) if !a.ip().is_loopback());
    (remote && picks).then(|| {
        "connects over 127.0.0.1 and ::1 of this machine, and the server is remote".to_string()
    })
}

/// True for a case whose steps choose their address family (`connect_over`, `udp_open_over`).
pub fn picks_families(case: &Case) -> bool {
    fn picks(steps: &[Step]) -> bool {
        steps.iter().any(|s| match s {
            Step::ConnectOver { .. }
            | Step::UdpOpen {
                family: Some(_), ..
            } => true,
            Step::Repeat { steps, .. } => picks(steps),
            _ => false,
        })
    }
    picks(case.kind.steps())
}

/// True when a case that needs a fresh server may run while others run on theirs.
fn can_run_beside_others(plan: &Plan, case: &Case) -> bool {
    let Target::Launch(spec) = &plan.target else {
        return false;
    };
    // A privilege check on a server given a free port observes only its own instance; the one
    // that starts it as the target user binds the privileged port itself.
    spec.port.is_none()
        && !case
            .kind
            .steps()
            .iter()
            .any(|s| matches!(s, Step::ExpectBindDenied))
        && !case.is_heavy()
}

/// What to do when a fresh instance could not be launched for a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterLaunchFailure {
    /// Try again later, alone: the server may not allow two instances at once (a fixed pid file,
    /// a lock, a second port), so a launch beside others proves nothing.
    RetryAlone,
    /// The launch failed with nothing else running: the case records it.
    Record,
}

/// The rule for a failed launch, by where the case was placed.
pub fn after_launch_failure(placement: &Placement) -> AfterLaunchFailure {
    match placement {
        Placement::FreshBeside => AfterLaunchFailure::RetryAlone,
        _ => AfterLaunchFailure::Record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Grade;
    use crate::plan::RerunBudget;
    use crate::server::LaunchSpec;
    use echo_clients::Transform;
    use echo_spec::{ClaimSet, Spec};
    use std::time::Duration;

    fn launch(port: Option<u16>) -> Target {
        Target::Launch(LaunchSpec {
            argv: vec!["server".into(), "{port}".into()],
            host: IpFamily::Ipv4.loopback(),
            bind: IpFamily::Ipv4.loopback(),
            tcp: true,
            udp: false,
            ready_line: None,
            ready_timeout: Duration::from_secs(1),
            grace: Duration::from_secs(1),
            port,
            launch_groups: None,
            privilege: None,
            rlimit_nofile: None,
            inherited_nofile: None,
        })
    }

    fn plan(claims: &str, target: Target, ids: &[&str]) -> Plan {
        let spec = Spec::embedded().expect("embedded spec");
        let claims: ClaimSet = claims.parse().expect("claims");
        let cases = ids
            .iter()
            .map(|id| {
                let case = spec
                    .get(id)
                    .unwrap_or_else(|| panic!("no case {id}"))
                    .clone();
                Planned {
                    claimed: claims.satisfies(&case.requires),
                    case,
                    over: None,
                }
            })
            .collect();
        Plan {
            target,
            claims,
            transform: Transform::Identity,
            cases,
            detect: false,
            time_scale: 1.0,
            jobs: 4,
            privilege_skip: Some("not root".into()),
            regressions: None,
            twin: None,
            rerun_budget: RerunBudget::default(),
        }
    }

    fn kinds(s: &Schedule) -> Vec<&'static str> {
        s.placements
            .iter()
            .map(|p| match p {
                Placement::Settled(v) if v.grade == Grade::Skip => "skip",
                Placement::Settled(_) => "n/c",
                Placement::Shared => "shared",
                Placement::SharedAlone => "shared-alone",
                Placement::FreshBeside => "fresh-beside",
                Placement::FreshAlone => "fresh-alone",
            })
            .collect()
    }

    const MIX: &[&str] = &[
        "echo.text.short",
        "concurrency.clients.50",
        "lifecycle.restart.same-port",
        "resources.no-leaks",
        "priv.uid.all-four",
        "scale.c10k",
        "udp.echo.one-datagram",
    ];

    #[test]
    fn a_shared_concurrent_server() {
        let p = plan("stream,forever,concurrent", launch(None), MIX);
        let s = schedule(&p, &[]);
        assert_eq!(
            kinds(&s),
            [
                "shared",
                "shared-alone",
                "fresh-beside",
                "fresh-beside",
                "n/c",
                "n/c",
                "n/c"
            ]
        );
        assert_eq!(s.to_run(), 4);
    }

    #[test]
    fn a_single_connection_server_gets_a_fresh_instance_per_case() {
        let p = plan("stream,single,sequential", launch(None), &MIX[..2]);
        let s = schedule(&p, &[]);
        assert_eq!(kinds(&s), ["fresh-beside", "n/c"]);
    }

    #[test]
    fn privileged_cases_run_alone_on_the_fixed_port_or_skip_without_root() {
        let mut p = plan(
            "privileged",
            launch(Some(7)),
            &["priv.uid.all-four", "echo.text.short"],
        );
        assert_eq!(kinds(&schedule(&p, &[])), ["skip", "shared"]);
        p.privilege_skip = None;
        assert_eq!(kinds(&schedule(&p, &[])), ["fresh-alone", "shared"]);
    }

    #[test]
    fn privilege_checks_on_a_free_port_run_beside_others_but_the_denied_bind_alone() {
        let mut p = plan(
            "stream,forever,concurrent",
            launch(None),
            &["priv.uid.all-four", "priv.nonroot.eacces"],
        );
        p.detect = true;
        p.privilege_skip = None;
        assert_eq!(kinds(&schedule(&p, &[])), ["fresh-beside", "fresh-alone"]);
    }

    #[test]
    fn heavy_cases_run_alone_and_detect_runs_unclaimed_ones_fresh() {
        let mut p = plan(
            "stream,forever,concurrent,c10k",
            launch(None),
            &["scale.c10k"],
        );
        assert_eq!(kinds(&schedule(&p, &[])), ["fresh-alone"]);
        p.claims = "stream,forever,concurrent".parse().expect("claims");
        p.cases[0].claimed = false;
        p.detect = true;
        assert_eq!(kinds(&schedule(&p, &[])), ["fresh-alone"]);
    }

    #[test]
    fn a_server_that_cannot_run_twice_is_retried_alone() {
        assert_eq!(
            after_launch_failure(&Placement::FreshBeside),
            AfterLaunchFailure::RetryAlone
        );
        assert_eq!(
            after_launch_failure(&Placement::FreshAlone),
            AfterLaunchFailure::Record
        );
    }

    #[test]
    fn an_address_target_skips_process_cases_and_family_gaps_skip_with_the_reason() {
        let addr = Target::Addr("127.0.0.1:7".parse().expect("addr"));
        let p = plan(
            "stream,forever,concurrent",
            addr,
            &["resources.no-leaks", "echo.text.short"],
        );
        let s = schedule(&p, &[(None, "no IPv4".into())]);
        assert_eq!(kinds(&s), ["skip", "skip"]);
        match &s.placements[1] {
            Placement::Settled(v) => assert_eq!(v.evidence.as_deref(), Some("no IPv4")),
            other => panic!("{other:?}"),
        }
    }
}
