//! The outbound GET of metadata documents and JWK sets, behind a seam ([`DocumentFetch`]):
//! workerd's `fetch` at the edge ([`WorkerFetch`]), a test double natively. What makes the fetch
//! SSRF-safe is split so that the double cannot weaken it: the URL rules are checked before the
//! seam is called (`FetchUrl`), and the response rules (status, no redirect, media type, size)
//! after it, here, on what the seam returns. The seam itself only promises not to follow
//! redirects, to stop reading after `max_bytes + 1` bytes and to give up after [`TIMEOUT_MS`].

use async_trait::async_trait;

use crate::oauth::client_metadata::{is_json_media_type, FetchUrl};

/// How long one fetch (connect, headers and body) may take.
pub const TIMEOUT_MS: u64 = 5_000;

/// A response as the seam returns it: the body holds at most `max_bytes + 1` bytes, so that an
/// oversized body is recognised without being read to its end.
#[derive(Clone, Debug, Default)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    pub body: Vec<u8>,
}

/// Why the seam got no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// No complete response within [`TIMEOUT_MS`].
    Timeout,
    /// DNS, connection or TLS failure (or no outbound fetch in this build).
    Failed,
}

/// GET `url` with `Accept: application/json`, never following a redirect (a 3xx is returned
/// as it is), reading at most `max_bytes + 1` bytes of the body, within [`TIMEOUT_MS`].
#[async_trait(?Send)]
pub trait DocumentFetch {
    async fn get(&self, url: &str, max_bytes: usize) -> Result<Fetched, Unreachable>;
}

/// No outbound fetch (the default natively): every metadata-document client is refused.
pub struct Offline;

#[async_trait(?Send)]
impl DocumentFetch for Offline {
    async fn get(&self, _url: &str, _max_bytes: usize) -> Result<Fetched, Unreachable> {
        Err(Unreachable::Failed)
    }
}

/// Why a fetched document cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchError {
    Timeout,
    Unreachable,
    /// A 3xx: redirects are never followed (the target would escape the URL rules).
    Redirect,
    /// Any other status than 200.
    Status(u16),
    /// Not `application/json` or `application/*+json`.
    ContentType,
    /// More than the size cap.
    TooLarge,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Timeout => f.write_str("client metadata fetch timed out"),
            FetchError::Unreachable => f.write_str("client metadata could not be fetched"),
            FetchError::Redirect => f.write_str("client metadata fetch was redirected"),
            FetchError::Status(s) => write!(f, "client metadata fetch answered HTTP {s}"),
            FetchError::ContentType => f.write_str("client metadata is not served as JSON"),
            FetchError::TooLarge => f.write_str("client metadata is too large"),
        }
    }
}

/// Fetches `url` through `seam` and checks the response: exactly 200, a JSON media type, at
/// most `max_bytes`.
pub async fn fetch_json(
    seam: &dyn DocumentFetch,
    url: &FetchUrl,
    max_bytes: usize,
) -> Result<Fetched, FetchError> {
    let fetched = seam
        .get(url.as_str(), max_bytes)
        .await
        .map_err(|e| match e {
            Unreachable::Timeout => FetchError::Timeout,
            Unreachable::Failed => FetchError::Unreachable,
        })?;
    match fetched.status {
        200 => {}
        300..=399 => return Err(FetchError::Redirect),
        s => return Err(FetchError::Status(s)),
    }
    if !fetched
        .content_type
        .as_deref()
        .is_some_and(is_json_media_type)
    {
        return Err(FetchError::ContentType);
    }
    if fetched.body.len() > max_bytes {
        return Err(FetchError::TooLarge);
    }
    Ok(fetched)
}

#[cfg(target_arch = "wasm32")]
pub use edge::WorkerFetch;

#[cfg(target_arch = "wasm32")]
mod edge {
    use std::time::Duration;

    use async_trait::async_trait;
    use futures_util::future::{select, Either};
    use futures_util::StreamExt;
    use worker::{
        AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
    };

    use super::{DocumentFetch, Fetched, Unreachable, TIMEOUT_MS};

    /// workerd's `fetch` with `redirect: "manual"` and an abort signal for the timeout.
    pub struct WorkerFetch;

    #[async_trait(?Send)]
    impl DocumentFetch for WorkerFetch {
        async fn get(&self, url: &str, max_bytes: usize) -> Result<Fetched, Unreachable> {
            let controller = AbortController::default();
            let signal = controller.signal();
            let work = Box::pin(async move {
                let headers = Headers::new();
                headers.set("accept", "application/json").ok()?;
                let mut init = RequestInit::new();
                init.with_method(Method::Get)
                    .with_headers(headers)
                    .with_redirect(RequestRedirect::Manual);
                let req = Request::new_with_init(url, &init).ok()?;
                let mut resp = Fetch::Request(req).send_with_signal(&signal).await.ok()?;
                let header = |name: &str| resp.headers().get(name).ok().flatten();
                let mut out = Fetched {
                    status: resp.status_code(),
                    content_type: header("content-type"),
                    cache_control: header("cache-control"),
                    expires: header("expires"),
                    body: Vec::new(),
                };
                if out.status == 200 {
                    let mut stream = resp.stream().ok()?;
                    while let Some(chunk) = stream.next().await {
                        out.body.extend_from_slice(&chunk.ok()?);
                        if out.body.len() > max_bytes {
                            out.body.truncate(max_bytes + 1);
                            break;
                        }
                    }
                }
                Some(out)
            });
            let timeout = Delay::from(Duration::from_millis(TIMEOUT_MS));
            match select(work, timeout).await {
                Either::Left((Some(out), _)) => Ok(out),
                Either::Left((None, _)) => Err(Unreachable::Failed),
                Either::Right(_) => {
                    controller.abort();
                    Err(Unreachable::Timeout)
                }
            }
        }
    }
}
