//! How a run ends: the [`Failure`] kinds and the documented exit codes (`docs/cli.md`).
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | refused by the server (its `code` is printed on stderr), or an answer this client must not accept |
//! | 2 | usage: a bad or missing argument (clap's own errors exit 2 as well) |
//! | 3 | local: key file, permissions, state directory, I/O, network |

use std::fmt;
use std::process::ExitCode;

use agent_id_client::{Error, LocalError};

/// Exit code of a successful run.
pub const OK: u8 = 0;
/// Exit code when the server answered with an error.
pub const REFUSED: u8 = 1;
/// Exit code of a usage error (the same as clap's).
pub const USAGE: u8 = 2;
/// Exit code of a local error.
pub const LOCAL: u8 = 3;

/// Why a command did not succeed. Each kind has exactly one exit code, so a caller in any language
/// can tell "the server said no" from "fix your command line" from "fix this machine".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with an error: its HTTP status, machine-readable `code` and message
    /// (and its `request_id` on internal errors).
    Refused {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// The server answered something this client must not accept (e.g. a `challenge_data` for
    /// another audience): nothing was signed or saved.
    Protocol(String),
    /// A missing or inconsistent argument that clap could not catch (e.g. no `--server`).
    Usage(String),
    /// A problem on this machine: key file, permissions, state directory, I/O, network.
    Local(String),
}

impl Failure {
    /// The process exit code of this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused { .. } | Failure::Protocol(_) => REFUSED,
            Failure::Usage(_) => USAGE,
            Failure::Local(_) => LOCAL,
        }
    }

    /// The stable `kind` name used in `--json` error output.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Refused { .. } => "refused",
            Failure::Protocol(_) => "protocol",
            Failure::Usage(_) => "usage",
            Failure::Local(_) => "local",
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure::Usage(message.into())
    }

    pub fn local(message: impl Into<String>) -> Self {
        Failure::Local(message.into())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused {
                status,
                code,
                message,
                request_id,
            } => {
                write!(f, "refused by the server ({status} {code})")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                match request_id {
                    Some(id) => write!(f, " [request {id}]"),
                    None => Ok(()),
                }
            }
            Failure::Protocol(message) => write!(f, "unexpected answer from the server: {message}"),
            Failure::Usage(message) => write!(f, "usage: {message}"),
            Failure::Local(message) => f.write_str(message),
        }
    }
}

/// The library's errors: a refusal is the server's (1), an answer we must not accept is the
/// server's too (1), transport and local problems are this machine's (3).
impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        match err {
            Error::Server(e) => Failure::Refused {
                status: e.status,
                code: e.code,
                message: e.message,
                request_id: e.request_id,
            },
            Error::Protocol(e) => Failure::Protocol(e.to_string()),
            Error::Transport(e) => Failure::Local(e.to_string()),
            Error::Local(e) => e.into(),
        }
    }
}

impl From<LocalError> for Failure {
    fn from(err: LocalError) -> Self {
        Failure::Local(err.to_string())
    }
}

/// The [`ExitCode`] for a numeric code of this module.
pub fn code(value: u8) -> ExitCode {
    ExitCode::from(value)
}
