//! Audit rows (security.md §14), written in the same batch as the change they describe.

use std::borrow::Cow;

use serde_json::Value as Json;

use crate::ctx::Ctx;
use crate::domain::ids::uuid_v4;
use crate::http::ApiError;
use crate::store::{Statement, Value};

/// One audit event. `agent_id` tags the event with the agent's active overseer unless an
/// explicit `overseer_id` is given.
pub struct Event<'a> {
    pub kind: &'static str,
    pub actor_type: &'static str,
    pub actor_id: Option<&'a str>,
    pub subject_type: Option<&'static str>,
    pub subject_id: Option<&'a str>,
    pub overseer_id: Option<&'a str>,
    pub agent_id: Option<&'a str>,
    pub details: Json,
}

impl<'a> Event<'a> {
    /// An event by an agent about itself.
    pub fn by_agent(kind: &'static str, agent_id: &'a str) -> Self {
        Self {
            kind,
            actor_type: "agent",
            actor_id: Some(agent_id),
            subject_type: Some("agent"),
            subject_id: Some(agent_id),
            overseer_id: None,
            agent_id: Some(agent_id),
            details: Json::Object(Default::default()),
        }
    }

    pub fn details(mut self, details: Json) -> Self {
        self.details = details;
        self
    }
}

const INSERT: &str =
    "INSERT INTO audit_events (id, type, actor_type, actor_id, subject_type, subject_id, \
     overseer_id, agent_id, client_id, ip, request_id, details, created_at) \
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, \
     COALESCE(?7, (SELECT overseer_id FROM oversights WHERE agent_id = ?8 AND active = 1)), \
     ?8, NULL, ?9, ?10, ?11, ?12";

/// Writes `ev` on its own, for events that change nothing else (logins, failures, initiations).
pub async fn record(ctx: &Ctx<'_>, ev: &Event<'_>) -> Result<(), ApiError> {
    ctx.services.db.run(insert(ctx, ev)?).await?;
    Ok(())
}

/// The INSERT for `ev`.
pub fn insert(ctx: &Ctx<'_>, ev: &Event<'_>) -> Result<Statement, ApiError> {
    insert_where(ctx, ev, None)
}

/// The INSERT for `ev`, taking effect only when `guard` (an SQL condition over parameters
/// `?13`…) holds inside the same batch — e.g. "the preceding UPDATE happened".
pub fn insert_where(
    ctx: &Ctx<'_>,
    ev: &Event<'_>,
    guard: Option<(&'static str, Vec<Value>)>,
) -> Result<Statement, ApiError> {
    let mut params = vec![
        Value::from(uuid_v4(ctx.rng())?),
        Value::from(ev.kind),
        Value::from(ev.actor_type),
        Value::from(ev.actor_id),
        Value::from(ev.subject_type),
        Value::from(ev.subject_id),
        Value::from(ev.overseer_id),
        Value::from(ev.agent_id),
        Value::from(ctx.ip()),
        Value::from(ctx.request_id),
        Value::from(ev.details.to_string()),
        Value::from(ctx.now_ms),
    ];
    let sql: Cow<'static, str> = match guard {
        None => Cow::Borrowed(INSERT),
        Some((condition, extra)) => {
            params.extend(extra);
            Cow::Owned(format!("{INSERT} WHERE {condition}"))
        }
    };
    Ok(Statement::new(sql, params))
}
