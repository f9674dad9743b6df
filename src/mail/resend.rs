//! Resend's REST API (`POST {MAIL_API_URL}/emails`, Bearer `MAIL_API_KEY`, JSON
//! `from/to/subject/text/html`), over the [`JsonPost`] seam: `fetch` in workerd, a strict fake
//! of Resend natively, so the code that builds the request runs in both.

use std::rc::Rc;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::mailer::{MailError, Mailer};
use super::Message;

/// Resend's production endpoint (the default of `MAIL_API_URL`).
pub const DEFAULT_API_URL: &str = "https://api.resend.com";

/// An HTTP answer: status and body text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    pub body: String,
}

/// One JSON POST with extra headers. `Err` is a transport failure (no HTTP answer).
#[async_trait(?Send)]
pub trait JsonPost {
    async fn post_json(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &Value,
    ) -> Result<HttpReply, String>;
}

/// The Resend mailer.
pub struct Resend {
    pub api_url: String,
    pub api_key: Result<String, &'static str>,
    pub from: Result<String, &'static str>,
    pub http: Rc<dyn JsonPost>,
}

/// The JSON body Resend expects for `msg`.
pub fn body(from: &str, msg: &Message) -> Value {
    json!({
        "from": from,
        "to": [msg.to],
        "subject": msg.subject,
        "text": msg.text,
        "html": msg.html,
        "tags": [{"name": "kind", "value": msg.kind.as_str()}],
    })
}

#[async_trait(?Send)]
impl Mailer for Resend {
    async fn send(&self, id: &str, msg: &Message) -> Result<(), MailError> {
        let key = self
            .api_key
            .as_ref()
            .map_err(|n| MailError::NotConfigured(n))?;
        let from = self
            .from
            .as_ref()
            .map_err(|n| MailError::NotConfigured(n))?;
        let url = format!("{}/emails", self.api_url.trim_end_matches('/'));
        let headers = [
            ("authorization", format!("Bearer {key}")),
            // Resend keeps the key 24 h: a retry after a lost answer is not sent twice.
            ("idempotency-key", format!("agent-id-{id}")),
        ];
        let reply = self
            .http
            .post_json(&url, &headers, &body(from, msg))
            .await
            .map_err(MailError::Transport)?;
        if (200..300).contains(&reply.status) {
            Ok(())
        } else {
            Err(MailError::Status(reply.status))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::Kind;

    #[test]
    fn body_has_resend_fields() {
        let msg = Message {
            kind: Kind::PasswordReset,
            overseer_id: None,
            to: "a@example.com".into(),
            subject: "S".into(),
            text: "T".into(),
            html: "<p>T</p>".into(),
        };
        let b = body("Agent-ID <no-reply@example.com>", &msg);
        assert_eq!(b["to"], json!(["a@example.com"]));
        assert_eq!(b["from"], "Agent-ID <no-reply@example.com>");
        assert_eq!(b["tags"][0]["value"], "password_reset");
    }
}
