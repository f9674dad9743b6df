//! Outgoing Paddle API calls (`api.md` 7.5). Cancellation and customer creation run only after a
//! response was sent or from the cron job, so a Paddle outage can delay a cancellation but never
//! changes an answer or downgrades anyone. The one exception is a customer-portal session
//! (issue 12 item 5): the overseer waits for its link, so `POST /v1/subscriptions/portal` calls
//! Paddle on the request path and answers `502`/`503` when Paddle fails. The trait is the seam:
//! workerd uses `fetch`, native tests use a recording fake of the Paddle HTTP service.

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;

/// A scheduled change as Paddle reports it in a cancel response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledChange {
    pub action: String,
    /// `effective_at` in Unix milliseconds.
    pub effective_at_ms: Option<i64>,
}

/// The authenticated links of a customer-portal session. They sign the customer in, so they are
/// handed to the overseer and never logged or stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortalSession {
    /// `data.urls.general.overview`: the portal's home page for the customer.
    pub overview: String,
    /// `data.urls.subscriptions[]`: deep links per subscription asked for.
    pub subscriptions: Vec<SubscriptionLinks>,
}

/// A subscription's deep links in a portal session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionLinks {
    pub id: String,
    pub cancel_subscription: String,
    pub update_subscription_payment_method: String,
}

/// Why a Paddle call did not succeed. Logged, never shown to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaddleApiError {
    /// `PADDLE_API_KEY` is not configured.
    NotConfigured,
    /// Network failure or timeout.
    Transport(String),
    /// Paddle answered with a non-2xx status.
    Status(u16),
    /// The answer was not the expected JSON.
    Response(String),
}

impl fmt::Display for PaddleApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaddleApiError::NotConfigured => f.write_str("PADDLE_API_KEY is not configured"),
            PaddleApiError::Transport(m) => write!(f, "Paddle unreachable: {m}"),
            PaddleApiError::Status(s) => write!(f, "Paddle answered HTTP {s}"),
            PaddleApiError::Response(m) => write!(f, "unexpected Paddle response: {m}"),
        }
    }
}

/// The calls the service makes.
#[async_trait(?Send)]
pub trait PaddleApi {
    /// `POST /subscriptions/{id}/cancel {"effective_from": "next_billing_period"}`; the
    /// `data.scheduled_change` of the answer, if any.
    async fn cancel_at_period_end(
        &self,
        subscription_id: &str,
    ) -> Result<Option<ScheduledChange>, PaddleApiError>;

    /// `POST /customers {"email", "name", "custom_data"}`; the new customer's `ctm_…` id.
    async fn create_customer(
        &self,
        email: &str,
        name: &str,
        custom_data: Value,
    ) -> Result<String, PaddleApiError>;

    /// `POST /customers/{customer_id}/portal-sessions {"subscription_ids"}`; the session's
    /// links. `customer_id` must be a [`valid_customer_id`].
    async fn create_portal_session(
        &self,
        customer_id: &str,
        subscription_ids: &[String],
    ) -> Result<PortalSession, PaddleApiError>;
}

/// Used when no Paddle client is wired (native runs that do not care): every call fails.
pub struct Unavailable;

#[async_trait(?Send)]
impl PaddleApi for Unavailable {
    async fn cancel_at_period_end(
        &self,
        _: &str,
    ) -> Result<Option<ScheduledChange>, PaddleApiError> {
        Err(PaddleApiError::NotConfigured)
    }

    async fn create_customer(&self, _: &str, _: &str, _: Value) -> Result<String, PaddleApiError> {
        Err(PaddleApiError::NotConfigured)
    }

    async fn create_portal_session(
        &self,
        _: &str,
        _: &[String],
    ) -> Result<PortalSession, PaddleApiError> {
        Err(PaddleApiError::NotConfigured)
    }
}

/// Whether `id` has the shape of a Paddle customer id (`ctm_` and lowercase letters and digits).
/// The stored id came from a webhook; it goes into a URL path only when this holds.
pub fn valid_customer_id(id: &str) -> bool {
    id.strip_prefix("ctm_").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 64
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Reads `data.urls` of a portal-session answer. Every link must be an `https://` or `http://`
/// URL (the e2e recorder serves plain http on loopback).
pub fn portal_session_of(body: &Value) -> Result<PortalSession, PaddleApiError> {
    let urls = body
        .get("data")
        .and_then(|d| d.get("urls"))
        .ok_or_else(|| PaddleApiError::Response("no data.urls".into()))?;
    let link = |v: Option<&Value>, what: &str| -> Result<String, PaddleApiError> {
        v.and_then(Value::as_str)
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .map(str::to_owned)
            .ok_or_else(|| PaddleApiError::Response(format!("no URL at {what}")))
    };
    let overview = link(
        urls.get("general").and_then(|g| g.get("overview")),
        "data.urls.general.overview",
    )?;
    let subscriptions = match urls.get("subscriptions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| {
                Ok(SubscriptionLinks {
                    id: s
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| PaddleApiError::Response("no subscription id".into()))?,
                    cancel_subscription: link(s.get("cancel_subscription"), "cancel_subscription")?,
                    update_subscription_payment_method: link(
                        s.get("update_subscription_payment_method"),
                        "update_subscription_payment_method",
                    )?,
                })
            })
            .collect::<Result<_, PaddleApiError>>()?,
        Some(_) => {
            return Err(PaddleApiError::Response(
                "data.urls.subscriptions is not an array".into(),
            ))
        }
    };
    Ok(PortalSession {
        overview,
        subscriptions,
    })
}

/// Reads `data.scheduled_change` of a subscription answer.
pub fn scheduled_change_of(body: &Value) -> Option<ScheduledChange> {
    let sc = body.get("data")?.get("scheduled_change")?.as_object()?;
    Some(ScheduledChange {
        action: sc.get("action")?.as_str()?.to_owned(),
        effective_at_ms: sc
            .get("effective_at")
            .and_then(Value::as_str)
            .and_then(crate::domain::rfc3339::parse_rfc3339_us)
            .map(|us| us.div_euclid(1000)),
    })
}

/// Reads `data.id` of a customer answer.
pub fn customer_id_of(body: &Value) -> Result<String, PaddleApiError> {
    body.get("data")
        .and_then(|d| d.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| PaddleApiError::Response("no data.id".into()))
}

#[cfg(target_arch = "wasm32")]
pub use fetch::FetchPaddle;

#[cfg(target_arch = "wasm32")]
mod fetch {
    use std::time::Duration;

    use async_trait::async_trait;
    use futures_util::future::{select, Either};
    use serde_json::{json, Value};
    use worker::{AbortController, Delay, Fetch, Headers};

    use super::{
        customer_id_of, portal_session_of, scheduled_change_of, valid_customer_id, PaddleApi,
        PaddleApiError, PortalSession, ScheduledChange,
    };

    /// Calls the Paddle API with `fetch`, Bearer `PADDLE_API_KEY`, 10 s timeout, no retries.
    pub struct FetchPaddle {
        pub api_url: String,
        pub api_key: Option<String>,
    }

    impl FetchPaddle {
        async fn post(&self, path: &str, body: &Value) -> Result<Value, PaddleApiError> {
            let key = self
                .api_key
                .as_deref()
                .ok_or(PaddleApiError::NotConfigured)?;
            let headers = Headers::new();
            let t = |e: worker::Error| PaddleApiError::Transport(e.to_string());
            headers
                .set("authorization", &format!("Bearer {key}"))
                .map_err(t)?;
            headers.set("content-type", "application/json").map_err(t)?;
            let url = format!("{}{path}", self.api_url.trim_end_matches('/'));
            let req = crate::http::outbound::request(
                "POST",
                &url,
                Some(&headers),
                Some(&body.to_string()),
            )
            .map_err(t)?;
            let controller = AbortController::default();
            let signal = controller.signal();
            let fetch = Fetch::Request(req);
            let send = Box::pin(fetch.send_with_signal(&signal));
            let timeout = Delay::from(Duration::from_secs(10));
            let mut resp = match select(send, timeout).await {
                Either::Left((r, _)) => r.map_err(t)?,
                Either::Right(_) => {
                    controller.abort();
                    return Err(PaddleApiError::Transport("timeout after 10 s".into()));
                }
            };
            let status = resp.status_code();
            if !(200..300).contains(&status) {
                return Err(PaddleApiError::Status(status));
            }
            resp.json::<Value>()
                .await
                .map_err(|e| PaddleApiError::Response(e.to_string()))
        }
    }

    #[async_trait(?Send)]
    impl PaddleApi for FetchPaddle {
        async fn cancel_at_period_end(
            &self,
            subscription_id: &str,
        ) -> Result<Option<ScheduledChange>, PaddleApiError> {
            let body = self
                .post(
                    &format!("/subscriptions/{subscription_id}/cancel"),
                    &json!({"effective_from": "next_billing_period"}),
                )
                .await?;
            Ok(scheduled_change_of(&body))
        }

        async fn create_customer(
            &self,
            email: &str,
            name: &str,
            custom_data: Value,
        ) -> Result<String, PaddleApiError> {
            let body = self
                .post(
                    "/customers",
                    &json!({"email": email, "name": name, "custom_data": custom_data}),
                )
                .await?;
            customer_id_of(&body)
        }

        async fn create_portal_session(
            &self,
            customer_id: &str,
            subscription_ids: &[String],
        ) -> Result<PortalSession, PaddleApiError> {
            if !valid_customer_id(customer_id) {
                return Err(PaddleApiError::Response("malformed customer id".into()));
            }
            let body = self
                .post(
                    &format!("/customers/{customer_id}/portal-sessions"),
                    &json!({"subscription_ids": subscription_ids}),
                )
                .await?;
            portal_session_of(&body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_answers() {
        let sc = scheduled_change_of(&json!({"data": {"scheduled_change": {
            "action": "cancel", "effective_at": "2026-02-01T00:00:00Z", "resume_at": null}}}))
        .unwrap();
        assert_eq!(sc.action, "cancel");
        assert_eq!(sc.effective_at_ms, Some(1_769_904_000_000));
        assert_eq!(
            scheduled_change_of(&json!({"data": {"scheduled_change": null}})),
            None
        );
        assert_eq!(
            customer_id_of(&json!({"data": {"id": "ctm_1"}})).unwrap(),
            "ctm_1"
        );
        assert!(customer_id_of(&json!({"error": {}})).is_err());
    }

    #[test]
    fn reads_portal_sessions() {
        let body = json!({"data": {"id": "cpls_1", "customer_id": "ctm_1", "urls": {
            "general": {"overview": "https://customer-portal.paddle.com/cpl_1?action=overview&token=t"},
            "subscriptions": [{"id": "sub_1",
                "cancel_subscription": "https://customer-portal.paddle.com/cpl_1?action=cancel",
                "update_subscription_payment_method": "https://customer-portal.paddle.com/cpl_1?action=pm"}]}}});
        let s = portal_session_of(&body).unwrap();
        assert!(s.overview.ends_with("overview&token=t"));
        assert_eq!(s.subscriptions.len(), 1);
        assert_eq!(s.subscriptions[0].id, "sub_1");
        let no_general = json!({"data": {"urls": {"subscriptions": []}}});
        assert!(portal_session_of(&no_general).is_err());
        let script = json!({"data": {"urls": {"general": {"overview": "javascript:alert(1)"}}}});
        assert!(portal_session_of(&script).is_err());
        let only_general = json!({"data": {"urls": {"general": {"overview": "https://p/x"}}}});
        assert_eq!(
            portal_session_of(&only_general).unwrap().subscriptions,
            vec![]
        );
    }

    #[test]
    fn customer_ids_that_may_enter_a_path() {
        assert!(valid_customer_id("ctm_01h8441jn5pcwrfhwh78jqt8hk"));
        for bad in [
            "",
            "ctm_",
            "ctm_../x",
            "ctm_A1",
            "cus_1",
            "ctm_1/portal-sessions?x",
        ] {
            assert!(!valid_customer_id(bad), "{bad}");
        }
    }
}
