//! Exit codes of `echo-server` and `echo-mutant`, and the error that carries one.
//!
//! Every failure that should end the process with a particular status is raised as a [`Coded`]
//! error somewhere in its `anyhow` chain; [`code_of`] finds it again in `main`.

use std::fmt;

/// The server ran and shut down cleanly (SIGTERM/SIGINT, or a `single` session that ended).
pub const OK: i32 = 0;
/// A runtime error: a port already in use, an I/O error on the listener, a worker that could not fork.
pub const FAILURE: i32 = 1;
/// The command line was wrong (clap uses the same code for its own errors).
pub const USAGE: i32 = 2;
/// Binding was refused with EACCES: a privileged port without root or CAP_NET_BIND_SERVICE (EX_NOPERM).
pub const NO_PERMISSION: i32 = 77;
/// The privilege drop could not be resolved, performed or verified (EX_CONFIG); nothing was served.
pub const PRIVILEGE: i32 = 78;

/// An error that decides the process exit status.
#[derive(Debug)]
pub struct Coded {
    /// The exit status, one of the constants of this module.
    pub code: i32,
    /// A one-line, lowercase message without a final period.
    pub message: String,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// Builds an `anyhow` error that exits with `code`.
pub fn coded(code: i32, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code,
        message: message.into(),
    })
}

/// The exit status for `err`: the first [`Coded`] in its chain, or [`FAILURE`].
pub fn code_of(err: &anyhow::Error) -> i32 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Coded>())
        .map_or(FAILURE, |c| c.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn code_survives_context() {
        let err = Err::<(), _>(coded(NO_PERMISSION, "denied"))
            .context("binding")
            .unwrap_err();
        assert_eq!(code_of(&err), NO_PERMISSION);
        assert_eq!(code_of(&anyhow::anyhow!("plain")), FAILURE);
    }
}
