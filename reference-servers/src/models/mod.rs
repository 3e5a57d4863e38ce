//! The classic server models, one module each, and what each claims by default.

use std::net::{TcpListener, UdpSocket};

use crate::claims::{Concurrency, Lifetime};
use crate::exit::{self, coded};
use crate::flags::Config;
use crate::session::Session;
use crate::transport::Transport;

pub mod basic;
pub mod epoll;
pub mod evloop;
pub mod handler;
pub mod poll;
pub mod prefork;
pub mod privdrop;
pub mod select;
pub mod sequential;
pub mod threaded;
pub mod tokio_rt;

/// A server model, as `--model` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Model {
    /// One connection, echoed until the client closes; then exit.
    Basic,
    /// An accept loop; one read and reply per connection.
    Sequential,
    /// A socketserver-style `Handler` trait behind a sequential server.
    Handler,
    /// A thread per connection.
    Threaded,
    /// Pre-forked worker processes accepting on one inherited socket.
    Prefork,
    /// A non-blocking event loop over select(2).
    Select,
    /// A non-blocking event loop over poll(2).
    Poll,
    /// A non-blocking event loop over epoll(7).
    Epoll,
    /// Tasks on a tokio multi-threaded runtime.
    Tokio,
    /// The seed's privilege model: bind port 7 as root, drop to nobody, serve.
    Privdrop,
}

impl Model {
    /// Every model, in the order of the seed's progression.
    pub const ALL: [Model; 10] = [
        Model::Basic,
        Model::Sequential,
        Model::Handler,
        Model::Threaded,
        Model::Prefork,
        Model::Select,
        Model::Poll,
        Model::Epoll,
        Model::Tokio,
        Model::Privdrop,
    ];

    /// The name `--model` takes.
    pub fn name(self) -> &'static str {
        match self {
            Model::Basic => "basic",
            Model::Sequential => "sequential",
            Model::Handler => "handler",
            Model::Threaded => "threaded",
            Model::Prefork => "prefork",
            Model::Select => "select",
            Model::Poll => "poll",
            Model::Epoll => "epoll",
            Model::Tokio => "tokio",
            Model::Privdrop => "privdrop",
        }
    }

    /// One line for `--list-models`.
    pub fn description(self) -> &'static str {
        match self {
            Model::Basic => "accept one connection, echo until the client closes, exit 0",
            Model::Sequential => "accept loop; one read of up to 1024 bytes, reply, close",
            Model::Handler => "socketserver-style Handler trait served sequentially (--transform uppercase = the seed)",
            Model::Threaded => "a thread per connection named Thread-N; full stream echo",
            Model::Prefork => "master forks N workers that accept on one inherited socket; one read, reply, close",
            Model::Select => "non-blocking event loop over select(2); at most FD_SETSIZE descriptors",
            Model::Poll => "non-blocking event loop over poll(2)",
            Model::Epoll => "non-blocking event loop over epoll(7)",
            Model::Tokio => "tokio multi-threaded runtime sized to the available cores, a task per connection",
            Model::Privdrop => "bind port 7 as root, drop to nobody/nogroup with umask 007, serve sequentially",
        }
    }

    /// The session shape when neither `--oneshot` nor `--stream` is given.
    pub fn default_session(self) -> Session {
        match self {
            Model::Sequential | Model::Handler | Model::Prefork => Session::Oneshot,
            _ => Session::Stream,
        }
    }

    /// `single` for basic, `forever` for the rest.
    pub fn lifetime(self) -> Lifetime {
        match self {
            Model::Basic => Lifetime::Single,
            _ => Lifetime::Forever,
        }
    }

    /// Whether the model serves clients at the same time.
    pub fn concurrency(self) -> Concurrency {
        match self {
            Model::Basic | Model::Sequential | Model::Handler | Model::Privdrop => {
                Concurrency::Sequential
            }
            _ => Concurrency::Concurrent,
        }
    }

    /// Whether the model serves `transport`: every model serves TCP; sequential also serves UDP
    /// alone (a blocking loop cannot wait on two sockets), epoll and tokio serve UDP and both.
    pub fn serves(self, transport: Transport) -> bool {
        match transport {
            Transport::Tcp => true,
            Transport::Udp => matches!(self, Model::Sequential | Model::Epoll | Model::Tokio),
            Transport::Both => matches!(self, Model::Epoll | Model::Tokio),
        }
    }

    /// Whether the model can hold 10 000 idle connections (select cannot: FD_SETSIZE is 1024).
    pub fn scales_to_c10k(self) -> bool {
        matches!(self, Model::Poll | Model::Epoll | Model::Tokio)
    }

    /// The connection cap when `--max-conns` is not given.
    pub fn default_max_conns(self) -> usize {
        match self {
            Model::Threaded => 1024,
            Model::Select => select::MAX_CONNS,
            _ => 16_384,
        }
    }

    /// Clamps a requested cap to what the model can hold.
    pub fn cap_max_conns(self, requested: usize) -> usize {
        match self {
            Model::Select => requested.min(select::MAX_CONNS),
            _ => requested,
        }
    }
}

/// The bound sockets a model serves: the TCP listener, the UDP socket, or both.
#[derive(Debug)]
pub struct Sockets {
    /// The listening TCP socket, unless the transport is UDP only.
    pub tcp: Option<TcpListener>,
    /// The UDP socket, when the transport includes UDP.
    pub udp: Option<UdpSocket>,
}

/// Runs the configured model on already bound (and, if asked, privilege-dropped) sockets.
pub fn serve(config: &Config, sockets: Sockets) -> anyhow::Result<()> {
    let Sockets { tcp, udp } = sockets;
    let Some(udp) = udp else {
        let listener = tcp.ok_or_else(|| anyhow::anyhow!("no socket to serve"))?;
        return serve_tcp(config, listener);
    };
    match (config.model, tcp) {
        (Model::Sequential, None) => sequential::run_udp(&udp),
        (Model::Epoll, tcp) => epoll::serve(config, tcp, Some(udp)),
        (Model::Tokio, tcp) => tokio_rt::serve_sockets(config, tcp, Some(udp)),
        (model, _) => Err(coded(
            exit::USAGE,
            format!(
                "the {} model cannot serve --transport {}",
                model.name(),
                config.transport.as_str()
            ),
        )),
    }
}

fn serve_tcp(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    match config.model {
        Model::Basic => basic::run(config, listener),
        Model::Sequential => sequential::run(config, listener),
        Model::Handler => handler::run(config, listener),
        Model::Threaded => threaded::run(config, listener),
        Model::Prefork => prefork::run(config, listener),
        Model::Select => select::run(config, listener),
        Model::Poll => poll::run(config, listener),
        Model::Epoll => epoll::run(config, listener),
        Model::Tokio => tokio_rt::run(config, listener),
        Model::Privdrop => privdrop::run(config, listener),
    }
}
