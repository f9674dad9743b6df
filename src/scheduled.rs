//! The cron job (api.md 5.14): (1) end shadow sponsorships whose paid validity is over and
//! enforce the agents' pools, (2) retry pending Paddle cancellations, giving up after 24 h with
//! an audit row for the operator, (3) purge rows no request depends on any more: expired
//! markers, codes and tokens, and — past their configured retention — dead grant families,
//! OAuth request history, webhook and audit rows. Each step is bounded so one run stays within
//! the Worker's CPU budget and D1's per-query limits; the next run continues.

use serde::Deserialize;
use serde_json::json;

use crate::config::Config;
use crate::ctx::Services;
use crate::domain::enforcement::{self, Cause, Scope, Stamp};
use crate::domain::ids::uuid_v4;
use crate::routes::paddle_calls::send_cancel;
use crate::stmt;
use crate::store::{Db, Statement, StoreError, Value};

/// Rows deleted per table per run.
const BATCH: i64 = 1000;
/// Expired sponsorships and pending cancellations handled per run.
const STEP_LIMIT: i64 = 100;
const DAY_MS: i64 = 86_400_000;
/// How long cancellations are retried before the operator is told.
const CANCEL_RETRY_MS: i64 = DAY_MS;

/// One purge step: a table and the cutoff below which its rows are garbage.
fn purge(table_and_column: &'static str, cutoff_ms: i64) -> Statement {
    let (table, column) = table_and_column
        .split_once('.')
        .unwrap_or((table_and_column, "expires_at"));
    Statement::new(
        format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {column} < ?1 LIMIT {BATCH})"
        ),
        vec![Value::Int(cutoff_ms)],
    )
}

/// What a run did, per step, for the log.
pub type Report = Vec<(&'static str, u64)>;

/// Runs every step at `now_ms`.
pub async fn run(
    services: &Services,
    config: Result<&Config, &crate::config::ConfigError>,
    now_ms: i64,
) -> Result<Report, StoreError> {
    let mut report = Vec::new();
    report.push(("shadow_expired", expire_shadows(services, now_ms).await?));
    let (retried, failed) = retry_cancellations(services, now_ms).await?;
    report.push(("cancel_retried", retried));
    report.push(("cancel_failed", failed));
    let retention = config.map_or(Retention::DEFAULT, Retention::of);
    report.extend(purge_expired(services.db.as_ref(), now_ms, retention).await?);
    Ok(report)
}

fn system(now_ms: i64) -> Stamp<'static> {
    Stamp {
        now_ms,
        request_id: None,
        ip: None,
        actor_type: "system",
        actor_id: None,
    }
}

#[derive(Deserialize)]
struct Expired {
    id: String,
    agent_id: String,
}

/// Step 1: shadow oversights past their validity become inactive (`shadow_expired`); the
/// agent's own pool falls back to the FREE limits.
async fn expire_shadows(services: &Services, now_ms: i64) -> Result<u64, StoreError> {
    let db = services.db.as_ref();
    let expired: Vec<Expired> = db
        .run(stmt!(
            "SELECT o.id, o.agent_id FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
             WHERE ov.kind = 'shadow' AND o.active = 1 AND COALESCE((SELECT MAX(valid_until) \
               FROM shadow_payments sp WHERE sp.overseer_id = o.overseer_id AND sp.applied = 1), 0) <= ?1 \
             LIMIT ?2",
            now_ms,
            STEP_LIMIT
        ))
        .await?
        .decode()?;
    if expired.is_empty() {
        return Ok(0);
    }
    let free = enforcement::tier_limits(db, "FREE").await?;
    let stamp = system(now_ms);
    let mut n = 0;
    for e in &expired {
        let mut stmts = enforcement::expire_shadow(&stamp, &e.id);
        stmts.extend(enforcement::agent_pool(
            &stamp,
            &e.agent_id,
            free.max_clients,
            Cause::Limits,
            Scope::Unclaimed,
        ));
        let out = db.batch(stmts).await?;
        n += out.get(1).map_or(0, |o| o.changes);
    }
    Ok(n)
}

#[derive(Deserialize)]
struct Pending {
    id: String,
    overseer_id: String,
    cancel_requested_at: i64,
    cancel_attempts: i64,
}

/// Step 2: pending cancellations (requested, not confirmed by a scheduled `cancel`, not
/// canceled, not abandoned) are sent again; after 24 h the request is abandoned
/// (`cancel_attempts = -1`) and `subscription.cancel_failed` is audited.
async fn retry_cancellations(services: &Services, now_ms: i64) -> Result<(u64, u64), StoreError> {
    let db = services.db.as_ref();
    let pending: Vec<Pending> = db
        .run(stmt!(
            "SELECT id, overseer_id, cancel_requested_at, cancel_attempts FROM subscriptions \
             WHERE cancel_requested_at IS NOT NULL AND cancel_attempts >= 0 AND status != 'canceled' \
               AND COALESCE(scheduled_change_action, '') != 'cancel' \
             ORDER BY cancel_requested_at LIMIT ?1",
            STEP_LIMIT
        ))
        .await?
        .decode()?;
    let (mut retried, mut failed) = (0, 0);
    for p in pending {
        if now_ms - p.cancel_requested_at >= CANCEL_RETRY_MS {
            let id =
                uuid_v4(services.rng.as_ref()).map_err(|e| StoreError::Backend(e.to_string()))?;
            db.batch(vec![
                stmt!(
                    "UPDATE subscriptions SET cancel_attempts = -1, updated_at = ?2 WHERE id = ?1",
                    p.id.as_str(),
                    now_ms
                ),
                stmt!(
                    "INSERT INTO audit_events (id, type, actor_type, subject_type, subject_id, overseer_id, \
                     details, created_at) VALUES (?1, 'subscription.cancel_failed', 'system', 'subscription', \
                     ?2, ?3, ?4, ?5)",
                    id,
                    p.id.as_str(),
                    p.overseer_id.as_str(),
                    json!({"attempts": p.cancel_attempts}).to_string(),
                    now_ms
                ),
            ])
            .await?;
            failed += 1;
            continue;
        }
        send_cancel(db, services.paddle.as_ref(), &p.id, now_ms).await?;
        retried += 1;
    }
    Ok((retried, failed))
}

/// How long history is kept, in days (configuration; defaults when it is unusable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub audit_days: i64,
    pub grant_days: i64,
    pub oauth_history_days: i64,
}

impl Retention {
    /// The defaults of `AUDIT_RETENTION_DAYS`, `GRANT_RETENTION_DAYS` and
    /// `OAUTH_HISTORY_RETENTION_DAYS`.
    pub const DEFAULT: Retention = Retention {
        audit_days: 400,
        grant_days: 30,
        oauth_history_days: 400,
    };

    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            audit_days: config.audit_retention_days,
            grant_days: config.grant_retention_days,
            oauth_history_days: config.oauth_history_retention_days,
        }
    }
}

/// A grant family nobody can use any more (`?1` = cutoff, `?2` = now): revoked before the
/// cutoff, or unused since the cutoff with no live refresh token.
const DEAD_GRANT: &str = "((g.revoked_at IS NOT NULL AND g.revoked_at < ?1) OR \
     (g.revoked_at IS NULL AND g.last_used_at < ?1 AND NOT EXISTS (SELECT 1 FROM refresh_tokens x \
       WHERE x.grant_id = g.id AND x.rotated_at IS NULL AND x.expires_at > ?2)))";

/// Dead grant families, children first so that every statement deletes at most [`BATCH`] rows
/// itself: the refresh tokens of dead grants, then dead grants left without refresh tokens (their
/// access tokens expired long ago and were purged, so the cascade deletes nothing more).
fn purge_dead_grants(cutoff_ms: i64, now_ms: i64) -> [(&'static str, Statement); 2] {
    [
        (
            "refresh_tokens.dead_grant",
            Statement::new(
                format!(
                    "DELETE FROM refresh_tokens WHERE rowid IN (SELECT r.rowid FROM refresh_tokens r \
                     JOIN oauth_grants g ON g.id = r.grant_id WHERE {DEAD_GRANT} LIMIT {BATCH})"
                ),
                vec![Value::Int(cutoff_ms), Value::Int(now_ms)],
            ),
        ),
        (
            "oauth_grants.dead",
            Statement::new(
                format!(
                    "DELETE FROM oauth_grants WHERE rowid IN (SELECT g.rowid FROM oauth_grants g \
                     WHERE {DEAD_GRANT} AND NOT EXISTS (SELECT 1 FROM refresh_tokens r \
                     WHERE r.grant_id = g.id) LIMIT {BATCH})"
                ),
                vec![Value::Int(cutoff_ms), Value::Int(now_ms)],
            ),
        ),
    ]
}

/// Step 3: deletes expired markers, codes and tokens; dead grant families, OAuth request
/// history, webhook and audit rows past their retention. At most [`BATCH`] rows per statement.
async fn purge_expired(
    db: &dyn Db,
    now_ms: i64,
    retention: Retention,
) -> Result<Report, StoreError> {
    let steps: [(&'static str, i64); 9] = [
        ("jti_markers.expires_at", now_ms),
        ("session_revocations.expires_at", now_ms),
        ("authorization_codes.expires_at", now_ms - DAY_MS),
        ("refresh_tokens.expires_at", now_ms),
        ("access_tokens.expires_at", now_ms),
        ("revoked_jtis.expires_at", now_ms),
        ("webhook_events.received_at", now_ms - 30 * DAY_MS),
        (
            "audit_events.created_at",
            now_ms - retention.audit_days * DAY_MS,
        ),
        (
            "oauth_requests.created_at",
            now_ms - retention.oauth_history_days * DAY_MS,
        ),
    ];
    let mut report = Vec::with_capacity(steps.len() + 2);
    for (target, cutoff) in steps {
        let outcome = db.run(purge(target, cutoff)).await?;
        report.push((target, outcome.changes));
    }
    for (target, stmt) in purge_dead_grants(now_ms - retention.grant_days * DAY_MS, now_ms) {
        let outcome = db.run(stmt).await?;
        report.push((target, outcome.changes));
    }
    Ok(report)
}
