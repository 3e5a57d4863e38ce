//! The privilege target a `privileged` server must drop to, resolved by name on this machine, and
//! whether privilege cases can run here at all.

use nix::unistd::Uid;
use serde::Serialize;

/// The group asked for when `--priv-group` is not given.
pub const DEFAULT_GROUP: &str = "nogroup";
/// The user asked for when `--priv-user` is not given.
pub const DEFAULT_USER: &str = "nobody";
/// The umask expected when `--priv-umask` is not given.
pub const DEFAULT_UMASK: u32 = 0o007;
/// The port privileged servers get for `{port}` when `--priv-port` is not given.
pub const DEFAULT_PORT: u16 = 7;
/// The supplementary groups a root launch starts the server with, so a forgotten setgroups shows.
pub const LAUNCH_GROUPS: [u32; 3] = [4, 27, 100];

/// What the server must end up as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PrivTarget {
    /// The user name.
    pub user: String,
    /// Its uid.
    pub uid: u32,
    /// The group name.
    pub group: String,
    /// Its gid.
    pub gid: u32,
    /// Set when the default group `nogroup` does not exist and the user's primary group is used instead.
    pub group_fallback: Option<String>,
    /// The expected umask.
    pub umask: u32,
    /// The port privileged servers are given.
    pub port: u16,
}

/// Resolves `user` and `group` by name. When `group` is the default `nogroup` and it does not
/// exist (Fedora, Arch), the user's primary group is the target instead, and the fallback is noted.
pub fn resolve(
    user: &str,
    group: Option<&str>,
    umask: u32,
    port: u16,
) -> Result<PrivTarget, String> {
    // /etc/passwd and /etc/group first, then NSS (echo-accounts): a static build needs no
    // NSS module for the default `nobody` and `nogroup`.
    let u = echo_accounts::user(user)
        .map_err(|e| format!("cannot look up user `{user}`: {e}"))?
        .ok_or_else(|| format!("user `{user}` does not exist here (--priv-user)"))?;
    let (group_name, gid, group_fallback) = match group {
        Some(g) => {
            let found = echo_accounts::group(g)
                .map_err(|e| format!("cannot look up group `{g}`: {e}"))?
                .ok_or_else(|| format!("group `{g}` does not exist here (--priv-group)"))?;
            (g.to_string(), found.gid, None)
        }
        None => match echo_accounts::group(DEFAULT_GROUP).ok().flatten() {
            Some(found) => (DEFAULT_GROUP.to_string(), found.gid, None),
            None => {
                let gid = u.gid;
                let name = echo_accounts::group_by_gid(gid)
                    .ok()
                    .flatten()
                    .map_or_else(|| gid.to_string(), |g| g.name);
                let note = format!(
                    "group `{DEFAULT_GROUP}` does not exist; using `{user}`'s primary group `{name}` ({gid})"
                );
                (name, gid, Some(note))
            }
        },
    };
    if u.uid == 0 || gid == 0 {
        return Err(format!(
            "the privilege target {user}({})/{group_name}({gid}) is root; choose an unprivileged user and group",
            u.uid
        ));
    }
    Ok(PrivTarget {
        user: user.to_string(),
        uid: u.uid,
        group: group_name,
        gid,
        group_fallback,
        umask,
        port,
    })
}

/// Parses an octal umask such as `0007`, `007` or `0o007`.
pub fn parse_umask(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    match u32::from_str_radix(digits, 8) {
        Ok(v) if v <= 0o777 && !digits.is_empty() => Ok(v),
        _ => Err(format!(
            "--priv-umask: `{text}` is not an octal umask such as 0007"
        )),
    }
}

/// Why privilege cases cannot run here, or `None` when they can.
pub fn skip_reason(target: &Result<PrivTarget, String>) -> Option<String> {
    let euid = nix::unistd::geteuid();
    if !euid.is_root() {
        return Some(format!(
            "needs root: the runner's effective uid is {euid}, so it can neither start the server as root nor read a \
             dropped server's /proc entries (run as root; --require-root makes this exit 4)"
        ));
    }
    match target {
        Ok(_) => None,
        Err(e) => Some(format!("no privilege target: {e}")),
    }
}

/// The uid of `name`, if that user exists.
pub fn uid_of(name: &str) -> Option<u32> {
    echo_accounts::user(name).ok().flatten().map(|u| u.uid)
}

/// The gid of `name`, if that group exists.
pub fn gid_of(name: &str) -> Option<u32> {
    echo_accounts::group(name).ok().flatten().map(|g| g.gid)
}

/// True when the runner's effective uid is 0.
pub fn is_root() -> bool {
    Uid::effective().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_is_octal() {
        assert_eq!(parse_umask("0007"), Ok(0o007));
        assert_eq!(parse_umask("0o027"), Ok(0o027));
        assert!(parse_umask("0009").is_err());
        assert!(parse_umask("1777").is_err());
    }
}
