//! Client authentication at the token, revocation and introspection endpoints (security.md
//! §3): `private_key_jwt` — the assertion names the client, the client's registered key
//! verifies it, and its `jti` is used once — or `none` for a public client, named by the form's
//! `client_id` alone. The steps are separate so that the endpoint reads
//! the client together with what it needs ([`Presented::client_id`]) and spends the `jti` in the
//! batch of its writes (`super::single_use`).

use http::StatusCode;

use crate::auth::replay::AcceptedThrough;
use crate::ctx::Ctx;
use crate::domain::client::ClientCredential;
use crate::http::form::Form;
use crate::http::ApiError;
use crate::jose::ed25519::Ed25519PublicKey;
use crate::oauth::assertion::{
    self, AssertionContext, AssertionError, ClientKeys, VerifiedAssertion, ASSERTION_TYPE,
};
use crate::oauth::client_metadata::is_url_client_id;
use crate::store::clients::{ClientOrigin, ClientRow};
use crate::store::markers::{Mark, MarkerKind};

use super::single_use;
use super::{invalid_request, oauth_error};

fn invalid_client(description: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// How the form authenticates its client: nothing about it is trusted before
/// [`Presented::verify`].
enum Method<'f> {
    /// `private_key_jwt`: an assertion naming the client.
    Assertion(&'f str),
    /// `none` (RFC 6749 §2.1, RFC 7009 §2.1): a public client names itself with the form's
    /// `client_id` and nothing else.
    None,
}

/// A client authentication read from the form, with the client it names.
pub struct Presented<'f> {
    method: Method<'f>,
    client_id: String,
}

impl<'f> Presented<'f> {
    /// The checks that need no storage: one authentication method, the assertion type, and a
    /// form `client_id` naming the assertion's issuer (or, alone, a public client).
    pub fn from_form(ctx: &Ctx<'_>, form: &'f Form) -> Result<Self, ApiError> {
        presented(ctx, form).map_err(|e| challenge_header_scheme(ctx, e))
    }

    /// The client the form names (to look up with `store::clients::find_statement`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Whether the client presented no credential (`none`): refused where only confidential
    /// clients are served (introspection).
    pub fn is_none(&self) -> bool {
        matches!(self.method, Method::None)
    }

    /// Authenticates the client with `client`, the row found for [`Presented::client_id`]:
    /// an assertion verified with the registered key, or `none` for a public client — never
    /// one for the other. `endpoint_path` is the path of the endpoint receiving the request
    /// (an accepted `aud` besides the issuer). Disabled clients authenticate. An assertion's
    /// `jti` is still to be spent ([`Authenticated::mark`]).
    pub async fn verify(
        self,
        ctx: &Ctx<'_>,
        client: Option<ClientRow>,
        endpoint_path: &str,
    ) -> Result<Authenticated, ApiError> {
        verify(ctx, self.method, client, endpoint_path)
            .await
            .map_err(|e| challenge_header_scheme(ctx, e))
    }

    /// Verifies the assertion with `public_key`, a key cached for [`Presented::client_id`] and
    /// not yet confirmed by D1. `None` on any failure: the cache may be stale, so only the
    /// stored row ([`Presented::verify`]) may refuse.
    pub async fn verify_cached(
        &self,
        ctx: &Ctx<'_>,
        public_key: &str,
        endpoint_path: &str,
    ) -> Option<Unconfirmed> {
        let Method::Assertion(assertion) = self.method else {
            return None;
        };
        let key = Ed25519PublicKey::parse(public_key).ok()?;
        let verified = check(ctx, assertion, &self.client_id, &key, endpoint_path)
            .await
            .ok()?;
        Some(Unconfirmed {
            client_id: self.client_id.clone(),
            replay_hash: verified.replay_hash,
            accepted_through: verified.accepted_through,
        })
    }
}

/// An assertion verified with a cached key: it authenticates the client only once D1 confirms,
/// in the batch that spends its marker, that the client still holds that key.
pub struct Unconfirmed {
    client_id: String,
    replay_hash: String,
    accepted_through: AcceptedThrough,
}

impl Unconfirmed {
    /// The assertion's replay marker, observed at `now_ms` (to spend gated on the key).
    pub fn mark(&self, now_ms: i64) -> Mark<'_> {
        single_use::mark(
            MarkerKind::ClientAssertion,
            &self.client_id,
            &self.replay_hash,
            self.accepted_through,
            now_ms,
        )
    }

    /// The client the assertion names.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The authenticated client, once D1's `client` row (read in the same batch) holds exactly
    /// `public_key`, the key that verified the assertion, and is enabled; `None` otherwise.
    pub fn confirm(self, client: Option<ClientRow>, public_key: &str) -> Option<Authenticated> {
        let client = client.filter(|c| {
            c.id == self.client_id && c.credential().public_key() == Some(public_key) && !c.disabled
        })?;
        Some(Authenticated {
            client,
            replay: Some(Replay {
                hash: self.replay_hash,
                accepted_through: self.accepted_through,
            }),
        })
    }
}

/// An assertion's single-use marker, still to spend.
struct Replay {
    hash: String,
    accepted_through: AcceptedThrough,
}

/// An authenticated client, with its assertion's single-use marker to spend (none for a
/// public client, which presented nothing that could be replayed).
pub struct Authenticated {
    pub client: ClientRow,
    replay: Option<Replay>,
}

impl Authenticated {
    /// The assertion's replay marker, observed at `now_ms` (`None` for a public client).
    pub fn mark(&self, now_ms: i64) -> Option<Mark<'_>> {
        self.replay.as_ref().map(|r| {
            single_use::mark(
                MarkerKind::ClientAssertion,
                &self.client.id,
                &r.hash,
                r.accepted_through,
                now_ms,
            )
        })
    }
}

/// The refusal of an assertion whose marker shows an earlier use.
pub fn replayed(ctx: &Ctx<'_>) -> ApiError {
    challenge_header_scheme(
        ctx,
        invalid_client("client assertion has already been used"),
    )
}

/// RFC 6749 §5.2: a client that tried to authenticate with the `Authorization` header gets its
/// `401 invalid_client` with a `WWW-Authenticate` challenge of the scheme it used.
fn challenge_header_scheme(ctx: &Ctx<'_>, mut e: ApiError) -> ApiError {
    if e.oauth_parts() != (StatusCode::UNAUTHORIZED, "invalid_client") {
        return e;
    }
    let mut values = ctx.req.headers.get_all("authorization").iter();
    let Some(first) = values.next() else {
        return e;
    };
    let scheme = first
        .to_str()
        .ok()
        .and_then(|v| v.split_whitespace().next())
        .filter(|s| is_auth_scheme(s))
        .unwrap_or("Basic");
    e.extra_mut().www_authenticate = Some(format!("{scheme} realm=\"agent-id\""));
    e
}

/// An RFC 9110 `auth-scheme` (a `token`), short enough to echo back.
fn is_auth_scheme(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn presented<'f>(ctx: &Ctx<'_>, form: &'f Form) -> Result<Presented<'f>, ApiError> {
    let assertion = form.get("client_assertion");
    let other_method =
        form.get("client_secret").is_some() || ctx.req.headers.contains_key("authorization");
    if assertion.is_some() && other_method {
        return Err(invalid_request(
            "more than one client authentication method",
        ));
    }
    let required = || invalid_client("client authentication with private_key_jwt is required");
    let assertion = match (form.get("client_assertion_type"), assertion) {
        (Some(ASSERTION_TYPE), Some(a)) => a,
        // `none`: the form's client_id alone, which only a public client may use.
        (None, None) if !other_method => {
            let client_id = form.get("client_id").ok_or_else(required)?;
            return Ok(Presented {
                method: Method::None,
                client_id: client_id.to_owned(),
            });
        }
        _ => return Err(required()),
    };
    let client_id =
        assertion::peek_client_id(assertion).map_err(|e| invalid_client(e.to_string()))?;
    if !assertion::form_client_id_matches(form.get("client_id"), &client_id) {
        return Err(invalid_client(
            "client_id does not match the assertion issuer",
        ));
    }
    Ok(Presented {
        method: Method::Assertion(assertion),
        client_id,
    })
}

async fn verify(
    ctx: &Ctx<'_>,
    method: Method<'_>,
    client: Option<ClientRow>,
    endpoint_path: &str,
) -> Result<Authenticated, ApiError> {
    // A Client ID Metadata Document client with private_key_jwt: its keys come from its document.
    if let Method::Assertion(assertion) = method {
        let client_id = assertion::peek_client_id(assertion).unwrap_or_default();
        if is_url_client_id(&client_id) {
            return verify_metadata_client(ctx, assertion, &client_id, client, endpoint_path).await;
        }
    }
    let credential = client.as_ref().map(ClientRow::credential);
    match (method, credential) {
        // A metadata-document client that declares keys authenticates with private_key_jwt.
        (Method::None, Some(ClientCredential::None))
            if client.as_ref().is_some_and(|c| c.jwks.is_none()) =>
        {
            Ok(Authenticated {
                client: client.ok_or_else(|| ApiError::internal("client vanished"))?,
                replay: None,
            })
        }
        // A registered or unknown client without an assertion: today's refusal, unchanged.
        (Method::None, _) => Err(invalid_client(
            "client authentication with private_key_jwt is required",
        )),
        (Method::Assertion(_), None) => Err(invalid_client("unknown client")),
        (Method::Assertion(_), Some(ClientCredential::None)) => Err(invalid_client(
            "a public client authenticates with its client_id alone",
        )),
        (Method::Assertion(assertion), Some(ClientCredential::Ed25519Key { public_key, .. })) => {
            let key = Ed25519PublicKey::parse(public_key)
                .map_err(|_| ApiError::internal("stored client key invalid"))?;
            let client = client.ok_or_else(|| ApiError::internal("client vanished"))?;
            let verified = check(ctx, assertion, &client.id, &key, endpoint_path)
                .await
                .map_err(|e| invalid_client(e.to_string()))?;
            Ok(Authenticated {
                client,
                replay: Some(Replay {
                    hash: verified.replay_hash,
                    accepted_through: verified.accepted_through,
                }),
            })
        }
    }
}

/// A Client ID Metadata Document client: its row as cached (`client`), or its document fetched
/// again when missing or expired; then the assertion verified with the client's keys, fetched
/// again from its `jwks_uri` once when the assertion names a key the cache does not hold.
async fn verify_metadata_client(
    ctx: &Ctx<'_>,
    assertion: &str,
    client_id: &str,
    client: Option<ClientRow>,
    endpoint_path: &str,
) -> Result<Authenticated, ApiError> {
    let client = crate::cimd::current(ctx, client_id, client)
        .await
        .map_err(crate::cimd::CimdError::at_token)?;
    if client.origin != ClientOrigin::MetadataDocument || client.jwks.is_none() {
        return Err(invalid_client(
            "this client does not authenticate with private_key_jwt",
        ));
    }
    let keys = crate::cimd::keys_of(&client);
    let mut result = check_with(
        ctx,
        assertion,
        &client.id,
        ClientKeys::Metadata(&keys),
        endpoint_path,
    )
    .await;
    if result == Err(AssertionError::UnknownKey) {
        if let Some(fresh) = crate::cimd::refetch_keys(ctx, &client).await {
            result = check_with(
                ctx,
                assertion,
                &client.id,
                ClientKeys::Metadata(&fresh),
                endpoint_path,
            )
            .await;
        }
    }
    let verified = result.map_err(|e| invalid_client(e.to_string()))?;
    Ok(Authenticated {
        client,
        replay: Some(Replay {
            hash: verified.replay_hash,
            accepted_through: verified.accepted_through,
        }),
    })
}

/// Verifies `assertion` of `client_id` with `key` for the endpoint at `endpoint_path`.
async fn check(
    ctx: &Ctx<'_>,
    assertion: &str,
    client_id: &str,
    key: &Ed25519PublicKey,
    endpoint_path: &str,
) -> Result<VerifiedAssertion, AssertionError> {
    check_with(
        ctx,
        assertion,
        client_id,
        ClientKeys::Registered(key),
        endpoint_path,
    )
    .await
}

/// [`check`] with the keys of any kind of client.
async fn check_with(
    ctx: &Ctx<'_>,
    assertion: &str,
    client_id: &str,
    keys: ClientKeys<'_>,
    endpoint_path: &str,
) -> Result<VerifiedAssertion, AssertionError> {
    let endpoint_url = format!("{}{endpoint_path}", ctx.issuer);
    let actx = AssertionContext {
        issuer: &ctx.issuer,
        endpoint_url: &endpoint_url,
        now_s: ctx.now_s(),
        max_lifetime_secs: ctx.config.client_assertion_max_lifetime_secs,
        skew_secs: ctx.config.clock_skew_secs,
    };
    assertion::verify_with(assertion, client_id, keys, &actx).await
}
