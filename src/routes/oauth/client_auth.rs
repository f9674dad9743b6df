//! `private_key_jwt` client authentication at the token, revocation and introspection
//! endpoints (security.md §3): the assertion names the client, the client's registered key
//! verifies it, and its `jti` is used once.

use http::StatusCode;

use crate::auth::replay::{self, MarkerKind};
use crate::ctx::Ctx;
use crate::http::form::Form;
use crate::http::ApiError;
use crate::jose::ed25519::Ed25519PublicKey;
use crate::oauth::assertion::{self, AssertionContext, ASSERTION_TYPE};
use crate::store::clients::{self, ClientRow};

use super::{invalid_request, oauth_error};

fn invalid_client(description: impl Into<std::borrow::Cow<'static, str>>) -> ApiError {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// Authenticates the calling client; `endpoint_path` is the path of the endpoint receiving the
/// request (an accepted assertion `aud` besides the issuer). Disabled clients authenticate.
pub async fn authenticate(
    ctx: &Ctx<'_>,
    form: &Form,
    endpoint_path: &str,
) -> Result<ClientRow, ApiError> {
    authenticate_private_key_jwt(ctx, form, endpoint_path)
        .await
        .map_err(|e| challenge_header_scheme(ctx, e))
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

async fn authenticate_private_key_jwt(
    ctx: &Ctx<'_>,
    form: &Form,
    endpoint_path: &str,
) -> Result<ClientRow, ApiError> {
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
    let client = clients::find(ctx.db(), &client_id)
        .await?
        .ok_or_else(|| invalid_client("unknown client"))?;
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
    let fresh = replay::first_use(
        ctx,
        MarkerKind::ClientAssertion,
        &client.id,
        &verified.replay_hash,
        verified.accepted_through,
    )
    .await?;
    if !fresh {
        return Err(invalid_client("client assertion has already been used"));
    }
    Ok(client)
}
