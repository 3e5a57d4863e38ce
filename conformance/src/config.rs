//! A run's settings checked and turned into a [`RunConfig`]; every error here is a usage error
//! (exit 2) that names the setting as its `run` flag.

use crate::plan::{Plan, Planned, RerunBudget, Target};
use crate::run::{Family, Server, Settings};
use crate::server::LaunchSpec;
use echo_clients::Transform;
use echo_spec::{Claim, ClaimSet, IpFamily, Level, Spec};
use globset::Glob;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// A usage error: the message names the flag and the value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A checked `run` invocation.
#[derive(Debug)]
pub struct RunConfig {
    /// What to run and against what.
    pub plan: Plan,
    /// How the target was given, for the report.
    pub target_text: String,
    /// Gate on SHOULD cases.
    pub strict: bool,
    /// The declared transform claim.
    pub transform_claim: Claim,
    /// The privilege target, or why there is none.
    pub privilege: Result<crate::privilege::PrivTarget, String>,
    /// `--require-root`.
    pub require_root: bool,
}

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

/// Parses a claim list plus an optional `--transform`.
pub fn claims(list: &str, transform: Option<&str>) -> Result<ClaimSet, UsageError> {
    let mut text = list.to_string();
    if let Some(t) = transform {
        text = format!("{text},{t}");
    }
    text.parse::<ClaimSet>()
        .map_err(|e| usage(format!("--claims: {e}")))
}

/// Checks `args` against `spec`.
pub(crate) fn run_config(args: &Settings, spec: &Spec) -> Result<RunConfig, UsageError> {
    let claims = claims(&args.claims, args.transform.as_deref())?;
    let transform_claim = [Claim::Uppercase, Claim::Prefix]
        .into_iter()
        .find(|c| claims.contains(*c))
        .unwrap_or(Claim::Identity);
    let transform = match transform_claim {
        Claim::Uppercase => Transform::Uppercase,
        Claim::Prefix => {
            let re = regex::bytes::Regex::new(&format!("^(?:{})", args.prefix_regex))
                .map_err(|e| usage(format!("--prefix-regex: {e}")))?;
            Transform::Prefix(re)
        }
        _ => Transform::Identity,
    };
    if !(args.time_scale > 0.0 && args.time_scale <= 100.0) {
        return Err(usage(format!(
            "--time-scale: {} is outside (0, 100]",
            args.time_scale
        )));
    }
    if args.jobs == 0 || args.jobs > 64 {
        return Err(usage(format!("--jobs: {} is outside 1..=64", args.jobs)));
    }
    if !(args.ready_timeout > 0.0 && args.ready_timeout <= 600.0) {
        return Err(usage(format!(
            "--ready-timeout: {} is outside (0, 600]",
            args.ready_timeout
        )));
    }
    let umask = crate::privilege::parse_umask(&args.priv_umask).map_err(usage)?;
    if args.priv_port == 0 || args.priv_port >= 1024 {
        return Err(usage(format!(
            "--priv-port: {} is not a privileged port (1..=1023)",
            args.priv_port
        )));
    }
    let privilege = crate::privilege::resolve(
        &args.priv_user,
        args.priv_group.as_deref(),
        umask,
        args.priv_port,
    );
    let privilege_skip = crate::privilege::skip_reason(&privilege);
    let root = crate::privilege::is_root();
    let (target, target_text) = match &args.server {
        Server::Command(cmd) => {
            let mut spec = launch_spec(cmd, args)?;
            spec.tcp = claims.contains(Claim::Tcp);
            spec.udp = claims.contains(Claim::Udp);
            // `{port}` is the privileged port only where the server can bind it: root, claiming `privileged`.
            if root && claims.contains(Claim::Privileged) {
                spec.port = Some(args.priv_port);
            }
            if root {
                spec.launch_groups = Some(crate::privilege::LAUNCH_GROUPS.to_vec());
            }
            spec.privilege = privilege.clone().ok();
            (Target::Launch(spec), cmd.clone())
        }
        Server::Addr(addr) => {
            let resolved = address(addr, args.allow_remote)?;
            let family = IpFamily::of(resolved.ip());
            let wanted = match args.family {
                Some(Family::V4) => Some(("4", IpFamily::Ipv4)),
                Some(Family::V6) => Some(("6", IpFamily::Ipv6)),
                _ => None,
            };
            if let Some((flag, want)) = wanted.filter(|(_, want)| *want != family) {
                return Err(usage(format!(
                    "--family {flag}: --addr {addr} is an {} address, not {}",
                    family.as_str(),
                    want.as_str()
                )));
            }
            if args.family == Some(Family::Both) && !resolved.ip().is_loopback() {
                return Err(usage(format!(
                    "--family both: --addr {addr} is not a loopback address, and the second family's \
                     cases would go to this machine's own loopback"
                )));
            }
            (Target::Addr(resolved), addr.clone())
        }
    };
    let mut cases = select(spec, &args.cases, &args.levels, args.heavy, &claims)?;
    let primary = match &target {
        Target::Launch(spec) => IpFamily::of(spec.host),
        Target::Addr(addr) => IpFamily::of(addr.ip()),
    };
    let other = match primary {
        IpFamily::Ipv4 => IpFamily::Ipv6,
        IpFamily::Ipv6 => IpFamily::Ipv4,
    };
    let twin = (args.family == Some(Family::Both)).then_some(other);
    if let Some(twin) = twin {
        cases = with_twins(cases, twin);
    }
    crate::property::check_overrides(args.seed, args.prop_cases).map_err(usage)?;
    crate::property::apply_overrides(&mut cases, args.seed, args.prop_cases);
    Ok(RunConfig {
        plan: Plan {
            target,
            claims,
            transform,
            cases,
            detect: args.detect,
            time_scale: args.time_scale,
            jobs: args.jobs,
            privilege_skip,
            regressions: args.emit_regressions.clone(),
            twin,
            rerun_budget: RerunBudget::default(),
        },
        privilege,
        require_root: args.require_root,
        target_text,
        strict: args.strict,
        transform_claim,
    })
}

fn launch_spec(cmd: &str, args: &Settings) -> Result<LaunchSpec, UsageError> {
    let argv = shlex::split(cmd)
        .ok_or_else(|| usage(format!("--cmd: cannot split `{cmd}` (unbalanced quotes?)")))?;
    if argv.is_empty() {
        return Err(usage("--cmd: the command is empty"));
    }
    if !argv.iter().any(|a| a.contains("{port}")) {
        return Err(usage(format!("--cmd: `{cmd}` has no `{{port}}`; put it where the server takes its port, e.g. `my-server --port {{port}}`")));
    }
    let ready_line = match &args.ready_line {
        Some(re) => Some(regex::Regex::new(re).map_err(|e| usage(format!("--ready-line: {e}")))?),
        None => None,
    };
    let (host, bind) = match args.family.unwrap_or(Family::V4) {
        Family::V4 => (IpFamily::Ipv4.loopback(), IpFamily::Ipv4.loopback()),
        Family::V6 => (IpFamily::Ipv6.loopback(), IpFamily::Ipv6.loopback()),
        Family::Both => (
            IpFamily::Ipv4.loopback(),
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        ),
    };
    Ok(LaunchSpec {
        argv,
        host,
        bind,
        tcp: true,
        udp: false,
        ready_line,
        ready_timeout: Duration::from_secs_f64(args.ready_timeout * args.time_scale),
        grace: Duration::from_secs(2),
        port: None,
        launch_groups: None,
        privilege: None,
        rlimit_nofile: None,
        inherited_nofile: crate::os::original_nofile_limit(),
    })
}

/// With `--family both`: every case, then a twin of each that runs over `twin` (its reported id,
/// [`Planned::id`], gets `@ipv6` or `@ipv4`). A case whose steps choose their families
/// themselves gets no twin.
pub fn with_twins(cases: Vec<Planned>, twin: IpFamily) -> Vec<Planned> {
    let twins: Vec<Planned> = cases
        .iter()
        .filter(|p| !p.picks_its_families())
        .map(|p| Planned {
            over: Some(twin),
            ..p.clone()
        })
        .collect();
    cases.into_iter().chain(twins).collect()
}

/// Resolves HOST:PORT and refuses non-loopback hosts unless allowed.
pub fn address(text: &str, allow_remote: bool) -> Result<SocketAddr, UsageError> {
    let addr = text
        .to_socket_addrs()
        .map_err(|e| usage(format!("--addr: `{text}` is not HOST:PORT ({e})")))?
        .next()
        .ok_or_else(|| usage(format!("--addr: `{text}` resolves to no address")))?;
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(usage(format!(
            "--addr: {} is not a loopback address; echo-conform sends heavy and hostile traffic, so it only targets \
             127.0.0.0/8 or ::1 unless --allow-remote is given",
            addr.ip()
        )));
    }
    if addr.port() == 0 {
        return Err(usage("--addr: port 0 is not a server's port"));
    }
    Ok(addr)
}

/// Selects cases by glob and level, marking which ones `claims` satisfies. Cases tagged `heavy`
/// are left out unless `heavy` is set or a `--case` glob is given (which then selects them too).
pub fn select(
    spec: &Spec,
    globs: &[String],
    levels: &[Level],
    heavy: bool,
    claims: &ClaimSet,
) -> Result<Vec<Planned>, UsageError> {
    let mut matchers = Vec::new();
    for g in globs {
        let m = Glob::new(g)
            .map_err(|e| usage(format!("--case: {e}")))?
            .compile_matcher();
        if !spec.cases.iter().any(|c| m.is_match(&c.id)) {
            return Err(usage(format!(
                "--case: no case id matches `{g}` (see `echo-conform list`)"
            )));
        }
        matchers.push(m);
    }
    let wanted = levels;
    Ok(spec
        .cases
        .iter()
        .filter(|c| matchers.is_empty() || matchers.iter().any(|m| m.is_match(&c.id)))
        .filter(|c| wanted.is_empty() || wanted.contains(&c.level))
        .filter(|c| heavy || !matchers.is_empty() || !c.is_heavy())
        .map(|c| Planned {
            // Against a pool, a case that needs concurrency runs at the pool's size.
            case: claims
                .pool()
                .and_then(|n| echo_spec::scaled_to_pool(c, n))
                .unwrap_or_else(|| c.clone()),
            claimed: claims.satisfies(&c.requires),
            over: None,
        })
        .collect())
}

/// Reads `--level` values (each may be empty, as `--level ""` is): must, should, may, info.
pub fn levels(texts: &[String]) -> Result<Vec<Level>, UsageError> {
    texts
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.trim() {
            "must" => Ok(Level::Must),
            "should" => Ok(Level::Should),
            "may" => Ok(Level::May),
            "info" => Ok(Level::Info),
            other => Err(usage(format!(
                "--level: unknown level `{other}` (must, should, may, info)"
            ))),
        })
        .collect()
}
