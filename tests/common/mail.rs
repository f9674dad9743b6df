//! A stand-in for Resend's HTTP API, as strict as Resend about what it accepts: the service's
//! real Resend mailer talks to it through the `JsonPost` seam, so the request it would send in
//! production is what gets checked. It records accepted messages, honours idempotency keys, and
//! can be told to fail the next N requests.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use serde_json::{json, Value};

use agent_id::mail::resend::{HttpReply, JsonPost};

pub const MAIL_API_KEY: &str = "re_test_key_for_native_tests";
pub const MAIL_FROM: &str = "Agent-ID <no-reply@id.example.com>";
pub const MAIL_API_URL: &str = "https://api.resend.com";

/// A message Resend accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The `kind` tag.
    pub kind: String,
}

impl SentMail {
    /// The `token` query parameter of the first link to `path` in the text body.
    pub fn token(&self, path: &str) -> Option<String> {
        let at = self.text.find(&format!("{path}?token="))?;
        let rest = &self.text[at + path.len() + "?token=".len()..];
        Some(rest.split(|c: char| c.is_whitespace()).next()?.to_owned())
    }
}

#[derive(Default)]
pub struct FakeResend {
    accepted: RefCell<Vec<SentMail>>,
    /// Requests Resend would have refused with 422 (a test failing to see none is a bug).
    pub rejected: RefCell<Vec<String>>,
    /// Requests answered (accepted, refused or failed), transport failures excluded.
    pub requests: Cell<u32>,
    fail_next: Cell<u32>,
    idempotency: RefCell<HashMap<String, Value>>,
}

impl FakeResend {
    pub fn sent(&self) -> Vec<SentMail> {
        assert!(
            self.rejected.borrow().is_empty(),
            "Resend would refuse: {:?}",
            self.rejected.borrow()
        );
        self.accepted.borrow().clone()
    }

    /// The messages sent to `to`, oldest first.
    pub fn sent_to(&self, to: &str) -> Vec<SentMail> {
        self.sent().into_iter().filter(|m| m.to == to).collect()
    }

    /// The newest message to `to` of `kind`.
    pub fn last(&self, to: &str, kind: &str) -> SentMail {
        self.sent_to(to)
            .into_iter()
            .rev()
            .find(|m| m.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} message to {to}"))
    }

    /// Answers the next `n` requests with `500` (an outage).
    pub fn fail_next(&self, n: u32) {
        self.fail_next.set(n);
    }

    fn refuse(&self, why: String) -> HttpReply {
        self.rejected.borrow_mut().push(why.clone());
        HttpReply {
            status: 422,
            body: json!({"statusCode": 422, "name": "validation_error", "message": why})
                .to_string(),
        }
    }
}

/// Resend's address rule, roughly: one `local@domain.tld`, no spaces or angle brackets.
fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !s.contains(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == ',')
}

/// `addr` or `Name <addr>`.
fn is_sender(s: &str) -> bool {
    match s.rsplit_once('<') {
        Some((name, rest)) => {
            !name.trim().is_empty() && rest.strip_suffix('>').is_some_and(is_address)
        }
        None => is_address(s),
    }
}

#[async_trait::async_trait(?Send)]
impl JsonPost for FakeResend {
    async fn post_json(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &Value,
    ) -> Result<HttpReply, String> {
        self.requests.set(self.requests.get() + 1);
        if self.fail_next.get() > 0 {
            self.fail_next.set(self.fail_next.get() - 1);
            return Ok(HttpReply {
                status: 500,
                body: r#"{"statusCode":500,"name":"internal_server_error"}"#.into(),
            });
        }
        if url != format!("{MAIL_API_URL}/emails") {
            return Ok(HttpReply {
                status: 404,
                body: String::new(),
            });
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        if header("authorization") != Some(&format!("Bearer {MAIL_API_KEY}")) {
            return Ok(HttpReply {
                status: 401,
                body: r#"{"statusCode":401,"name":"missing_api_key"}"#.into(),
            });
        }
        let Some(obj) = body.as_object() else {
            return Ok(self.refuse("body is not an object".into()));
        };
        for key in obj.keys() {
            if ![
                "from", "to", "subject", "text", "html", "tags", "cc", "bcc", "reply_to", "headers",
            ]
            .contains(&key.as_str())
            {
                return Ok(self.refuse(format!("unknown field {key}")));
            }
        }
        let str_of = |k: &str| obj.get(k).and_then(Value::as_str);
        if !str_of("from").is_some_and(is_sender) {
            return Ok(self.refuse("from is not `addr` or `Name <addr>`".into()));
        }
        let to: Vec<&str> = match obj.get("to") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => return Ok(self.refuse("to is missing".into())),
        };
        if to.len() != 1 || !to.iter().all(|a| is_address(a)) {
            return Ok(self.refuse(format!("to must be one valid address: {to:?}")));
        }
        if str_of("subject").is_none_or(|s| s.trim().is_empty()) {
            return Ok(self.refuse("subject is missing".into()));
        }
        let (Some(text), Some(html)) = (str_of("text"), str_of("html")) else {
            return Ok(self.refuse("text and html must both be strings".into()));
        };
        if let Some(key) = header("idempotency-key") {
            if let Some(earlier) = self.idempotency.borrow().get(key) {
                return Ok(if earlier == body {
                    HttpReply {
                        status: 200,
                        body: json!({"id": key}).to_string(),
                    }
                } else {
                    HttpReply {
                        status: 409,
                        body: r#"{"name":"invalid_idempotent_request"}"#.into(),
                    }
                });
            }
            self.idempotency
                .borrow_mut()
                .insert(key.to_owned(), body.clone());
        }
        let kind = obj
            .get("tags")
            .and_then(Value::as_array)
            .and_then(|t| t.iter().find(|t| t["name"] == "kind"))
            .and_then(|t| t["value"].as_str())
            .unwrap_or("")
            .to_owned();
        self.accepted.borrow_mut().push(SentMail {
            to: to[0].to_owned(),
            subject: str_of("subject").unwrap_or("").to_owned(),
            text: text.to_owned(),
            html: html.to_owned(),
            kind,
        });
        Ok(HttpReply {
            status: 200,
            body: json!({"id": format!("re_{}", self.accepted.borrow().len())}).to_string(),
        })
    }
}
