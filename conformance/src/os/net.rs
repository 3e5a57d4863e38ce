//! The server's TCP sockets from `/proc/PID/net/tcp{,6}` (the server's own network namespace),
//! matched to the processes holding them through `/proc/PID/fd`.

use procfs::net::{TcpNetEntries, TcpNetEntry, TcpState};
use procfs::process::{FDTarget, Process};
use procfs::FromBufReadSI;
use std::collections::BTreeMap;

/// One socket row, with the raw table line and the processes holding it.
#[derive(Debug, Clone)]
pub struct SocketRow {
    /// The parsed row.
    pub entry: TcpNetEntry,
    /// The table it came from (`/proc/12/net/tcp6`).
    pub table: String,
    /// The raw line, trimmed.
    pub line: String,
    /// The pids of the server holding it.
    pub holders: Vec<i32>,
}

impl SocketRow {
    /// The row quoted as evidence.
    pub fn quote(&self) -> String {
        format!(
            "{}: {}  (inode {}, uid {}, held by pid {:?})",
            self.table, self.line, self.entry.inode, self.entry.uid, self.holders
        )
    }
}

/// Which of `pids` hold each socket inode.
fn holders(pids: &[i32]) -> BTreeMap<u64, Vec<i32>> {
    let mut map: BTreeMap<u64, Vec<i32>> = BTreeMap::new();
    for &pid in pids {
        let Ok(fds) = Process::new(pid).and_then(|p| p.fd()) else {
            continue;
        };
        for fd in fds.flatten() {
            if let FDTarget::Socket(inode) = fd.target {
                let v = map.entry(inode).or_default();
                if !v.contains(&pid) {
                    v.push(pid);
                }
            }
        }
    }
    map
}

/// The raw line of a table whose inode column (the tenth) is `inode`.
fn raw_line(text: &str, inode: u64) -> String {
    text.lines()
        .skip(1)
        .find(|l| l.split_whitespace().nth(9) == Some(inode.to_string().as_str()))
        .map_or_else(String::new, |l| l.trim().to_string())
}

/// Every socket on local `port` held by one of `pids`, read from the tables of `pids[0]`'s namespace.
/// Each table is read once: the rows are parsed from the same text whose lines they quote.
pub fn sockets_on_port(pids: &[i32], port: u16) -> Result<Vec<SocketRow>, String> {
    let Some(&reader) = pids.first() else {
        return Ok(Vec::new());
    };
    let held = holders(pids);
    let mut rows = Vec::new();
    for name in ["tcp", "tcp6"] {
        let table = format!("/proc/{reader}/net/{name}");
        let text =
            std::fs::read_to_string(&table).map_err(|e| format!("cannot read {table}: {e}"))?;
        let TcpNetEntries(entries) =
            TcpNetEntries::from_buf_read(text.as_bytes(), procfs::current_system_info())
                .map_err(|e| format!("cannot parse {table}: {e}"))?;
        for entry in entries {
            if entry.local_address.port() != port || entry.inode == 0 {
                continue;
            }
            let Some(h) = held.get(&entry.inode) else {
                continue;
            };
            rows.push(SocketRow {
                line: raw_line(&text, entry.inode),
                table: table.clone(),
                holders: h.clone(),
                entry,
            });
        }
    }
    Ok(rows)
}

/// True for a LISTEN row.
pub fn is_listen(row: &SocketRow) -> bool {
    row.entry.state == TcpState::Listen
}

/// True for a connection the server accepted and still holds open.
pub fn is_connection(row: &SocketRow) -> bool {
    !matches!(
        row.entry.state,
        TcpState::Listen | TcpState::TimeWait | TcpState::Close
    )
}

/// One UDP socket bound on the port, with the table it came from.
#[derive(Debug, Clone)]
pub struct UdpRow {
    /// The bound address.
    pub local: std::net::SocketAddr,
    /// The table it came from (`/proc/12/net/udp6`).
    pub table: String,
    /// The uid that created the socket.
    pub uid: u32,
    /// The pids of the server holding it.
    pub holders: Vec<i32>,
}

impl UdpRow {
    /// The row quoted as evidence.
    pub fn quote(&self) -> String {
        format!(
            "{}: UDP socket bound to {} (uid {}, held by pid {:?})",
            self.table, self.local, self.uid, self.holders
        )
    }
}

/// Every UDP socket bound on local `port` held by one of `pids`, from `/proc/PID/net/udp{,6}` of
/// `pids[0]`'s namespace.
pub fn udp_sockets_on_port(pids: &[i32], port: u16) -> Result<Vec<UdpRow>, String> {
    let Some(&reader) = pids.first() else {
        return Ok(Vec::new());
    };
    let held = holders(pids);
    let mut rows = Vec::new();
    for name in ["udp", "udp6"] {
        let table = format!("/proc/{reader}/net/{name}");
        let text =
            std::fs::read_to_string(&table).map_err(|e| format!("cannot read {table}: {e}"))?;
        let procfs::net::UdpNetEntries(entries) = procfs::net::UdpNetEntries::from_buf_read(
            text.as_bytes(),
            procfs::current_system_info(),
        )
        .map_err(|e| format!("cannot parse {table}: {e}"))?;
        rows.extend(
            entries
                .into_iter()
                .filter(|e| e.local_address.port() == port)
                .filter_map(|e| {
                    Some(UdpRow {
                        local: e.local_address,
                        table: table.clone(),
                        uid: e.uid,
                        holders: held.get(&e.inode)?.clone(),
                    })
                }),
        );
    }
    Ok(rows)
}

/// A LISTEN socket of the server, from its network namespace's `/proc/PID/net/tcp{,6}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The local address.
    pub addr: std::net::SocketAddr,
    /// The uid recorded in the table (the socket's creator).
    pub uid: u32,
}

/// The UDP sockets bound on `port` held by one of `pids`.
pub fn udp_sockets_of(pids: &[i32], port: u16) -> Vec<UdpRow> {
    udp_sockets_on_port(pids, port).unwrap_or_default()
}

/// The LISTEN sockets on `port` held by one of `pids`.
pub fn listeners_of(pids: &[i32], port: u16) -> Vec<Listener> {
    sockets_on_port(pids, port)
        .unwrap_or_default()
        .into_iter()
        .filter(is_listen)
        .map(|row| Listener {
            addr: row.entry.local_address,
            uid: row.entry.uid,
        })
        .collect()
}
