//! `transaction.completed` for shadow claims (`api.md` 7.4, 5.5): a verified one-time payment
//! creates the shadow overseer on first payment, records the payment once (`transaction_id` is
//! the primary key), and activates the sponsorship — or records a late payment without effect
//! when the agent meanwhile has a human overseer or revoked this sponsorship after confirming.
//! The signed link carries its issue time (the agent's confirmation) and is honoured only for
//! payments within `SHADOW_LINK_TTL_SECS` of it; an expired link is ignored (`200`) and audited
//! `shadow_claim.link_rejected`, so Paddle stops retrying.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{AfterCommit, Decision};
use crate::audit::{self, Event};
use crate::ctx::Ctx;
use crate::domain::challenge::{claim_key, Record, ShadowStatus};
use crate::domain::enforcement::{self, Cause, Scope, Stamp};
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::shadow;
use crate::http::ApiError;
use crate::log;
use crate::paddle::event::{self, Envelope};
use crate::paddle::link::{self, LinkTime};
use crate::stmt;
use crate::store::{Namespace, KV_MIN_TTL_SECS};

const DAY_MS: i64 = 86_400_000;

/// The verified link of a payment to an agent.
struct Link {
    challenge_id: String,
    agent_id: String,
    shadow_overseer_id: String,
    /// When the agent confirmed the claim (Unix ms): the start of the link's validity.
    issued_at_ms: i64,
}

#[derive(Deserialize)]
struct ActiveOverseer {
    kind: String,
}

pub(super) async fn handle(ctx: &Ctx<'_>, env: &Envelope) -> Result<Decision, ApiError> {
    let Ok(txn) = event::transaction(&env.data) else {
        return Ok(Decision::ignore("transaction data incomplete"));
    };
    let is_shadow = txn
        .custom_data
        .as_ref()
        .and_then(|c| c.get("is_shadow_claim"))
        == Some(&Value::Bool(true));
    if !is_shadow {
        return Ok(Decision::ignore("not a shadow claim payment"));
    }
    let link = match verify(ctx, &txn, env.occurred_at_us).await? {
        Ok(link) => link,
        Err(why) => {
            let ev = Event {
                kind: "shadow_claim.link_rejected",
                actor_type: "paddle",
                actor_id: None,
                subject_type: Some("transaction"),
                subject_id: Some(&txn.id),
                overseer_id: None,
                agent_id: None,
                details: json!({"event_id": env.event_id, "reason": why}),
            };
            return Ok(Decision::Ignore {
                why,
                stmts: vec![audit::insert(ctx, &ev)?],
            });
        }
    };
    let db = ctx.services.db.as_ref();
    let applied_before = !db
        .run(stmt!(
            "SELECT 1 AS one FROM shadow_payments WHERE transaction_id = ?1",
            txn.id.as_str()
        ))
        .await?
        .rows
        .is_empty();
    if applied_before {
        return Ok(Decision::ignore("transaction already applied"));
    }
    let active: Option<ActiveOverseer> = db
        .run(stmt!(
            "SELECT ov.kind FROM oversights o JOIN overseers ov ON ov.id = o.overseer_id \
             WHERE o.agent_id = ?1 AND o.active = 1",
            link.agent_id.as_str()
        ))
        .await?
        .first()?;
    // The agent revoked this sponsorship after confirming the claim the link was issued for:
    // the payment is recorded but never re-activates the oversight (the upsert below re-checks
    // this when it runs, against a concurrent revocation).
    let revoked = !db
        .run(stmt!(
            "SELECT 1 AS one FROM oversights WHERE overseer_id = ?1 AND agent_id = ?2 AND active = 0 \
             AND deactivated_reason = 'revoked_by_agent' AND deactivated_at >= ?3",
            link.shadow_overseer_id.as_str(),
            link.agent_id.as_str(),
            link.issued_at_ms
        ))
        .await?
        .rows
        .is_empty();
    let late = revoked || active.is_some_and(|a| a.kind == "human");
    let price_id = ctx.config.paddle.price_shadow.as_ref()?;
    let validity_ms = ctx.config.shadow_validity_days * DAY_MS;

    let mut stmts = vec![stmt!(
        "INSERT INTO overseers (id, kind, shadow_agent_id, session_epoch, created_at, updated_at) \
         VALUES (?1, 'shadow', ?2, 0, ?3, ?3) ON CONFLICT(id) DO NOTHING",
        link.shadow_overseer_id.as_str(),
        link.agent_id.as_str(),
        ctx.now_ms
    )];
    // Renewals stack: the new period starts when the current one ends, or now (5.5). A late
    // payment is recorded with an empty validity (valid_from = valid_until = now).
    stmts.push(stmt!(
        "INSERT INTO shadow_payments (transaction_id, overseer_id, agent_id, challenge_id, price_id, \
           customer_id, applied, paid_at, valid_from, valid_until, created_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, v.start, \
           CASE WHEN ?7 = 1 THEN v.start + ?9 ELSE v.start END, ?8 \
         FROM (SELECT CASE WHEN ?7 = 0 THEN ?8 ELSE MAX(?8, COALESCE((SELECT MAX(valid_until) \
           FROM shadow_payments WHERE overseer_id = ?2 AND applied = 1), 0)) END AS start) v",
        txn.id.as_str(),
        link.shadow_overseer_id.as_str(),
        link.agent_id.as_str(),
        link.challenge_id.as_str(),
        price_id.as_str(),
        txn.customer_id.as_deref(),
        !late,
        ctx.now_ms,
        validity_ms
    ));
    let kind = if late {
        "shadow_claim.late_payment"
    } else {
        stmts.push(stmt!(
            "INSERT INTO oversights (id, overseer_id, agent_id, active, activated_at, created_at, updated_at) \
             VALUES (?1, ?2, ?3, 1, ?4, ?4, ?4) \
             ON CONFLICT(overseer_id, agent_id) DO UPDATE SET active = 1, deactivated_reason = NULL, \
               deactivated_at = NULL, \
               activated_at = CASE WHEN oversights.active = 1 THEN oversights.activated_at ELSE excluded.activated_at END, \
               updated_at = excluded.updated_at \
             WHERE NOT (oversights.active = 0 AND oversights.deactivated_reason = 'revoked_by_agent' \
               AND oversights.deactivated_at >= ?5)",
            uuid_v4(ctx.rng())?,
            link.shadow_overseer_id.as_str(),
            link.agent_id.as_str(),
            ctx.now_ms,
            link.issued_at_ms
        ));
        let shadow_limits = enforcement::tier_limits(db, "SHADOW").await?;
        let stamp = Stamp::of(ctx, "paddle", None);
        stmts.extend(enforcement::agent_pool(
            &stamp,
            &link.agent_id,
            shadow_limits.max_clients,
            Cause::Limits,
            Scope::Always,
        ));
        "shadow_claim.paid"
    };
    let ev = Event {
        kind,
        actor_type: "paddle",
        actor_id: None,
        subject_type: Some("agent"),
        subject_id: Some(&link.agent_id),
        overseer_id: Some(&link.shadow_overseer_id),
        agent_id: Some(&link.agent_id),
        details: json!({
            "event_id": env.event_id,
            "transaction_id": txn.id,
            "challenge_id": link.challenge_id,
            "revoked_by_agent": revoked,
        }),
    };
    stmts.push(audit::insert(ctx, &ev)?);
    Ok(Decision::Apply {
        stmts,
        after: vec![AfterCommit::CompleteShadowChallenge {
            challenge_id: link.challenge_id,
            agent_id: link.agent_id,
            transaction_id: txn.id,
        }],
    })
}

/// The checks of 7.4: signed link, shadow id of the agent (the stored one when the agent already
/// has a shadow overseer, 9.9), completed status, SHADOW price, existing agent.
async fn verify(
    ctx: &Ctx<'_>,
    txn: &event::TransactionData,
    paid_at_us: i64,
) -> Result<Result<Link, &'static str>, ApiError> {
    let Some(custom) = &txn.custom_data else {
        return Ok(Err("custom_data missing"));
    };
    let id = |k: &str| {
        custom
            .get(k)
            .and_then(Value::as_str)
            .and_then(canonical_uuid)
    };
    let (Some(challenge_id), Some(agent_id), Some(shadow_overseer_id)) =
        (id("challenge_id"), id("agent_id"), id("shadow_overseer_id"))
    else {
        return Ok(Err("custom_data incomplete"));
    };
    let Some(sig) = custom.get("link_sig").and_then(Value::as_str) else {
        return Ok(Err("custom_data without link_sig"));
    };
    let Some(issued_at) = custom.get("issued_at").and_then(Value::as_i64) else {
        return Ok(Err("custom_data without issued_at"));
    };
    let key = ctx.config.link_key.as_ref()?;
    let expected = link::shadow_sig(
        key,
        &challenge_id,
        &agent_id,
        &shadow_overseer_id,
        issued_at,
    );
    if !link::verify_sig(&expected, sig) {
        return Ok(Err("link_sig does not verify"));
    }
    let window = link::ShadowWindow {
        ttl_secs: ctx.config.shadow_link_ttl_secs,
        skew_secs: ctx.config.clock_skew_secs,
    };
    match window.check(issued_at, paid_at_us.div_euclid(1_000_000)) {
        Ok(()) => {}
        Err(LinkTime::Expired) => return Ok(Err("link expired")),
        Err(LinkTime::FromTheFuture) => return Ok(Err("link issued after the payment")),
    }
    if txn.status != "completed" {
        return Ok(Err("transaction not completed"));
    }
    let price = ctx.config.paddle.price_shadow.as_ref()?;
    if !txn.price_ids.iter().any(|p| p == price) {
        return Ok(Err("not the SHADOW price"));
    }
    #[derive(Deserialize)]
    struct Row {
        shadow_id: Option<String>,
    }
    let row: Option<Row> = ctx
        .services
        .db
        .run(stmt!(
            "SELECT (SELECT id FROM overseers WHERE shadow_agent_id = a.id LIMIT 1) AS shadow_id \
             FROM agents a WHERE a.id = ?1",
            agent_id.as_str()
        ))
        .await?
        .first()?;
    let Some(row) = row else {
        return Ok(Err("agent does not exist"));
    };
    let id_ok = match &row.shadow_id {
        Some(stored) => *stored == shadow_overseer_id,
        None => shadow::verify_id(
            ctx.config.shadow_secret.as_ref()?,
            &agent_id,
            &shadow_overseer_id,
        ),
    };
    if !id_ok {
        return Ok(Err("shadow_overseer_id is not the agent's"));
    }
    Ok(Ok(Link {
        challenge_id,
        agent_id,
        shadow_overseer_id,
        issued_at_ms: issued_at.saturating_mul(1000),
    }))
}

/// After the commit: the sponsor's status page sees `completed` (if the challenge still exists).
pub(super) fn defer_complete_challenge(
    ctx: &Ctx<'_>,
    challenge_id: String,
    agent_id: String,
    transaction_id: String,
) {
    let kv = ctx.services.kv.clone();
    let now_ms = ctx.now_ms;
    let request_id = ctx.request_id.to_owned();
    ctx.defer(async move {
        let key = claim_key(&challenge_id);
        let result = async {
            let Some(text) = kv.get(Namespace::Challenges, &key).await? else {
                return Ok(());
            };
            let Ok(Record::Shadow(mut claim)) = serde_json::from_str::<Record>(&text) else {
                return Ok(());
            };
            if claim.agent_id != agent_id {
                return Ok(());
            }
            claim.status = ShadowStatus::Completed;
            claim.completed_at = Some(now_ms);
            claim.transaction_id = Some(transaction_id);
            let ttl = u64::try_from((claim.expires_at - now_ms).div_euclid(1000))
                .unwrap_or(0)
                .max(KV_MIN_TTL_SECS);
            let text = serde_json::to_string(&Record::Shadow(claim)).unwrap_or_default();
            kv.put(Namespace::Challenges, &key, &text, ttl).await
        }
        .await;
        if let Err(e) = result {
            log::warn(
                &json!({"request_id": request_id, "task": "shadow_challenge_completed",
                "challenge_id": challenge_id, "detail": e.to_string()}),
            );
        }
    });
}
