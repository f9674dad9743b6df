//! Outgoing e-mail (issue 12): the messages the service sends, the outbox they go through and
//! the [`Mailer`] seam that delivers them.
//!
//! A message is written to the outbox *in the batch of the change that causes it*
//! ([`enqueue`]), so it exists exactly when that change committed. Delivery runs after the
//! response (`waitUntil`); a failure is retried by the cron job with backoff and, after
//! [`delivery::MAX_ATTEMPTS`], given up with a `mail.failed` audit row. Sending never blocks or
//! fails the request that caused it.

pub mod delivery;
pub mod dev_log;
pub mod mailer;
pub mod resend;
pub mod templates;

#[cfg(target_arch = "wasm32")]
pub mod fetch;

use std::rc::Rc;

use crate::clock::RandomError;
use crate::config::MailProvider;
use crate::ctx::Ctx;
use crate::domain::ids::uuid_v4;
use crate::store::{outbox, Db, Statement};

pub use mailer::{MailError, Mailer, Unconfigured};

/// What a message is for: the outbox's `kind` column, the audit row of a message given up,
/// and a tag for the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The link proving an overseer's address (sign-up, re-send).
    EmailVerification,
    /// The one-time password-reset link.
    PasswordReset,
    /// The notice that the password was changed or reset.
    PasswordChanged,
    /// The link confirming a new address (account settings).
    EmailChange,
    /// The notice to the old address that the address changed (account settings).
    EmailChanged,
    /// A billing notice (payment failures).
    Billing,
}

impl Kind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::EmailVerification => "email_verification",
            Kind::PasswordReset => "password_reset",
            Kind::PasswordChanged => "password_changed",
            Kind::EmailChange => "email_change",
            Kind::EmailChanged => "email_changed",
            Kind::Billing => "billing",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [
            Kind::EmailVerification,
            Kind::PasswordReset,
            Kind::PasswordChanged,
            Kind::EmailChange,
            Kind::EmailChanged,
            Kind::Billing,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// One e-mail: a plain-text and an HTML body, to one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    /// The account the message is about, if any (its audit trail shows a message given up;
    /// deleting the account detaches the row).
    pub overseer_id: Option<String>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The outbox INSERT of `msg`, for the caller's batch, and its delivery queued for after the
/// response. If the batch does not commit (or a guard the caller attached with
/// [`Statement::only_if`] kept the row out), the queued delivery finds no row and sends
/// nothing.
pub fn enqueue(ctx: &Ctx<'_>, msg: &Message) -> Result<Statement, RandomError> {
    let id = uuid_v4(ctx.rng())?;
    let insert = outbox::insert(&id, msg, ctx.now_ms);
    let db: Rc<dyn Db> = ctx.services.db.clone();
    let mailer: Rc<dyn Mailer> = ctx.services.mailer.clone();
    let clock = ctx.services.clock.clone();
    let request_id = ctx.request_id.to_owned();
    let msg = msg.clone();
    ctx.defer(async move {
        let pending = outbox::Pending::first_attempt(id, msg);
        delivery::deliver_logged(
            db.as_ref(),
            mailer.as_ref(),
            &pending,
            clock.now_ms(),
            Some(&request_id),
        )
        .await;
    });
    Ok(insert)
}

/// The mailer `config` selects, with `http` carrying Resend's requests (`fetch` in workerd).
pub fn mailer_for(config: &crate::config::Mail, http: Rc<dyn resend::JsonPost>) -> Rc<dyn Mailer> {
    match config.provider {
        MailProvider::Log => Rc::new(dev_log::LogMailer),
        MailProvider::Resend => Rc::new(resend::Resend {
            api_url: config.api_url.clone(),
            api_key: config.api_key.clone().map_err(|e| e.name),
            from: config.from.clone().map_err(|e| e.name),
            http,
        }),
    }
}

/// Escapes text for an HTML body.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in [
            Kind::EmailVerification,
            Kind::PasswordReset,
            Kind::PasswordChanged,
            Kind::EmailChange,
            Kind::EmailChanged,
            Kind::Billing,
        ] {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Kind::parse("other"), None);
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            html_escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
