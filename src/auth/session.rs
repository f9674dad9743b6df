//! Sessions (api.md 5.2, security.md §10.1): 32 random bytes handed out once, kept in KV only
//! as a SHA-256 hash, and confirmed on every use against D1 (account epoch, logout markers).

use http::Method;
use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::domain::agent::AgentRow;
use crate::domain::ids::{opaque_token, sha256_hex, uuid_v4};
use crate::domain::overseer::OverseerRow;
use crate::http::error::Challenge;
use crate::http::{ApiError, Credential, ErrorCode, Request, Sent, MAX_CREDENTIAL_HEADER_BYTES};
use crate::store::agents::SessionAgent;
use crate::store::batch::{Batch, Outcomes};
use crate::store::overseers::SessionOverseer;
use crate::store::{agents, kv_ttl, markers, overseer_sessions, overseers, Namespace, Statement};

/// Which kind of account a session belongs to; sessions never cross kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    Agent,
    Overseer,
}

/// The KV value under `sess:<hash>`. The session id itself is never stored.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    kind: AccountKind,
    id: String,
    epoch: i64,
    created_at: i64,
    expires_at: i64,
}

/// A session just created: the id is shown to the client exactly once.
#[derive(Debug)]
pub struct NewSession {
    pub session_id: String,
    pub expires_in: i64,
}

/// A validated agent session.
#[derive(Debug)]
pub struct AgentSession {
    pub agent: AgentRow,
    pub token_hash: String,
    pub expires_at_ms: i64,
}

fn kv_key(token_hash: &str) -> String {
    format!("sess:{token_hash}")
}

/// Creates a session for an account at its current epoch.
pub async fn create(
    ctx: &Ctx<'_>,
    kind: AccountKind,
    account_id: &str,
    epoch: i64,
) -> Result<NewSession, ApiError> {
    mint(ctx, kind, account_id, epoch)?.store(ctx).await
}

/// A session drawn but not yet stored: overseer log-ins index it in their own D1 batch
/// ([`Minted::index`]) before [`Minted::store`] writes the KV record, so the index costs no
/// round trip of its own.
#[derive(Debug)]
pub struct Minted {
    session_id: String,
    token_hash: String,
    record: Record,
}

/// Draws a session id for an account at its current epoch.
pub fn mint(
    ctx: &Ctx<'_>,
    kind: AccountKind,
    account_id: &str,
    epoch: i64,
) -> Result<Minted, ApiError> {
    let session_id = opaque_token(ctx.rng())?;
    let ttl = ctx.config.session_ttl_secs;
    Ok(Minted {
        token_hash: sha256_hex(&session_id),
        session_id,
        record: Record {
            kind,
            id: account_id.to_owned(),
            epoch,
            created_at: ctx.now_ms,
            expires_at: ctx.now_ms + ttl * 1000,
        },
    })
}

impl Minted {
    /// The INSERT of this session's row in the overseer sessions index, with its public handle
    /// and the request's user agent and IP.
    pub fn index(&self, ctx: &Ctx<'_>) -> Result<Statement, ApiError> {
        let handle = uuid_v4(ctx.rng())?;
        Ok(overseer_sessions::insert(&overseer_sessions::NewIndexed {
            id: &handle,
            token_hash: &self.token_hash,
            overseer_id: &self.record.id,
            user_agent: ctx
                .req
                .header("user-agent")
                .map(overseer_sessions::summarise_user_agent)
                .filter(|ua| !ua.is_empty()),
            ip: ctx.ip(),
            epoch: self.record.epoch,
            created_at: self.record.created_at,
            expires_at: self.record.expires_at,
        }))
    }

    /// Writes the KV record; the session works from now on.
    pub async fn store(self, ctx: &Ctx<'_>) -> Result<NewSession, ApiError> {
        let ttl = ctx.config.session_ttl_secs;
        let value = serde_json::to_string(&self.record).map_err(ApiError::internal)?;
        ctx.services
            .kv
            .put(
                Namespace::Sessions,
                &kv_key(&self.token_hash),
                &value,
                kv_ttl(ttl),
            )
            .await?;
        Ok(NewSession {
            session_id: self.session_id,
            expires_in: ttl,
        })
    }
}

/// The Bearer credential of `Authorization`, or the 401 that its absence or shape deserves.
/// Any other scheme counts as no credentials; the scheme name is case-insensitive.
pub fn bearer_token(req: &Request, challenge: Challenge) -> Result<&str, ApiError> {
    let required = || {
        ApiError::new(ErrorCode::AuthenticationRequired, "Authentication required")
            .with_challenge(challenge)
    };
    let Sent::Once(value) = req.credential(Credential::Authorization) else {
        return Err(required());
    };
    if value.len() > MAX_CREDENTIAL_HEADER_BYTES {
        return Err(invalid_session(challenge));
    }
    let value = value.to_str().map_err(|_| invalid_session(challenge))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            if token.is_empty() {
                Err(required())
            } else if token.contains(' ') {
                Err(invalid_session(challenge))
            } else {
                Ok(token)
            }
        }
        _ => Err(required()),
    }
}

pub fn invalid_session(challenge: Challenge) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidSession,
        "Session is invalid or has expired",
    )
    .with_challenge(challenge)
}

/// A validated overseer session.
#[derive(Debug)]
pub struct OverseerSession {
    pub overseer: OverseerRow,
    pub token_hash: String,
    pub expires_at_ms: i64,
    /// Authenticated by the cookie (so writes passed the Origin check).
    pub via_cookie: bool,
}

/// The name of the overseer session cookie (`__Host-`: Secure, no Domain, Path=/).
pub const COOKIE_NAME: &str = "__Host-agentid_session";

/// `Set-Cookie` for a new overseer session, or (with `None`) the one that clears it.
pub fn cookie(session_id: Option<&str>, max_age_secs: i64) -> String {
    let (value, max_age) = session_id.map_or(("", 0), |id| (id, max_age_secs));
    format!("{COOKIE_NAME}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict")
}

fn cookie_session(req: &Request) -> Option<&str> {
    req.headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .filter(|v| !v.is_empty())
}

/// The account behind a session that KV and D1 both still vouch for.
enum Account {
    Agent(AgentRow),
    Overseer(OverseerRow),
}

/// S3: the account exists, its epoch equals the session's, and no logout marker exists. The
/// check is one statement; `reads` adds the handler's own reads for an account of kind `kind`
/// (built from the account id the KV record names) to the same D1 batch, so a session read
/// is one round trip. Their outcomes are handed back only for a confirmed account of that kind.
async fn confirm<R>(
    ctx: &Ctx<'_>,
    token_hash: &str,
    record: &Record,
    kind: AccountKind,
    reads: impl FnOnce(&str, &mut Batch) -> R,
) -> Result<Option<(Account, Option<(R, Outcomes)>)>, ApiError> {
    let id = record.id.as_str();
    let mut batch = Batch::new();
    let check = batch.push(match record.kind {
        AccountKind::Agent => agents::session_check(id, token_hash),
        AccountKind::Overseer => overseers::session_check(id, token_hash),
    });
    let steps = (record.kind == kind).then(|| reads(id, &mut batch));
    let mut out = batch.run(ctx.db()).await?;
    let checked = out.take(check);
    let account = match record.kind {
        AccountKind::Agent => checked
            .first::<SessionAgent>()?
            .filter(|r| !r.revoked && r.agent.session_epoch == record.epoch)
            .map(|r| Account::Agent(r.agent)),
        AccountKind::Overseer => checked
            .first::<SessionOverseer>()?
            .filter(|r| !r.revoked && r.overseer.session_epoch == record.epoch)
            .map(|r| Account::Overseer(r.overseer)),
    };
    Ok(account.map(|a| (a, steps.map(|s| (s, out)))))
}

/// A confirmed session with the handler's reads made alongside it (`None` when the session
/// was of the other kind, whose reads were not made).
type Confirmed<R> = (String, Record, Account, Option<(R, Outcomes)>);

async fn authenticate<R>(
    ctx: &Ctx<'_>,
    token: &str,
    challenge: Challenge,
    kind: AccountKind,
    reads: impl FnOnce(&str, &mut Batch) -> R,
) -> Result<Confirmed<R>, ApiError> {
    let token_hash = sha256_hex(token);
    let record = load(ctx, &token_hash, challenge).await?;
    let (account, read) = confirm(ctx, &token_hash, &record, kind, reads)
        .await?
        .ok_or_else(|| invalid_session(challenge))?;
    Ok((token_hash, record, account, read))
}

/// No reads besides the session check.
fn nothing(_: &str, _: &mut Batch) {}

fn wrong_kind(wanted: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        format!("This endpoint requires an {wanted} session"),
    )
}

/// Authenticates an agent endpoint: a Bearer session of kind agent, valid in KV and D1.
pub async fn require_agent(ctx: &Ctx<'_>, challenge: Challenge) -> Result<AgentSession, ApiError> {
    require_agent_reading(ctx, challenge, nothing)
        .await
        .map(|(s, _)| s)
}

/// [`require_agent`] with the handler's reads in the session check's D1 batch: `reads` gets
/// the agent id and pushes its statements (returning their steps); the outcomes come back with
/// the confirmed session.
pub async fn require_agent_reading<R>(
    ctx: &Ctx<'_>,
    challenge: Challenge,
    reads: impl FnOnce(&str, &mut Batch) -> R,
) -> Result<(AgentSession, (R, Outcomes)), ApiError> {
    let token = bearer_token(ctx.req, challenge)?;
    match authenticate(ctx, token, challenge, AccountKind::Agent, reads).await? {
        (token_hash, record, Account::Agent(agent), Some(read)) => Ok((
            AgentSession {
                agent,
                token_hash,
                expires_at_ms: record.expires_at,
            },
            read,
        )),
        _ => Err(wrong_kind("agent")),
    }
}

/// Authenticates an overseer endpoint: `Authorization: Bearer`, or — only when no
/// `Authorization` header is present — the session cookie, whose writes must come from the
/// issuer's own origin (security.md S8).
pub async fn require_overseer(ctx: &Ctx<'_>) -> Result<OverseerSession, ApiError> {
    require_overseer_reading(ctx, nothing).await.map(|(s, _)| s)
}

/// [`require_overseer`] with the handler's reads in the session check's D1 batch (see
/// [`require_agent_reading`]).
pub async fn require_overseer_reading<R>(
    ctx: &Ctx<'_>,
    reads: impl FnOnce(&str, &mut Batch) -> R,
) -> Result<(OverseerSession, (R, Outcomes)), ApiError> {
    const CH: Challenge = Challenge::Bearer;
    let (token, via_cookie) = match (
        ctx.req.headers.contains_key("authorization"),
        cookie_session(ctx.req),
    ) {
        (false, Some(cookie)) => (cookie, true),
        _ => (bearer_token(ctx.req, CH)?, false),
    };
    if via_cookie
        && is_write(&ctx.req.method)
        && ctx.req.header("origin") != Some(ctx.issuer.as_str())
    {
        return Err(ApiError::new(
            ErrorCode::CsrfCheckFailed,
            "Cross-site request refused: Origin does not match",
        ));
    }
    match authenticate(ctx, token, CH, AccountKind::Overseer, reads).await? {
        (token_hash, record, Account::Overseer(overseer), Some(read)) => Ok((
            OverseerSession {
                overseer,
                token_hash,
                expires_at_ms: record.expires_at,
                via_cookie,
            },
            read,
        )),
        _ => Err(wrong_kind("overseer")),
    }
}

/// Whoever owns a resource both kinds can own (OAuth clients).
pub enum Principal {
    Agent(AgentSession),
    Overseer(OverseerSession),
}

impl Principal {
    /// `("agent" | "overseer", id)`, as stored in `oauth_clients.owner_*`.
    pub fn owner(&self) -> (&'static str, &str) {
        match self {
            Principal::Agent(s) => ("agent", &s.agent.id),
            Principal::Overseer(s) => ("overseer", &s.overseer.id),
        }
    }
}

/// Authenticates an endpoint open to agents and overseers: a Bearer session of either kind,
/// or (overseers only, with the Origin check on writes) the cookie.
pub async fn require_account(ctx: &Ctx<'_>) -> Result<Principal, ApiError> {
    if !ctx.req.headers.contains_key("authorization") && cookie_session(ctx.req).is_some() {
        return require_overseer(ctx).await.map(Principal::Overseer);
    }
    let token = bearer_token(ctx.req, Challenge::Bearer)?;
    // Either kind will do: no reads, so the kind asked for does not matter.
    Ok(
        match authenticate(ctx, token, Challenge::Bearer, AccountKind::Agent, nothing).await? {
            (token_hash, record, Account::Agent(agent), _) => Principal::Agent(AgentSession {
                agent,
                token_hash,
                expires_at_ms: record.expires_at,
            }),
            (token_hash, record, Account::Overseer(overseer), _) => {
                Principal::Overseer(OverseerSession {
                    overseer,
                    token_hash,
                    expires_at_ms: record.expires_at,
                    via_cookie: false,
                })
            }
        },
    )
}

fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

async fn load(ctx: &Ctx<'_>, token_hash: &str, challenge: Challenge) -> Result<Record, ApiError> {
    let raw = ctx
        .services
        .kv
        .get(Namespace::Sessions, &kv_key(token_hash))
        .await?;
    let record: Record = raw
        .and_then(|v| serde_json::from_str(&v).ok())
        .ok_or_else(|| invalid_session(challenge))?;
    if record.expires_at <= ctx.now_ms {
        return Err(invalid_session(challenge));
    }
    Ok(record)
}

/// Removes the KV records of sessions already ended in D1 (their index rows are gone, which
/// alone refuses them), after the response; a failure is only logged.
pub fn forget(ctx: &Ctx<'_>, token_hashes: Vec<String>) {
    if token_hashes.is_empty() {
        return;
    }
    let kv = ctx.services.kv.clone();
    let request_id = ctx.request_id.to_owned();
    ctx.defer(async move {
        for hash in token_hashes {
            if let Err(e) = kv.delete(Namespace::Sessions, &kv_key(&hash)).await {
                crate::log::warn(&serde_json::json!({
                    "request_id": request_id, "task": "session_delete", "detail": e.to_string(),
                }));
            }
        }
    });
}

/// Logout: the D1 marker first (authoritative everywhere at once), then the KV entry after the
/// response. KV refuses a second write to a key within a second (a logout right after log-in),
/// and the marker already ends the session, so a failed delete is only logged.
pub async fn revoke(ctx: &Ctx<'_>, token_hash: &str, expires_at_ms: i64) -> Result<(), ApiError> {
    markers::revoke_session(ctx.db(), token_hash, expires_at_ms).await?;
    let kv = ctx.services.kv.clone();
    let key = kv_key(token_hash);
    let request_id = ctx.request_id.to_owned();
    ctx.defer(async move {
        if let Err(e) = kv.delete(Namespace::Sessions, &key).await {
            crate::log::warn(&serde_json::json!({
                "request_id": request_id, "task": "session_delete", "detail": e.to_string(),
            }));
        }
    });
    Ok(())
}
