//! The errors that end a command before or instead of a verdict, each mapped to its documented
//! exit code (see [`crate::exit`]).

use crate::config::UsageError;
use crate::server::LaunchError;

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad flag or value (exit 2).
    #[error("{0}")]
    Usage(String),
    /// An invalid spec, requirements, baseline or expect-fail file (exit 2).
    #[error("{0}")]
    Spec(String),
    /// A report or baseline could not be written (exit 2: the command as given cannot complete).
    #[error("{0}")]
    Io(String),
    /// The server could not be started, or nothing answers at `--addr` (exit 3).
    #[error("{0}")]
    Launch(String),
    /// The environment cannot run a required case (exit 4).
    #[error("{0}")]
    Environment(String),
}

impl Error {
    /// The exit code this error maps to.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Spec(_) | Error::Io(_) => crate::exit::USAGE,
            Error::Launch(_) => crate::exit::SERVER,
            Error::Environment(_) => crate::exit::ENVIRONMENT,
        }
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e.0)
    }
}

impl From<LaunchError> for Error {
    fn from(e: LaunchError) -> Self {
        Error::Launch(e.to_string())
    }
}

/// True when writing to stdout failed because the reader went away (`| head`): the command then
/// ends quietly with 0.
pub fn is_broken_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}
