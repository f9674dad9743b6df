//! [`JsonPost`] over workerd's `fetch`, with a 10 s timeout and no retries (the outbox
//! retries), as the Paddle client does.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::{select, Either};
use serde_json::Value;
use worker::{AbortController, Delay, Fetch, Headers};

use super::resend::{HttpReply, JsonPost};

pub struct FetchPost;

#[async_trait(?Send)]
impl JsonPost for FetchPost {
    async fn post_json(
        &self,
        url: &str,
        extra: &[(&'static str, String)],
        body: &Value,
    ) -> Result<HttpReply, String> {
        let t = |e: worker::Error| e.to_string();
        let headers = Headers::new();
        headers.set("content-type", "application/json").map_err(t)?;
        for (name, value) in extra {
            headers.set(name, value).map_err(t)?;
        }
        let req =
            crate::http::outbound::request("POST", url, Some(&headers), Some(&body.to_string()))
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
                return Err("timeout after 10 s".into());
            }
        };
        let status = resp.status_code();
        let body = resp.text().await.unwrap_or_default();
        Ok(HttpReply { status, body })
    }
}
