//! The kernel's side of a crowd that was not served: the listener's accept queue and the listen
//! counters, so that a connection the client saw established but the server never accepted is
//! explained by its cause (a short `listen()` backlog, or an accept loop that stopped).

use crate::os::netns;
use crate::os::sockdiag::accept_queue;
use crate::os::tcpext::ListenCounters;
use echo_clients::FailureKind;
use std::net::SocketAddr;

/// The counters before a crowd case, to compare with after it.
#[derive(Debug, Clone, Copy)]
pub struct Before(ListenCounters);

impl Before {
    /// Reads the counters now, when they can be read.
    pub fn now() -> Option<Before> {
        ListenCounters::read().map(Before)
    }
}

/// True for the failures a lost connection shows as.
pub fn may_be_lost_connections(kind: FailureKind) -> bool {
    matches!(
        kind,
        FailureKind::Hang
            | FailureKind::Stall
            | FailureKind::Connects
            | FailureKind::Refused
            | FailureKind::Reset
            | FailureKind::EarlyEof
    )
}

/// What the kernel says about the listener on `addr` since `before`, as a line of evidence, with
/// the listener's backlog and the overflows counted when the accept queue overflowed.
pub fn explain(addr: SocketAddr, before: Before) -> (String, Option<(u32, u64)>) {
    let overflow = ListenCounters::read()
        .map(|after| before.0.since(after))
        .filter(|c| c.overflows > 0)
        .and_then(|c| accept_queue(addr).ok().map(|q| (q.backlog, c.overflows)));
    (explain_text(addr, before), overflow)
}

fn explain_text(addr: SocketAddr, before: Before) -> String {
    let counted = ListenCounters::read().map(|after| before.0.since(after));
    let scope = if netns::is_private() {
        "exact: counted in the runner's own network namespace"
    } else {
        "approximate: counted for the whole network namespace, other traffic included"
    };
    let queue = accept_queue(addr);
    let Some(c) = counted else {
        return "kernel: /proc/net/netstat could not be read again, so lost connections cannot be counted".into();
    };
    let port = addr.port();
    match queue {
        Ok(q) if c.overflows > 0 => format!(
            "root cause: the server listens on port {port} with backlog {}, and the kernel counted {} \
             accept-queue overflow(s) during this case ({scope}): on a full queue the kernel drops \
             what arrives, so connections the client saw established were never accepted, and \
             connects wait on SYN retries or time out; listen with a larger backlog (128 or more). This \
             explains connections that were never served, not answers that came back wrong or cut \
             short: those, if listed above, have a cause of their own",
            q.backlog, c.overflows
        ),
        Ok(q) if q.queued > 0 => format!(
            "kernel: no accept-queue overflow during this case ({scope}), but {} connection(s) wait \
             in the accept queue of port {port} (backlog {}): the server is not calling accept()",
            q.queued, q.backlog
        ),
        Ok(q) => format!(
            "kernel: no accept-queue overflow during this case ({scope}; backlog {}, nothing waiting \
             to be accepted): the connections were accepted, so the server lost them after accept()",
            q.backlog
        ),
        Err(e) if c.overflows > 0 || c.drops > 0 => format!(
            "kernel: {} accept-queue overflow(s) and {} listen drop(s) during this case ({scope}); \
             the listener itself could not be read: {e}",
            c.overflows, c.drops
        ),
        Err(e) => format!(
            "kernel: no accept-queue overflow during this case ({scope}); the listener could not be read: {e}"
        ),
    }
}
