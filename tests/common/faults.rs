//! Storage faults: a `Db` in front of the harness's SQLite that fails one chosen call, so a test
//! can prove that a flow interrupted midway answers 5xx and leaves nothing half-written.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::Value;

use agent_id::app::{App, Handled};
use agent_id::http::Request;
use agent_id::store::sqlite::SqliteDb;
use agent_id::store::{Db, Outcome, Statement, StoreError};

use super::{Harness, Resp};

/// Which call fails. Calls are counted from 1; a `batch` is one call.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    Never,
    /// The Nth `run` or `batch` call.
    Call(usize),
    /// Every call with a statement whose SQL contains this text (a batch fails as a whole).
    Matching(&'static str),
}

/// The error D1 reports when storage is unavailable.
pub const INJECTED: &str = "D1_ERROR: injected storage fault: SQLITE_IOERR";

pub struct FaultyDb {
    inner: Rc<SqliteDb>,
    fault: Fault,
    calls: Cell<usize>,
    /// The first statement of every call, in order (`!` marks the failed one).
    log: RefCell<Vec<String>>,
}

impl FaultyDb {
    pub fn new(inner: Rc<SqliteDb>, fault: Fault) -> Rc<Self> {
        Rc::new(Self {
            inner,
            fault,
            calls: Cell::new(0),
            log: RefCell::new(Vec::new()),
        })
    }

    /// How many calls reached this database.
    pub fn calls(&self) -> usize {
        self.calls.get()
    }

    pub fn log(&self) -> Vec<String> {
        self.log.borrow().clone()
    }

    pub fn fired(&self) -> bool {
        self.log.borrow().iter().any(|l| l.starts_with('!'))
    }

    fn enter(&self, stmts: &[Statement]) -> Result<(), StoreError> {
        let n = self.calls.get() + 1;
        self.calls.set(n);
        let fail = match self.fault {
            Fault::Never => false,
            Fault::Call(k) => k == n,
            Fault::Matching(text) => stmts.iter().any(|s| s.sql.contains(text)),
        };
        let first = stmts.first().map_or(String::new(), |s| s.sql.to_string());
        let kind = if stmts.len() > 1 { "batch" } else { "run" };
        let mark = if fail { "!" } else { "" };
        self.log
            .borrow_mut()
            .push(format!("{mark}{n} {kind}[{}]: {first}", stmts.len()));
        if fail {
            Err(StoreError::Backend(INJECTED.into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait(?Send)]
impl Db for FaultyDb {
    async fn run(&self, stmt: Statement) -> Result<Outcome, StoreError> {
        self.enter(std::slice::from_ref(&stmt))?;
        self.inner.run(stmt).await
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Outcome>, StoreError> {
        self.enter(&stmts)?;
        self.inner.batch(stmts).await
    }
}

impl Harness {
    /// An App like the harness's (same configuration, clock, KV and Paddle) over `db`.
    pub fn app_over(&self, db: Rc<dyn Db>) -> App {
        App::new(
            self.app.config.clone(),
            self.clock.clone(),
            Rc::new(agent_id::clock::OsEntropy),
            db,
            self.kv.clone(),
        )
        .with_paddle(self.paddle.clone())
    }

    /// Sends `req` through `app` (deferred work is dropped, as when the isolate dies).
    pub fn send_via(&self, app: &App, req: Request) -> Resp {
        match futures::executor::block_on(app.handle(req)) {
            Handled::Response(r) => Resp::from(r),
            Handled::Asset(_) => panic!("an API request was served from the assets"),
        }
    }

    /// Every row of every table, in rowid order: equal dumps mean equal databases.
    pub fn dump(&self) -> BTreeMap<String, Vec<Value>> {
        let tables = self.sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT LIKE '_cf_%' ORDER BY name",
            vec![],
        );
        tables
            .rows
            .iter()
            .map(|t| {
                let name = t["name"].as_str().unwrap().to_owned();
                let rows = futures::executor::block_on(self.db.run(Statement::new(
                    format!("SELECT * FROM \"{name}\" ORDER BY rowid"),
                    vec![],
                )))
                .unwrap_or_else(|e| panic!("dump {name}: {e}"))
                .rows
                .into_iter()
                .map(Value::Object)
                .collect();
                (name, rows)
            })
            .collect()
    }
}
