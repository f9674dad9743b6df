//! The development mailer: each message goes to the Worker log, like a console mail backend.
//! The only place a one-time link may be logged; the configuration refuses it in production.

use async_trait::async_trait;
use serde_json::json;

use super::mailer::{MailError, Mailer};
use super::Message;
use crate::log;

pub struct LogMailer;

#[async_trait(?Send)]
impl Mailer for LogMailer {
    async fn send(&self, id: &str, msg: &Message) -> Result<(), MailError> {
        log::info(
            &json!({"event": "mail.dev_log", "outbox_id": id, "kind": msg.kind.as_str(),
            "to": msg.to, "subject": msg.subject, "text": msg.text}),
        );
        Ok(())
    }
}
