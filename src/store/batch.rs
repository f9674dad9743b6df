//! Guarded batches without positional coupling.
//!
//! A [`Guard`] is an SQL condition with its own parameters, numbered from `?1`. Attaching it to
//! a statement renumbers its placeholders past the statement's own parameters, so a statement
//! that gains a column can never shift the guard's bindings. A [`Batch`] hands out a [`Step`]
//! for every statement it takes; results are read by step, never by index.

use std::borrow::Cow;

use super::{Db, Outcome, Row, Statement, StoreError, Value};

/// An SQL condition over its own parameters `?1`…`?n` that decides, inside a batch, whether a
/// statement takes effect — for example "the UPDATE before me consumed the code".
#[derive(Clone, Debug, PartialEq)]
pub struct Guard {
    sql: Cow<'static, str>,
    params: Vec<Value>,
}

/// Builds a [`Guard`]: `guard!("EXISTS (SELECT 1 FROM t WHERE id = ?1)", id)`.
#[macro_export]
macro_rules! guard {
    ($sql:expr $(, $p:expr)* $(,)?) => {
        $crate::store::batch::Guard::new($sql, vec![$($crate::store::Value::from($p)),*])
    };
}

impl Guard {
    /// A condition whose placeholders are numbered `?1`…`?n`, one per parameter. Bare `?`
    /// placeholders cannot be renumbered and are refused when the guard is attached.
    pub fn new(sql: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Self {
        Self {
            sql: sql.into(),
            params,
        }
    }

    /// Both conditions.
    pub fn and(self, other: Guard) -> Guard {
        let offset = self.params.len();
        let mut params = self.params;
        params.extend(other.params);
        Guard {
            sql: Cow::Owned(format!(
                "({}) AND ({})",
                self.sql,
                renumber(&other.sql, offset)
            )),
            params,
        }
    }
}

impl Statement {
    /// This statement with `WHERE (guard)` appended and the guard's placeholders renumbered past
    /// this statement's parameters. The statement must end where a `WHERE` may follow: an
    /// `INSERT … SELECT …` without one, or an `UPDATE`/`DELETE` without one.
    pub fn only_if(self, guard: Guard) -> Statement {
        self.attach("WHERE", guard)
    }

    /// This statement, which already ends in a `WHERE` clause, with `AND (guard)` appended.
    pub fn and_if(self, guard: Guard) -> Statement {
        self.attach("AND", guard)
    }

    fn attach(self, keyword: &str, guard: Guard) -> Statement {
        let offset = self.params.len();
        let mut params = self.params;
        params.extend(guard.params);
        Statement {
            sql: Cow::Owned(format!(
                "{} {keyword} ({})",
                self.sql,
                renumber(&guard.sql, offset)
            )),
            params,
        }
    }
}

/// Adds `offset` to every numbered placeholder `?N` outside string literals and quoted
/// identifiers. A bare `?` (numbered by position, so it cannot be moved) is a programming
/// error, caught in debug builds and by the guards' tests.
pub fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((_, c)) = chars.next() {
        out.push(c);
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '?') => {
                let mut digits = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    digits.push(d);
                    chars.next();
                }
                debug_assert!(!digits.is_empty(), "bare `?` in a guard: {sql}");
                match digits.parse::<usize>() {
                    Ok(n) => out.push_str(&(n + offset).to_string()),
                    Err(_) => out.push_str(&digits),
                }
            }
            (None, _) => {}
        }
    }
    out
}

/// A statement's place in a [`Batch`], for reading its outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step(usize);

/// Statements to run atomically, in order (D1 `batch`, a SQLite transaction).
#[derive(Debug, Default)]
pub struct Batch {
    stmts: Vec<Statement>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `stmt`.
    pub fn push(&mut self, stmt: Statement) -> Step {
        self.stmts.push(stmt);
        Step(self.stmts.len() - 1)
    }

    /// Appends `stmt`, taking effect only where `guard` holds ([`Statement::only_if`]).
    pub fn push_if(&mut self, stmt: Statement, guard: Guard) -> Step {
        self.push(stmt.only_if(guard))
    }

    /// Appends statements whose outcomes nobody reads (enforcement, cleanup).
    pub fn extend(&mut self, stmts: impl IntoIterator<Item = Statement>) {
        self.stmts.extend(stmts);
    }

    pub fn len(&self) -> usize {
        self.stmts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stmts.is_empty()
    }

    /// Runs every statement or none.
    pub async fn run(self, db: &dyn Db) -> Result<Outcomes, StoreError> {
        let expected = self.stmts.len();
        let outcomes = db.batch(self.stmts).await?;
        if outcomes.len() != expected {
            return Err(StoreError::Backend(format!(
                "batch of {expected} statements returned {} results",
                outcomes.len()
            )));
        }
        Ok(Outcomes(outcomes))
    }
}

/// What each step of a batch produced.
#[derive(Debug)]
pub struct Outcomes(Vec<Outcome>);

impl Outcomes {
    /// Rows the step inserted, updated or deleted.
    pub fn changes(&self, step: Step) -> u64 {
        self.0.get(step.0).map_or(0, |o| o.changes)
    }

    /// Whether the step changed at least one row (its guard held, its condition matched).
    pub fn changed(&self, step: Step) -> bool {
        self.changes(step) > 0
    }

    /// The rows a step returned (`RETURNING`, `SELECT`).
    pub fn rows(&self, step: Step) -> &[Row] {
        self.0.get(step.0).map_or(&[], |o| o.rows.as_slice())
    }

    /// Takes a step's outcome, for decoding.
    pub fn take(&mut self, step: Step) -> Outcome {
        self.0
            .get_mut(step.0)
            .map(std::mem::take)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumbers_past_the_statement_and_skips_literals() {
        assert_eq!(
            renumber("id = ?1 AND note = '?2' AND \"c?3\" = ?12", 4),
            "id = ?5 AND note = '?2' AND \"c?3\" = ?16"
        );
        assert_eq!(
            renumber("x = 'it''s ?1' OR y = ?2", 1),
            "x = 'it''s ?1' OR y = ?3"
        );
    }

    #[test]
    fn a_guard_binds_after_the_statements_own_parameters() {
        let s = crate::stmt!("INSERT INTO t (a, b) SELECT ?1, ?2", 1, "b").only_if(crate::guard!(
            "EXISTS (SELECT 1 FROM u WHERE id = ?1 AND k = ?2)",
            "u1",
            7
        ));
        assert_eq!(
            s.sql,
            "INSERT INTO t (a, b) SELECT ?1, ?2 WHERE (EXISTS (SELECT 1 FROM u WHERE id = ?3 AND k = ?4))"
        );
        assert_eq!(
            s.params,
            vec![
                Value::Int(1),
                Value::from("b"),
                Value::from("u1"),
                Value::Int(7)
            ]
        );
    }

    #[test]
    fn guards_combine_without_sharing_numbers() {
        let g = crate::guard!("a = ?1", 1).and(crate::guard!("b = ?1 AND c = ?2", 2, 3));
        let s = crate::stmt!("UPDATE t SET x = ?1 WHERE id = ?2", 9, 8).and_if(g);
        assert_eq!(
            s.sql,
            "UPDATE t SET x = ?1 WHERE id = ?2 AND ((a = ?3) AND (b = ?4 AND c = ?5))"
        );
        assert_eq!(s.params.len(), 5);
    }

    /// The proof: a guarded audit-style INSERT gains a column (one more parameter) and
    /// the guard still binds its own values, so the batch still decides the same way.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn adding_a_parameter_cannot_shift_a_guard() {
        use crate::store::sqlite::SqliteDb;
        use futures::executor::block_on;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let db = SqliteDb::in_memory(&dir).unwrap();
        block_on(db.run(crate::stmt!(
            "CREATE TABLE codes (id TEXT PRIMARY KEY, used_by TEXT)"
        )))
        .unwrap();
        block_on(db.run(crate::stmt!(
            "CREATE TABLE log (kind TEXT, note TEXT, extra TEXT)"
        )))
        .unwrap();
        block_on(db.run(crate::stmt!(
            "INSERT INTO codes VALUES ('c1', NULL), ('c2', NULL)"
        )))
        .unwrap();
        // The guard: "this request's UPDATE consumed the code" (its own two parameters).
        let consumed = |id: &str, by: &str| {
            crate::guard!(
                "EXISTS (SELECT 1 FROM codes WHERE id = ?1 AND used_by = ?2)",
                id,
                by
            )
        };
        let run = |code: &str, request: &str, log: Statement| {
            let mut batch = Batch::new();
            let used = batch.push(crate::stmt!(
                "UPDATE codes SET used_by = ?2 WHERE id = ?1 AND used_by IS NULL",
                code,
                request
            ));
            let logged = batch.push_if(log, consumed(code, request));
            let out = block_on(batch.run(&db)).unwrap();
            (out.changed(used), out.changed(logged))
        };
        let two = crate::stmt!(
            "INSERT INTO log (kind, note) SELECT ?1, ?2",
            "redeemed",
            "c1"
        );
        assert_eq!(run("c1", "r1", two.clone()), (true, true));
        assert_eq!(
            run("c1", "r2", two),
            (false, false),
            "a replay logs nothing"
        );
        let three = crate::stmt!(
            "INSERT INTO log (kind, note, extra) SELECT ?1, ?2, ?3",
            "redeemed",
            "c2",
            "new column"
        );
        assert_eq!(run("c2", "r3", three.clone()), (true, true));
        assert_eq!(
            run("c2", "r4", three),
            (false, false),
            "the guard still reads its own code"
        );
        let rows = block_on(db.run(crate::stmt!("SELECT count(*) AS n FROM log"))).unwrap();
        assert_eq!(rows.rows[0]["n"], 2);
    }
}
