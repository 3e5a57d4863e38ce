//! The `--family both` probe: before any case runs, a connect (or one datagram, for a UDP-only
//! server) over each loopback, on an instance launched for the probe alone, so a `single` server
//! does not spend its one connection on it. The families that do not answer become SKIPs.

use crate::plan::{Plan, Target};
use crate::schedule::FamilyGap;
use crate::server::{LaunchError, Server};
use echo_spec::{Claim, IpFamily};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// With `--family both`, the families the server does not answer on (`None` for the target's
/// own, `Some` for the twin's) and why, so their cases are skipped with that reason. A server
/// that claims `dual-stack` is not probed: its cases run, and fail where a family is missing.
pub fn unanswered(plan: &Plan) -> Result<Vec<FamilyGap>, LaunchError> {
    let Some(twin) = plan.twin else {
        return Ok(Vec::new());
    };
    if plan.claims.contains(Claim::DualStack) {
        return Ok(Vec::new());
    }
    let (_probe_server, base) = match &plan.target {
        Target::Launch(spec) => {
            let server = Server::launch(spec)?;
            let addr = server.addr;
            (Some(server), addr)
        }
        Target::Addr(addr) => (None, *addr),
    };
    let primary = IpFamily::of(base.ip());
    let mut gaps = Vec::new();
    for (over, family, other) in [(None, primary, twin), (Some(twin), twin, primary)] {
        let addr = SocketAddr::new(family.loopback(), base.port());
        if let Err(why) = answers(plan, addr) {
            gaps.push((
                over,
                format!(
                    "the server does not answer on {addr} ({why}): it serves {} only \
                     (claim `dual-stack` to make this a failure)",
                    other.as_str()
                ),
            ));
        }
    }
    Ok(gaps)
}

/// With `--addr`, a first TCP connect, so that a run against nothing stops at once (exit 3)
/// instead of failing every case with REFUSED. A `single` server is not probed: that connection
/// would be its only one.
pub fn reachable(plan: &Plan) -> Result<(), LaunchError> {
    let Target::Addr(addr) = plan.target else {
        return Ok(());
    };
    if !plan.claims.contains(Claim::Tcp) || plan.claims.contains(Claim::Single) {
        return Ok(());
    }
    answers(plan, addr).map_err(|why| LaunchError::Unreachable { addr, why })
}

/// Whether the server answers at `addr`: a TCP connect, or for a UDP-only server one datagram.
fn answers(plan: &Plan, addr: SocketAddr) -> Result<(), String> {
    let wait = Duration::from_secs_f64(2.0 * plan.time_scale);
    if plan.claims.contains(Claim::Tcp) {
        return std::net::TcpStream::connect_timeout(&addr, wait)
            .map(drop)
            .map_err(|e| format!("TCP connect: {e}"));
    }
    let mut sock =
        echo_clients::datagram::DatagramSocket::open("probe", addr).map_err(|f| f.to_string())?;
    sock.send(b"family probe".to_vec())
        .and_then(|()| sock.expect_answers(wait, Instant::now() + wait))
        .map(drop)
        .map_err(|f| format!("UDP: {f}"))
}
