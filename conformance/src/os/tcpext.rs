//! The kernel's TCP listen counters (`TcpExt` in `/proc/net/netstat`): how many connections the
//! accept queue turned away. They count for the whole network namespace, so they are exact for the
//! runner's own namespace and approximate in a shared one.

/// The counters that explain a connection the server never accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListenCounters {
    /// `ListenOverflows`: handshakes completed while the accept queue was full.
    pub overflows: u64,
    /// `ListenDrops`: connections dropped at a listener, for any reason (overflows included).
    pub drops: u64,
    /// `SyncookiesSent`: SYN cookies sent because the SYN queue was full.
    pub syncookies: u64,
}

impl ListenCounters {
    /// The counters now, or `None` when `/proc/net/netstat` cannot be read.
    pub fn read() -> Option<ListenCounters> {
        parse(&std::fs::read_to_string("/proc/net/netstat").ok()?)
    }

    /// What happened between `self` (before) and `after`.
    pub fn since(self, after: ListenCounters) -> ListenCounters {
        ListenCounters {
            overflows: after.overflows.saturating_sub(self.overflows),
            drops: after.drops.saturating_sub(self.drops),
            syncookies: after.syncookies.saturating_sub(self.syncookies),
        }
    }
}

/// Reads the counters from the text of `/proc/net/netstat`: a `TcpExt:` line of names followed by
/// a `TcpExt:` line of values.
fn parse(text: &str) -> Option<ListenCounters> {
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().skip(1).collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().skip(1).collect();
    let get = |name: &str| -> u64 {
        names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| values.get(i))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Some(ListenCounters {
        overflows: get("ListenOverflows"),
        drops: get("ListenDrops"),
        syncookies: get("SyncookiesSent"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_named_columns_and_subtracts() {
        let text = "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops\n\
                    TcpExt: 3 0 16 17\n\
                    IpExt: InNoRoutes\nIpExt: 0\n";
        let now = parse(text).expect("parsed");
        assert_eq!(
            now,
            ListenCounters {
                overflows: 16,
                drops: 17,
                syncookies: 3
            }
        );
        let before = ListenCounters {
            overflows: 10,
            drops: 10,
            syncookies: 3,
        };
        assert_eq!(before.since(now).overflows, 6);
        assert!(parse("IpExt: a\nIpExt: 1\n").is_none());
    }

    #[test]
    fn this_machine_has_the_counters() {
        assert!(ListenCounters::read().is_some());
    }
}
