//! Tokens obtained by the flow, kept per (resource, client) so that `agent-id token` can reuse a
//! live access token or refresh it instead of running the whole flow again. Files are 0600 in a
//! 0700 directory, written atomically (temporary file + rename), never logged.

use serde::{Deserialize, Serialize};

use super::token::{TokenResponse, TokenType};

/// Refresh this long before the access token expires, so a request never races the expiry.
pub const REFRESH_MARGIN_S: u64 = 60;

/// What is kept for one resource and client.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    pub resource: String,
    pub client_id: String,
    pub issuer: String,
    pub token_endpoint: String,
    pub access_token: String,
    pub token_type: TokenType,
    /// Unix seconds; `None` when the server gave no `expires_in`.
    pub expires_at: Option<u64>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("resource", &self.resource)
            .field("client_id", &self.client_id)
            .field("issuer", &self.issuer)
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What to do with a stored token now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Use it as is.
    Live,
    /// About to expire or expired, and a refresh token is there.
    Refresh,
    /// Expired with no refresh token: run the flow again.
    Expired,
}

impl StoredToken {
    /// Builds the record from a token response received at `now_s`. A refresh response without
    /// a new refresh token keeps the `previous` one (RFC 6749 §6).
    pub fn from_response(
        resp: TokenResponse,
        target: &TokenTarget,
        now_s: u64,
        previous_refresh: Option<String>,
    ) -> Self {
        Self {
            resource: target.resource.clone(),
            client_id: target.client_id.clone(),
            issuer: target.issuer.clone(),
            token_endpoint: target.token_endpoint.clone(),
            access_token: resp.access_token,
            token_type: resp.token_type,
            expires_at: resp.expires_in.map(|s| now_s.saturating_add(s)),
            refresh_token: resp.refresh_token.or(previous_refresh),
            scope: resp.scope,
        }
    }

    pub fn freshness(&self, now_s: u64) -> Freshness {
        let live = match self.expires_at {
            Some(at) => now_s.saturating_add(REFRESH_MARGIN_S) < at,
            None => true,
        };
        match (live, self.refresh_token.is_some()) {
            (true, _) => Freshness::Live,
            (false, true) => Freshness::Refresh,
            (false, false) => Freshness::Expired,
        }
    }
}

/// Where a token came from and is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenTarget {
    pub resource: String,
    pub client_id: String,
    pub issuer: String,
    pub token_endpoint: String,
}

/// Token records under one directory (the per-origin state directory's `oauth/`).
#[cfg(not(target_arch = "wasm32"))]
pub struct TokenStore {
    dir: std::path::PathBuf,
}

#[cfg(not(target_arch = "wasm32"))]
impl TokenStore {
    pub fn new(dir: impl Into<std::path::PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// One file per (resource, client): the name is a hash, so no URL reaches the file system.
    fn path(&self, resource: &str, client_id: &str) -> std::path::PathBuf {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(resource.as_bytes())
            .chain_update([0u8])
            .chain_update(client_id.as_bytes())
            .finalize();
        let name = agent_id_protocol::hex::encode(&digest[..16]);
        self.dir.join(format!("{name}.json"))
    }

    /// The stored token, if any. A file that group or others can read is refused, as a token
    /// in it may already have leaked.
    pub fn load(&self, resource: &str, client_id: &str) -> std::io::Result<Option<StoredToken>> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path(resource, client_id);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} is readable by others; chmod 600 it or delete it",
                    path.display()
                ),
            ));
        }
        let text = std::fs::read_to_string(&path)?;
        let token: StoredToken = serde_json::from_str(&text).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        // A record filed under another key (copied by hand) is not this one.
        Ok((token.resource == resource && token.client_id == client_id).then_some(token))
    }

    /// Writes the record with mode 0600 (directory 0700), atomically.
    pub fn save(&self, token: &StoredToken) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        let path = self.path(&token.resource, &token.client_id);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let json = serde_json::to_vec(token).map_err(std::io::Error::other)?;
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Forgets the record (after the server refused its refresh token).
    pub fn remove(&self, resource: &str, client_id: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(resource, client_id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> TokenTarget {
        TokenTarget {
            resource: "http://127.0.0.1:1/mcp".into(),
            client_id: "cli".into(),
            issuer: "http://127.0.0.1:2".into(),
            token_endpoint: "http://127.0.0.1:2/token".into(),
        }
    }

    fn resp(expires_in: Option<u64>, refresh: Option<&str>) -> TokenResponse {
        TokenResponse {
            access_token: "at".into(),
            token_type: TokenType::DPoP,
            expires_in,
            refresh_token: refresh.map(str::to_owned),
            scope: None,
        }
    }

    #[test]
    fn freshness_refreshes_before_expiry() {
        let t = StoredToken::from_response(resp(Some(3600), Some("rt")), &target(), 1000, None);
        assert_eq!(t.expires_at, Some(4600));
        assert_eq!(t.freshness(1000), Freshness::Live);
        assert_eq!(t.freshness(4600 - REFRESH_MARGIN_S - 1), Freshness::Live);
        assert_eq!(t.freshness(4600 - REFRESH_MARGIN_S), Freshness::Refresh);
        assert_eq!(t.freshness(9999), Freshness::Refresh);
        let no_rt = StoredToken::from_response(resp(Some(10), None), &target(), 1000, None);
        assert_eq!(no_rt.freshness(1000), Freshness::Expired);
        let forever = StoredToken::from_response(resp(None, None), &target(), 1000, None);
        assert_eq!(forever.freshness(u64::MAX), Freshness::Live);
        // A refresh response without a refresh token keeps the old one.
        let kept =
            StoredToken::from_response(resp(Some(10), None), &target(), 0, Some("old".into()));
        assert_eq!(kept.refresh_token.as_deref(), Some("old"));
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn store_round_trips_with_0600_and_refuses_readable_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("agent-id-tokens-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = TokenStore::new(dir.join("oauth"));
        let t = StoredToken::from_response(resp(Some(60), Some("rt")), &target(), 5, None);
        assert_eq!(store.load(&t.resource, &t.client_id).unwrap(), None);
        store.save(&t).unwrap();
        assert_eq!(
            store.load(&t.resource, &t.client_id).unwrap(),
            Some(t.clone())
        );
        assert_eq!(store.load(&t.resource, "other-client").unwrap(), None);
        let path = store.path(&t.resource, &t.client_id);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(dir.join("oauth"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = store.load(&t.resource, &t.client_id).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
        store.remove(&t.resource, &t.client_id).unwrap();
        store.remove(&t.resource, &t.client_id).unwrap();
        assert_eq!(store.load(&t.resource, &t.client_id).unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
