//! Which half of RFC 862 a server speaks: the TCP service, the UDP service, or both on one port
//! number, as `--transport` (or its shorthand `--udp`) names it.

/// The transport(s) a server serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// The TCP echo service only (the default).
    #[default]
    Tcp,
    /// The UDP echo service only: every datagram is answered with one datagram.
    Udp,
    /// Both services on the same port number.
    Both,
}

impl Transport {
    /// The name `--transport` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Both => "both",
        }
    }

    /// True when a TCP listener is opened.
    pub fn has_tcp(self) -> bool {
        self != Transport::Udp
    }

    /// True when a UDP socket is opened.
    pub fn has_udp(self) -> bool {
        self != Transport::Tcp
    }

    /// The suffix of the readiness line: empty for TCP, ` (udp)` or ` (tcp+udp)` otherwise.
    pub fn readiness_suffix(self) -> &'static str {
        match self {
            Transport::Tcp => "",
            Transport::Udp => " (udp)",
            Transport::Both => " (tcp+udp)",
        }
    }
}
