//! Dropping root after binding, in the order that leaves nothing behind (CERT POS36-C/POS37-C):
//! resolve the names first, bind, then `setgroups([])` → `setresgid` → `setresuid`, verify that
//! root cannot be regained, and set the umask.
//!
//! [`resolve`] runs before the bind and [`drop_privileges`] right after it, both on the main
//! thread before any other thread, forked worker or async runtime exists: glibc broadcasts
//! set*id calls to every thread, but a process with no other threads needs no broadcast and
//! leaves no window in which a worker serves as root. Every failure is fatal
//! ([`exit::PRIVILEGE`]): the server never accepts a connection after a failed drop.

use anyhow::Context;
use nix::errno::Errno;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{self, Gid, Uid};

use crate::exit::{self, coded};

/// The umask a drop sets when `--umask` is not given: owner and group keep full access.
pub const DEFAULT_UMASK: Mode = Mode::from_bits_truncate(0o007);

/// Which group to drop to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupChoice {
    /// This group, which must exist.
    Named(String),
    /// This group if it exists, else the user's primary group (said so on stderr).
    NamedOrPrimary(String),
    /// The user's primary group.
    Primary,
}

/// A requested drop, by name, before resolution.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The target user name.
    pub user: String,
    /// The target group.
    pub group: GroupChoice,
    /// The umask to set.
    pub umask: Mode,
}

/// A drop resolved to numeric IDs.
#[derive(Clone, Debug)]
pub struct Target {
    /// The target user ID (never 0).
    pub uid: Uid,
    /// The target group ID (never 0).
    pub gid: Gid,
    /// The umask to set.
    pub umask: Mode,
    /// A remark about the resolution (the group fallback), printed when dropping.
    pub note: Option<String>,
}

/// Parses an octal umask: `007`, `0007`, `0o007` or `7`. Rust source would read `0077` as
/// decimal; a command line never does.
pub fn parse_umask(text: &str) -> anyhow::Result<Mode> {
    let digits = text
        .strip_prefix("0o")
        .or_else(|| text.strip_prefix("0O"))
        .unwrap_or(text);
    let bad = || {
        coded(
            exit::USAGE,
            format!("--umask {text:?} is not an octal mode such as 007 or 0o007"),
        )
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(bad());
    }
    let value = u32::from_str_radix(digits, 8).map_err(|_| bad())?;
    if value > 0o777 {
        return Err(bad());
    }
    Ok(Mode::from_bits_truncate(value as libc::mode_t))
}

/// Resolves the names of `plan` in the user and group databases. Refuses uid or gid 0 and
/// missing names; this runs before the bind, so a typo never leaves a listener behind.
pub fn resolve(plan: &Plan) -> anyhow::Result<Target> {
    let fail = |msg: String| coded(exit::PRIVILEGE, msg);
    let (uid, primary) = crate::accounts::user(&plan.user)
        .map_err(|e| fail(format!("looking up user {:?}: {e}", plan.user)))?
        .ok_or_else(|| {
            fail(format!(
                "user {:?} not found in the user database",
                plan.user
            ))
        })?;
    let lookup_group = |name: &str| {
        crate::accounts::group(name).map_err(|e| fail(format!("looking up group {name:?}: {e}")))
    };
    let (gid, note) = match &plan.group {
        GroupChoice::Named(name) => {
            let gid = lookup_group(name)?
                .ok_or_else(|| fail(format!("group {name:?} not found in the group database")))?;
            (gid, None)
        }
        GroupChoice::NamedOrPrimary(name) => match lookup_group(name)? {
            Some(gid) => (gid, None),
            None => (
                primary,
                Some(format!(
                    "group {name:?} not found; using {}'s primary group (gid {primary})",
                    plan.user
                )),
            ),
        },
        GroupChoice::Primary => (primary, None),
    };
    if uid.is_root() {
        return Err(fail(format!(
            "refusing to drop to user {:?}: its uid is 0",
            plan.user
        )));
    }
    if gid.as_raw() == 0 {
        return Err(fail(format!(
            "refusing to drop to gid 0 (user {:?})",
            plan.user
        )));
    }
    Ok(Target {
        uid,
        gid,
        umask: plan.umask,
        note,
    })
}

/// Drops to `target` if the effective UID is root, verifies the drop, then sets the umask.
/// Prints one line on stderr saying what happened. Not root: only the umask is set.
pub fn drop_privileges(target: &Target) -> anyhow::Result<()> {
    let prog = crate::program();
    if let Some(note) = &target.note {
        eprintln!("{prog}: {note}");
    }
    if !unistd::geteuid().is_root() {
        umask(target.umask);
        eprintln!(
            "{prog}: not root (euid={}); privilege drop skipped, umask={:04o}",
            unistd::geteuid(),
            target.umask.bits()
        );
        return Ok(());
    }
    switch_ids(target)
        .map_err(|e| coded(exit::PRIVILEGE, format!("privilege drop failed: {e:#}")))?;
    verify(target).map_err(|e| {
        coded(
            exit::PRIVILEGE,
            format!("privilege drop not verified: {e:#}"),
        )
    })?;
    umask(target.umask);
    eprintln!(
        "{prog}: dropped to uid={} gid={} groups=[] umask={:04o}",
        target.uid,
        target.gid,
        target.umask.bits()
    );
    Ok(())
}

/// The three calls, in the only order that works: groups while we still hold CAP_SETGID,
/// then the GIDs, then the UIDs (which clears the capability sets). Needs root; does not verify.
pub fn switch_ids(target: &Target) -> anyhow::Result<()> {
    let (u, g) = (target.uid, target.gid);
    unistd::setgroups(&[]).context("setgroups([])")?;
    unistd::setresgid(g, g, g).with_context(|| format!("setresgid({g}, {g}, {g})"))?;
    unistd::setresuid(u, u, u).with_context(|| format!("setresuid({u}, {u}, {u})"))?;
    Ok(())
}

/// The self-test of POS37-C, as OpenSSH does it: the IDs are what we asked for, no
/// supplementary group is left, going back to root fails with EPERM, and no capability remains.
pub fn verify(target: &Target) -> anyhow::Result<()> {
    let uids = unistd::getresuid().context("getresuid")?;
    let gids = unistd::getresgid().context("getresgid")?;
    let u = target.uid;
    let g = target.gid;
    anyhow::ensure!(
        uids.real == u && uids.effective == u && uids.saved == u,
        "uids are {}/{}/{}, wanted {u}",
        uids.real,
        uids.effective,
        uids.saved
    );
    anyhow::ensure!(
        gids.real == g && gids.effective == g && gids.saved == g,
        "gids are {}/{}/{}, wanted {g}",
        gids.real,
        gids.effective,
        gids.saved
    );
    let groups = unistd::getgroups().context("getgroups")?;
    anyhow::ensure!(groups.is_empty(), "supplementary groups remain: {groups:?}");
    match unistd::setuid(Uid::from_raw(0)) {
        Err(Errno::EPERM) => {}
        Ok(()) => anyhow::bail!("setuid(0) succeeded: root can be regained"),
        Err(e) => anyhow::bail!("setuid(0) failed with {e}, expected EPERM"),
    }
    match unistd::setgid(Gid::from_raw(0)) {
        Err(Errno::EPERM) => {}
        Ok(()) => anyhow::bail!("setgid(0) succeeded: group root can be regained"),
        Err(e) => anyhow::bail!("setgid(0) failed with {e}, expected EPERM"),
    }
    let status = std::fs::read_to_string("/proc/thread-self/status")
        .context("reading /proc/thread-self/status")?;
    for (field, value) in capability_sets(&status) {
        anyhow::ensure!(value == 0, "{field} is {value:016x}, expected 0");
    }
    Ok(())
}

/// The CapPrm, CapEff and CapAmb masks of a `/proc/*/status` text.
fn capability_sets(status: &str) -> Vec<(&str, u64)> {
    status
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(field, _)| matches!(*field, "CapPrm" | "CapEff" | "CapAmb"))
        .map(|(field, value)| {
            (
                field,
                u64::from_str_radix(value.trim(), 16).unwrap_or(u64::MAX),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_is_octal() {
        for text in ["007", "0007", "0o007", "7", "0O7"] {
            assert_eq!(parse_umask(text).unwrap().bits(), 0o007, "{text}");
        }
        assert_eq!(parse_umask("077").unwrap().bits(), 0o077);
        for text in ["", "0o", "8", "77x", "1000", "-7", "0x7"] {
            let err = parse_umask(text).unwrap_err();
            assert_eq!(exit::code_of(&err), exit::USAGE, "{text}");
        }
    }

    fn plan(user: &str, group: GroupChoice) -> Plan {
        Plan {
            user: user.into(),
            group,
            umask: DEFAULT_UMASK,
        }
    }

    #[test]
    fn resolution_errors() {
        let missing_user = resolve(&plan("no-such-user-echo", GroupChoice::Primary)).unwrap_err();
        assert_eq!(exit::code_of(&missing_user), exit::PRIVILEGE);
        assert!(missing_user.to_string().contains("not found"));
        let root = resolve(&plan("root", GroupChoice::Primary)).unwrap_err();
        assert!(root.to_string().contains("uid is 0"), "{root}");
        let group = resolve(&plan(
            "nobody",
            GroupChoice::Named("no-such-group-echo".into()),
        ))
        .unwrap_err();
        assert!(group
            .to_string()
            .contains("group \"no-such-group-echo\" not found"));
    }

    #[test]
    fn group_fallback_names_itself() {
        let target = resolve(&plan(
            "nobody",
            GroupChoice::NamedOrPrimary("no-such-group-echo".into()),
        ))
        .unwrap();
        assert!(target.note.unwrap().contains("primary group"));
        assert!(!target.uid.is_root());
    }

    #[test]
    fn capability_lines() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\n\
                      CapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n";
        assert_eq!(
            capability_sets(status),
            vec![("CapPrm", 0x1ff_ffff_ffff), ("CapEff", 0), ("CapAmb", 0)]
        );
    }
}
