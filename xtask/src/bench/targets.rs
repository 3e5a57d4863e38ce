//! The servers of the bench: the loopback ceilings, the peers, the reference models (a second time
//! as UDP-only servers when they serve UDP) and the user's servers.

use super::loads::Role;
use anyhow::Context;

/// One server of the bench: its name in the table, its command line with `{port}`, its role.
pub struct Target {
    /// The name in the table.
    pub name: String,
    /// The command line, `{port}` standing for the port of each launch.
    pub argv: Vec<String>,
    /// Which loads it takes.
    pub role: Role,
}

/// The reference models that serve UDP, benchmarked a second time with `--udp`.
pub const UDP_MODELS: &[&str] = &["sequential", "epoll", "tokio"];

/// The reference models: name, flags after `--model`, stream, c10k.
pub const MODELS: &[(&str, &str, bool, bool)] = &[
    ("threaded", "threaded", true, false),
    ("select", "select", true, false),
    ("poll", "poll", true, true),
    ("epoll", "epoll", true, true),
    ("tokio", "tokio", true, true),
    ("sequential", "sequential", false, false),
    ("prefork", "prefork", false, false),
];

/// The C peer's name in the table.
pub const C_PEER: &str = "c-epoll";
/// The minimal tokio echo's name in the table.
pub const TOKIO_PEER: &str = "tokio-minimal";

/// The targets: ceilings, peers, models, the UDP models when `udp` (the servers take `--udp`),
/// and yours (`yours`, or `yours-1`, `yours-2`, ... for several).
pub fn targets(
    bin: &std::path::Path,
    c_peer: Option<&std::path::Path>,
    servers: &[String],
    udp: bool,
) -> anyhow::Result<Vec<Target>> {
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
    for (name, flags, stream, c10k) in MODELS {
        let mut argv = vec![
            bin.join("echo-server").display().to_string(),
            "--model".into(),
        ];
        argv.extend(flags.split_whitespace().map(String::from));
        argv.extend(["--port".into(), "{port}".into()]);
        out.push(Target {
            name: (*name).into(),
            argv,
            role: Role::Model {
                stream: *stream,
                c10k: *c10k,
            },
        });
    }
    if udp {
        for model in UDP_MODELS {
            out.push(Target {
                name: format!("{model} udp"),
                argv: vec![
                    bin.join("echo-server").display().to_string(),
                    "--model".into(),
                    (*model).into(),
                    "--udp".into(),
                    "--port".into(),
                    "{port}".into(),
                ],
                role: Role::Udp,
            });
        }
    }
    for (i, cmd) in servers.iter().enumerate() {
        let argv = shlex::split(cmd)
            .filter(|a| !a.is_empty())
            .with_context(|| format!("--server: cannot split `{cmd}`"))?;
        out.push(Target {
            name: if servers.len() == 1 {
                "yours".into()
            } else {
                format!("yours-{}", i + 1)
            },
            argv,
            role: Role::Yours,
        });
    }
    Ok(out)
}
