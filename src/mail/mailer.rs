//! The seam every mail provider implements.

use std::fmt;

use async_trait::async_trait;

use super::Message;

/// Why a message was not accepted. Logged and stored as the outbox's `last_error`; it never
/// carries the API key or the message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailError {
    /// The provider's key or sender address is not configured.
    NotConfigured(&'static str),
    /// Network failure or timeout.
    Transport(String),
    /// The provider answered with a non-2xx status.
    Status(u16),
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailError::NotConfigured(name) => write!(f, "{name} is not configured"),
            MailError::Transport(m) => write!(f, "mail provider unreachable: {m}"),
            MailError::Status(s) => write!(f, "mail provider answered HTTP {s}"),
        }
    }
}

/// Delivers one message. `id` is the outbox row's, stable across retries, so a provider that
/// supports idempotency keys never sends a retried message twice.
#[async_trait(?Send)]
pub trait Mailer {
    async fn send(&self, id: &str, msg: &Message) -> Result<(), MailError>;
}

/// Used when no mailer is wired (native runs that do not care): every send fails, so messages
/// stay in the outbox.
pub struct Unconfigured;

#[async_trait(?Send)]
impl Mailer for Unconfigured {
    async fn send(&self, _: &str, _: &Message) -> Result<(), MailError> {
        Err(MailError::NotConfigured("MAIL_PROVIDER"))
    }
}
