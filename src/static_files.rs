//! Files the build ships beside the Worker rather than inside it. A public, static document that an
//! endpoint serves (`GET /openapi.json`) costs its full size in the wasm when compiled in, and the
//! Worker's gzip size is an upload limit (README, "Bundle size and cold start"); Workers Static
//! Assets (`frontend/dist`, the `ASSETS` binding) hold it for free. The endpoint still answers with
//! the App's own status, headers and logging; only the body comes from here.
//!
//! workerd reads the `ASSETS` binding ([`AssetsBinding`]); native tests hand the App a
//! [`MemoryFiles`].

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;

/// A file as the asset store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticFile {
    /// The `Content-Type` the store gives it (from the file name's extension).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Why a file could not be read. Logged, never shown to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaticFileError {
    /// The store has no such file.
    Missing,
    /// The store answered with something else than the file (a status other than 200, or the
    /// single-page app's `index.html` standing in for an unknown path).
    Unexpected(String),
    /// The binding could not be called or its body read.
    Backend(String),
}

impl fmt::Display for StaticFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaticFileError::Missing => f.write_str("not among the static assets"),
            StaticFileError::Unexpected(m) => write!(f, "unexpected static asset: {m}"),
            StaticFileError::Backend(m) => write!(f, "static assets unavailable: {m}"),
        }
    }
}

/// Read access to the static files, by absolute path (`/openapi.json`).
#[async_trait(?Send)]
pub trait StaticFiles {
    async fn get(&self, path: &str) -> Result<StaticFile, StaticFileError>;
}

/// Reads `path` and checks that the store answered with a file of `media_type` (the single-page
/// app's fallback answers every unknown path with `index.html`, so a missing file would otherwise
/// be served as HTML under the document's name).
pub async fn read(
    files: &dyn StaticFiles,
    path: &str,
    media_type: &str,
) -> Result<Vec<u8>, StaticFileError> {
    let file = files.get(path).await?;
    let essence = file.content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(media_type) {
        return Err(StaticFileError::Unexpected(format!(
            "{path} is {}, not {media_type}",
            file.content_type
        )));
    }
    Ok(file.bytes)
}

/// Files held in memory: native tests, and the default when no store is attached (then every
/// file is [`StaticFileError::Missing`]).
#[derive(Default)]
pub struct MemoryFiles {
    files: HashMap<String, StaticFile>,
}

impl MemoryFiles {
    /// Adds `bytes` at `path` with `content_type`.
    pub fn with(mut self, path: &str, content_type: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.files.insert(
            path.to_owned(),
            StaticFile {
                content_type: content_type.to_owned(),
                bytes: bytes.into(),
            },
        );
        self
    }
}

#[async_trait(?Send)]
impl StaticFiles for MemoryFiles {
    async fn get(&self, path: &str) -> Result<StaticFile, StaticFileError> {
        self.files
            .get(path)
            .cloned()
            .ok_or(StaticFileError::Missing)
    }
}

#[cfg(target_arch = "wasm32")]
pub use binding::AssetsBinding;

#[cfg(target_arch = "wasm32")]
mod binding {
    use async_trait::async_trait;
    use worker::Fetcher;

    use super::{StaticFile, StaticFileError, StaticFiles};

    /// The Worker's `ASSETS` binding (wrangler.toml `[assets]`).
    pub struct AssetsBinding(pub Fetcher);

    #[async_trait(?Send)]
    impl StaticFiles for AssetsBinding {
        async fn get(&self, path: &str) -> Result<StaticFile, StaticFileError> {
            let backend = |e: worker::Error| StaticFileError::Backend(e.to_string());
            // The asset store looks only at the path; the host is a placeholder.
            let req = crate::http::outbound::request(
                "GET",
                &format!("https://assets.local{path}"),
                None,
                None,
            )
            .map_err(backend)?;
            let mut res = self.0.fetch_request(req).await.map_err(backend)?;
            match res.status_code() {
                200 => {}
                404 => return Err(StaticFileError::Missing),
                status => {
                    return Err(StaticFileError::Unexpected(format!(
                        "{path} answered HTTP {status}"
                    )))
                }
            }
            let content_type = res
                .headers()
                .get("content-type")
                .map_err(backend)?
                .unwrap_or_default();
            let bytes = res.bytes().await.map_err(backend)?;
            Ok(StaticFile {
                content_type,
                bytes,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;

    #[test]
    fn reads_a_file_of_the_expected_media_type() {
        let files = MemoryFiles::default().with("/a.json", "application/json", "{}");
        assert_eq!(
            block_on(read(&files, "/a.json", "application/json")),
            Ok(b"{}".to_vec())
        );
        // Parameters and case of the media type do not matter.
        let files = MemoryFiles::default().with("/a.json", "Application/JSON; charset=utf-8", "{}");
        assert!(block_on(read(&files, "/a.json", "application/json")).is_ok());
    }

    #[test]
    fn a_missing_file_or_the_app_standing_in_for_it_is_an_error() {
        let files = MemoryFiles::default().with("/a.json", "text/html", "<!doctype html>");
        assert!(matches!(
            block_on(read(&files, "/a.json", "application/json")),
            Err(StaticFileError::Unexpected(_))
        ));
        assert_eq!(
            block_on(read(&files, "/b.json", "application/json")),
            Err(StaticFileError::Missing)
        );
    }
}
