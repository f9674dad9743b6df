//! The account's data: the JSON export, and the deletion of the account (its agents declaimed
//! with enforcement, its Paddle subscription cancelled, its sessions ended, its personal data
//! erased and the records that must be kept anonymised: `store::account_erasure`).

use http::header::{HeaderValue, CONTENT_DISPOSITION, SET_COOKIE};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::session;
use crate::ctx::Ctx;
use crate::domain::enforcement::{tier_limits, Cause, Scope};
use crate::domain::ids::uuid_v4;
use crate::domain::time::rfc3339_ms;
use crate::http::body::JsonBody;
use crate::http::{ApiError, Reply};
use crate::paddle::calls;
use crate::routes::account_settings::{check_password, confirming_password};
use crate::store::account_erasure::{self, Erasure};
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::overseer_sessions::{self, Ended};
use crate::store::overseers::{self, PasswordHash};
use crate::store::oversights::{self, Deactivation};
use crate::store::subscriptions::{self, SubscriptionRow};
use crate::store::{account_export, pools, Row};

/// `GET /v1/overseers/me/export`: everything the service holds about the account, as a JSON
/// download, read with the session check in one round trip.
pub async fn export(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (s, (steps, mut out)) = session::require_overseer_reading(ctx, |id, batch| {
        [
            batch.push(account_export::overseer(id)),
            batch.push(account_export::oversights(id)),
            batch.push(account_export::clients(id)),
            batch.push(account_export::resources(id)),
            batch.push(account_export::client_blocks(id)),
            batch.push(account_export::subscriptions(id)),
            batch.push(account_export::sessions(id)),
            batch.push(account_export::audit_events(id)),
        ]
    })
    .await?;
    let [overseer, oversights, clients, resources, blocks, subs, sessions, audit] =
        steps.map(|step| out.take(step).rows);
    let me = s.overseer.id.as_str();
    let max = usize::try_from(account_export::AUDIT_EVENTS_MAX).unwrap_or(usize::MAX);
    let truncated = audit.len() > max;
    let audit: Vec<Row> = audit
        .into_iter()
        .take(max)
        .map(|mut r| {
            // The IP of an event is the account's own only when the account acted.
            let own = r.get("actor_type") == Some(&json!("overseer"))
                && r.get("actor_id") == Some(&json!(me));
            if !own {
                r.insert("ip".into(), Value::Null);
            }
            if let Some(Value::String(d)) = r.get("details") {
                let parsed = serde_json::from_str(d).unwrap_or_else(|_| json!({}));
                r.insert("details".into(), parsed);
            }
            r
        })
        .collect();
    let body = json!({
        "format": "agent-id.account-export.v1",
        "exported_at": rfc3339_ms(ctx.now_ms),
        "times": "Unix milliseconds",
        "overseer": overseer.into_iter().next(),
        "oversights": oversights,
        "clients": clients.into_iter().map(client).collect::<Vec<_>>(),
        "resources": resources.into_iter().map(|r| parse_json_text(r, "scopes")).collect::<Vec<_>>(),
        "client_blocks": blocks,
        "subscriptions": subs,
        "sessions": sessions,
        "audit_events": audit,
        "audit_events_max": account_export::AUDIT_EVENTS_MAX,
        "audit_events_truncated": truncated,
    });
    Ok(Reply::ok(&body).header(
        CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"agent-id-account-export.json\""),
    ))
}

/// A client as exported: `redirect_uris` parsed, and no thumbprint for a keyless (public or
/// metadata-document) client, whose row stores `''` there.
fn client(r: Row) -> Row {
    let mut r = parse_json_text(r, "redirect_uris");
    if r.get("key_thumbprint") == Some(&json!("")) {
        r.insert("key_thumbprint".into(), Value::Null);
    }
    r
}

/// Replaces the JSON text of column `name` by the value it holds.
fn parse_json_text(mut r: Row, name: &str) -> Row {
    if let Some(Value::String(raw)) = r.get(name) {
        if let Ok(parsed) = serde_json::from_str::<Value>(raw) {
            r.insert(name.into(), parsed);
        }
    }
    r
}

#[derive(Deserialize)]
struct AgentId {
    agent_id: String,
}

/// `POST /v1/overseers/me/delete` `{"password"}`: deletes the account in one batch. Its agents
/// are declaimed (each leaves with its own pool under the FREE limits), an active subscription
/// is cancelled at Paddle after the response (and by the cron job until Paddle accepts), every
/// session ends, and the account's personal data is erased.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let (s, ((hash, agents, current), mut out)) =
        session::require_overseer_reading(ctx, |id, batch| {
            (
                batch.push(overseers::password_hash(id)),
                batch.push(oversights::active_agents(id)),
                batch.push(subscriptions::current_statement(id)),
            )
        })
        .await?;
    let stored: PasswordHash = out
        .take(hash)
        .first()?
        .ok_or_else(|| session::invalid_session(crate::http::error::Challenge::Bearer))?;
    let agents: Vec<AgentId> = out.take(agents).decode()?;
    let current: Option<SubscriptionRow> = out.take(current).first()?;
    let body = JsonBody::parse(ctx.req)?;
    let given = confirming_password(&body, "password")?;
    check_password(ctx, &s, &stored, given).await?;
    let free = tier_limits(ctx.db(), "FREE").await?;

    let me = s.overseer.id.as_str();
    let tombstone = uuid_v4(ctx.rng())?;
    let erasure = Erasure {
        overseer_id: me,
        tombstone_id: &tombstone,
        email: s.overseer.email.as_deref().unwrap_or(""),
        name: s.overseer.name.as_deref().unwrap_or(""),
        now_ms: ctx.now_ms,
    };
    let stamp = ctx.stamp();
    let mut batch = Batch::new();
    let marked = batch.push(account_erasure::mark(&erasure));
    let event = Event::new("overseer.deleted", Actor::Overseer(me))
        .subject(Subject::Overseer(me))
        .overseer(me)
        .details(json!({ "agents_declaimed": agents.len() }));
    batch.push_if(event.insert(&stamp), account_erasure::in_progress(&erasure));
    for a in &agents {
        let declaimed = Event::new("oversight.declaimed", Actor::Overseer(me))
            .subject(Subject::Agent(&a.agent_id))
            .overseer(me)
            .agent(&a.agent_id)
            .details(
                json!({ "reason": Deactivation::Declaimed.as_str(), "account_deleted": true }),
            );
        let ended =
            oversights::deactivation(me, &a.agent_id, Deactivation::Declaimed, &declaimed, &stamp);
        batch.extend(ended);
        batch.extend(pools::agent_pool(
            &stamp,
            Actor::System,
            &a.agent_id,
            free.max_clients,
            Cause::Limits,
            Scope::Unclaimed,
        ));
    }
    let cancel = current
        .filter(|c| c.status.is_active() && c.scheduled_cancel_at().is_none())
        .map(|c| {
            let requested = batch.push(subscriptions::request_cancel(&c.id, ctx.now_ms));
            let event = Event::new("subscription.cancel_requested", Actor::Overseer(me))
                .subject(Subject::Subscription(&c.id))
                .overseer(me)
                .details(json!({ "reason": "account_deleted" }));
            batch.push_if(
                event.insert(&stamp),
                subscriptions::cancel_requested_at(&c.id, ctx.now_ms),
            );
            (requested, c.id)
        });
    let sessions = batch.push(overseer_sessions::end_all(me));
    batch.extend(account_erasure::statements(&erasure));
    let mut out = batch.run(ctx.db()).await?;
    if !out.changed(marked) {
        // A concurrent deletion got there first: this session is gone with the account.
        return Err(session::invalid_session(
            crate::http::error::Challenge::Bearer,
        ));
    }
    let ended: Vec<Ended> = out.take(sessions).decode()?;
    session::forget(ctx, ended.into_iter().map(|e| e.token_hash).collect());
    let cancelling = match cancel {
        Some((requested, id)) if out.changed(requested) => {
            calls::defer_cancel(ctx, id);
            true
        }
        _ => false,
    };
    let cookie = session::cookie(None, 0);
    Ok(Reply::ok(&json!({
        "message": "Account deleted",
        "agents_declaimed": agents.len(),
        "subscription_cancel_requested": cancelling,
    }))
    .header(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    ))
}
