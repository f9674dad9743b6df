//! Typed errors. A caller can tell "the server refused" ([`Error::Server`], with the server's own
//! `code`) from "we could not talk to it" ([`Error::Transport`]), "something on this machine is
//! wrong" ([`Error::Local`]) and "the server answered something we must not accept"
//! ([`Error::Protocol`]). The CLI maps them to exit codes 1, 3, 3 and 1.

use std::fmt;
use std::path::PathBuf;

use serde_json::Value;

/// Every error of the library.
#[derive(Debug)]
pub enum Error {
    /// The server refused the request: its status, `code` and message.
    Server(ServerError),
    /// The request did not complete (connection, TLS, timeout, body too large).
    Transport(TransportError),
    /// A local problem: key file, permissions, state directory, I/O.
    Local(LocalError),
    /// The server answered something this client must not accept.
    Protocol(ProtocolError),
}

impl Error {
    /// The server's error `code`, when the server refused the request.
    pub fn server_code(&self) -> Option<&str> {
        match self {
            Error::Server(e) => Some(&e.code),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Server(e) => e.fmt(f),
            Error::Transport(e) => e.fmt(f),
            Error::Local(e) => e.fmt(f),
            Error::Protocol(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Self {
        Error::Server(e)
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Transport(e)
    }
}

impl From<LocalError> for Error {
    fn from(e: LocalError) -> Self {
        Error::Local(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

/// A refusal in the server's own words. Agent-ID endpoints answer
/// `{"success": false, "error": <message>, "code": <code>}`; OAuth endpoints (RFC 6749 §5.2)
/// answer `{"error": <code>, "error_description": <message>}`. Both land here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    pub status: u16,
    /// The machine-readable code (`invalid_dpop_proof`, `invalid_grant`, …).
    pub code: String,
    /// The human-readable message (may be empty for OAuth errors without a description).
    pub message: String,
    /// The server's `request_id` on internal and configuration errors.
    pub request_id: Option<String>,
}

impl ServerError {
    /// Reads an error body in either format; `None` when the body is neither.
    pub fn from_body(status: u16, body: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let request_id = text("request_id");
        match (text("code"), text("error")) {
            (Some(code), message) => Some(Self {
                status,
                code,
                message: message.unwrap_or_default(),
                request_id,
            }),
            (None, Some(code)) => Some(Self {
                status,
                code,
                message: text("error_description").unwrap_or_default(),
                request_id,
            }),
            (None, None) => None,
        }
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server refused ({} {})", self.status, self.code)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

/// The request did not complete. The message never holds request headers or bodies (they may
/// carry tokens or proofs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportError {
    pub message: String,
}

impl TransportError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request failed: {}", self.message)
    }
}

impl std::error::Error for TransportError {}

/// A problem on this machine. Every variant that concerns a file names it.
#[derive(Debug)]
pub enum LocalError {
    /// The key or state file is readable or writable by group or others.
    Permissions { path: PathBuf, mode: u32 },
    /// A state directory is open to group or others.
    DirectoryPermissions { path: PathBuf, mode: u32 },
    /// The file is not a key this library wrote, or was changed after (`x` ≠ the key of `d`).
    KeyFile { path: PathBuf, reason: &'static str },
    /// A state file other than a key is not what this library wrote.
    StateFile { path: PathBuf, reason: String },
    /// The file to create exists already (keys are never overwritten silently).
    Exists { path: PathBuf },
    /// No key file: the agent has no key for this server yet.
    NoKey { path: PathBuf },
    /// No saved session for this server.
    NoSession { path: PathBuf },
    /// No configuration directory could be found (`$XDG_CONFIG_HOME` and `$HOME` unset).
    NoConfigDir,
    /// An I/O error on a named file or directory.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A value given to the library is not usable (a server URL that is not an origin, …).
    Invalid(String),
    /// The OS random number generator failed.
    Random,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalError::Permissions { path, mode } => write!(
                f,
                "refusing to use {}: it is accessible by group or others (mode {:03o}); \
                 run `chmod 600 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ),
            LocalError::DirectoryPermissions { path, mode } => write!(
                f,
                "refusing to use the directory {}: it is accessible by group or others \
                 (mode {:03o}); run `chmod 700 {}`",
                path.display(),
                mode & 0o777,
                path.display()
            ),
            LocalError::KeyFile { path, reason } => {
                write!(f, "key file {} is not usable: {reason}", path.display())
            }
            LocalError::StateFile { path, reason } => {
                write!(f, "state file {} is not usable: {reason}", path.display())
            }
            LocalError::Exists { path } => write!(
                f,
                "{} exists already; refusing to overwrite it",
                path.display()
            ),
            LocalError::NoKey { path } => write!(
                f,
                "no key at {} (generate one first, e.g. `agent-id keygen`)",
                path.display()
            ),
            LocalError::NoSession { path } => write!(
                f,
                "no session at {} (log in first, e.g. `agent-id login`)",
                path.display()
            ),
            LocalError::NoConfigDir => {
                f.write_str("no configuration directory: set XDG_CONFIG_HOME or HOME")
            }
            LocalError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LocalError::Invalid(what) => f.write_str(what),
            LocalError::Random => f.write_str("the operating system's random generator failed"),
        }
    }
}

impl std::error::Error for LocalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LocalError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The server answered, but not with something this client can accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    /// A non-success status without a recognisable error body.
    UnexpectedStatus { status: u16 },
    /// A success body without the expected members.
    UnexpectedBody { what: String },
    /// The server asked to sign a `challenge_data` other than the one this client expects
    /// (another audience, another key): nothing was signed.
    ChallengeMismatch,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::UnexpectedStatus { status } => {
                write!(
                    f,
                    "unexpected response: HTTP {status} without an error body"
                )
            }
            ProtocolError::UnexpectedBody { what } => write!(f, "unexpected response: {what}"),
            ProtocolError::ChallengeMismatch => f.write_str(
                "the server's challenge_data is not the one expected for this server and key; \
                 nothing was signed",
            ),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
