//! The Durable Object class `ReplayMarkers` (SQLite-backed, `wrangler.toml` migration
//! `new_sqlite_classes`): one instance per signer holds that signer's replay markers.
//!
//! A request is one [`MarkRequest`]; [`UPSERT`] runs synchronously on the object's own SQLite,
//! and the object runs one event at a time, so of N concurrent uses of one `jti` exactly one
//! is `first`. Expired markers are deleted by an alarm, [`PURGE_LIMIT`] per round, so storage
//! follows the live markers even when the signer goes quiet.

use std::cell::Cell;

use serde::Deserialize;
use worker::{durable_object, Date, DurableObject, Env, Method, Request, Response, Result, State};

use super::durable_markers::{
    next_alarm_ms, MarkRequest, NEXT_EXPIRY, PURGE, PURGE_LIMIT, SCHEMA, UPSERT,
};
use super::markers::Use;

#[durable_object]
pub struct ReplayMarkers {
    state: State,
    /// The table exists (created on this instance's first event).
    ready: Cell<bool>,
    /// A clean-up alarm is known to be set.
    armed: Cell<bool>,
}

#[derive(Deserialize)]
struct NextExpiry {
    next: Option<f64>,
}

fn now_ms() -> i64 {
    i64::try_from(Date::now().as_millis()).unwrap_or(i64::MAX)
}

impl ReplayMarkers {
    /// The object's SQL storage, with the table created.
    fn sql(&self) -> Result<worker::SqlStorage> {
        let sql = self.state.storage().sql();
        if !self.ready.get() {
            for stmt in SCHEMA {
                sql.exec(stmt, None)?.raw().for_each(drop);
            }
            self.ready.set(true);
        }
        Ok(sql)
    }

    /// Makes sure an alarm will clean up; an alarm already set (perhaps by an earlier
    /// instance) is kept, since each alarm re-arms for what is left.
    async fn arm(&self, at_ms: i64) -> Result<()> {
        let storage = self.state.storage();
        if storage.get_alarm().await?.is_none() {
            storage.set_alarm((at_ms - now_ms()).max(0)).await?;
        }
        self.armed.set(true);
        Ok(())
    }
}

impl DurableObject for ReplayMarkers {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            ready: Cell::new(false),
            armed: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if req.method() != Method::Post {
            return Response::error("method not allowed", 405);
        }
        let mark = match MarkRequest::parse(&req.text().await?) {
            Ok(mark) => mark,
            Err(e) => return Response::error(e.to_string(), 400),
        };
        let rows = self
            .sql()?
            .exec(
                UPSERT,
                vec![
                    mark.hash.into(),
                    mark.kind.as_str().into(),
                    mark.expires_at_ms.into(),
                    mark.now_ms.into(),
                ],
            )?
            .raw()
            .count();
        let used = if rows == 1 { Use::First } else { Use::Replay };
        if used == Use::First && !self.armed.get() {
            self.arm(mark.expires_at_ms).await?;
        }
        Response::ok(used.as_answer())
    }

    async fn alarm(&self) -> Result<Response> {
        let now = now_ms();
        let sql = self.sql()?;
        sql.exec(PURGE, vec![now.into(), PURGE_LIMIT.into()])?
            .raw()
            .for_each(drop);
        let next = sql.exec(NEXT_EXPIRY, None)?.one::<NextExpiry>()?.next;
        // Float to integer: expiries are whole milliseconds below 2^53.
        match next_alarm_ms(next.map(|n| n as i64), now) {
            Some(at) => self.state.storage().set_alarm((at - now).max(0)).await?,
            None => self.armed.set(false),
        }
        Response::ok("")
    }
}
