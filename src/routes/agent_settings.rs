//! The agent's own settings (issue 10 item 5): whether its overseer may consent to OAuth
//! requests in its name in the browser. It is the agent's to decide, so only the agent (its
//! session or a DPoP proof) reads and changes it; the overseer sees it on the consent page.

use serde::Serialize;
use serde_json::json;

use crate::auth::agent_proof;
use crate::ctx::Ctx;
use crate::http::body::JsonBody;
use crate::http::{ApiError, Reply};
use crate::store::audit::{Actor, Event, Subject};
use crate::store::batch::Batch;
use crate::store::consent::{self, Setting};

#[derive(Serialize)]
struct Settings {
    settings: SettingsView,
}

#[derive(Serialize)]
struct SettingsView {
    overseer_consent: bool,
}

fn reply(setting: Setting) -> Reply {
    Reply::ok(&Settings {
        settings: SettingsView {
            overseer_consent: setting.overseer_consent,
        },
    })
}

/// `GET /v1/agents/me/settings`
pub async fn get(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let agent = agent_proof::session_or_proof(ctx).await?;
    let setting = ctx
        .db()
        .run(consent::setting_statement(&agent.id))
        .await?
        .first::<Setting>()?
        .ok_or_else(|| ApiError::internal("the authenticated agent has no row"))?;
    Ok(reply(setting))
}

/// `PUT /v1/agents/me/settings` `{"overseer_consent": bool}`
pub async fn put(ctx: &Ctx<'_>) -> Result<Reply, ApiError> {
    let body = JsonBody::parse(ctx.req)?;
    let agent = agent_proof::session_or_proof(ctx).await?;
    let allowed = body
        .opt_bool("overseer_consent")?
        .ok_or_else(|| ApiError::missing_field("overseer_consent"))?;
    let event = Event::new("agent.settings_changed", Actor::Agent(&agent.id))
        .subject(Subject::Agent(&agent.id))
        .agent(&agent.id)
        .details(json!({ "overseer_consent": allowed }));
    let mut batch = Batch::new();
    batch.push(consent::set_statement(&agent.id, allowed, ctx.now_ms));
    batch.push(event.insert(&ctx.stamp()));
    batch.run(ctx.db()).await?;
    Ok(reply(Setting {
        overseer_consent: allowed,
    }))
}
