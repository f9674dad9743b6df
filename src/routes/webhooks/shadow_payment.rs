//! `transaction.completed` for shadow claims (`api.md` 7.4, 5.5): a verified one-time payment
//! creates the shadow overseer on first payment, records the payment once (`transaction_id` is
//! the primary key), and activates the sponsorship — or records a late payment without effect
//! when the agent meanwhile has a human overseer or revoked this sponsorship after confirming.
//! The signed link carries its issue time (the agent's confirmation) and is honoured only for
//! payments within `SHADOW_LINK_TTL_SECS` of it; an expired link is ignored (`200`) and audited
//! `shadow_claim.link_rejected`, so Paddle stops retrying.

use serde_json::{json, Value};

use super::{AfterCommit, Decision};
use crate::ctx::Ctx;
use crate::domain::challenge::{claim_key, Record, ShadowStatus};
use crate::domain::enforcement::{self, Cause, Scope};
use crate::domain::ids::{canonical_uuid, uuid_v4};
use crate::domain::shadow;
use crate::http::ApiError;
use crate::log;
use crate::paddle::event::{self, Envelope, TransactionData};
use crate::paddle::link::{self, LinkTime};
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::overseers::{self, OverseerKind};
use crate::store::subscriptions::{self, Payment};
use crate::store::{oversights, pools, Namespace, KV_MIN_TTL_SECS};

const DAY_MS: i64 = 86_400_000;

/// The verified link of a payment to an agent.
struct Link {
    challenge_id: String,
    agent_id: String,
    shadow_overseer_id: String,
    /// When the agent confirmed the claim (Unix ms): the start of the link's validity.
    issued_at_ms: i64,
}

/// Whether a payment's link holds.
enum Verdict {
    Verified(Link),
    /// Why not (for the log and the audit row).
    Rejected(&'static str),
}

/// How a verified payment is recorded.
#[derive(Clone, Copy)]
enum Standing {
    /// It activates (or renews) the sponsorship.
    Applies,
    /// Recorded without effect: the agent has a human overseer by now, or revoked this
    /// sponsorship after confirming (`revoked_by_agent`).
    Late { revoked_by_agent: bool },
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
        Verdict::Verified(link) => link,
        Verdict::Rejected(why) => {
            let event = Event::new("shadow_claim.link_rejected", Actor::Paddle)
                .subject(Subject::Transaction(&txn.id))
                .details(json!({"event_id": env.event_id, "reason": why}));
            return Ok(Decision::ignored_with(why, event.insert(&ctx.stamp())));
        }
    };
    let db = ctx.db();
    if subscriptions::payment_recorded(db, &txn.id).await? {
        return Ok(Decision::ignore("transaction already applied"));
    }
    let active = oversights::active(db, &link.agent_id).await?;
    // The agent revoked this sponsorship after confirming the claim the link was issued for:
    // the payment is recorded but never re-activates the oversight (the upsert re-checks this
    // when it runs, against a concurrent revocation).
    let revoked_by_agent = oversights::revoked_by_agent_since(
        db,
        &link.shadow_overseer_id,
        &link.agent_id,
        link.issued_at_ms,
    )
    .await?;
    let standing = if revoked_by_agent || active.is_some_and(|a| a.kind == OverseerKind::Human) {
        Standing::Late { revoked_by_agent }
    } else {
        Standing::Applies
    };
    record(ctx, env, &txn, link, standing).await
}

/// The payment's batch: the shadow overseer (first payment), the payment, and for a payment
/// that applies the sponsorship with the SHADOW pool's enforcement; then the audit row.
async fn record(
    ctx: &Ctx<'_>,
    env: &Envelope,
    txn: &TransactionData,
    link: Link,
    standing: Standing,
) -> Result<Decision, ApiError> {
    let applies = matches!(standing, Standing::Applies);
    let price_id = ctx.config.paddle.price_shadow.as_ref()?;
    let mut batch = Batch::new();
    batch.push(overseers::insert_shadow(
        &link.shadow_overseer_id,
        &link.agent_id,
        ctx.now_ms,
    ));
    batch.push(subscriptions::record_payment(
        &Payment {
            transaction_id: &txn.id,
            shadow_overseer_id: &link.shadow_overseer_id,
            agent_id: &link.agent_id,
            challenge_id: &link.challenge_id,
            price_id,
            customer_id: txn.customer_id.as_deref(),
            applied: applies,
            validity_ms: ctx.config.shadow_validity_days * DAY_MS,
        },
        ctx.now_ms,
    ));
    if applies {
        batch.push(oversights::activate_shadow(
            &uuid_v4(ctx.rng())?,
            &link.shadow_overseer_id,
            &link.agent_id,
            ctx.now_ms,
            link.issued_at_ms,
        ));
        let shadow = enforcement::tier_limits(ctx.db(), "SHADOW").await?;
        batch.extend(pools::agent_pool(
            &ctx.stamp(),
            Actor::Paddle,
            &link.agent_id,
            shadow.max_clients,
            Cause::Limits,
            Scope::Always,
        ));
    }
    batch.push(paid(env, txn, &link, standing).insert(&ctx.stamp()));
    Ok(Decision::Apply {
        batch,
        after: vec![AfterCommit::CompleteShadowChallenge {
            challenge_id: link.challenge_id,
            agent_id: link.agent_id,
            transaction_id: txn.id.clone(),
        }],
    })
}

/// `shadow_claim.paid`, or `shadow_claim.late_payment` for a payment without effect.
fn paid<'a>(
    env: &'a Envelope,
    txn: &'a TransactionData,
    link: &'a Link,
    standing: Standing,
) -> Event<'a> {
    let (kind, revoked_by_agent) = match standing {
        Standing::Applies => ("shadow_claim.paid", false),
        Standing::Late { revoked_by_agent } => ("shadow_claim.late_payment", revoked_by_agent),
    };
    Event::new(kind, Actor::Paddle)
        .subject(Subject::Agent(&link.agent_id))
        .overseer(&link.shadow_overseer_id)
        .agent(&link.agent_id)
        .details(json!({
            "event_id": env.event_id,
            "transaction_id": txn.id,
            "challenge_id": link.challenge_id,
            "revoked_by_agent": revoked_by_agent,
        }))
}

/// The signed fields of a shadow payment's `custom_data`.
struct Claimed {
    challenge_id: String,
    agent_id: String,
    shadow_overseer_id: String,
    sig: String,
    issued_at: i64,
}

/// Reads the link's fields; `Err` names what is missing.
fn claimed(txn: &TransactionData) -> Result<Claimed, &'static str> {
    let custom = txn.custom_data.as_ref().ok_or("custom_data missing")?;
    let id = |k: &str| {
        custom
            .get(k)
            .and_then(Value::as_str)
            .and_then(canonical_uuid)
    };
    let (Some(challenge_id), Some(agent_id), Some(shadow_overseer_id)) =
        (id("challenge_id"), id("agent_id"), id("shadow_overseer_id"))
    else {
        return Err("custom_data incomplete");
    };
    let sig = custom
        .get("link_sig")
        .and_then(Value::as_str)
        .ok_or("custom_data without link_sig")?;
    let issued_at = custom
        .get("issued_at")
        .and_then(Value::as_i64)
        .ok_or("custom_data without issued_at")?;
    Ok(Claimed {
        challenge_id,
        agent_id,
        shadow_overseer_id,
        sig: sig.to_owned(),
        issued_at,
    })
}

/// The checks of 7.4: signed link, shadow id of the agent (the stored one when the agent already
/// has a shadow overseer, 9.9), completed status, SHADOW price, existing agent.
async fn verify(
    ctx: &Ctx<'_>,
    txn: &TransactionData,
    paid_at_us: i64,
) -> Result<Verdict, ApiError> {
    use Verdict::Rejected;
    let c = match claimed(txn) {
        Ok(c) => c,
        Err(why) => return Ok(Rejected(why)),
    };
    let key = ctx.config.link_key.as_ref()?;
    let expected = link::shadow_sig(
        key,
        &c.challenge_id,
        &c.agent_id,
        &c.shadow_overseer_id,
        c.issued_at,
    );
    if !link::verify_sig(&expected, &c.sig) {
        return Ok(Rejected("link_sig does not verify"));
    }
    let window = link::ShadowWindow {
        ttl_secs: ctx.config.shadow_link_ttl_secs,
        skew_secs: ctx.config.clock_skew_secs,
    };
    match window.check(c.issued_at, paid_at_us.div_euclid(1_000_000)) {
        Ok(()) => {}
        Err(LinkTime::Expired) => return Ok(Rejected("link expired")),
        Err(LinkTime::FromTheFuture) => return Ok(Rejected("link issued after the payment")),
    }
    if txn.status != "completed" {
        return Ok(Rejected("transaction not completed"));
    }
    let price = ctx.config.paddle.price_shadow.as_ref()?;
    if !txn.price_ids.iter().any(|p| p == price) {
        return Ok(Rejected("not the SHADOW price"));
    }
    let Some(agent) = overseers::shadow_of_agent(ctx.db(), &c.agent_id).await? else {
        return Ok(Rejected("agent does not exist"));
    };
    let id_ok = match &agent.shadow_id {
        Some(stored) => *stored == c.shadow_overseer_id,
        None => shadow::verify_id(
            ctx.config.shadow_secret.as_ref()?,
            &c.agent_id,
            &c.shadow_overseer_id,
        ),
    };
    if !id_ok {
        return Ok(Rejected("shadow_overseer_id is not the agent's"));
    }
    Ok(Verdict::Verified(Link {
        challenge_id: c.challenge_id,
        agent_id: c.agent_id,
        shadow_overseer_id: c.shadow_overseer_id,
        issued_at_ms: c.issued_at.saturating_mul(1000),
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
