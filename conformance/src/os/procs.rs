//! Reading the server from outside through `/proc`: its process tree and its sockets.

use procfs::net::TcpState;
use procfs::process::{FDTarget, Process};
use std::collections::HashSet;

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

/// Socket inodes held open by any of `pids`.
fn socket_inodes(pids: &[i32]) -> HashSet<u64> {
    let mut inodes = HashSet::new();
    for &pid in pids {
        let Ok(proc_) = Process::new(pid) else {
            continue;
        };
        let Ok(fds) = proc_.fd() else { continue };
        for fd in fds.flatten() {
            if let FDTarget::Socket(inode) = fd.target {
                inodes.insert(inode);
            }
        }
    }
    inodes
}

/// A LISTEN socket found in `/proc/net/tcp{,6}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The local address.
    pub addr: std::net::SocketAddr,
    /// The uid recorded in the table (the socket's creator).
    pub uid: u32,
}

/// The LISTEN sockets on `port` held by a process of group `pgid`.
pub fn listeners_of_group(pgid: i32, port: u16) -> Vec<Listener> {
    let inodes = socket_inodes(&group_members(pgid));
    if inodes.is_empty() {
        return Vec::new();
    }
    let v4 = procfs::net::tcp().unwrap_or_default();
    let v6 = procfs::net::tcp6().unwrap_or_default();
    v4.into_iter()
        .chain(v6)
        .filter(|e| {
            e.state == TcpState::Listen
                && e.local_address.port() == port
                && inodes.contains(&e.inode)
        })
        .map(|e| Listener {
            addr: e.local_address,
            uid: e.uid,
        })
        .collect()
}
