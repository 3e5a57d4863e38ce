//! The command line of `echo-server`: raw clap flags ([`Flags`]) validated into one
//! [`Config`] that the models read.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use clap::Parser;

use crate::claims::{Claims, Concurrency};
use crate::exit::{self, coded};
use crate::models::Model;
use crate::privilege::{self, GroupChoice, Plan};
use crate::session::Session;
use crate::transform::Transform;
use crate::transport::Transport;

/// Raw flags, exactly as clap parses them.
#[derive(Debug, Parser)]
#[command(
    name = "echo-server",
    version,
    about = "Reference TCP and UDP echo servers (RFC 862), one per classic server model",
    after_help = "Exit status: 0 clean shutdown, 1 runtime error, 2 usage, \
                  77 bind refused (EACCES), 78 privilege drop failed."
)]
pub struct Flags {
    /// The server model to run.
    #[arg(long, value_enum, required_unless_present = "list_models")]
    pub model: Option<Model>,
    /// The port to listen on (required, except for privdrop whose default is 7).
    #[arg(long)]
    pub port: Option<u16>,
    /// The address to bind: 127.0.0.1, ::1, 0.0.0.0 or ::.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Force the oneshot session: one read of at most 1024 bytes, one reply, close.
    #[arg(long, conflicts_with = "stream")]
    pub oneshot: bool,
    /// Force the stream session: echo everything until the client closes.
    #[arg(long)]
    pub stream: bool,
    /// What to do to the echoed bytes.
    #[arg(long, value_enum, default_value_t)]
    pub transform: Transform,
    /// The service to run: tcp, udp, or both on the same port number (default tcp).
    #[arg(long, value_enum, conflicts_with = "udp")]
    pub transport: Option<Transport>,
    /// Shorthand for `--transport udp`.
    #[arg(long)]
    pub udp: bool,
    /// Worker processes for the prefork model.
    #[arg(long, default_value_t = 20)]
    pub workers: usize,
    /// The most simultaneous connections (threaded, event loops, tokio).
    #[arg(long)]
    pub max_conns: Option<usize>,
    /// Drop root privileges to this user after binding.
    #[arg(long)]
    pub user: Option<String>,
    /// The group to drop to (default: the user's primary group).
    #[arg(long)]
    pub group: Option<String>,
    /// The umask to set after the drop, in octal (007 or 0o007; default 007).
    #[arg(long)]
    pub umask: Option<String>,
    /// Print this configuration's claims as one line and exit.
    #[arg(long)]
    pub claims: bool,
    /// Print every model with a one-line description and exit.
    #[arg(long)]
    pub list_models: bool,
}

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The model to run.
    pub model: Model,
    /// Where to listen.
    pub addr: SocketAddr,
    /// The session shape, after `--oneshot`/`--stream` and the model default.
    pub session: Session,
    /// The transform applied to every reply.
    pub transform: Transform,
    /// TCP, UDP or both.
    pub transport: Transport,
    /// Worker processes (prefork only).
    pub workers: usize,
    /// The simultaneous-connection cap.
    pub max_conns: usize,
    /// The privilege drop to perform after binding, if any.
    pub privilege: Option<Plan>,
}

impl Config {
    /// Validates `flags`. `--port` may be left out only when printing claims or for privdrop.
    pub fn from_flags(flags: &Flags) -> anyhow::Result<Config> {
        let model = flags
            .model
            .ok_or_else(|| coded(exit::USAGE, "--model is required"))?;
        let port = match (flags.port, model) {
            (Some(port), _) => port,
            (None, Model::Privdrop) => 7,
            (None, _) if flags.claims => 0,
            (None, _) => return Err(coded(exit::USAGE, "--port is required")),
        };
        let session = if flags.oneshot {
            Session::Oneshot
        } else if flags.stream {
            Session::Stream
        } else {
            model.default_session()
        };
        if flags.workers == 0 {
            return Err(coded(exit::USAGE, "--workers must be at least 1"));
        }
        let transport = match (flags.udp, flags.transport) {
            (true, _) => Transport::Udp,
            (false, transport) => transport.unwrap_or_default(),
        };
        check_transport(model, transport, flags.transform)?;
        let max_conns = flags.max_conns.unwrap_or_else(|| model.default_max_conns());
        if max_conns == 0 {
            return Err(coded(exit::USAGE, "--max-conns must be at least 1"));
        }
        Ok(Config {
            model,
            addr: SocketAddr::new(flags.bind, port),
            session,
            transform: flags.transform,
            transport,
            workers: flags.workers,
            max_conns: model.cap_max_conns(max_conns),
            privilege: privilege_plan(flags, model)?,
        })
    }

    /// The claims this configuration makes.
    pub fn claims(&self) -> Claims {
        let concurrency = match self.model.concurrency() {
            // Each oneshot worker serves one client at a time; stream workers too.
            _ if self.model == crate::models::Model::Prefork => Concurrency::Pool(self.workers),
            c => c,
        };
        Claims {
            session: self.session,
            lifetime: self.model.lifetime(),
            concurrency,
            transform: self.transform,
            privileged: self.privilege.is_some(),
            c10k: self.model.scales_to_c10k()
                && self.session == Session::Stream
                && concurrency == Concurrency::Concurrent
                && self.max_conns >= 10_000,
            transport: self.transport,
            dual_stack: matches!(self.addr.ip(), IpAddr::V6(ip) if ip.is_unspecified()),
        }
    }
}

/// Refuses a transport the model does not serve, and a transform on the UDP service (which
/// echoes byte-exact only).
fn check_transport(model: Model, transport: Transport, transform: Transform) -> anyhow::Result<()> {
    if !model.serves(transport) {
        let able: Vec<&str> = Model::ALL
            .iter()
            .filter(|m| m.serves(transport))
            .map(|m| m.name())
            .collect();
        return Err(coded(
            exit::USAGE,
            format!(
                "the {} model cannot serve --transport {}; models that can: {}",
                model.name(),
                transport.as_str(),
                able.join(", ")
            ),
        ));
    }
    if transport.has_udp() && transform != Transform::Identity {
        return Err(coded(
            exit::USAGE,
            format!(
                "--transform {} cannot be combined with --transport {}: the udp service echoes byte-exact",
                transform.as_str(),
                transport.as_str()
            ),
        ));
    }
    Ok(())
}

fn privilege_plan(flags: &Flags, model: Model) -> anyhow::Result<Option<Plan>> {
    let umask = match &flags.umask {
        Some(text) => privilege::parse_umask(text)?,
        None => privilege::DEFAULT_UMASK,
    };
    let (user, group) = match (&flags.user, model) {
        (Some(user), _) => {
            let group = match &flags.group {
                Some(g) => GroupChoice::Named(g.clone()),
                None if model == Model::Privdrop => GroupChoice::NamedOrPrimary("nogroup".into()),
                None => GroupChoice::Primary,
            };
            (user.clone(), group)
        }
        (None, Model::Privdrop) => {
            let group = match &flags.group {
                Some(g) => GroupChoice::Named(g.clone()),
                None => GroupChoice::NamedOrPrimary("nogroup".into()),
            };
            ("nobody".to_owned(), group)
        }
        (None, _) if flags.group.is_some() || flags.umask.is_some() => {
            return Err(coded(exit::USAGE, "--group and --umask need --user"));
        }
        (None, _) => return Ok(None),
    };
    Ok(Some(Plan { user, group, umask }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(args: &[&str]) -> String {
        let mut argv = vec!["echo-server"];
        argv.extend_from_slice(args);
        let flags = Flags::try_parse_from(argv).unwrap();
        Config::from_flags(&flags).unwrap().claims().to_string()
    }

    #[test]
    fn default_claims_per_model() {
        let table = [
            ("basic", "stream,single,sequential,identity,unprivileged"),
            (
                "sequential",
                "oneshot,forever,sequential,identity,unprivileged",
            ),
            (
                "handler",
                "oneshot,forever,sequential,identity,unprivileged",
            ),
            (
                "threaded",
                "stream,forever,concurrent,identity,unprivileged",
            ),
            ("prefork", "oneshot,forever,pool=20,identity,unprivileged"),
            ("select", "stream,forever,concurrent,identity,unprivileged"),
            (
                "poll",
                "stream,forever,concurrent,identity,unprivileged,c10k",
            ),
            (
                "epoll",
                "stream,forever,concurrent,identity,unprivileged,c10k",
            ),
            (
                "tokio",
                "stream,forever,concurrent,identity,unprivileged,c10k",
            ),
            ("privdrop", "stream,forever,sequential,identity,privileged"),
        ];
        for (model, expected) in table {
            assert_eq!(claims(&["--model", model, "--claims"]), expected, "{model}");
        }
    }

    #[test]
    fn flags_change_claims() {
        assert_eq!(
            claims(&["--model", "epoll", "--oneshot", "--claims"]),
            "oneshot,forever,concurrent,identity,unprivileged"
        );
        assert_eq!(
            claims(&["--model", "handler", "--transform", "uppercase", "--claims"]),
            "oneshot,forever,sequential,uppercase,unprivileged"
        );
        assert_eq!(
            claims(&["--model", "prefork", "--stream", "--user", "nobody", "--claims"]),
            "stream,forever,pool=20,identity,privileged"
        );
        assert_eq!(
            claims(&["--model", "poll", "--max-conns", "100", "--claims"]),
            "stream,forever,concurrent,identity,unprivileged"
        );
    }

    #[test]
    fn transport_and_family_claims() {
        assert_eq!(
            claims(&["--model", "tokio", "--udp", "--claims"]),
            "stream,forever,concurrent,identity,unprivileged,c10k,udp"
        );
        assert_eq!(
            claims(&[
                "--model",
                "epoll",
                "--transport",
                "both",
                "--bind",
                "::",
                "--claims"
            ]),
            "stream,forever,concurrent,identity,unprivileged,c10k,tcp,udp,dual-stack"
        );
        assert_eq!(
            claims(&["--model", "threaded", "--bind", "::", "--claims"]),
            "stream,forever,concurrent,identity,unprivileged,dual-stack"
        );
        assert_eq!(
            claims(&["--model", "sequential", "--transport", "udp", "--claims"]),
            "oneshot,forever,sequential,identity,unprivileged,udp"
        );
        assert_eq!(
            claims(&[
                "--model",
                "tokio",
                "--transport",
                "tcp",
                "--bind",
                "::1",
                "--claims"
            ]),
            "stream,forever,concurrent,identity,unprivileged,c10k"
        );
        assert_eq!(
            claims(&["--model", "sequential", "--udp", "--bind", "::", "--claims"]),
            "oneshot,forever,sequential,identity,unprivileged,udp,dual-stack"
        );
    }

    fn usage_error(args: &[&str]) -> String {
        let mut argv = vec!["echo-server"];
        argv.extend_from_slice(args);
        let flags = Flags::try_parse_from(argv).unwrap();
        let err = Config::from_flags(&flags).unwrap_err();
        assert_eq!(exit::code_of(&err), exit::USAGE, "{args:?}");
        err.to_string()
    }

    #[test]
    fn transport_needs_a_model_that_serves_it() {
        let msg = usage_error(&["--model", "threaded", "--udp", "--port", "1"]);
        assert_eq!(
            msg,
            "the threaded model cannot serve --transport udp; models that can: sequential, epoll, tokio"
        );
        let msg = usage_error(&[
            "--model",
            "sequential",
            "--transport",
            "both",
            "--port",
            "1",
        ]);
        assert_eq!(
            msg,
            "the sequential model cannot serve --transport both; models that can: epoll, tokio"
        );
        for model in ["basic", "handler", "prefork", "select", "poll", "privdrop"] {
            usage_error(&["--model", model, "--transport", "udp", "--port", "1"]);
            usage_error(&["--model", model, "--transport", "both", "--port", "1"]);
        }
        let msg = usage_error(&[
            "--model",
            "epoll",
            "--udp",
            "--port",
            "1",
            "--transform",
            "uppercase",
        ]);
        assert!(msg.starts_with("--transform uppercase cannot"), "{msg}");
        usage_error(&[
            "--model",
            "tokio",
            "--transport",
            "both",
            "--port",
            "1",
            "--transform",
            "prefix",
        ]);
        assert!(Flags::try_parse_from([
            "echo-server",
            "--model",
            "epoll",
            "--udp",
            "--transport",
            "both"
        ])
        .is_err());
    }

    #[test]
    fn port_is_required() {
        let flags = Flags::try_parse_from(["echo-server", "--model", "threaded"]).unwrap();
        let err = Config::from_flags(&flags).unwrap_err();
        assert_eq!(exit::code_of(&err), exit::USAGE);
        let flags = Flags::try_parse_from(["echo-server", "--model", "privdrop"]).unwrap();
        assert_eq!(Config::from_flags(&flags).unwrap().addr.port(), 7);
        assert!(Flags::try_parse_from([
            "echo-server",
            "--model",
            "basic",
            "--oneshot",
            "--stream"
        ])
        .is_err());
    }
}
