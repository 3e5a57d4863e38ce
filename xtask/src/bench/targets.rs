//! The servers of the bench: the loopback ceilings, the peers, the reference models (a second time
//! as UDP-only servers when they serve UDP) and the user's servers. The reference models are the
//! targets of `reference-servers/targets.toml` that run a model as it is; their claims say which
//! loads they take.

use super::loads::Role;
use crate::targets::RefTarget;
use anyhow::Context;
use std::path::Path;

/// One server of the bench: its name in the table, its command line with `{port}`, its role.
pub struct Target {
    /// The name in the table.
    pub name: String,
    /// The command line, `{port}` standing for the port of each launch.
    pub argv: Vec<String>,
    /// Which loads it takes.
    pub role: Role,
}

/// Reference targets that run a model as it is, forever and without root, yet are not
/// benchmarked, with why.
const NOT_BENCHED: &[(&str, &str)] = &[(
    "handler",
    "the sequential server behind a trait: its figures are sequential's",
)];

/// The C peer's name in the table.
pub const C_PEER: &str = "c-epoll";
/// The minimal tokio echo's name in the table.
pub const TOKIO_PEER: &str = "tokio-minimal";

/// The reference models benchmarked, as (model, role): the targets of `refs` named after the
/// model they run with no flags, that serve forever (a `single` server ends after one
/// connection) and need no root, but [`NOT_BENCHED`]. A model claiming `stream` takes the
/// persistent loads, one claiming `c10k` the hold; the stream ones come first, each in file
/// order.
pub fn models(refs: &[RefTarget]) -> Vec<(&str, Role)> {
    let mut models: Vec<(&str, Role)> = refs
        .iter()
        .filter(|t| !t.root && t.claims("forever"))
        .filter(|t| !NOT_BENCHED.iter().any(|(name, _)| *name == t.name))
        .filter(|t| t.model() == Some((t.name.as_str(), Vec::new())))
        .map(|t| {
            let role = Role::Model {
                stream: t.claims("stream"),
                c10k: t.claims("c10k"),
            };
            (t.name.as_str(), role)
        })
        .collect();
    models.sort_by_key(|(_, role)| !matches!(role, Role::Model { stream: true, .. }));
    models
}

/// The reference models that serve UDP alone, benchmarked a second time as UDP targets: the
/// models of the targets of `refs` that run with `--udp` and no other flag, in file order.
pub fn udp_models(refs: &[RefTarget]) -> Vec<&str> {
    refs.iter()
        .filter(|t| !t.root)
        .filter_map(|t| t.model())
        .filter(|(_, flags)| flags == &["--udp"])
        .map(|(model, _)| model)
        .collect()
}

/// The targets: ceilings, peers, the models of `refs`, the UDP models when `udp` (the servers
/// take `--udp`), and yours (`yours`, or `yours-1`, `yours-2`, ... for several).
pub fn targets(
    bin: &Path,
    refs: &[RefTarget],
    c_peer: Option<&Path>,
    servers: &[String],
    udp: bool,
) -> anyhow::Result<Vec<Target>> {
    let mut out = peers_and_ceilings(bin, c_peer);
    let server = |model: &str, flags: &[&str]| {
        let mut argv = vec![
            bin.join("echo-server").display().to_string(),
            "--model".into(),
            model.into(),
        ];
        argv.extend(flags.iter().map(|f| f.to_string()));
        argv.extend(["--port".into(), "{port}".into()]);
        argv
    };
    for (model, role) in models(refs) {
        out.push(Target {
            name: model.into(),
            argv: server(model, &[]),
            role,
        });
    }
    if udp {
        for model in udp_models(refs) {
            out.push(Target {
                name: format!("{model} udp"),
                argv: server(model, &["--udp"]),
                role: Role::Udp,
            });
        }
    }
    out.extend(yours(servers)?);
    Ok(out)
}

/// The peers (the C one when built) and the loopback ceilings.
fn peers_and_ceilings(bin: &Path, c_peer: Option<&Path>) -> Vec<Target> {
    let mut out = Vec::new();
    if let Some(c) = c_peer {
        out.push(Target {
            name: C_PEER.into(),
            argv: vec![c.display().to_string(), "{port}".into()],
            role: Role::Peer,
        });
    }
    out.push(Target {
        name: TOKIO_PEER.into(),
        argv: vec![
            bin.join("echo-peer-tokio").display().to_string(),
            "{port}".into(),
        ],
        role: Role::Peer,
    });
    for mode in ["accept-close", "splice-pump"] {
        out.push(Target {
            name: mode.into(),
            argv: vec![
                bin.join("echo-ceiling").display().to_string(),
                "--mode".into(),
                mode.into(),
                "--port".into(),
                "{port}".into(),
            ],
            role: Role::Ceiling,
        });
    }
    out
}

/// The user's servers, from their `--server` command lines.
fn yours(servers: &[String]) -> anyhow::Result<Vec<Target>> {
    servers
        .iter()
        .enumerate()
        .map(|(i, cmd)| {
            let argv = shlex::split(cmd)
                .filter(|a| !a.is_empty())
                .with_context(|| format!("--server: cannot split `{cmd}`"))?;
            Ok(Target {
                name: if servers.len() == 1 {
                    "yours".into()
                } else {
                    format!("yours-{}", i + 1)
                },
                argv,
                role: Role::Yours,
            })
        })
        .collect()
}
