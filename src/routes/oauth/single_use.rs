//! Client assertions and DPoP proofs spent in the same D1 batch as the writes they authorize
//! (security.md §3 C11, P15), so that a token, revocation or introspection request costs one
//! write round trip.
//!
//! When D1 keeps the replay markers ([`ReplayStore::in_batch`]), one batch carries the writes
//! first, their deciding statement gated by "every marker is still unused" ([`Mark::unused`]),
//! then the markers. It is one transaction, so the gate sees exactly what the markers will see:
//! a replay writes nothing, and the markers' row counts say which one was replayed. When the
//! markers live elsewhere, they are spent before the batch and a replay leaves the writes out.
//!
//! [`ReplayStore::in_batch`]: crate::store::markers::ReplayStore::in_batch

use crate::auth::replay::AcceptedThrough;
use crate::ctx::Ctx;
use crate::guard;
use crate::http::ApiError;
use crate::store::batch::{Batch, Guard, Outcomes, Step};
use crate::store::markers::{Mark, MarkerKind, Use};

/// A marker's place in a [`Spend`], for reading how it was used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Marked(usize);

/// The markers one request spends, in the order in which their refusals take precedence.
#[derive(Default)]
pub struct Spend<'m> {
    marks: Vec<Mark<'m>>,
}

/// The mark of a verified proof or assertion: `hash` signed by `shard`, accepted through
/// `window`, observed at `now_ms`.
pub fn mark<'m>(
    kind: MarkerKind,
    shard: &'m str,
    hash: &'m str,
    window: AcceptedThrough,
    now_ms: i64,
) -> Mark<'m> {
    Mark {
        kind,
        shard,
        hash,
        expires_at_ms: window.marker_expires_at_ms(),
        now_ms,
    }
}

impl<'m> Spend<'m> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `mark` after the ones already added.
    pub fn mark(&mut self, mark: Mark<'m>) -> Marked {
        self.marks.push(mark);
        Marked(self.marks.len() - 1)
    }

    /// Spends every marker without writing anything else (a request refused after its
    /// credentials were verified still uses them up).
    pub async fn alone(self, ctx: &Ctx<'_>) -> Result<Spent<()>, ApiError> {
        self.with(ctx, |_, _| ()).await
    }

    /// Spends every marker in one batch with what `writes` pushes. `writes` receives the batch
    /// and the gate that the statement deciding its writes must carry (every other write must
    /// depend on that statement): "every marker in the batch is still unused", or false when a
    /// marker spent before the batch was replayed. Reads pushed by `writes` need no gate.
    pub async fn with<W>(
        self,
        ctx: &Ctx<'_>,
        writes: impl FnOnce(&mut Batch, Guard) -> W,
    ) -> Result<Spent<W>, ApiError> {
        let replays = &ctx.services.replays;
        let mut uses = vec![Use::First; self.marks.len()];
        let mut batched = Vec::new();
        for (i, mark) in self.marks.iter().enumerate() {
            match replays.in_batch(mark) {
                Some(stmt) => batched.push((i, stmt, mark.unused())),
                None => {
                    uses[i] = replays
                        .first_use(ctx.db(), &ctx.services.meter, mark)
                        .await?;
                }
            }
        }
        let gate = if uses.contains(&Use::Replay) {
            guard!("0")
        } else {
            batched
                .iter()
                .map(|(_, _, g)| g.clone())
                .reduce(Guard::and)
                .unwrap_or_else(|| guard!("1"))
        };
        let mut batch = Batch::new();
        let written = writes(&mut batch, gate);
        let steps: Vec<(usize, Step)> = batched
            .into_iter()
            .map(|(i, stmt, _)| (i, batch.push(stmt)))
            .collect();
        let outcomes = if batch.is_empty() {
            None
        } else {
            Some(batch.run(ctx.db()).await?)
        };
        if let Some(out) = &outcomes {
            for (i, step) in steps {
                uses[i] = Use::from_changes(out.changes(step));
            }
        }
        Ok(Spent {
            uses,
            written,
            outcomes,
        })
    }
}

impl<'m> Spend<'m> {
    /// Like [`Spend::with`], everything the batch does (markers included) taking effect only
    /// where `guard` holds, for a batch acting on a belief that its own reads confirm (a cached
    /// client key). The caller must confirm that belief from the batch's reads before it
    /// trusts [`Spent::replayed`]: when `guard` failed, no marker was recorded and each reads
    /// as replayed. `None`, with nothing run, when a marker lives outside D1 and so cannot be
    /// held back by `guard`.
    pub async fn confirmed_by<W>(
        self,
        ctx: &Ctx<'_>,
        guard: Guard,
        writes: impl FnOnce(&mut Batch, Guard) -> W,
    ) -> Result<Option<Spent<W>>, ApiError> {
        let replays = &ctx.services.replays;
        let mut batched = Vec::with_capacity(self.marks.len());
        for mark in &self.marks {
            match replays.in_batch_if(mark, guard.clone()) {
                Some(stmt) => batched.push(stmt),
                None => return Ok(None),
            }
        }
        let gate = self.marks.iter().map(Mark::unused).fold(guard, Guard::and);
        let mut batch = Batch::new();
        let written = writes(&mut batch, gate);
        let steps: Vec<Step> = batched.into_iter().map(|stmt| batch.push(stmt)).collect();
        let out = batch.run(ctx.db()).await?;
        let uses = steps
            .iter()
            .map(|&step| Use::from_changes(out.changes(step)))
            .collect();
        Ok(Some(Spent {
            uses,
            written,
            outcomes: Some(out),
        }))
    }
}

/// How each marker was used, and what the batch produced (`None` when it had nothing to run).
pub struct Spent<W> {
    uses: Vec<Use>,
    written: W,
    outcomes: Option<Outcomes>,
}

impl<W> Spent<W> {
    /// Whether the marker was already used by an earlier request (then nothing gated by the
    /// markers was written).
    pub fn replayed(&self, marked: Marked) -> bool {
        self.uses.get(marked.0) == Some(&Use::Replay)
    }

    /// What `writes` returned (its steps), and the batch's outcomes.
    pub fn written(self) -> (W, Option<Outcomes>) {
        (self.written, self.outcomes)
    }
}

/// The gate on its SQL alone, against the real migrations: a write before a replayed marker
/// does not happen, one before a first use (or an expired marker's takeover) does.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use futures::executor::block_on;

    use std::collections::HashMap;
    use std::rc::Rc;

    use super::*;
    use crate::clock::{ManualClock, OsEntropy};
    use crate::config::Config;
    use crate::ctx::Services;
    use crate::http::{Body, Request};
    use crate::stmt;
    use crate::store::markers::{D1Markers, ReplayStore};
    use crate::store::memory::MemoryKv;
    use crate::store::meter::Meter;
    use crate::store::sqlite::SqliteDb;
    use crate::store::{Db, Statement, StoreError};

    fn db() -> SqliteDb {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let db = SqliteDb::in_memory(&dir).unwrap();
        block_on(db.run(stmt!("CREATE TABLE w (n INTEGER)"))).unwrap();
        db
    }

    /// Runs [gated write, marker] as one batch; returns (write happened, marker changes).
    fn spend(db: &SqliteDb, hash: &str, expires_at_ms: i64, now_ms: i64) -> (bool, u64) {
        let m = Mark {
            kind: MarkerKind::Dpop,
            shard: "k",
            hash,
            expires_at_ms,
            now_ms,
        };
        let mut batch = Batch::new();
        let write = batch.push_if(stmt!("INSERT INTO w (n) SELECT 1"), m.unused());
        let marker = batch.push(m.statement());
        let out = block_on(batch.run(db)).unwrap();
        (out.changed(write), out.changes(marker))
    }

    /// Markers kept outside the batch (as in Durable Objects): D1's table, one call each.
    struct OutOfBatch;

    #[async_trait::async_trait(?Send)]
    impl ReplayStore for OutOfBatch {
        fn in_batch(&self, _: &Mark<'_>) -> Option<Statement> {
            None
        }

        async fn first_use(
            &self,
            db: &dyn Db,
            meter: &Meter,
            mark: &Mark<'_>,
        ) -> Result<Use, StoreError> {
            D1Markers.first_use(db, meter, mark).await
        }
    }

    /// Spends one mark with a write of `n`, through `replays`; returns (replayed, rows of w).
    fn spend_through(services: &Services, n: i64) -> (bool, i64) {
        let config = Config::load(&HashMap::new()).unwrap();
        let req = Request {
            method: http::Method::POST,
            path: "/v1/oauth/token".into(),
            query: None,
            headers: http::HeaderMap::new(),
            body: Body::Bytes(Vec::new()),
            origin: "https://id.example.com".into(),
        };
        let ctx = Ctx {
            services,
            config: &config,
            req: &req,
            params: Default::default(),
            request_id: "r",
            issuer: "https://id.example.com".into(),
            now_ms: 1_000,
        };
        let mut spend = Spend::new();
        let marked = spend.mark(Mark {
            kind: MarkerKind::ClientAssertion,
            shard: "c",
            hash: "h",
            expires_at_ms: 2_000,
            now_ms: 1_000,
        });
        let spent = block_on(spend.with(&ctx, |batch, gate| {
            batch.push_if(stmt!("INSERT INTO w (n) SELECT ?1", n), gate)
        }))
        .unwrap();
        let replayed = spent.replayed(marked);
        let rows = block_on(services.db.run(stmt!("SELECT COUNT(*) AS n FROM w"))).unwrap();
        (replayed, rows.rows[0]["n"].as_i64().unwrap())
    }

    #[test]
    fn markers_outside_the_batch_are_spent_first_and_a_replay_writes_nothing() {
        for replays in [
            Rc::new(D1Markers) as Rc<dyn ReplayStore>,
            Rc::new(OutOfBatch),
        ] {
            let clock = Rc::new(ManualClock::at_secs(1));
            let mut services = Services::new(
                clock.clone(),
                Rc::new(OsEntropy),
                Rc::new(db()),
                Rc::new(MemoryKv::new(clock)),
            );
            services.replays = replays;
            assert_eq!(spend_through(&services, 1), (false, 1));
            assert_eq!(spend_through(&services, 2), (true, 1), "the replay wrote");
        }
    }

    #[test]
    fn the_gate_holds_exactly_when_the_marker_records_a_first_use() {
        let db = db();
        assert_eq!(spend(&db, "h", 2_000, 1_000), (true, 1), "first use");
        assert_eq!(spend(&db, "h", 2_000, 1_500), (false, 0), "replay");
        assert_eq!(spend(&db, "h", 2_000, 1_999), (false, 0), "replay, last ms");
        assert_eq!(
            spend(&db, "h", 3_000, 2_000),
            (true, 1),
            "expired: taken over"
        );
        assert_eq!(spend(&db, "other", 3_000, 2_000), (true, 1), "another hash");
    }
}
