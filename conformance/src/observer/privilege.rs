//! The privilege checks (`expect_priv`): judges a launched server's privileges from outside,
//! through `/proc`, for every process of the server and every task of each. A failed check quotes
//! the offending `/proc` lines with their pid and tid.

use crate::os::net;
use crate::os::status::{self, TaskStatus};
use crate::privilege::PrivTarget;
use echo_spec::PrivCheck;

/// Capability bits that would let a process regain root: CAP_SETGID (6), CAP_SETUID (7), CAP_SETPCAP (8).
const REGAIN_CAPS: u64 = (1 << 6) | (1 << 7) | (1 << 8);
/// At most this many offending lines are quoted; the rest are counted.
const MAX_QUOTES: usize = 8;

/// The server being observed.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The launched process (group leader).
    pub leader: i32,
    /// Every live process of its group, leader first when alive.
    pub members: &'a [i32],
    /// The port it was given.
    pub port: u16,
    /// What it must have dropped to.
    pub target: &'a PrivTarget,
}

/// Runs one check once. `Ok(())` passes; `Err` holds the evidence.
pub fn check(subject: &Subject<'_>, check: PrivCheck) -> Result<(), String> {
    let t = subject.target;
    match check {
        PrivCheck::UidAllFour => one(leader(subject)?, |s| uid_problem(s, t)),
        PrivCheck::GidAllFour => one(leader(subject)?, |s| gid_problem(s, t)),
        PrivCheck::GroupsSubset => one(leader(subject)?, |s| groups_subset_problem(s, t)),
        PrivCheck::GroupsEmpty => one(leader(subject)?, |s| {
            (!s.status.groups.is_empty())
                .then(|| format!("{}  (expected no supplementary groups)", s.quote("Groups")))
        }),
        PrivCheck::CapsZero => one(leader(subject)?, caps_problem),
        PrivCheck::Umask => one(leader(subject)?, |s| umask_problem(s, t)),
        PrivCheck::AllTasks => every_task(subject, |s| {
            let all: Vec<String> = [
                uid_problem(s, t),
                gid_problem(s, t),
                groups_subset_problem(s, t),
                caps_problem(s),
                umask_problem(s, t),
            ]
            .into_iter()
            .flatten()
            .collect();
            (!all.is_empty()).then(|| all.join("\n"))
        }),
        PrivCheck::NoRegain => every_task(subject, regain_problem),
        PrivCheck::ListenBoundByRoot => listen_bound_by_root(subject),
        PrivCheck::UdpBoundByRoot => udp_bound_by_root(subject),
        PrivCheck::AcceptedByTarget => accepted_by_target(subject),
    }
}

fn leader(subject: &Subject<'_>) -> Result<TaskStatus, String> {
    status::read_task(subject.leader, subject.leader).map_err(|e| {
        format!(
            "the server's process {} is gone or unreadable: {e}",
            subject.leader
        )
    })
}

fn one(s: TaskStatus, problem: impl Fn(&TaskStatus) -> Option<String>) -> Result<(), String> {
    problem(&s).map_or(Ok(()), Err)
}

fn every_task(
    subject: &Subject<'_>,
    problem: impl Fn(&TaskStatus) -> Option<String>,
) -> Result<(), String> {
    let tasks = status::tasks_of(subject.members)?;
    if tasks.is_empty() {
        return Err(format!(
            "no process of the server's group (pgid {}) is left to observe",
            subject.leader
        ));
    }
    let bad: Vec<String> = tasks.iter().filter_map(&problem).collect();
    if bad.is_empty() {
        return Ok(());
    }
    let offending = tasks.iter().filter(|t| problem(t).is_some()).count();
    let mut text = format!(
        "{offending} of {} tasks in {} processes fail:\n",
        tasks.len(),
        subject.members.len()
    );
    text.push_str(&bad[..bad.len().min(MAX_QUOTES)].join("\n"));
    if bad.len() > MAX_QUOTES {
        text.push_str(&format!("\n… and {} more", bad.len() - MAX_QUOTES));
    }
    Err(text)
}

fn uid_problem(s: &TaskStatus, t: &PrivTarget) -> Option<String> {
    (s.uids() != [t.uid; 4]).then(|| {
        format!(
            "{}  (expected {} = {} in all four: real, effective, saved, fs)",
            s.quote("Uid"),
            t.user,
            t.uid
        )
    })
}

fn gid_problem(s: &TaskStatus, t: &PrivTarget) -> Option<String> {
    (s.gids() != [t.gid; 4]).then(|| {
        format!(
            "{}  (expected {} = {} in all four: real, effective, saved, fs)",
            s.quote("Gid"),
            t.group,
            t.gid
        )
    })
}

fn groups_subset_problem(s: &TaskStatus, t: &PrivTarget) -> Option<String> {
    s.status
        .groups
        .iter()
        .any(|&g| g < 0 || g as u32 != t.gid)
        .then(|| {
            format!(
                "{}  (expected none, or only {} = {})",
                s.quote("Groups"),
                t.group,
                t.gid
            )
        })
}

fn caps_problem(s: &TaskStatus) -> Option<String> {
    let bad: Vec<String> = s
        .caps()
        .iter()
        .filter(|(_, v)| *v != 0)
        .map(|(k, _)| s.quote(k))
        .collect();
    (!bad.is_empty()).then(|| format!("{}  (expected all zero)", bad.join("\n")))
}

fn umask_problem(s: &TaskStatus, t: &PrivTarget) -> Option<String> {
    match s.status.umask {
        Some(u) if u == t.umask => None,
        Some(_) => Some(format!("{}  (expected {:04o})", s.quote("Umask"), t.umask)),
        None => Some(format!(
            "{}  (Umask needs Linux 4.7 or later; cannot confirm {:04o})",
            s.quote("Umask"),
            t.umask
        )),
    }
}

fn regain_problem(s: &TaskStatus) -> Option<String> {
    let mut bad = Vec::new();
    if s.uids().contains(&0) {
        bad.push(format!(
            "{}  (a 0 uid field lets it setuid(0))",
            s.quote("Uid")
        ));
    }
    if s.gids().contains(&0) {
        bad.push(format!(
            "{}  (a 0 gid field lets it setgid(0))",
            s.quote("Gid")
        ));
    }
    for (key, value) in s.caps() {
        if value & REGAIN_CAPS != 0 {
            bad.push(format!(
                "{}  (holds CAP_SETGID, CAP_SETUID or CAP_SETPCAP)",
                s.quote(key)
            ));
        }
    }
    (!bad.is_empty()).then(|| bad.join("\n"))
}

fn listen_bound_by_root(subject: &Subject<'_>) -> Result<(), String> {
    let rows: Vec<_> = net::sockets_on_port(subject.members, subject.port)?
        .into_iter()
        .filter(net::is_listen)
        .collect();
    // A server that claims `udp` binds a UDP socket on the port too (or only that): the same rules.
    let udp = net::udp_sockets_on_port(subject.members, subject.port)?;
    if rows.is_empty() && udp.is_empty() {
        return Err(format!(
            "no LISTEN socket (nor UDP socket) on port {} is held by a process of the server's group (pids {:?})",
            subject.port, subject.members
        ));
    }
    bound_by_root(
        subject,
        rows.iter()
            .map(|r| (r.quote(), r.entry.uid, r.holders.as_slice()))
            .chain(udp.iter().map(|r| (r.quote(), r.uid, r.holders.as_slice()))),
    )
}

fn udp_bound_by_root(subject: &Subject<'_>) -> Result<(), String> {
    let rows = net::udp_sockets_on_port(subject.members, subject.port)?;
    if rows.is_empty() {
        return Err(format!(
            "no UDP socket on port {} is held by a process of the server's group (pids {:?}); \
             a server that claims `udp` and `privileged` binds it as root before the drop",
            subject.port, subject.members
        ));
    }
    bound_by_root(
        subject,
        rows.iter()
            .map(|r| (r.quote(), r.uid, r.holders.as_slice())),
    )
}

/// The rules every socket on the privileged port keeps, whatever its transport: the port is below
/// 1024, root created the socket (uid 0 in its `/proc/net` row), and only dropped processes hold
/// it. Each socket comes as its quoted row, its creator's uid and its holders.
fn bound_by_root<'a>(
    subject: &Subject<'_>,
    sockets: impl Iterator<Item = (String, u32, &'a [i32])>,
) -> Result<(), String> {
    let t = subject.target;
    let mut bad = Vec::new();
    if subject.port >= 1024 {
        bad.push(format!(
            "port {} is not privileged (below 1024); the server was launched on it because the runner \
             could not give it port {} (claims without `privileged`, or not root)",
            subject.port, t.port
        ));
    }
    for (quote, uid, holders) in sockets {
        if uid != 0 {
            bad.push(format!(
                "{quote}\n  (uid {uid} created this socket, not root: it was bound after the drop)"
            ));
        }
        for &pid in holders {
            match status::read_task(pid, pid) {
                Ok(s) if s.uids() == [t.uid; 4] => {}
                Ok(s) => bad.push(format!(
                    "{quote}\n  {}\n  (held by pid {pid}, which has not dropped to {} = {})",
                    s.quote("Uid"),
                    t.user,
                    t.uid
                )),
                Err(e) => bad.push(e),
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}

fn accepted_by_target(subject: &Subject<'_>) -> Result<(), String> {
    let t = subject.target;
    let rows: Vec<_> = net::sockets_on_port(subject.members, subject.port)?
        .into_iter()
        .filter(net::is_connection)
        .collect();
    if rows.is_empty() {
        return Err(format!(
            "no open connection on port {} is held by the server (pids {:?}); the step needs a connection \
             the server has accepted and still holds",
            subject.port, subject.members
        ));
    }
    let bad: Vec<String> = rows
        .iter()
        .filter(|r| r.entry.uid != t.uid)
        .map(|r| {
            format!(
                "{}\n  (accepted while uid {}, expected {} = {})",
                r.quote(),
                r.entry.uid,
                t.user,
                t.uid
            )
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("\n"))
    }
}
