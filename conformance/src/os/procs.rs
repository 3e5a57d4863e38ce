//! Reading the server from outside through `/proc`: its process tree and its sockets.

/// The pids of every live (non-zombie) process in process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(Result::ok)
        .filter_map(|p| p.stat().ok())
        .filter(|s| s.pgrp == pgid && s.state != 'Z' && s.state != 'X')
        .map(|s| s.pid)
        .collect()
}

/// A LISTEN socket of the server, from its network namespace's `/proc/PID/net/tcp{,6}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The local address.
    pub addr: std::net::SocketAddr,
    /// The uid recorded in the table (the socket's creator).
    pub uid: u32,
}

/// The UDP sockets bound on `port` held by a process of group `pgid`.
pub fn udp_sockets_of_group(pgid: i32, port: u16) -> Vec<crate::observe::net::UdpRow> {
    crate::observe::net::udp_sockets_on_port(&group_members(pgid), port).unwrap_or_default()
}

/// The LISTEN sockets on `port` held by a process of group `pgid`.
pub fn listeners_of_group(pgid: i32, port: u16) -> Vec<Listener> {
    crate::observe::net::sockets_on_port(&group_members(pgid), port)
        .unwrap_or_default()
        .into_iter()
        .filter(crate::observe::net::is_listen)
        .map(|row| Listener {
            addr: row.entry.local_address,
            uid: row.entry.uid,
        })
        .collect()
}
