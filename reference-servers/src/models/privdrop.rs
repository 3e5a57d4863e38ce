//! The privilege-dropping server: bind port 7 as root, drop to `nobody`/`nogroup` with umask
//! 007, then serve a full stream echo sequentially.
//!
//! Profile: `stream,forever,sequential,identity,privileged`. The drop itself happens in
//! [`crate::privilege`] before this module runs (and before the readiness line): the same code
//! serves `--user` for every other model. If `nogroup` does not exist (Fedora, Arch) the drop
//! falls back to `nobody`'s primary group and says so on stderr. Started without root, the bind
//! of port 7 fails with EACCES and exit status 77.
//!
//! Run it as root: `echo-server --model privdrop`, then look at `/proc/PID/status`:
//! `Uid:`/`Gid:` show 65534 four times, `Groups:` is empty and `Umask:` is `0007`.
//!
//! The seed binds port 7, then `drop_privileges('nobody', 'nogroup')` does `os.setgroups([])`,
//! `os.setgid`, `os.setuid` and `os.umask(0x007)`, and serves one connection.
//!
//! The lesson: bind while root, then give root up for good — groups, then group IDs, then user
//! IDs — and check that it cannot come back before serving anyone.

use std::net::TcpListener;

use crate::flags::Config;

/// Serves connections one after another, as the dropped user, until SIGTERM: after the drop,
/// the seed's privilege model is the sequential loop.
pub fn run(config: &Config, listener: TcpListener) -> anyhow::Result<()> {
    super::sequential::serve_one_at_a_time(config, &listener)
}
