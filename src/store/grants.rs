//! OAuth grants and what hangs off them: authorization requests (history), codes,
//! refresh-token families, issued access tokens, revocation.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.
//! Single use is decided inside one batch: the first statement claims (a code, a refresh
//! token, a slot under the monthly limit) and every later one is guarded by that claim, so a
//! request that lost the race writes nothing.

use serde::Deserialize;

use super::batch::{Batch, Guard, Step};
use super::live_grants::ConsentedBy;
use super::oversights::blocked;
use super::{flag, Db, Statement, StoreError, Value};
use crate::{guard, stmt};

// --- authorization requests and codes ---

/// A code to issue with an approved request.
pub struct NewCode<'a> {
    pub id: &'a str,
    pub hash: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub dpop_jkt: Option<&'a str>,
    pub expires_at_ms: i64,
}

/// An approved authorization request: a history row counted against the agent's monthly
/// limit, and its code.
pub struct Approval<'a> {
    pub request_id: &'a str,
    pub agent_id: &'a str,
    pub client_id: &'a str,
    pub client_name: &'a str,
    pub scope: &'a str,
    /// The resource indicators requested (JSON array of URIs), `None` for an identity grant.
    pub resources: Option<&'a str>,
    /// Who approved: the agent itself, or its overseer in the browser.
    pub consented_by: ConsentedBy,
    /// The tier's `max_oauth_per_period` (−1 unlimited).
    pub limit: i64,
    /// The current period, `[start, end)` in Unix milliseconds.
    pub period_ms: (i64, i64),
    pub code: NewCode<'a>,
    pub now_ms: i64,
}

/// Whether an approval fitted under the monthly limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApproveOutcome {
    Approved,
    LimitReached,
}

/// Records the approval and its code if the agent's approvals this period are under the
/// limit; `audit` is written only then. One batch, so concurrent requests cannot pass it.
pub async fn approve(
    db: &dyn Db,
    a: &Approval<'_>,
    audit: Statement,
) -> Result<ApproveOutcome, StoreError> {
    let history = Statement::new(
        "INSERT INTO oauth_requests (id, agent_id, client_id, client_name, scope, status, reason, \
           exchanged_at, created_at, resources, consented_by) \
         SELECT ?1, ?2, ?3, ?4, ?5, 'approved', NULL, NULL, ?6, ?7, ?8",
        vec![
            Value::from(a.request_id),
            Value::from(a.agent_id),
            Value::from(a.client_id),
            Value::from(a.client_name),
            Value::from(a.scope),
            Value::from(a.now_ms),
            Value::from(a.resources),
            Value::from(a.consented_by.as_str()),
        ],
    );
    let under_limit = guard!(
        "?1 < 0 OR (SELECT COUNT(*) FROM oauth_requests WHERE agent_id = ?2 AND status = 'approved' \
           AND created_at >= ?3 AND created_at < ?4) < ?1",
        a.limit,
        a.agent_id,
        a.period_ms.0,
        a.period_ms.1
    );
    let code = Statement::new(
        "INSERT INTO authorization_codes (id, code_hash, client_id, agent_id, redirect_uri, \
           code_challenge, scope, dpop_jkt, oauth_request_id, expires_at, created_at, resources, \
           consented_by) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13",
        vec![
            Value::from(a.code.id),
            Value::from(a.code.hash),
            Value::from(a.client_id),
            Value::from(a.agent_id),
            Value::from(a.code.redirect_uri),
            Value::from(a.code.code_challenge),
            Value::from(a.scope),
            Value::from(a.code.dpop_jkt),
            Value::from(a.request_id),
            Value::from(a.code.expires_at_ms),
            Value::from(a.now_ms),
            Value::from(a.resources),
            Value::from(a.consented_by.as_str()),
        ],
    );
    let mut batch = Batch::new();
    let recorded = batch.push_if(history, under_limit);
    batch.push_if(code, request_recorded(a.request_id));
    batch.push_if(audit, request_recorded(a.request_id));
    Ok(if batch.run(db).await?.changed(recorded) {
        ApproveOutcome::Approved
    } else {
        ApproveOutcome::LimitReached
    })
}

/// A refused authorization request, for the agent's history.
pub struct Refusal<'a> {
    pub request_id: &'a str,
    pub agent_id: &'a str,
    pub client_id: &'a str,
    pub client_name: &'a str,
    pub scope: &'a str,
    pub reason: &'static str,
    /// Who refused or was refused: the agent itself, or its overseer in the browser.
    pub decided_by: ConsentedBy,
    pub now_ms: i64,
    /// A refusal repeating the agent's latest request to this client (refused for the same
    /// reason) created after this instant adds nothing.
    pub collapse_after_ms: i64,
}

/// Records a refusal and `audit` (both or neither), unless it repeats the latest one.
pub async fn record_refusal(
    db: &dyn Db,
    r: &Refusal<'_>,
    audit: Statement,
) -> Result<(), StoreError> {
    let history = Statement::new(
        "INSERT INTO oauth_requests (id, agent_id, client_id, client_name, scope, status, reason, \
           created_at, consented_by) \
         SELECT ?1, ?2, ?3, ?4, ?5, 'denied', ?6, ?7, ?8",
        vec![
            Value::from(r.request_id),
            Value::from(r.agent_id),
            Value::from(r.client_id),
            Value::from(r.client_name),
            Value::from(r.scope),
            Value::from(r.reason),
            Value::from(r.now_ms),
            Value::from(r.decided_by.as_str()),
        ],
    );
    let not_a_repeat = guard!(
        "NOT EXISTS (SELECT 1 FROM (SELECT status, reason FROM oauth_requests \
           WHERE agent_id = ?1 AND created_at > ?2 AND client_id = ?3 \
           ORDER BY created_at DESC, id DESC LIMIT 1) AS latest \
         WHERE latest.status = 'denied' AND latest.reason = ?4)",
        r.agent_id,
        r.collapse_after_ms,
        r.client_id,
        r.reason
    );
    let mut batch = Batch::new();
    batch.push_if(history, not_a_repeat);
    batch.push_if(audit, request_recorded(r.request_id));
    batch.run(db).await.map(drop)
}

/// "This request's history row was written".
fn request_recorded(request_id: &str) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM oauth_requests WHERE id = ?1)",
        request_id
    )
}

/// A code as stored, with whether its client is blocked for its agent now.
#[derive(Clone, Debug, Deserialize)]
pub struct CodeRow {
    pub id: String,
    pub client_id: String,
    pub agent_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub dpop_jkt: Option<String>,
    pub oauth_request_id: Option<String>,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The grant its redemption created.
    pub grant_id: Option<String>,
    /// The resource indicators approved (JSON array of URIs), `None` for an identity grant.
    pub resources: Option<String>,
    pub consented_by: ConsentedBy,
    #[serde(deserialize_with = "flag::deserialize")]
    pub blocked: bool,
}

/// The code with this hash.
pub async fn find_code(db: &dyn Db, code_hash: &str) -> Result<Option<CodeRow>, StoreError> {
    db.run(find_code_statement(code_hash)).await?.first()
}

/// The SELECT of [`find_code`], for a batch of reads.
pub fn find_code_statement(code_hash: &str) -> Statement {
    stmt!(
        format!(
            "SELECT k.id, k.client_id, k.agent_id, k.redirect_uri, k.code_challenge, k.scope, \
               k.dpop_jkt, k.oauth_request_id, k.expires_at, k.used_at, k.grant_id, k.resources, \
               k.consented_by, {} AS blocked FROM authorization_codes k WHERE k.code_hash = ?1",
            blocked("k.client_id", "k.agent_id")
        ),
        code_hash
    )
}

/// The grant created by redeeming the code, if it was redeemed.
pub async fn grant_of_code(db: &dyn Db, code_id: &str) -> Result<Option<String>, StoreError> {
    #[derive(Deserialize)]
    struct G {
        grant_id: Option<String>,
    }
    Ok(db
        .run(stmt!(
            "SELECT grant_id FROM authorization_codes WHERE id = ?1",
            code_id
        ))
        .await?
        .first::<G>()?
        .and_then(|g| g.grant_id))
}

// --- grants and refresh tokens ---

/// A refresh token to store.
pub struct NewRefresh<'a> {
    pub id: &'a str,
    pub hash: &'a str,
    pub expires_at_ms: i64,
    /// The DPoP key a public client's token is bound to (RFC 9449 §5); `None` otherwise.
    pub dpop_jkt: Option<&'a str>,
}

/// A code redemption: the code becomes a grant with its first refresh token.
pub struct Redemption<'a> {
    pub code_id: &'a str,
    pub oauth_request_id: Option<&'a str>,
    pub grant_id: &'a str,
    pub client_id: &'a str,
    pub agent_id: &'a str,
    pub scope: &'a str,
    pub refresh: NewRefresh<'a>,
    pub now_ms: i64,
}

/// Whether this request redeemed the code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedeemOutcome {
    Redeemed,
    /// Already redeemed (or it expired meanwhile): a concurrent request won.
    AlreadyUsed,
}

/// Claims the code for a new grant and writes the grant, its refresh token, the request's
/// exchange time and `issued` (the access-token row, the audit event) — all only if this
/// request's claim took effect.
pub async fn redeem_code(
    db: &dyn Db,
    r: &Redemption<'_>,
    issued: impl IntoIterator<Item = Statement>,
) -> Result<RedeemOutcome, StoreError> {
    let mut batch = Batch::new();
    let claimed = push_redemption(&mut batch, r, issued, None);
    Ok(RedeemOutcome::of(batch.run(db).await?.changed(claimed)))
}

impl RedeemOutcome {
    /// The outcome of a redemption whose claim step did (or did not) change its code.
    pub const fn of(claimed: bool) -> Self {
        if claimed {
            RedeemOutcome::Redeemed
        } else {
            RedeemOutcome::AlreadyUsed
        }
    }
}

/// Pushes the statements of [`redeem_code`] onto the caller's batch, the claim also gated by
/// `gate` (the request's replay markers still unused), and returns the claim's step.
pub fn push_redemption(
    batch: &mut Batch,
    r: &Redemption<'_>,
    issued: impl IntoIterator<Item = Statement>,
    gate: Option<Guard>,
) -> Step {
    let now = r.now_ms;
    let claim = stmt!(
        "UPDATE authorization_codes SET used_at = ?2, grant_id = ?3 \
         WHERE id = ?1 AND used_at IS NULL AND expires_at > ?2",
        r.code_id,
        now,
        r.grant_id
    );
    let claimed = batch.push(match gate {
        Some(g) => claim.and_if(g),
        None => claim,
    });
    batch.push_if(
        stmt!(
            "INSERT INTO oauth_grants (id, client_id, agent_id, scope, code_id, created_at, \
               last_used_at, consented_at, resources, consented_by) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6, \
               COALESCE((SELECT created_at FROM oauth_requests WHERE id = ?7), ?6), \
               (SELECT resources FROM authorization_codes WHERE id = ?5), \
               (SELECT consented_by FROM authorization_codes WHERE id = ?5)",
            r.grant_id,
            r.client_id,
            r.agent_id,
            r.scope,
            r.code_id,
            now,
            r.oauth_request_id
        ),
        guard!(
            "EXISTS (SELECT 1 FROM authorization_codes WHERE id = ?1 AND grant_id = ?2)",
            r.code_id,
            r.grant_id
        ),
    );
    let granted = || {
        guard!(
            "EXISTS (SELECT 1 FROM oauth_grants WHERE id = ?1)",
            r.grant_id
        )
    };
    batch.push_if(insert_refresh(r.grant_id, &r.refresh, now), granted());
    batch.push(
        stmt!(
            "UPDATE oauth_requests SET exchanged_at = ?2 WHERE id = ?1",
            r.oauth_request_id,
            now
        )
        .and_if(granted()),
    );
    for stmt in issued {
        batch.push_if(stmt, granted());
    }
    claimed
}

fn insert_refresh(grant_id: &str, refresh: &NewRefresh<'_>, now_ms: i64) -> Statement {
    stmt!(
        "INSERT INTO refresh_tokens (id, grant_id, token_hash, issued_at, expires_at, dpop_jkt) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6",
        refresh.id,
        grant_id,
        refresh.hash,
        now_ms,
        refresh.expires_at_ms,
        refresh.dpop_jkt
    )
}

/// A refresh token as stored, with its grant, its client's state and whether the client is
/// blocked for the agent now.
#[derive(Clone, Debug, Deserialize)]
pub struct RefreshRow {
    pub id: String,
    pub grant_id: String,
    pub client_id: String,
    pub agent_id: String,
    pub scope: String,
    /// The grant's resource indicators (JSON array; `None`: an identity grant).
    pub resources: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
    /// When it was rotated (or, retired by a grace retry, when its predecessor was).
    pub rotated_at: Option<i64>,
    /// Its successor, once rotated.
    pub replaced_by: Option<String>,
    /// The DPoP key it is bound to (a public client's, RFC 9449 §5).
    pub dpop_jkt: Option<String>,
    #[serde(deserialize_with = "flag::deserialize")]
    pub grant_revoked: bool,
    #[serde(deserialize_with = "flag::deserialize")]
    pub client_disabled: bool,
    #[serde(deserialize_with = "flag::deserialize")]
    pub blocked: bool,
}

/// The refresh token with this hash.
pub async fn find_refresh(db: &dyn Db, token_hash: &str) -> Result<Option<RefreshRow>, StoreError> {
    db.run(find_refresh_statement(token_hash)).await?.first()
}

/// The SELECT of [`find_refresh`], for a batch of reads.
pub fn find_refresh_statement(token_hash: &str) -> Statement {
    stmt!(
        format!(
            "SELECT r.id, r.grant_id, g.client_id, g.agent_id, g.scope, g.resources, r.issued_at, \
               r.expires_at, r.rotated_at, r.replaced_by, r.dpop_jkt, \
               (g.revoked_at IS NOT NULL) AS grant_revoked, \
               c.disabled AS client_disabled, {} AS blocked \
             FROM refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id \
               JOIN oauth_clients c ON c.id = g.client_id WHERE r.token_hash = ?1",
            blocked("g.client_id", "g.agent_id")
        ),
        token_hash
    )
}

/// A refresh-token rotation: the presented token is replaced by a successor.
pub struct Rotation<'a> {
    pub presented_id: &'a str,
    pub grant_id: &'a str,
    pub successor: NewRefresh<'a>,
    pub now_ms: i64,
    /// The refresh grace window (`REFRESH_GRACE_SECS`, in ms; 0 disables it): how long after
    /// its rotation the presented token may be retried while its successor is unused.
    pub grace_ms: i64,
}

/// Whether this request rotated the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotateOutcome {
    Rotated,
    /// A concurrent request rotated it first, and no grace retry applied: a reuse.
    AlreadyRotated,
}

/// The audit events of a rotation, written as the batch decides: `rotated` for a first use,
/// `retried` for an answer within the grace window.
pub struct RotationEvents {
    pub rotated: Statement,
    pub retried: Statement,
}

/// Replaces the presented token by its successor and writes `issued` (the access-token row)
/// and the event only if this request's successor was inserted.
pub async fn rotate_refresh(
    db: &dyn Db,
    r: &Rotation<'_>,
    issued: impl IntoIterator<Item = Statement>,
    events: RotationEvents,
) -> Result<RotateOutcome, StoreError> {
    let mut batch = Batch::new();
    let inserted = push_rotation(&mut batch, r, issued, events, None);
    Ok(RotateOutcome::of(batch.run(db).await?.changed(inserted)))
}

impl RotateOutcome {
    /// The outcome of a rotation whose successor step did (or did not) insert a row.
    pub const fn of(inserted: bool) -> Self {
        if inserted {
            RotateOutcome::Rotated
        } else {
            RotateOutcome::AlreadyRotated
        }
    }
}

/// Pushes the statements of [`rotate_refresh`] onto the caller's batch, the rotation also
/// gated by `gate` (the request's replay markers still unused), and returns the step that
/// inserts the successor.
///
/// The batch decides between three cases, in its own order, so concurrent requests cannot
/// interleave inside it:
/// 1. first use: the presented token, still unreplaced, points to the new successor;
/// 2. grace retry (only with `grace_ms > 0`): the presented token was rotated at most
///    `grace_ms` ago and its current successor is still unused — that successor is retired
///    (it points to the new one and inherits the presented token's rotation time, so it gets
///    no window of its own) and the presented token is re-pointed to the new successor. At
///    most one successor is live at a time; presenting a retired one later is a reuse;
/// 3. otherwise nothing is written and the caller treats the request as a reuse.
pub fn push_rotation(
    batch: &mut Batch,
    r: &Rotation<'_>,
    issued: impl IntoIterator<Item = Statement>,
    events: RotationEvents,
    gate: Option<Guard>,
) -> Step {
    let now = r.now_ms;
    let gated = |s: Statement| match &gate {
        Some(g) => s.and_if(g.clone()),
        None => s,
    };
    batch.push(gated(stmt!(
        "UPDATE refresh_tokens SET rotated_at = ?2, replaced_by = ?3 WHERE id = ?1 AND replaced_by IS NULL",
        r.presented_id,
        now,
        r.successor.id
    )));
    if r.grace_ms > 0 {
        // Case 2: retire the unused successor of a token rotated within the window. After
        // case 1 the presented token points to the new id, which has no row yet: no change.
        batch.push(gated(stmt!(
            "UPDATE refresh_tokens SET replaced_by = ?2, \
               rotated_at = (SELECT rotated_at FROM refresh_tokens WHERE id = ?1) \
             WHERE id = (SELECT replaced_by FROM refresh_tokens WHERE id = ?1 AND rotated_at >= ?3) \
               AND replaced_by IS NULL",
            r.presented_id,
            r.successor.id,
            now - r.grace_ms
        )));
        batch.push(stmt!(
            "UPDATE refresh_tokens SET replaced_by = ?2 WHERE id = ?1 AND replaced_by <> ?2 \
               AND EXISTS (SELECT 1 FROM refresh_tokens WHERE grant_id = ?3 AND replaced_by = ?2)",
            r.presented_id,
            r.successor.id,
            r.grant_id
        ));
    }
    let inserted = batch.push_if(
        insert_refresh(r.grant_id, &r.successor, now),
        guard!(
            "EXISTS (SELECT 1 FROM refresh_tokens WHERE id = ?1 AND replaced_by = ?2)",
            r.presented_id,
            r.successor.id
        ),
    );
    let rotated = || {
        guard!(
            "EXISTS (SELECT 1 FROM refresh_tokens WHERE id = ?1)",
            r.successor.id
        )
    };
    batch.push(
        stmt!(
            "UPDATE oauth_grants SET last_used_at = ?2 WHERE id = ?1",
            r.grant_id,
            now
        )
        .and_if(rotated()),
    );
    for stmt in issued {
        batch.push_if(stmt, rotated());
    }
    // A retired predecessor of the new successor, other than the presented token, marks a
    // grace retry.
    let retired = "EXISTS (SELECT 1 FROM refresh_tokens WHERE grant_id = ?2 AND replaced_by = ?1 AND id <> ?3)";
    let event_guard = |sql: String| {
        Guard::new(
            sql,
            vec![
                Value::from(r.successor.id),
                Value::from(r.grant_id),
                Value::from(r.presented_id),
            ],
        )
    };
    let successor = "EXISTS (SELECT 1 FROM refresh_tokens WHERE id = ?1)";
    batch.push_if(
        events.rotated,
        event_guard(format!("{successor} AND NOT {retired}")),
    );
    batch.push_if(
        events.retried,
        event_guard(format!("{successor} AND {retired}")),
    );
    inserted
}

/// Why a grant was revoked (`oauth_grants.revoked_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokedBecause {
    /// Its code was presented again (security.md A5).
    CodeReuse,
    /// A rotated refresh token was presented again (F3, F4).
    RefreshReuse,
    /// Its client revoked a refresh token (RFC 7009).
    Revoked,
    /// The agent revoked it (its live grants).
    RevokedByAgent,
    /// The agent's overseer revoked it (the agent's live grants).
    RevokedByOverseer,
}

impl RevokedBecause {
    pub const fn as_str(self) -> &'static str {
        match self {
            RevokedBecause::CodeReuse => "code_reuse",
            RevokedBecause::RefreshReuse => "refresh_reuse",
            RevokedBecause::Revoked => "revoked",
            RevokedBecause::RevokedByAgent => "revoked_by_agent",
            RevokedBecause::RevokedByOverseer => "revoked_by_overseer",
        }
    }
}

/// Revokes a whole grant: every refresh and access token of the family stops working.
pub fn revoke(grant_id: &str, because: RevokedBecause, now_ms: i64) -> Statement {
    stmt!(
        "UPDATE oauth_grants SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        grant_id,
        now_ms,
        because.as_str()
    )
}

// --- access tokens ---

/// An issued access token's row (the token itself is a signed JWT).
pub struct AccessRow<'a> {
    pub jti: &'a str,
    pub grant_id: &'a str,
    pub client_id: &'a str,
    pub agent_id: &'a str,
    /// The key the token is bound to; `None`: a Bearer token (stored as '').
    pub jkt: Option<&'a str>,
    pub scope: &'a str,
    /// The resource URI; `None`: an identity token (audience: the client).
    pub aud: Option<&'a str>,
    pub issued_at_ms: i64,
    pub expires_at_ms: i64,
}

/// The INSERT of an access token's row: an `INSERT … SELECT`, so the caller can guard it.
pub fn insert_access(a: &AccessRow<'_>) -> Statement {
    stmt!(
        "INSERT INTO access_tokens (jti, grant_id, client_id, agent_id, jkt, scope, issued_at, \
           expires_at, aud) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9",
        a.jti,
        a.grant_id,
        a.client_id,
        a.agent_id,
        a.jkt.unwrap_or(""),
        a.scope,
        a.issued_at_ms,
        a.expires_at_ms,
        a.aud
    )
}

/// What decides whether a validly signed access token is still active (security.md §4).
#[derive(Clone, Debug, Deserialize)]
pub struct AccessState {
    pub grant_id: String,
    /// The client's registered key (for the compatible userinfo mode) and its thumbprint;
    /// decoded by [`AccessState::client_credential`].
    pub client_key: String,
    pub client_key_thumbprint: String,
    #[serde(deserialize_with = "flag::deserialize")]
    pub grant_revoked: bool,
    /// Its `jti` was revoked on its own.
    #[serde(deserialize_with = "flag::deserialize")]
    pub denied: bool,
    #[serde(deserialize_with = "flag::deserialize")]
    pub client_disabled: bool,
    #[serde(deserialize_with = "flag::deserialize")]
    pub blocked: bool,
    /// The agent the token speaks for, as userinfo and introspection show it.
    pub agent_name: String,
    pub agent_description: Option<String>,
    pub agent_public_key: String,
}

impl AccessState {
    /// How the token's client authenticates (a public client has no key).
    pub fn client_credential(&self) -> crate::domain::client::ClientCredential<'_> {
        crate::domain::client::ClientCredential::from_columns(
            &self.client_key,
            &self.client_key_thumbprint,
        )
    }

    pub const fn is_active(&self) -> bool {
        !(self.grant_revoked || self.denied || self.client_disabled || self.blocked)
    }
}

/// The state of the access token `jti` issued to `client_id` for `agent_id` (`None` when no
/// such token was issued, or its agent is gone).
pub async fn access_state(
    db: &dyn Db,
    client_id: &str,
    agent_id: &str,
    jti: &str,
) -> Result<Option<AccessState>, StoreError> {
    db.run(access_state_statement(client_id, agent_id, jti))
        .await?
        .first()
}

/// The SELECT of [`access_state`], for a batch of reads.
pub fn access_state_statement(client_id: &str, agent_id: &str, jti: &str) -> Statement {
    stmt!(
        format!(
            "SELECT t.grant_id, (g.revoked_at IS NOT NULL) AS grant_revoked, \
               EXISTS (SELECT 1 FROM revoked_jtis r WHERE r.jti = t.jti) AS denied, \
               c.disabled AS client_disabled, c.public_key AS client_key, \
               c.key_thumbprint AS client_key_thumbprint, {} AS blocked, \
               a.name AS agent_name, a.description AS agent_description, \
               a.public_key AS agent_public_key \
             FROM access_tokens t JOIN oauth_grants g ON g.id = t.grant_id \
               JOIN oauth_clients c ON c.id = t.client_id JOIN agents a ON a.id = t.agent_id \
             WHERE t.client_id = ?1 AND t.agent_id = ?2 AND t.jti = ?3",
            blocked("?1", "?2")
        ),
        client_id,
        agent_id,
        jti
    )
}

/// Denylists one access token until it would have expired (RFC 7009 for an access token).
pub fn deny_access(jti: &str, expires_at_ms: i64, now_ms: i64) -> Statement {
    deny_access_if(jti, expires_at_ms, now_ms, guard!("1"))
}

/// [`deny_access`] where `guard` holds (the request's replay markers still unused).
pub fn deny_access_if(jti: &str, expires_at_ms: i64, now_ms: i64, guard: Guard) -> Statement {
    let mut s = stmt!(
        "INSERT INTO revoked_jtis (jti, expires_at, revoked_at) SELECT ?1, ?2, ?3",
        jti,
        expires_at_ms,
        now_ms
    )
    .only_if(guard);
    // The upsert clause follows the SELECT's WHERE, which also keeps SQLite's parser from
    // reading `ON` as a join constraint.
    s.sql = format!("{} ON CONFLICT (jti) DO NOTHING", s.sql).into();
    s
}

// --- an agent's OAuth history ---

/// How an authorization request ended (`oauth_requests.status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Approved,
    Denied,
}

/// One authorization request in an agent's OAuth history.
#[derive(serde::Deserialize)]
pub struct HistoryRow {
    pub id: String,
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub status: RequestStatus,
    pub reason: Option<String>,
    pub created_at: i64,
    pub exchanged_at: Option<i64>,
    /// Who decided: the agent, or its overseer in the browser.
    pub consented_by: ConsentedBy,
}

/// Keyset position: rows strictly before `(created_at, id)` in newest-first order.
#[derive(Clone, Copy, Debug)]
pub struct Before<'a> {
    pub created_at: i64,
    pub id: &'a str,
}

/// Up to `limit` requests of `agent_id`, newest first, after `before` when given.
pub async fn history(
    db: &dyn super::Db,
    agent_id: &str,
    before: Option<Before<'_>>,
    limit: i64,
) -> Result<Vec<HistoryRow>, super::StoreError> {
    db.run(history_statement(agent_id, before, limit))
        .await?
        .decode()
}

/// The statement of [`history`], for a caller's batch (a session check with its reads).
pub fn history_statement(
    agent_id: &str,
    before: Option<Before<'_>>,
    limit: i64,
) -> crate::store::Statement {
    let (before_ms, before_id) = before.map_or((0, ""), |b| (b.created_at, b.id));
    crate::stmt!(
        "SELECT id, client_id, client_name, scope, status, reason, created_at, exchanged_at, \
           consented_by FROM oauth_requests WHERE agent_id = ?1 \
           AND (created_at < ?2 OR (created_at = ?2 AND id < ?3) OR ?4 = 0) \
         ORDER BY created_at DESC, id DESC LIMIT ?5",
        agent_id,
        before_ms,
        before_id,
        before.is_some(),
        limit
    )
}
// --- client blocks ---

/// Revokes the client's live grants for the agent, in the batch that blocks the client.
pub fn revoke_for_block(client_id: &str, agent_id: &str, now_ms: i64) -> crate::store::Statement {
    crate::stmt!(
        "UPDATE oauth_grants SET revoked_at = ?3, revoked_reason = 'client_blocked' \
         WHERE client_id = ?1 AND agent_id = ?2 AND revoked_at IS NULL",
        client_id,
        agent_id,
        now_ms
    )
}

/// The single-use decisions on SQLite with the real migrations: the claim decides, and a
/// request that lost it writes none of the statements it brought along.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::store::audit::{Actor, Event, Stamp};
    use crate::store::clients::{self, ApplicationType, NewClient, Owner, OwnerType};
    use crate::store::sqlite::SqliteDb;

    const NOW: i64 = 1_700_000_000_000;

    fn db() -> SqliteDb {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let db = SqliteDb::in_memory(&dir).unwrap();
        block_on(db.run(stmt!(
            "INSERT INTO agents (id, name, public_key, created_at, updated_at) \
             VALUES ('a1', 'Agent', 'key-a1', 0, 0)"
        )))
        .unwrap();
        let client = NewClient {
            id: "c1",
            owner: Owner {
                kind: OwnerType::Agent,
                id: "a1",
            },
            name: "Client",
            redirect_uris: "[\"https://app.example/cb\"]",
            scope: None,
            key: Some(clients::NewKey {
                public_key: "key-c1".into(),
                thumbprint: "jkt-c1".into(),
            }),
            application_type: ApplicationType::Web,
            dpop_bound_access_tokens: false,
            now_ms: 0,
        };
        block_on(db.run(clients::insert(&client))).unwrap();
        db
    }

    fn count(db: &SqliteDb, sql: &'static str) -> i64 {
        let out = block_on(db.run(stmt!(sql))).unwrap();
        out.rows[0]["n"].as_i64().unwrap()
    }

    fn audit(kind: &'static str) -> Statement {
        Event::new(kind, Actor::Client("c1")).insert(&Stamp::system(NOW))
    }

    fn approval<'a>(request_id: &'a str, code_id: &'a str, hash: &'a str) -> Approval<'a> {
        Approval {
            request_id,
            agent_id: "a1",
            client_id: "c1",
            client_name: "Client",
            scope: "id",
            resources: None,
            consented_by: ConsentedBy::Agent,
            limit: 1,
            period_ms: (NOW - 1000, NOW + 1000),
            code: NewCode {
                id: code_id,
                hash,
                redirect_uri: "https://app.example/cb",
                code_challenge: "challenge",
                dpop_jkt: None,
                expires_at_ms: NOW + 60_000,
            },
            now_ms: NOW,
        }
    }

    fn access(jti: &str, grant_id: &str) -> Statement {
        insert_access(&AccessRow {
            jti,
            grant_id,
            client_id: "c1",
            agent_id: "a1",
            jkt: Some("jkt-c1"),
            scope: "id",
            aud: None,
            issued_at_ms: NOW,
            expires_at_ms: NOW + 60_000,
        })
    }

    fn redemption<'a>(grant_id: &'a str, refresh_id: &'a str, hash: &'a str) -> Redemption<'a> {
        Redemption {
            code_id: "k1",
            oauth_request_id: Some("r1"),
            grant_id,
            client_id: "c1",
            agent_id: "a1",
            scope: "id",
            refresh: NewRefresh {
                id: refresh_id,
                hash,
                expires_at_ms: NOW + 60_000,
                dpop_jkt: None,
            },
            now_ms: NOW,
        }
    }

    /// Approves the code `k1` (hash `h1`, request `r1`) and redeems it as grant `g1`.
    fn redeemed() -> SqliteDb {
        let db = db();
        let approved = block_on(approve(&db, &approval("r1", "k1", "h1"), audit("issued")));
        assert_eq!(approved.unwrap(), ApproveOutcome::Approved);
        let issued = [access("t1", "g1"), audit("token")];
        let outcome = block_on(redeem_code(&db, &redemption("g1", "f1", "fh1"), issued));
        assert_eq!(outcome.unwrap(), RedeemOutcome::Redeemed);
        db
    }

    #[test]
    fn an_approval_past_the_limit_writes_no_code_and_no_event() {
        let db = db();
        let first = block_on(approve(&db, &approval("r1", "k1", "h1"), audit("issued")));
        assert_eq!(first.unwrap(), ApproveOutcome::Approved);
        let second = block_on(approve(&db, &approval("r2", "k2", "h2"), audit("issued")));
        assert_eq!(second.unwrap(), ApproveOutcome::LimitReached);
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM oauth_requests"), 1);
        assert_eq!(
            count(&db, "SELECT COUNT(*) AS n FROM authorization_codes"),
            1
        );
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM audit_events"), 1);
    }

    #[test]
    fn a_code_is_redeemed_once_and_the_loser_writes_nothing() {
        let db = redeemed();
        let issued = [access("t2", "g2"), audit("token")];
        let again = block_on(redeem_code(&db, &redemption("g2", "f2", "fh2"), issued));
        assert_eq!(again.unwrap(), RedeemOutcome::AlreadyUsed);
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM oauth_grants"), 1);
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM refresh_tokens"), 1);
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM access_tokens"), 1);
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) AS n FROM audit_events WHERE type = 'token'"
            ),
            1
        );
        let code = block_on(find_code(&db, "h1")).unwrap().unwrap();
        assert_eq!(
            (code.used_at, code.grant_id.as_deref()),
            (Some(NOW), Some("g1"))
        );
        assert_eq!(
            block_on(grant_of_code(&db, "k1")).unwrap().as_deref(),
            Some("g1")
        );
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) AS n FROM oauth_requests WHERE exchanged_at IS NOT NULL"
            ),
            1
        );
    }

    fn rotation(successor: &'static str, grace_ms: i64, now_ms: i64) -> Rotation<'static> {
        Rotation {
            presented_id: "f1",
            grant_id: "g1",
            successor: NewRefresh {
                id: successor,
                hash: successor,
                expires_at_ms: NOW + 60_000,
                dpop_jkt: None,
            },
            now_ms,
            grace_ms,
        }
    }

    fn events() -> RotationEvents {
        RotationEvents {
            rotated: audit("rotated"),
            retried: audit("retried"),
        }
    }

    #[test]
    fn a_refresh_token_rotates_once_and_the_loser_writes_nothing() {
        let db = redeemed();
        let rotate = |successor, jti| {
            block_on(rotate_refresh(
                &db,
                &rotation(successor, 0, NOW),
                [access(jti, "g1")],
                events(),
            ))
            .unwrap()
        };
        assert_eq!(rotate("f2", "t2"), RotateOutcome::Rotated);
        assert_eq!(rotate("f3", "t3"), RotateOutcome::AlreadyRotated);
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM refresh_tokens"), 2);
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM access_tokens"), 2);
        let old = block_on(find_refresh(&db, "fh1")).unwrap().unwrap();
        assert_eq!(old.replaced_by.as_deref(), Some("f2"));
    }

    /// The grace batch: a retry within the window retires the unused successor and re-points
    /// the presented token, so one successor is live; past the window, or once the successor
    /// was used, it writes nothing.
    #[test]
    fn a_grace_retry_leaves_one_live_successor() {
        let live = "SELECT COUNT(*) AS n FROM refresh_tokens WHERE replaced_by IS NULL";
        let kind = |k: &str| format!("SELECT COUNT(*) AS n FROM audit_events WHERE type = '{k}'");
        let db = redeemed();
        let go = |successor, jti, now| {
            block_on(rotate_refresh(
                &db,
                &rotation(successor, 30_000, now),
                [access(jti, "g1")],
                events(),
            ))
            .unwrap()
        };
        assert_eq!(go("f2", "t2", NOW), RotateOutcome::Rotated);
        assert_eq!(go("f3", "t3", NOW + 30_000), RotateOutcome::Rotated);
        assert_eq!(count(&db, live), 1);
        let f2 = block_on(find_refresh(&db, "f2")).unwrap().unwrap();
        assert_eq!(
            (f2.replaced_by.as_deref(), f2.rotated_at),
            (Some("f3"), Some(NOW)),
            "retired with the original rotation time"
        );
        let f1 = block_on(find_refresh(&db, "fh1")).unwrap().unwrap();
        assert_eq!(f1.replaced_by.as_deref(), Some("f3"));
        let n = |k: &str| {
            let out = block_on(db.run(Statement::new(kind(k), vec![]))).unwrap();
            out.rows[0]["n"].as_i64().unwrap()
        };
        assert_eq!((n("rotated"), n("retried")), (1, 1));
        // Past the window: nothing written.
        assert_eq!(go("f4", "t4", NOW + 30_001), RotateOutcome::AlreadyRotated);
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM refresh_tokens"), 3);
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM access_tokens"), 3);
        assert_eq!((n("rotated"), n("retried")), (1, 1));
    }

    #[test]
    fn no_grace_once_the_successor_was_used() {
        let db = redeemed();
        let go = |r: Rotation<'static>, jti| {
            block_on(rotate_refresh(&db, &r, [access(jti, "g1")], events())).unwrap()
        };
        assert_eq!(
            go(rotation("f2", 30_000, NOW), "t2"),
            RotateOutcome::Rotated
        );
        let mut next = rotation("f3", 30_000, NOW);
        next.presented_id = "f2";
        assert_eq!(go(next, "t3"), RotateOutcome::Rotated);
        assert_eq!(
            go(rotation("f4", 30_000, NOW + 1), "t4"),
            RotateOutcome::AlreadyRotated
        );
        assert_eq!(count(&db, "SELECT COUNT(*) AS n FROM refresh_tokens"), 3);
    }

    #[test]
    fn revocation_ends_the_access_tokens_of_the_grant() {
        let db = redeemed();
        let state = || {
            block_on(access_state(&db, "c1", "a1", "t1"))
                .unwrap()
                .unwrap()
        };
        assert!(state().is_active());
        block_on(db.run(deny_access("t1", NOW + 60_000, NOW))).unwrap();
        assert!(state().denied && !state().is_active());
        block_on(db.run(revoke("g1", RevokedBecause::RefreshReuse, NOW))).unwrap();
        assert!(state().grant_revoked);
        let refresh = block_on(find_refresh(&db, "fh1")).unwrap().unwrap();
        assert!(refresh.grant_revoked && !refresh.blocked && !refresh.client_disabled);
    }
}
