//! The loads of the bench: each one's `echo-load` flags, the figure it compares, the ceiling that
//! bounds it, and which targets take it, by their role.

/// What a target is, which decides the loads it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A loopback ceiling (`echo-ceiling`): only the load it bounds.
    Ceiling,
    /// A reference model; `stream` models take the persistent loads, `c10k` ones the hold.
    Model { stream: bool, c10k: bool },
    /// A reference model started with `--udp`: only the datagram load.
    Udp,
    /// A comparison peer (the C epoll echo, the minimal tokio echo): the stream loads.
    Peer,
    /// The user's server: every load.
    Yours,
}

/// One load: its name, `echo-load` flags, the figure compared, the ceiling target bounding it.
pub struct Load {
    /// The load's name in the table.
    pub name: &'static str,
    /// The `echo-load` flags it runs with.
    pub flags: &'static str,
    /// The key of the `echo-load` report compared: `rate` or `throughput`.
    pub figure: &'static str,
    /// The ceiling target and load bounding it, if any.
    pub ceiling: Option<(&'static str, &'static str)>,
    /// Whether the target of this name and role takes it.
    pub takes: fn(&str, Role) -> bool,
}

/// The connect-and-close row, the ceiling of the connection-per-request one.
pub const CONNECT: &str = "connect + close ×50";

/// Every load, in the order of the table.
pub const LOADS: &[Load] = &[
    Load {
        name: CONNECT,
        flags: "--mode connect-only --connections 50",
        figure: "rate",
        ceiling: None,
        takes: |name, role| role == Role::Ceiling && name == "accept-close",
    },
    Load {
        name: "conn/request 64 B ×50",
        flags: "--mode conn-per-request --connections 50 --payload 64",
        figure: "rate",
        ceiling: Some(("accept-close", CONNECT)),
        takes: |_, role| matches!(role, Role::Model { .. } | Role::Yours | Role::Peer),
    },
    Load {
        name: "ping-pong 64 B ×10",
        flags: "--mode ping-pong --connections 10 --payload 64",
        figure: "rate",
        ceiling: Some(("splice-pump", "ping-pong 64 B ×10")),
        takes: |name, role| streams(name, role),
    },
    Load {
        name: "throughput 64 KiB ×1",
        flags: "--mode throughput --connections 1 --payload 65536",
        figure: "throughput",
        ceiling: Some(("splice-pump", "throughput 64 KiB ×1")),
        takes: |name, role| streams(name, role),
    },
    Load {
        name: "hold 10 000 idle",
        flags: "--mode hold-idle --connections 10000",
        figure: "rate",
        ceiling: None,
        takes: |_, role| matches!(role, Role::Model { c10k: true, .. } | Role::Yours),
    },
    Load {
        name: DATAGRAM,
        flags: "--mode datagram --senders 4 --window 16 --payload 64",
        figure: "rate",
        ceiling: None,
        takes: |_, role| role == Role::Udp,
    },
];

/// The UDP row: 4 senders × 16 datagrams of 64 B in flight, answered datagrams per second.
pub const DATAGRAM: &str = "datagram 64 B ×4 w16";

/// Whether the target takes the stream loads (ping-pong, throughput).
pub fn streams(name: &str, role: Role) -> bool {
    match role {
        Role::Ceiling => name == "splice-pump",
        Role::Model { stream, .. } => stream,
        Role::Yours | Role::Peer => true,
        Role::Udp => false,
    }
}
