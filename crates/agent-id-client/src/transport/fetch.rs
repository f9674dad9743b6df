//! The `fetch` transport for wasm32: the runtime's global `fetch` (Cloudflare Workers, browsers,
//! Deno), bound directly so that it works in a Worker, which has no `window`.

use async_trait::async_trait;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

use super::{HttpRequest, HttpResponse, Transport};
use crate::error::TransportError;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> js_sys::Promise;
}

/// HTTP through the global `fetch`. Redirects are returned, not followed (`redirect: "manual"`).
#[derive(Clone, Copy, Debug, Default)]
pub struct FetchTransport;

fn js_error(what: &str, e: JsValue) -> TransportError {
    let detail = e
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_default();
    TransportError::new(format!("{what}: {detail}"))
}

#[async_trait(?Send)]
impl Transport for FetchTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let (parts, body) = request.into_parts();
        let headers = Headers::new().map_err(|e| js_error("headers", e))?;
        for (name, value) in &parts.headers {
            let value = value
                .to_str()
                .map_err(|_| TransportError::new("a header value is not visible ASCII"))?;
            headers
                .append(name.as_str(), value)
                .map_err(|e| js_error("headers", e))?;
        }
        let init = RequestInit::new();
        init.set_method(parts.method.as_str());
        init.set_headers(&headers);
        init.set_redirect(web_sys::RequestRedirect::Manual);
        if !body.is_empty() {
            init.set_body(&Uint8Array::from(body.as_slice()));
        }
        let req = Request::new_with_str_and_init(&parts.uri.to_string(), &init)
            .map_err(|e| js_error("request", e))?;
        let resp: Response = JsFuture::from(global_fetch(&req))
            .await
            .map_err(|e| js_error("fetch", e))?
            .dyn_into()
            .map_err(|e| js_error("fetch", e))?;
        let mut out = http::Response::builder().status(resp.status());
        let entries = js_sys::try_iter(&resp.headers())
            .map_err(|e| js_error("headers", e))?
            .into_iter()
            .flatten();
        for entry in entries {
            let pair: Array = entry.map_err(|e| js_error("headers", e))?.into();
            if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                out = out.header(name, value);
            }
        }
        let buf = JsFuture::from(resp.array_buffer().map_err(|e| js_error("body", e))?)
            .await
            .map_err(|e| js_error("body", e))?;
        out.body(Uint8Array::new(&buf).to_vec())
            .map_err(|e| TransportError::new(e.to_string()))
    }
}
