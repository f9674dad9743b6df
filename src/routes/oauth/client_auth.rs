//! `private_key_jwt` client authentication at the token, revocation and introspection
//! endpoints (security.md §3): the assertion names the client, the client's registered key
//! verifies it, and its `jti` is used once. The steps are separate so that the endpoint reads
//! the client together with what it needs ([`Presented::client_id`]) and spends the `jti` in the
//! batch of its writes (`super::single_use`).

use http::StatusCode;

use crate::auth::replay::AcceptedThrough;
use crate::ctx::Ctx;
use crate::http::form::Form;
use crate::http::ApiError;
use crate::jose::ed25519::Ed25519PublicKey;
use crate::oauth::assertion::{self, AssertionContext, ASSERTION_TYPE};
use crate::store::clients::ClientRow;
use crate::store::markers::{Mark, MarkerKind};

use super::single_use;
use super::{invalid_request, oauth_error};

fn invalid_client(description: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// A `private_key_jwt` assertion read from the form, with the client it names; nothing about
/// it is trusted before [`Presented::verify`].
pub struct Presented<'f> {
    assertion: &'f str,
    client_id: String,
}

impl<'f> Presented<'f> {
    /// The checks that need no storage: one authentication method, the assertion type, and a
    /// form `client_id` naming the assertion's issuer.
    pub fn from_form(ctx: &Ctx<'_>, form: &'f Form) -> Result<Self, ApiError> {
        presented(ctx, form).map_err(|e| challenge_header_scheme(ctx, e))
    }

    /// The client the assertion names (to look up with `store::clients::find_statement`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Verifies the assertion with the registered key of `client` (the row found for
    /// [`Presented::client_id`]); `endpoint_path` is the path of the endpoint receiving the
    /// request (an accepted `aud` besides the issuer). Disabled clients authenticate. The
    /// assertion's `jti` is still to be spent ([`Authenticated::mark`]).
    pub async fn verify(
        self,
        ctx: &Ctx<'_>,
        client: Option<ClientRow>,
        endpoint_path: &str,
    ) -> Result<Authenticated, ApiError> {
        verify(ctx, self.assertion, client, endpoint_path)
            .await
            .map_err(|e| challenge_header_scheme(ctx, e))
    }
}

/// A client whose assertion verified, with the assertion's single-use marker to spend.
pub struct Authenticated {
    pub client: ClientRow,
    replay_hash: String,
    accepted_through: AcceptedThrough,
}

impl Authenticated {
    /// The assertion's replay marker, observed at `now_ms`.
    pub fn mark(&self, now_ms: i64) -> Mark<'_> {
        single_use::mark(
            MarkerKind::ClientAssertion,
            &self.client.id,
            &self.replay_hash,
            self.accepted_through,
            now_ms,
        )
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
    if assertion.is_some()
        && (form.get("client_secret").is_some() || ctx.req.headers.contains_key("authorization"))
    {
        return Err(invalid_request(
            "more than one client authentication method",
        ));
    }
    let assertion = match (form.get("client_assertion_type"), assertion) {
        (Some(ASSERTION_TYPE), Some(a)) => a,
        _ => {
            return Err(invalid_client(
                "client authentication with private_key_jwt is required",
            ))
        }
    };
    let client_id =
        assertion::peek_client_id(assertion).map_err(|e| invalid_client(e.to_string()))?;
    if !assertion::form_client_id_matches(form.get("client_id"), &client_id) {
        return Err(invalid_client(
            "client_id does not match the assertion issuer",
        ));
    }
    Ok(Presented {
        assertion,
        client_id,
    })
}

async fn verify(
    ctx: &Ctx<'_>,
    assertion: &str,
    client: Option<ClientRow>,
    endpoint_path: &str,
) -> Result<Authenticated, ApiError> {
    let client = client.ok_or_else(|| invalid_client("unknown client"))?;
    let key = Ed25519PublicKey::parse(&client.public_key)
        .map_err(|_| ApiError::internal("stored client key invalid"))?;
    let endpoint_url = format!("{}{endpoint_path}", ctx.issuer);
    let actx = AssertionContext {
        issuer: &ctx.issuer,
        endpoint_url: &endpoint_url,
        now_s: ctx.now_s(),
        max_lifetime_secs: ctx.config.client_assertion_max_lifetime_secs,
        skew_secs: ctx.config.clock_skew_secs,
    };
    let verified = assertion::verify(assertion, &client.id, &key, &actx)
        .await
        .map_err(|e| invalid_client(e.to_string()))?;
    Ok(Authenticated {
        client,
        replay_hash: verified.replay_hash,
        accepted_through: verified.accepted_through,
    })
}
