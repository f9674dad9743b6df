//! Tokens obtained by the flow, kept per (resource, client) so that `agent-id token` can reuse a
//! live access token or refresh it instead of running the whole flow again; never logged.

use serde::{Deserialize, Serialize};

use super::dpop_key::DpopAlg;
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
    /// The key the token is bound to (proofs at the resource and refreshes use it).
    #[serde(default)]
    pub dpop_alg: DpopAlg,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("resource", &self.resource)
            .field("client_id", &self.client_id)
            .field("issuer", &self.issuer)
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("dpop_alg", &self.dpop_alg)
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
            dpop_alg: target.dpop_alg,
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
    pub dpop_alg: DpopAlg,
}

impl TokenTarget {
    /// The target a stored token was obtained for.
    pub fn of(token: &StoredToken) -> Self {
        Self {
            resource: token.resource.clone(),
            client_id: token.client_id.clone(),
            issuer: token.issuer.clone(),
            token_endpoint: token.token_endpoint.clone(),
            dpop_alg: token.dpop_alg,
        }
    }
}

/// Token records in the agent's per-server [`Profile`](crate::Profile) directory, one secret
/// file (`0600`, atomic, refused when others can read it) per (resource, client).
#[cfg(unix)]
pub struct TokenStore<'a> {
    profile: &'a crate::Profile,
}

#[cfg(unix)]
impl<'a> TokenStore<'a> {
    pub fn new(profile: &'a crate::Profile) -> Self {
        Self { profile }
    }

    /// The file name is a hash, so no URL reaches the file system.
    fn name(resource: &str, client_id: &str) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(resource.as_bytes())
            .chain_update([0u8])
            .chain_update(client_id.as_bytes())
            .finalize();
        format!(
            "oauth-{}.json",
            agent_id_protocol::hex::encode(&digest[..16])
        )
    }

    /// The stored token, if any (a record filed under another key, copied by hand, is not it).
    pub fn load(
        &self,
        resource: &str,
        client_id: &str,
    ) -> Result<Option<StoredToken>, crate::LocalError> {
        let name = Self::name(resource, client_id);
        let Some(secret) = self.profile.read_secret(&name)? else {
            return Ok(None);
        };
        let token: StoredToken =
            serde_json::from_str(secret.expose()).map_err(|e| crate::LocalError::StateFile {
                path: self.profile.dir().join(&name),
                reason: e.to_string(),
            })?;
        Ok((token.resource == resource && token.client_id == client_id).then_some(token))
    }

    pub fn save(&self, token: &StoredToken) -> Result<(), crate::LocalError> {
        let json = serde_json::to_string(token).expect("a StoredToken serialises");
        let name = Self::name(&token.resource, &token.client_id);
        self.profile.write_secret(&name, &crate::Secret::new(json))
    }

    /// Forgets the record (after the server refused its refresh token).
    pub fn remove(&self, resource: &str, client_id: &str) -> Result<(), crate::LocalError> {
        self.profile.remove_secret(&Self::name(resource, client_id))
    }

    /// The agent's P-256 DPoP key, created on first use (`oauth-dpop-es256.key`, `0600`).
    pub fn es256_key(&self) -> Result<super::dpop_key::Es256Key, crate::LocalError> {
        use super::dpop_key::Es256Key;
        const NAME: &str = "oauth-dpop-es256.key";
        if let Some(secret) = self.profile.read_secret(NAME)? {
            return Es256Key::from_secret(secret.expose()).ok_or_else(|| {
                crate::LocalError::StateFile {
                    path: self.profile.dir().join(NAME),
                    reason: "not a P-256 private key".into(),
                }
            });
        }
        let key = Es256Key::generate()?;
        self.profile
            .write_secret(NAME, &crate::Secret::new(key.to_secret().as_str()))?;
        Ok(key)
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
            dpop_alg: DpopAlg::EdDSA,
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

    #[cfg(unix)]
    #[test]
    fn store_round_trips_with_0600_and_refuses_readable_files() {
        use std::os::unix::fs::PermissionsExt;
        let base = std::env::temp_dir().join(format!("agent-id-tokens-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let server = crate::ServerUrl::parse("http://127.0.0.1:9").unwrap();
        let profile = crate::Profile::in_base(&base, &server);
        let store = TokenStore::new(&profile);
        let t = StoredToken::from_response(resp(Some(60), Some("rt")), &target(), 5, None);
        assert_eq!(store.load(&t.resource, &t.client_id).unwrap(), None);
        store.save(&t).unwrap();
        assert_eq!(
            store.load(&t.resource, &t.client_id).unwrap(),
            Some(t.clone())
        );
        assert_eq!(store.load(&t.resource, "other-client").unwrap(), None);
        let path = profile
            .dir()
            .join(TokenStore::name(&t.resource, &t.client_id));
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            store.load(&t.resource, &t.client_id),
            Err(crate::LocalError::Permissions { .. })
        ));
        store.remove(&t.resource, &t.client_id).unwrap();
        store.remove(&t.resource, &t.client_id).unwrap();
        assert_eq!(store.load(&t.resource, &t.client_id).unwrap(), None);
        let _ = std::fs::remove_dir_all(&base);
    }
}
