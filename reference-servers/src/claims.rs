//! The profile a model claims, printed by `--claims` as one comma-separated line in a fixed
//! order: session, lifetime, concurrency, transform, privilege, `c10k` when claimed, then the
//! transport when it is not plain TCP (`udp`, or `tcp,udp` for both) and `dual-stack` when the
//! socket bound to `::` answers IPv4 and IPv6 clients alike.

use std::fmt;

use crate::session::Session;
use crate::transform::Transform;
use crate::transport::Transport;

/// How long the server lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// Serves connections until SIGTERM.
    Forever,
    /// Serves one connection, then exits 0.
    Single,
}

/// Whether one slow client may hold up the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    /// Clients are served at the same time.
    Concurrent,
    /// One client at a time; head-of-line blocking is part of the model.
    Sequential,
    /// Up to this many clients at a time: a pool of workers that each serve one (`pool=N`).
    Pool(usize),
}

/// Every claim of one server configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claims {
    /// `stream` or `oneshot`.
    pub session: Session,
    /// `forever` or `single`.
    pub lifetime: Lifetime,
    /// `concurrent`, `pool=N` or `sequential`.
    pub concurrency: Concurrency,
    /// `identity`, `uppercase` or `prefix`.
    pub transform: Transform,
    /// True when the server binds as root and drops to a target user (`privileged`).
    pub privileged: bool,
    /// True when 10 000 idle connections may be held while others are still served.
    pub c10k: bool,
    /// `tcp` (printed as nothing), `udp`, or both (`tcp,udp`).
    pub transport: Transport,
    /// True when bound to `::` with IPV6_V6ONLY off, so IPv4 clients are served too.
    pub dual_stack: bool,
}

impl fmt::Display for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lifetime = match self.lifetime {
            Lifetime::Forever => "forever",
            Lifetime::Single => "single",
        };
        let concurrency = match self.concurrency {
            Concurrency::Concurrent => "concurrent".to_string(),
            Concurrency::Sequential => "sequential".to_string(),
            Concurrency::Pool(1) => "sequential".to_string(),
            Concurrency::Pool(n) => format!("pool={n}"),
        };
        let privilege = if self.privileged {
            "privileged"
        } else {
            "unprivileged"
        };
        write!(
            f,
            "{},{lifetime},{concurrency},{},{privilege}",
            self.session.as_str(),
            self.transform.as_str()
        )?;
        if self.c10k {
            f.write_str(",c10k")?;
        }
        f.write_str(match self.transport {
            Transport::Tcp => "",
            Transport::Udp => ",udp",
            Transport::Both => ",tcp,udp",
        })?;
        if self.dual_stack {
            f.write_str(",dual-stack")?;
        }
        Ok(())
    }
}
