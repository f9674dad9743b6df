//! The cron job (api.md 5.14): (1) end shadow sponsorships whose paid validity is over and
//! enforce the agents' pools, (2) retry pending Paddle cancellations, giving up after 24 h with
//! an audit row for the operator, and outgoing e-mail still in the outbox, giving up after
//! [`MAX_ATTEMPTS`](crate::mail::delivery::MAX_ATTEMPTS) with an audit row, (3) purge rows no request depends on any more: expired
//! markers, codes and tokens, and — past their configured retention — dead grant families,
//! OAuth request history, webhook and audit rows. Each step is bounded so one run stays within
//! the Worker's CPU budget and D1's per-query limits; the next run continues.

use serde_json::json;

use crate::config::Config;
use crate::ctx::Services;
use crate::domain::enforcement::{self, Cause, Scope};
use crate::mail::delivery::{deliver_logged, Delivery};
use crate::paddle::calls::send_cancel;
use crate::store::audit::{Actor, Event, Stamp, Subject};
use crate::store::batch::Batch;
use crate::store::retention::{DeadGrants, Expiry};
use crate::store::{pools, subscriptions, Db, StoreError};

/// Expired sponsorships and pending cancellations handled per run.
const STEP_LIMIT: i64 = 100;
/// Outbox messages attempted per run: each is an outgoing request of up to 10 s.
const MAIL_STEP_LIMIT: i64 = 20;
const DAY_MS: i64 = 86_400_000;
/// How long cancellations are retried before the operator is told.
const CANCEL_RETRY_MS: i64 = DAY_MS;

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
    let (sent, gave_up) = retry_mail(services, now_ms).await?;
    report.push(("mail_sent", sent));
    report.push(("mail_failed", gave_up));
    report.extend(purge_mail(services.db.as_ref(), now_ms).await?);
    let retention = config.map_or(Retention::DEFAULT, Retention::of);
    report.extend(purge_expired(services.db.as_ref(), now_ms, retention).await?);
    Ok(report)
}

/// Step 1: shadow oversights past their validity become inactive (`shadow_expired`); the
/// agent's own pool falls back to the FREE limits.
async fn expire_shadows(services: &Services, now_ms: i64) -> Result<u64, StoreError> {
    let db = services.db.as_ref();
    let expired = subscriptions::expired_shadows(db, now_ms, STEP_LIMIT).await?;
    if expired.is_empty() {
        return Ok(0);
    }
    let free = enforcement::tier_limits(db, "FREE").await?;
    let stamp = Stamp::system(now_ms);
    let mut n = 0;
    for e in &expired {
        let expiry = pools::expire_shadow(&stamp, Actor::System, &e.id);
        let mut batch = Batch::new();
        batch.push(expiry.audit);
        let deactivated = batch.push(expiry.apply);
        batch.extend(pools::agent_pool(
            &stamp,
            Actor::System,
            &e.agent_id,
            free.max_clients,
            Cause::Limits,
            Scope::Unclaimed,
        ));
        n += batch.run(db).await?.changes(deactivated);
    }
    Ok(n)
}

/// Step 2: pending cancellations (requested, not confirmed by a scheduled `cancel`, not
/// canceled, not abandoned) are sent again; after 24 h the request is abandoned
/// (`cancel_attempts = -1`) and `subscription.cancel_failed` is audited.
async fn retry_cancellations(services: &Services, now_ms: i64) -> Result<(u64, u64), StoreError> {
    let db = services.db.as_ref();
    let pending = subscriptions::pending_cancellations(db, STEP_LIMIT).await?;
    let (mut retried, mut failed) = (0, 0);
    for p in pending {
        if now_ms - p.cancel_requested_at >= CANCEL_RETRY_MS {
            let event = Event::new("subscription.cancel_failed", Actor::System)
                .subject(Subject::Subscription(&p.id))
                .overseer(&p.overseer_id)
                .details(json!({"attempts": p.cancel_attempts}));
            let mut batch = Batch::new();
            batch.push(subscriptions::abandon_cancel(&p.id, now_ms));
            batch.push(event.insert(&Stamp::system(now_ms)));
            batch.run(db).await?;
            failed += 1;
            continue;
        }
        send_cancel(db, services.paddle.as_ref(), &p.id, now_ms, None).await?;
        retried += 1;
    }
    Ok((retried, failed))
}

/// Step 2b: outbox messages due for another attempt (the send after the response failed, or
/// never ran); the last failed attempt gives the message up with a `mail.failed` audit row.
/// Returns (sent, given up).
async fn retry_mail(services: &Services, now_ms: i64) -> Result<(u64, u64), StoreError> {
    let db = services.db.as_ref();
    let due = crate::store::outbox::due(db, now_ms, MAIL_STEP_LIMIT).await?;
    let (mut sent, mut gave_up) = (0, 0);
    for pending in &due {
        match deliver_logged(db, services.mailer.as_ref(), pending, now_ms, None).await {
            Some(Delivery::Sent) => sent += 1,
            Some(Delivery::GaveUp) => gave_up += 1,
            _ => {}
        }
    }
    Ok((sent, gave_up))
}

/// Sent and given-up outbox rows are kept this long (delivery records for support).
const MAIL_RECORD_MS: i64 = 30 * DAY_MS;

/// Step 3b: e-mailed tokens a day past their expiry and outbox rows past [`MAIL_RECORD_MS`].
async fn purge_mail(db: &dyn Db, now_ms: i64) -> Result<Report, StoreError> {
    let tokens = db
        .run(crate::store::overseer_tokens::purge_expired(
            now_ms - DAY_MS,
        ))
        .await?;
    let outbox = db
        .run(crate::store::outbox::purge_done(now_ms - MAIL_RECORD_MS))
        .await?;
    Ok(vec![
        ("email_tokens", tokens.changes),
        ("mail_outbox", outbox.changes),
    ])
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

/// Step 3: deletes expired markers, codes and tokens; dead grant families, OAuth request
/// history, webhook and audit rows past their retention. At most [`BATCH`](crate::store::retention::BATCH) rows per
/// statement.
async fn purge_expired(
    db: &dyn Db,
    now_ms: i64,
    retention: Retention,
) -> Result<Report, StoreError> {
    let steps = Expiry::ALL.map(|target| {
        let cutoff = match target {
            Expiry::AuthorizationCodes => now_ms - DAY_MS,
            Expiry::WebhookEvents => now_ms - 30 * DAY_MS,
            Expiry::AuditEvents => now_ms - retention.audit_days * DAY_MS,
            Expiry::OauthRequests => now_ms - retention.oauth_history_days * DAY_MS,
            Expiry::JtiMarkers
            | Expiry::SessionRevocations
            | Expiry::RefreshTokens
            | Expiry::AccessTokens
            | Expiry::RevokedJtis => now_ms,
        };
        (target, cutoff)
    });
    let mut report = Vec::with_capacity(steps.len() + 2);
    for (target, cutoff) in steps {
        let outcome = db.run(target.delete(cutoff)).await?;
        report.push((target.label(), outcome.changes));
    }
    let grant_cutoff = now_ms - retention.grant_days * DAY_MS;
    for target in DeadGrants::ORDER {
        let outcome = db.run(target.delete(grant_cutoff, now_ms)).await?;
        report.push((target.label(), outcome.changes));
    }
    Ok(report)
}
