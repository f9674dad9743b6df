//! Requests for `fetch` built on web-sys directly (wasm only). workers-rs's `RequestInit` reaches
//! `fetch` through a conversion that serializes its `cf` options with serde-wasm-bindgen, which
//! this Worker never sets; building the request here keeps that conversion out of the wasm
//! (README, "Bundle size and cold start").

use wasm_bindgen::JsValue;
use worker::worker_sys::web_sys;
use worker::{Headers, Request, Result};

/// `method url`, with `headers` and a text `body` when given.
pub fn request(
    method: &str,
    url: &str,
    headers: Option<&Headers>,
    body: Option<&str>,
) -> Result<Request> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(headers) = headers {
        init.set_headers(&headers.0);
    }
    if let Some(body) = body {
        init.set_body(&JsValue::from_str(body));
    }
    Ok(web_sys::Request::new_with_str_and_init(url, &init)?.into())
}

/// `GET url` with `headers` that hands a redirect back instead of following it
/// (`redirect: "manual"`), for fetches whose target must be the URL asked for.
pub fn get_without_redirects(url: &str, headers: &Headers) -> Result<Request> {
    let init = web_sys::RequestInit::new();
    init.set_method("GET");
    init.set_headers(&headers.0);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    Ok(web_sys::Request::new_with_str_and_init(url, &init)?.into())
}
