//! User and group look-ups for the kit: the privilege target of the runner (`nobody`,
//! `nogroup`) and the drop of the reference servers.
//!
//! Each look-up reads `/etc/passwd` or `/etc/group` first, and asks the C library (NSS) only for
//! a name those files do not hold. A static glibc binary (`cargo xtask dist`) cannot load NSS
//! modules unless the host has the very glibc version it was linked against, so with these
//! files it needs no shared library at all; only an account that lives in a directory service
//! (LDAP, sssd, systemd-homed) needs the host's NSS, and [`Source::Nss`] says when that happened.
//!
//! ```
//! let root = echo_accounts::user("root").unwrap().expect("every Linux has root");
//! assert_eq!(root.uid, 0);
//! ```

use std::path::Path;

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `/etc/passwd` or `/etc/group`, read directly.
    Files,
    /// The C library's name service switch (needs the host's NSS modules in a static binary).
    Nss,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The login name.
    pub name: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Where it was found.
    pub source: Source,
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group name.
    pub name: String,
    /// Its gid.
    pub gid: u32,
    /// Where it was found.
    pub source: Source,
}

const PASSWD: &str = "/etc/passwd";
const GROUP: &str = "/etc/group";

/// The colon-separated records of a database file; an unreadable file has none.
fn records(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(':').map(str::to_string).collect())
        .collect()
}

/// A passwd record (`name:x:uid:gid:...`) as a user.
fn user_of(fields: &[String]) -> Option<User> {
    Some(User {
        name: fields.first()?.clone(),
        uid: fields.get(2)?.parse().ok()?,
        gid: fields.get(3)?.parse().ok()?,
        source: Source::Files,
    })
}

/// A group record (`name:x:gid:members`) as a group.
fn group_of(fields: &[String]) -> Option<Group> {
    Some(Group {
        name: fields.first()?.clone(),
        gid: fields.get(2)?.parse().ok()?,
        source: Source::Files,
    })
}

/// The user called `name` in `passwd`.
pub fn user_in(passwd: &Path, name: &str) -> Option<User> {
    records(passwd)
        .iter()
        .filter_map(|r| user_of(r))
        .find(|u| u.name == name)
}

/// The group called `name` in `group`.
pub fn group_in(group: &Path, name: &str) -> Option<Group> {
    records(group)
        .iter()
        .filter_map(|r| group_of(r))
        .find(|g| g.name == name)
}

/// The group with `gid` in `group`.
pub fn group_by_gid_in(group: &Path, gid: u32) -> Option<Group> {
    records(group)
        .iter()
        .filter_map(|r| group_of(r))
        .find(|g| g.gid == gid)
}

/// A group as NSS returned it.
fn nss_group(g: nix::unistd::Group) -> Group {
    Group {
        name: g.name,
        gid: g.gid.as_raw(),
        source: Source::Nss,
    }
}

/// The user called `name`: `/etc/passwd`, then NSS. `Err` when NSS itself failed (not when it
/// found no such user).
pub fn user(name: &str) -> Result<Option<User>, nix::Error> {
    if let Some(u) = user_in(Path::new(PASSWD), name) {
        return Ok(Some(u));
    }
    Ok(nix::unistd::User::from_name(name)?.map(|u| User {
        name: u.name,
        uid: u.uid.as_raw(),
        gid: u.gid.as_raw(),
        source: Source::Nss,
    }))
}

/// The group called `name`: `/etc/group`, then NSS. `Err` when NSS itself failed.
pub fn group(name: &str) -> Result<Option<Group>, nix::Error> {
    if let Some(g) = group_in(Path::new(GROUP), name) {
        return Ok(Some(g));
    }
    Ok(nix::unistd::Group::from_name(name)?.map(nss_group))
}

/// The group with `gid`: `/etc/group`, then NSS. `Err` when NSS itself failed.
pub fn group_by_gid(gid: u32) -> Result<Option<Group>, nix::Error> {
    if let Some(g) = group_by_gid_in(Path::new(GROUP), gid) {
        return Ok(Some(g));
    }
    Ok(nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))?.map(nss_group))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_records_and_skips_comments_and_broken_lines() {
        let dir = std::env::temp_dir().join(format!("echo-accounts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let passwd = dir.join("passwd");
        std::fs::write(
            &passwd,
            "# comment\nroot:x:0:0:root:/root:/bin/sh\nbroken:x:notanumber:1\n\nnobody:x:65534:65534::/:/sbin/nologin\n",
        )
        .expect("write");
        let group = dir.join("group");
        std::fs::write(&group, "root:x:0:\nnogroup:x:65534:\n").expect("write");
        assert_eq!(
            user_in(&passwd, "nobody").map(|u| (u.uid, u.gid)),
            Some((65534, 65534))
        );
        assert_eq!(user_in(&passwd, "broken"), None);
        assert_eq!(user_in(&passwd, "absent"), None);
        assert_eq!(group_in(&group, "nogroup").map(|g| g.gid), Some(65534));
        assert_eq!(
            group_by_gid_in(&group, 0).map(|g| g.name),
            Some("root".into())
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_files_answer_first() {
        let root = user("root").unwrap().expect("root exists");
        assert_eq!((root.uid, root.source), (0, Source::Files));
    }
}
