//! Audit rows (security.md §14), written in the same batch as the change they describe.
//!
//! An [`Event`] is built, not written as a struct literal: `Event::new(kind, actor)` plus what it
//! is about. Its INSERT carries its own parameters, so it can take a [`Guard`] without any
//! knowledge of how many columns it binds.
//!
//! [`Guard`]: super::batch::Guard

use serde_json::Value as Json;

use super::{Statement, Value};

/// Who acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor<'a> {
    Agent(&'a str),
    Overseer(&'a str),
    Client(&'a str),
    /// A Paddle webhook.
    Paddle,
    /// The cron job.
    System,
    /// Nobody authenticated (a public form, a shadow-claim initiation).
    Anonymous,
}

impl<'a> Actor<'a> {
    /// The `actor_type` column.
    pub const fn kind(self) -> &'static str {
        match self {
            Actor::Agent(_) => "agent",
            Actor::Overseer(_) => "overseer",
            Actor::Client(_) => "client",
            Actor::Paddle => "paddle",
            Actor::System => "system",
            Actor::Anonymous => "anonymous",
        }
    }

    /// The `actor_id` column.
    pub const fn id(self) -> Option<&'a str> {
        match self {
            Actor::Agent(id) | Actor::Overseer(id) | Actor::Client(id) => Some(id),
            Actor::Paddle | Actor::System | Actor::Anonymous => None,
        }
    }
}

/// What an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    Agent(&'a str),
    Overseer(&'a str),
    Client(&'a str),
    Subscription(&'a str),
    /// A Paddle transaction (shadow-claim payments).
    Transaction(&'a str),
    /// A protected resource (issue 10).
    Resource(&'a str),
}

impl<'a> Subject<'a> {
    pub const fn kind(self) -> &'static str {
        match self {
            Subject::Agent(_) => "agent",
            Subject::Overseer(_) => "overseer",
            Subject::Client(_) => "client",
            Subject::Subscription(_) => "subscription",
            Subject::Transaction(_) => "transaction",
            Subject::Resource(_) => "resource",
        }
    }

    pub const fn id(self) -> &'a str {
        match self {
            Subject::Agent(id)
            | Subject::Overseer(id)
            | Subject::Client(id)
            | Subject::Subscription(id)
            | Subject::Transaction(id)
            | Subject::Resource(id) => id,
        }
    }
}

/// The request metadata every row carries: when, which request, from where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp<'a> {
    pub now_ms: i64,
    pub request_id: Option<&'a str>,
    pub ip: Option<&'a str>,
}

impl Stamp<'_> {
    /// A run of the cron job (no request, no IP).
    pub const fn system(now_ms: i64) -> Stamp<'static> {
        Stamp {
            now_ms,
            request_id: None,
            ip: None,
        }
    }
}

/// One audit event. Unless an overseer is named, a row about an agent is tagged with the agent's
/// active overseer at the time of writing (inside the batch).
#[derive(Clone, Debug, PartialEq)]
pub struct Event<'a> {
    kind: &'static str,
    actor: Actor<'a>,
    subject: Option<Subject<'a>>,
    overseer_id: Option<&'a str>,
    agent_id: Option<&'a str>,
    client_id: Option<&'a str>,
    details: Json,
}

/// A random UUID v4 computed by SQLite/D1, for rows written by `INSERT … SELECT`.
pub const SQL_UUID: &str = "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
     substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || \
     substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";

/// The column list of `audit_events`, for the set-based audits of enforcement.
pub const COLUMNS: &str = "INSERT INTO audit_events (id, type, actor_type, actor_id, \
     subject_type, subject_id, overseer_id, agent_id, client_id, ip, request_id, details, created_at)";

impl<'a> Event<'a> {
    pub fn new(kind: &'static str, actor: Actor<'a>) -> Self {
        Self {
            kind,
            actor,
            subject: None,
            overseer_id: None,
            agent_id: None,
            client_id: None,
            details: Json::Object(Default::default()),
        }
    }

    /// An agent acting on itself (login, logout, rotation).
    pub fn by_agent(kind: &'static str, agent_id: &'a str) -> Self {
        Self::new(kind, Actor::Agent(agent_id))
            .subject(Subject::Agent(agent_id))
            .agent(agent_id)
    }

    pub fn subject(mut self, subject: Subject<'a>) -> Self {
        self.subject = Some(subject);
        self
    }

    /// The agent the event concerns (its overseer sees the event).
    pub fn agent(mut self, agent_id: &'a str) -> Self {
        self.agent_id = Some(agent_id);
        self
    }

    /// The overseer whose audit log shows the event.
    pub fn overseer(mut self, overseer_id: &'a str) -> Self {
        self.overseer_id = Some(overseer_id);
        self
    }

    pub fn client(mut self, client_id: &'a str) -> Self {
        self.client_id = Some(client_id);
        self
    }

    pub fn details(mut self, details: Json) -> Self {
        self.details = details;
        self
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The INSERT for this event, stamped. An `INSERT … SELECT` without `WHERE`, so it can take
    /// a guard ([`Statement::only_if`]).
    pub fn insert(&self, stamp: &Stamp<'_>) -> Statement {
        Statement::new(
            insert_sql(),
            vec![
                Value::from(self.kind),
                Value::from(self.actor.kind()),
                Value::from(self.actor.id()),
                Value::from(self.subject.map(Subject::kind)),
                Value::from(self.subject.map(Subject::id)),
                Value::from(self.overseer_id),
                Value::from(self.agent_id),
                Value::from(self.client_id),
                Value::from(stamp.ip),
                Value::from(stamp.request_id),
                Value::from(self.details.to_string()),
                Value::Int(stamp.now_ms),
            ],
        )
    }
}

fn insert_sql() -> String {
    format!(
        "{COLUMNS} SELECT {SQL_UUID}, ?1, ?2, ?3, ?4, ?5, \
         COALESCE(?6, (SELECT overseer_id FROM oversights WHERE agent_id = ?7 AND active = 1)), \
         ?7, ?8, ?9, ?10, ?11, ?12"
    )
}

// --- an overseer's activity trail ---

/// An audit row as its overseer's activity trail lists it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct TrailRow {
    pub id: String,
    pub r#type: String,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
    /// A JSON object, as written.
    pub details: String,
    pub ip: Option<String>,
    pub created_at: i64,
}

/// A page of `overseer_id`'s trail, newest first: rows of type `kind` (any if `None`) strictly
/// before `before` (`(created_at, id)`, from a cursor), at most `limit`.
pub async fn trail(
    db: &dyn super::Db,
    overseer_id: &str,
    kind: Option<&str>,
    before: Option<(i64, &str)>,
    limit: i64,
) -> Result<Vec<TrailRow>, super::StoreError> {
    db.run(trail_statement(overseer_id, kind, before, limit))
        .await?
        .decode()
}

/// The statement of [`trail`], for a caller's batch (a session check with its reads).
pub fn trail_statement(
    overseer_id: &str,
    kind: Option<&str>,
    before: Option<(i64, &str)>,
    limit: i64,
) -> Statement {
    let (before_ms, before_id) = before.unwrap_or((0, ""));
    crate::stmt!(
        "SELECT id, type, actor_type, actor_id, subject_type, subject_id, details, ip, created_at \
         FROM audit_events WHERE overseer_id = ?1 AND (?2 IS NULL OR type = ?2) \
           AND (?3 = 0 OR created_at < ?4 OR (created_at = ?4 AND id < ?5)) \
         ORDER BY created_at DESC, id DESC LIMIT ?6",
        overseer_id,
        kind,
        before.is_some(),
        before_ms,
        before_id,
        limit
    )
}
