//! The flow's I/O: fetching metadata, the headless authorization step, token requests with DPoP
//! (through [`DpopClient`], which answers `use_dpop_nonce` at any server), and sending a request
//! to a protected resource with the token. Decisions are the pure functions of the sibling
//! modules; this file only sequences them.

use std::rc::Rc;

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use url::Url;

use super::authorize::{AuthorizationRequest, REDIRECT_URI};
use super::dpop_key::{DpopAlg, Es256Key};
use super::pkce::{random_state, Pkce};
use super::store::{Freshness, StoredToken, TokenTarget};
use super::token::{Grant, TokenResponse, TokenType};
use super::{ClientIdentity, FlowError};
use crate::discovery::{
    auth_server_metadata_urls, resource_challenge, resource_metadata_urls, AuthServerMetadata,
    ResourceChallenge, ResourceMetadata,
};
use crate::transport::{HttpRequest, HttpResponse, Transport};
use crate::{AgentKey, Client, DpopClient, ProofSigner, ProtocolError};

/// Largest metadata document accepted (they are a few hundred bytes).
const MAX_METADATA: usize = 64 * 1024;

/// What discovery found for one resource.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub resource: ResourceMetadata,
    pub server: AuthServerMetadata,
    /// The scope to ask for: the 401's, else everything the resource lists (may be none).
    pub scope: Option<String>,
}

/// Where tokens are kept between runs; `None` keeps them in memory only (wasm32, tests).
pub trait TokenCache {
    fn load(&self, resource: &str, client_id: &str) -> Result<Option<StoredToken>, FlowError>;
    fn save(&self, token: &StoredToken) -> Result<(), FlowError>;
    fn remove(&self, resource: &str, client_id: &str) -> Result<(), FlowError>;
    /// The agent's P-256 DPoP key, the same across runs (created on first use).
    fn es256_key(&self) -> Result<Es256Key, FlowError>;
}

#[cfg(unix)]
impl TokenCache for super::store::TokenStore<'_> {
    fn load(&self, resource: &str, client_id: &str) -> Result<Option<StoredToken>, FlowError> {
        Ok(super::store::TokenStore::load(self, resource, client_id)?)
    }
    fn save(&self, token: &StoredToken) -> Result<(), FlowError> {
        Ok(super::store::TokenStore::save(self, token)?)
    }
    fn remove(&self, resource: &str, client_id: &str) -> Result<(), FlowError> {
        Ok(super::store::TokenStore::remove(self, resource, client_id)?)
    }
    fn es256_key(&self) -> Result<Es256Key, FlowError> {
        Ok(super::store::TokenStore::es256_key(self)?)
    }
}

/// How the last token was obtained (for the CLI's report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obtained {
    Reused,
    Refreshed,
    Authorized,
}

/// The agent as an OAuth client at any server, over its [`Client`]'s transport, clock and
/// [`DpopClient`] (so nonces are cached per origin across the AS and resources); its key signs
/// every DPoP proof.
pub struct OAuthAgent<'a> {
    client: &'a Client,
    key: &'a AgentKey,
    cache: Option<&'a dyn TokenCache>,
    es256: std::cell::OnceCell<Es256Key>,
}

impl<'a> OAuthAgent<'a> {
    /// `cache`: where tokens (and the P-256 DPoP key) are kept; `None`: in memory only.
    pub fn new(client: &'a Client, key: &'a AgentKey, cache: Option<&'a dyn TokenCache>) -> Self {
        Self {
            client,
            key,
            cache,
            es256: std::cell::OnceCell::new(),
        }
    }

    /// The proof signer for a token bound with `alg`.
    fn signer(&self, alg: DpopAlg) -> Result<ProofSigner<'_>, FlowError> {
        match alg {
            DpopAlg::EdDSA => Ok(self.key.proof_signer()),
            DpopAlg::ES256 => {
                if self.es256.get().is_none() {
                    let key = match self.cache {
                        Some(cache) => cache.es256_key()?,
                        None => Es256Key::generate()?,
                    };
                    let _ = self.es256.set(key);
                }
                let key = self.es256.get().expect("set above");
                Ok(ProofSigner::Es256(key.signing_key()))
            }
        }
    }

    fn transport(&self) -> &Rc<dyn Transport> {
        self.client.transport()
    }

    fn dpop(&self) -> &DpopClient {
        self.client.dpop()
    }

    /// Discovers who protects `resource`: the 401's `resource_metadata` (else the well-known
    /// locations), then the first authorization server's metadata.
    pub async fn discover(
        &self,
        resource: &Url,
        challenge: Option<&ResourceChallenge>,
    ) -> Result<Discovered, FlowError> {
        let candidates = match challenge.and_then(|c| c.resource_metadata.clone()) {
            Some(url) => vec![url],
            None => resource_metadata_urls(resource),
        };
        let mut found = None;
        for url in &candidates {
            if let Some(body) = self.get_json(url).await? {
                found = Some(ResourceMetadata::parse(&body, resource)?);
                break;
            }
        }
        let resource_meta =
            found.ok_or_else(|| FlowError::NoResourceMetadata(resource.to_string()))?;
        let issuer = resource_meta.authorization_servers[0].clone();
        let mut server = None;
        for url in auth_server_metadata_urls(&issuer) {
            if let Some(body) = self.get_json(&url).await? {
                server = Some(AuthServerMetadata::parse(&body, &issuer)?);
                break;
            }
        }
        let server = server.ok_or_else(|| FlowError::NoAuthServerMetadata(issuer.to_string()))?;
        let scope = challenge.and_then(|c| c.scope.clone()).or_else(|| {
            let all = resource_meta.scopes_supported.join(" ");
            (!all.is_empty()).then_some(all)
        });
        Ok(Discovered {
            resource: resource_meta,
            server,
            scope,
        })
    }

    /// A token for the discovered resource: the stored one while live, else a refresh, else
    /// the whole authorization code flow. Every new token is stored.
    pub async fn obtain(
        &self,
        found: &Discovered,
        client: &ClientIdentity,
    ) -> Result<(StoredToken, Obtained), FlowError> {
        let client_id = client.client_id_for(&found.server)?;
        let target = TokenTarget {
            resource: found.resource.resource_id.clone(),
            client_id: client_id.clone(),
            issuer: found.server.issuer_str.clone(),
            token_endpoint: found.server.token_endpoint.to_string(),
            dpop_alg: DpopAlg::choose(&found.server.dpop_signing_alg_values_supported)?,
        };
        let now = self.now();
        if let Some(stored) = self.load(&target)? {
            match stored.freshness(now) {
                Freshness::Live => return Ok((stored, Obtained::Reused)),
                Freshness::Refresh => {
                    if let Some(t) = self.refresh(&stored).await? {
                        return Ok((t, Obtained::Refreshed));
                    }
                }
                Freshness::Expired => {}
            }
        }
        let token = self.authorize(found, &target).await?;
        Ok((token, Obtained::Authorized))
    }

    /// The stored token for a target, when it was issued by the same server's token endpoint.
    fn load(&self, target: &TokenTarget) -> Result<Option<StoredToken>, FlowError> {
        let Some(cache) = self.cache else {
            return Ok(None);
        };
        Ok(cache
            .load(&target.resource, &target.client_id)?
            .filter(|t| t.issuer == target.issuer && t.token_endpoint == target.token_endpoint))
    }

    /// Refreshes `stored`; `None` when the server refused the refresh token (it is then
    /// forgotten and the caller runs the flow again).
    pub async fn refresh(&self, stored: &StoredToken) -> Result<Option<StoredToken>, FlowError> {
        let Some(refresh_token) = stored.refresh_token.as_deref() else {
            return Ok(None);
        };
        let endpoint = Url::parse(&stored.token_endpoint)
            .map_err(|_| FlowError::BadTokenResponse("stored token endpoint".into()))?;
        let grant = Grant::Refresh { refresh_token };
        let target = TokenTarget::of(stored);
        match self.token_request(&endpoint, &grant, &target).await {
            Ok(resp) => {
                let token = StoredToken::from_response(
                    resp,
                    &target,
                    self.now(),
                    stored.refresh_token.clone(),
                );
                self.store(&token)?;
                Ok(Some(token))
            }
            Err(FlowError::TokenRefused { .. }) => {
                if let Some(cache) = self.cache {
                    cache.remove(&stored.resource, &stored.client_id)?;
                }
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The authorization code flow, headless: the authorization endpoint's redirect is read from
    /// its `Location` (never followed), then the code is exchanged with a DPoP proof.
    async fn authorize(
        &self,
        found: &Discovered,
        target: &TokenTarget,
    ) -> Result<StoredToken, FlowError> {
        let request = AuthorizationRequest::new(
            &found.server,
            &target.client_id,
            &found.resource.resource_id,
            found.scope.as_deref(),
            Pkce::generate()?,
            random_state()?,
        );
        let response = self
            .transport()
            .send(build(
                http::Method::GET,
                request.url.as_str(),
                &[],
                Vec::new(),
            )?)
            .await?;
        if !response.status().is_redirection() {
            return Err(FlowError::BadAuthorizationResponse(format!(
                "the authorization endpoint answered HTTP {} instead of redirecting back \
                 (it may need a person to approve; agent-id's own consent is `agent-id authorize`)",
                response.status().as_u16()
            )));
        }
        let location = header(&response, LOCATION.as_str()).ok_or_else(|| {
            FlowError::BadAuthorizationResponse("redirect without Location".into())
        })?;
        let code = request.code_from_redirect(&location, &found.server)?;
        let grant = Grant::AuthorizationCode {
            code: &code,
            redirect_uri: REDIRECT_URI,
            code_verifier: request.pkce.verifier(),
        };
        let resp = self
            .token_request(&found.server.token_endpoint, &grant, target)
            .await?;
        let token = StoredToken::from_response(resp, target, self.now(), None);
        self.store(&token)?;
        Ok(token)
    }

    /// One token request with a DPoP proof (a `use_dpop_nonce` answer is retried once by
    /// [`DpopClient`]).
    async fn token_request(
        &self,
        endpoint: &Url,
        grant: &Grant<'_>,
        target: &TokenTarget,
    ) -> Result<TokenResponse, FlowError> {
        let body = grant.form(&target.client_id, &target.resource);
        let request = build(
            http::Method::POST,
            endpoint.as_str(),
            &[
                (CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded"),
                (ACCEPT.as_str(), "application/json"),
            ],
            body.into_bytes(),
        )?;
        let response = self
            .dpop()
            .send(self.signer(target.dpop_alg)?, request, None)
            .await?;
        let status = response.status().as_u16();
        let text = String::from_utf8_lossy(response.body());
        if status == 200 {
            return TokenResponse::parse(&text, true);
        }
        match crate::ServerError::from_body(status, response.body()) {
            Some(e) => Err(FlowError::TokenRefused {
                status,
                error: e.code,
                description: (!e.message.is_empty()).then_some(e.message),
            }),
            None => Err(crate::Error::from(ProtocolError::UnexpectedStatus { status }).into()),
        }
    }

    /// Sends `request` with `token`: `DPoP` tokens with a fresh proof (and the resource's
    /// nonce, retried once), `Bearer` tokens as they are.
    pub async fn send_with_token(
        &self,
        token: &StoredToken,
        mut request: HttpRequest,
    ) -> Result<HttpResponse, FlowError> {
        match token.token_type {
            TokenType::DPoP => Ok(self
                .dpop()
                .send(
                    self.signer(token.dpop_alg)?,
                    request,
                    Some(&token.access_token),
                )
                .await?),
            TokenType::Bearer => {
                let value = http::HeaderValue::from_str(&format!("Bearer {}", token.access_token))
                    .map_err(|_| {
                        FlowError::BadTokenResponse("token is not a header value".into())
                    })?;
                request.headers_mut().insert(AUTHORIZATION, value);
                Ok(self.transport().send(request).await?)
            }
        }
    }

    /// Sends `make()`'s request to a protected resource: with `token` when there is one; on a 401 that challenges for a token, discovers, obtains one
    /// (reusing, refreshing or authorizing) and sends it again once.
    pub async fn send_protected(
        &self,
        url: &Url,
        client: &ClientIdentity,
        make: &dyn Fn() -> Result<HttpRequest, FlowError>,
        token: &mut Option<StoredToken>,
    ) -> Result<HttpResponse, FlowError> {
        let first = match token.as_ref() {
            Some(t) => self.send_with_token(t, make()?).await?,
            None => self.transport().send(make()?).await?,
        };
        if first.status() != http::StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        let Some(challenge) = challenge_of(&first)? else {
            return Ok(first);
        };
        let found = self.discover(url, Some(&challenge)).await?;
        let (mut fresh, how) = self.obtain(&found, client).await?;
        // A stored token the resource just refused is not worth reusing: refresh it or start
        // over.
        if how == Obtained::Reused && token.is_some() {
            fresh = match self.refresh(&fresh).await? {
                Some(t) => t,
                None => self.authorize(&found, &TokenTarget::of(&fresh)).await?,
            };
        }
        let response = self.send_with_token(&fresh, make()?).await?;
        *token = Some(fresh);
        Ok(response)
    }

    fn store(&self, token: &StoredToken) -> Result<(), FlowError> {
        match self.cache {
            Some(cache) => cache.save(token),
            None => Ok(()),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.client.now_s()).unwrap_or(0)
    }

    /// GETs a metadata document: `Some(body)` on 200, `None` on 404 (try the next location);
    /// other statuses and oversized bodies are errors.
    async fn get_json(&self, url: &Url) -> Result<Option<String>, FlowError> {
        let request = build(
            http::Method::GET,
            url.as_str(),
            &[(ACCEPT.as_str(), "application/json")],
            Vec::new(),
        )?;
        let response = self.transport().send(request).await?;
        match response.status().as_u16() {
            200 if response.body().len() <= MAX_METADATA => {
                Ok(Some(String::from_utf8_lossy(response.body()).into_owned()))
            }
            200 => Err(FlowError::Discovery(
                crate::discovery::DiscoveryError::MalformedMetadata(format!(
                    "{url}: document too large"
                )),
            )),
            404 | 405 | 410 => Ok(None),
            status => Err(crate::Error::from(ProtocolError::UnexpectedStatus { status }).into()),
        }
    }
}

/// An `http` request from parts; an invalid URL or header is a local error.
pub fn build(
    method: http::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<HttpRequest, FlowError> {
    let mut builder = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(body)
        .map_err(|e| crate::LocalError::Invalid(format!("request to {url}: {e}")).into())
}

/// The `DPoP`/`Bearer` challenge of a 401 (all `WWW-Authenticate` fields together); `None` for
/// another status or no such challenge.
pub fn challenge_of(response: &HttpResponse) -> Result<Option<ResourceChallenge>, FlowError> {
    if response.status() != http::StatusCode::UNAUTHORIZED {
        return Ok(None);
    }
    let challenges: Vec<&str> = response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if challenges.is_empty() {
        return Ok(None);
    }
    Ok(resource_challenge(&challenges.join(", "))?)
}

/// A response header as text (the first, if repeated).
pub fn header(response: &HttpResponse, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
