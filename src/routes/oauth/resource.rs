//! `GET|POST /v1/oauth/userinfo` (api.md 2.11): DPoP-bound identity access tokens only (never a
//! resource token, whose audience is another server), presented as `Authorization: DPoP` with
//! a proof carrying `ath`; the claims follow the granted scope.

use http::StatusCode;
use serde_json::{json, Map, Value};

use crate::auth::dpop::VerifiedProof;
use crate::auth::dpop_request::{self, HeaderProof};
use crate::ctx::Ctx;
use crate::domain::tier::{summarize, AgentSummary, TierRead};
use crate::domain::time::month_bounds_ms;
use crate::http::form::Form;
use crate::http::{query, ApiError, Body, Credential, Reply, Sent, MAX_CREDENTIAL_HEADER_BYTES};
use crate::jose::ed25519::Ed25519PublicKey;
use crate::oauth::scope::ScopeToken;
use crate::store::batch::{Batch, Outcomes};
use crate::store::subscriptions::SummaryReads;

use super::access::{verified_claims, AccessLookup, ActiveAccess};
use super::single_use::Spend;
use super::{check_client_proof, client_proof, invalid_request, proof_mark};

const ALGS: &str = "algs=\"EdDSA Ed25519 ES256\"";

/// A `401` with the resource server's DPoP challenge (RFC 6750 §3, RFC 9449 §7.1).
fn unauthorized(error: &'static str, description: &'static str, with_error: bool) -> ApiError {
    let mut e = super::oauth_error(StatusCode::UNAUTHORIZED, error, description);
    e.extra_mut().www_authenticate = Some(if with_error {
        format!("DPoP {ALGS}, error=\"{error}\", error_description=\"{description}\"")
    } else {
        format!("DPoP {ALGS}")
    });
    e
}

/// The access token of `Authorization: DPoP <token>`; every other shape is an error.
fn presented_token<'r>(ctx: &'r Ctx<'_>) -> Result<&'r str, ApiError> {
    let in_query = query::pairs(ctx.req.query.as_deref().unwrap_or(""))
        .iter()
        .any(|(k, _)| k == "access_token");
    let in_body = matches!(&ctx.req.body, Body::Bytes(b) if !b.is_empty())
        && ctx.req.header("content-type").is_some_and(|c| {
            c.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
        && Form::parse(ctx.req).is_ok_and(|f| f.get("access_token").is_some());
    let value = match ctx.req.credential(Credential::Authorization) {
        Sent::Repeated => return Err(invalid_request("more than one credential")),
        Sent::Absent if in_query || in_body => {
            return Err(invalid_request(
                "access tokens are accepted only in the Authorization header",
            ))
        }
        Sent::Absent => {
            return Err(unauthorized(
                "invalid_token",
                "access token required",
                false,
            ))
        }
        Sent::Once(v) => v,
    };
    if in_query || in_body {
        return Err(invalid_request("more than one credential"));
    }
    if value.len() > MAX_CREDENTIAL_HEADER_BYTES {
        return Err(unauthorized(
            "invalid_token",
            "access token is invalid",
            true,
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| unauthorized("invalid_token", "access token is invalid", true))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("dpop") && !token.is_empty() => {
            Ok(token)
        }
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("bearer") => Err(unauthorized(
            "invalid_token",
            "DPoP-bound token presented with the Bearer scheme",
            true,
        )),
        _ => Err(unauthorized(
            "invalid_token",
            "access token required",
            false,
        )),
    }
}

/// The agent summary's reads (those of `/v1/agents/me`), queued in userinfo's one batch when
/// the token's scope asks for the `subscription` claims; decoded only for an active token.
struct SummaryLookup {
    reads: SummaryReads,
    tiers: TierRead,
}

impl SummaryLookup {
    fn push(ctx: &Ctx<'_>, batch: &mut Batch, agent_id: &str) -> Self {
        Self {
            reads: SummaryReads::push(batch, agent_id, month_bounds_ms(ctx.now_ms)),
            tiers: ctx.services.tiers.read_into(batch),
        }
    }

    fn summary(
        self,
        ctx: &Ctx<'_>,
        found: &mut Outcomes,
        agent_id: &str,
    ) -> Result<AgentSummary, ApiError> {
        let tiers = ctx.services.tiers.resolve(self.tiers, found)?;
        Ok(summarize(
            self.reads.take(found)?,
            &tiers,
            agent_id,
            ctx.now_ms,
        )?)
    }
}

/// `GET|POST /v1/oauth/userinfo`: a proof carrying its own key is verified first, so one D1
/// batch reads the token's state (with the agent and, for the `subscription` scope, the agent
/// summary) and spends the proof's `jti`. A proof without `jwk` (compatible mode) is verified
/// with the client's key, read first.
pub async fn userinfo(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let token = presented_token(ctx)?;
    let invalid = || {
        unauthorized(
            "invalid_token",
            "access token is invalid, expired or revoked",
            true,
        )
    };
    let claims = verified_claims(ctx, token)
        .await?
        .filter(|c| c.jkt.is_some())
        .ok_or_else(invalid)?;
    // A resource token is for its resource, not for userinfo.
    let scope = claims.scope.identity().ok_or_else(invalid)?;
    let wants_summary = scope.contains(ScopeToken::Subscription);
    let sub = claims.sub.clone();
    let reads = |batch: &mut Batch| {
        let summary = wants_summary.then(|| SummaryLookup::push(ctx, batch, &sub));
        (AccessLookup::push(batch, claims), summary)
    };
    let (access, proof, summary) = match check_client_proof(ctx, None, Some(token)).await? {
        HeaderProof::Verified(proof) => {
            let mut spend = Spend::new();
            let dpop = spend.mark(proof_mark(&proof, ctx.now_ms));
            let spent = spend.with(ctx, |batch, _| reads(batch)).await?;
            let replayed = spent.replayed(dpop);
            let ((lookup, summary), found) = spent.written();
            let mut found = found.ok_or_else(|| ApiError::internal("userinfo read nothing"))?;
            let access = lookup.active(&mut found)?.ok_or_else(invalid)?;
            if replayed {
                return Err(unauthorized(
                    "invalid_dpop_proof",
                    dpop_request::REPLAYED,
                    true,
                ));
            }
            (access, proof, summary.map(|s| (s, found)))
        }
        _ => {
            let mut batch = Batch::new();
            let (lookup, summary) = reads(&mut batch);
            let mut found = batch.run(ctx.db()).await?;
            let access = lookup.active(&mut found)?.ok_or_else(invalid)?;
            let proof = resource_proof(ctx, &access, token).await?;
            (access, proof, summary.map(|s| (s, found)))
        }
    };
    if access.claims.jkt.as_deref() != Some(proof.thumbprint.as_str()) {
        return Err(unauthorized(
            "invalid_token",
            "DPoP key binding mismatch",
            true,
        ));
    }
    let agent = &access.state;
    let agent_id = &access.claims.sub;
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(agent_id));
    if scope.contains(ScopeToken::Id) {
        claims.insert("id".into(), json!(agent_id));
    }
    if scope.contains(ScopeToken::Name) {
        claims.insert("name".into(), json!(agent.agent_name));
    }
    if scope.contains(ScopeToken::Description) {
        claims.insert("description".into(), json!(agent.agent_description));
    }
    if scope.contains(ScopeToken::PubKey) {
        claims.insert("public_key".into(), json!(agent.agent_public_key));
    }
    if let Some((lookup, mut found)) = summary {
        let summary = lookup.summary(ctx, &mut found, agent_id)?;
        claims.insert("tier".into(), json!(summary.tier));
        claims.insert("oauth_count".into(), json!(summary.oauth_count));
        claims.insert("oauth_limit".into(), json!(summary.max_oauth_per_period));
        claims.insert(
            "billing_period_end".into(),
            json!(summary.billing_period_end),
        );
    }
    Ok(Reply::document(&Value::Object(claims)))
}

/// The DPoP proof sent with the access token, consumed; without `jwk` it is verified with the
/// client's registered key (compatible mode).
async fn resource_proof(
    ctx: &Ctx<'_>,
    access: &ActiveAccess,
    token: &str,
) -> Result<VerifiedProof, ApiError> {
    // A public client has no key: its proofs always carry their `jwk`.
    let key = match access.state.client_credential().public_key() {
        Some(k) => Some(
            Ed25519PublicKey::parse(k)
                .map_err(|_| ApiError::internal("stored client key invalid"))?,
        ),
        None => None,
    };
    match client_proof(ctx, key.as_ref(), Some(token)).await? {
        HeaderProof::Verified(p) => Ok(p),
        HeaderProof::Absent => Err(unauthorized(
            "invalid_dpop_proof",
            "DPoP proof required",
            true,
        )),
        HeaderProof::Invalid(reason) => Err(unauthorized("invalid_dpop_proof", reason, true)),
        HeaderProof::UseNonce(nonce) => {
            let mut e = unauthorized(
                "use_dpop_nonce",
                "Resource server requires nonce in DPoP proof",
                true,
            );
            e.extra_mut().dpop_nonce = Some(nonce);
            Err(e)
        }
    }
}
