//! Reference TCP echo servers (RFC 862), one module per classic server model, and the
//! deliberately broken mutants that prove the conformance spec can tell them apart. The
//! sequential, epoll and tokio models also serve the UDP half of RFC 862 (`--transport`).
//!
//! `echo-server --model M --port P` runs a model; `echo-mutant --mutant NAME --port P` runs a
//! mutant. Both bind and listen before printing anything, then print one readiness line on
//! stderr. This crate shares no code with the kit that judges it.

pub mod accept;
pub mod accounts;
pub mod ceiling;
pub mod claims;
pub mod exit;
pub mod flags;
pub mod listener;
pub mod models;
pub mod mutants;
pub mod os;
pub mod privilege;
pub mod session;
pub mod shutdown;
pub mod transform;
pub mod transport;
pub mod udp;

use std::sync::OnceLock;

use flags::{Config, Flags};
use models::{Model, Sockets};

/// The name this process was started as (`echo-server` or `echo-mutant`), for messages.
pub fn program() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::args_os()
            .next()
            .as_deref()
            .and_then(|p| std::path::Path::new(p).file_name())
            .map_or_else(
                || "echo-server".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            )
    })
}

/// Runs `echo-server` with parsed flags: lists, prints claims, or serves until SIGTERM.
pub fn run(flags: &Flags) -> anyhow::Result<()> {
    if flags.list_models {
        let mut out = String::new();
        for model in Model::ALL {
            out.push_str(&format!("{}\t{}\n", model.name(), model.description()));
        }
        return print_stdout(&out);
    }
    let config = Config::from_flags(flags)?;
    if flags.claims {
        return print_stdout(&format!("{}\n", config.claims()));
    }
    shutdown::install()?;
    let nofile = os::raise_nofile_limit();
    if config.claims().c10k && nofile < 10_100 {
        eprintln!(
            "{}: warning: RLIMIT_NOFILE is {nofile}; the c10k claim needs more than 10 000 descriptors",
            program()
        );
    }
    let target = config
        .privilege
        .as_ref()
        .map(privilege::resolve)
        .transpose()?;
    let sockets = bind(&config)?;
    if let Some(target) = &target {
        privilege::drop_privileges(target)?;
    }
    let local = match (&sockets.tcp, &sockets.udp) {
        (Some(tcp), _) => tcp.local_addr()?,
        (None, Some(udp)) => udp.local_addr()?,
        (None, None) => config.addr,
    };
    eprintln!(
        "{}: {} listening on {local}{}",
        program(),
        config.model.name(),
        config.transport.readiness_suffix()
    );
    models::serve(&config, sockets)
}

/// Binds what the transport asks for. With `both`, UDP takes the port number the TCP listener
/// got, so `--port 0` still gives one port number for the two services.
fn bind(config: &Config) -> anyhow::Result<Sockets> {
    let tcp = (config.transport.has_tcp())
        .then(|| listener::bind(config.addr))
        .transpose()?;
    let udp_addr = match &tcp {
        Some(listener) => listener.local_addr()?,
        None => config.addr,
    };
    let udp = (config.transport.has_udp())
        .then(|| udp::bind(udp_addr))
        .transpose()?;
    Ok(Sockets { tcp, udp })
}

/// Writes `text` to stdout; a closed pipe (`echo-server --list-models | head -1`) is not an error.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
