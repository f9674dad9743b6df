//! The messages of the account settings: the link that confirms a new address, sent to that
//! address, and the notice to the old one once the change took effect. Both go through the
//! outbox in the batch of the change (`mail::enqueue`).

use crate::ctx::Ctx;
use crate::http::ApiError;
use crate::mail::{self, html_escape, Kind, Message};
use crate::store::Statement;

/// The web-app page that takes the token from the link and confirms the change.
pub const CONFIRM_PATH: &str = "/settings/email";

/// The confirmation link for `new_email`, as the outbox INSERT for the caller's batch.
pub fn change_link(
    ctx: &Ctx<'_>,
    overseer_id: &str,
    new_email: &str,
    token: &str,
) -> Result<Statement, ApiError> {
    let link = format!("{}{CONFIRM_PATH}?token={token}", ctx.issuer);
    let text = format!(
        "Someone (hopefully you) asked to use this address for an Agent-ID account.\n\n\
         Sign in and open this link within 24 hours to confirm it:\n{link}\n\n\
         If this was not you, ignore this message: nothing changes."
    );
    let html = format!(
        "<p>Someone (hopefully you) asked to use this address for an Agent-ID account.</p>\
         <p>Sign in and open this link within 24 hours to confirm it:<br>\
         <a href=\"{0}\">{0}</a></p>\
         <p>If this was not you, ignore this message: nothing changes.</p>",
        html_escape(&link)
    );
    enqueue(
        ctx,
        Message {
            kind: Kind::EmailChange,
            overseer_id: Some(overseer_id.to_owned()),
            to: new_email.to_owned(),
            subject: "Confirm your new Agent-ID e-mail address".to_owned(),
            text,
            html,
        },
    )
}

/// The notice to the address an account just left, as the outbox INSERT for the batch that
/// makes the change (guarded by the caller on the change taking effect).
pub fn changed_notice(
    ctx: &Ctx<'_>,
    overseer_id: &str,
    old_email: &str,
    new_email: &str,
) -> Result<Statement, ApiError> {
    let text = format!(
        "The e-mail address of your Agent-ID account was changed to {new_email}.\n\n\
         If you did not do this, reset your password from the sign-in page and contact support."
    );
    let html = format!(
        "<p>The e-mail address of your Agent-ID account was changed to <b>{}</b>.</p>\
         <p>If you did not do this, reset your password from the sign-in page and contact \
         support.</p>",
        html_escape(new_email)
    );
    enqueue(
        ctx,
        Message {
            kind: Kind::EmailChanged,
            overseer_id: Some(overseer_id.to_owned()),
            to: old_email.to_owned(),
            subject: "Your Agent-ID e-mail address was changed".to_owned(),
            text,
            html,
        },
    )
}

fn enqueue(ctx: &Ctx<'_>, msg: Message) -> Result<Statement, ApiError> {
    mail::enqueue(ctx, &msg).map_err(ApiError::from)
}
