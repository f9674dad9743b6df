//! SQLite adapter for native tests and benches, with the same migration files as D1.
//!
//! It is as strict as D1: the limits of D1's platform documentation are set on the connection,
//! integers D1 would round are refused, a batch commits all or nothing, and errors carry D1's
//! `D1_ERROR: <message>: SQLITE_<CODE>` shape. A statement that passes here also runs on D1.

use std::cell::RefCell;
use std::path::Path;

use async_trait::async_trait;
use rusqlite::limits::Limit;
use rusqlite::{types::ValueRef, Connection};
use serde_json::{Number, Value as Json};

use super::{Constraint, Db, Outcome, Row, Statement, StoreError, Value};

/// D1's per-statement limits (developers.cloudflare.com/d1/platform/limits).
pub mod d1_limits {
    /// Bound parameters per query.
    pub const MAX_BOUND_PARAMS: usize = 100;
    /// SQL statement length, in bytes.
    pub const MAX_SQL_BYTES: usize = 100_000;
    /// A string, BLOB or table row, in bytes.
    pub const MAX_VALUE_BYTES: usize = 1_000_000;
    /// Columns per table.
    pub const MAX_COLUMNS: usize = 100;
    /// Arguments of one SQL function call.
    pub const MAX_FUNCTION_ARGS: usize = 32;
    /// A `LIKE` or `GLOB` pattern, in bytes.
    pub const MAX_LIKE_PATTERN_BYTES: usize = 50;
    /// D1 binds integers as JS numbers: beyond ±2^53 they are silently rounded.
    pub const MAX_EXACT_INT: i64 = 1 << 53;
}

/// An SQLite connection that behaves like D1 (foreign keys on, D1's limits, batches are
/// transactions).
pub struct SqliteDb {
    conn: RefCell<Connection>,
}

impl SqliteDb {
    /// A fresh in-memory database with every `migrations/*.sql` file applied in name order.
    pub fn in_memory(migrations_dir: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(backend)?;
        apply_d1_limits(&conn).map_err(backend)?;
        let mut files: Vec<_> = std::fs::read_dir(migrations_dir)
            .map_err(|e| StoreError::Backend(e.to_string()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        for f in files {
            let sql =
                std::fs::read_to_string(&f).map_err(|e| StoreError::Backend(e.to_string()))?;
            conn.execute_batch(&sql).map_err(backend)?;
        }
        Ok(Self {
            conn: RefCell::new(conn),
        })
    }

    fn exec(conn: &Connection, stmt: &Statement) -> Result<Outcome, StoreError> {
        check_params(stmt)?;
        let mut prepared = conn.prepare_cached(&stmt.sql).map_err(classify)?;
        for (i, v) in stmt.params.iter().enumerate() {
            let idx = i + 1;
            match v {
                Value::Null => prepared.raw_bind_parameter(idx, rusqlite::types::Null),
                Value::Int(n) => prepared.raw_bind_parameter(idx, n),
                Value::Text(s) => prepared.raw_bind_parameter(idx, s.as_str()),
            }
            .map_err(classify)?;
        }
        let names: Vec<String> = prepared
            .column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        let before = conn.total_changes();
        let mut rows_out = Vec::new();
        {
            let mut rows = prepared.raw_query();
            while let Some(row) = rows.next().map_err(classify)? {
                let mut obj = Row::new();
                for (i, name) in names.iter().enumerate() {
                    let v = match row.get_ref(i).map_err(classify)? {
                        ValueRef::Null => Json::Null,
                        ValueRef::Integer(n) => Json::Number(n.into()),
                        ValueRef::Real(f) => Number::from_f64(f).map_or(Json::Null, Json::Number),
                        ValueRef::Text(t) => Json::String(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(_) => Json::Null,
                    };
                    obj.insert(name.clone(), v);
                }
                rows_out.push(obj);
            }
        }
        let changes = conn.total_changes().saturating_sub(before);
        Ok(Outcome {
            rows: rows_out,
            changes,
        })
    }
}

/// Lowers SQLite's limits to D1's, so SQLite itself refuses what D1 refuses.
fn apply_d1_limits(conn: &Connection) -> rusqlite::Result<()> {
    use d1_limits::*;
    for (limit, value) in [
        (Limit::SQLITE_LIMIT_VARIABLE_NUMBER, MAX_BOUND_PARAMS),
        (Limit::SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES),
        (Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES),
        (Limit::SQLITE_LIMIT_COLUMN, MAX_COLUMNS),
        (Limit::SQLITE_LIMIT_FUNCTION_ARG, MAX_FUNCTION_ARGS),
        (
            Limit::SQLITE_LIMIT_LIKE_PATTERN_LENGTH,
            MAX_LIKE_PATTERN_BYTES,
        ),
    ] {
        conn.set_limit(limit, i32::try_from(value).unwrap_or(i32::MAX))?;
    }
    Ok(())
}

/// What D1 refuses (or would corrupt) before SQLite sees the statement: more bound values than
/// it accepts, and integers it would round.
fn check_params(stmt: &Statement) -> Result<(), StoreError> {
    use d1_limits::*;
    if stmt.params.len() > MAX_BOUND_PARAMS {
        return Err(d1_error(
            &format!(
                "too many SQL variables ({} bound, at most {MAX_BOUND_PARAMS})",
                stmt.params.len()
            ),
            "SQLITE_ERROR",
        ));
    }
    let inexact = stmt.params.iter().find_map(|v| match v {
        Value::Int(n) if n.unsigned_abs() > MAX_EXACT_INT.unsigned_abs() => Some(*n),
        _ => None,
    });
    if let Some(n) = inexact {
        return Err(d1_error(
            &format!("integer {n} is beyond 2^53 and would be rounded"),
            "SQLITE_MISMATCH",
        ));
    }
    Ok(())
}

fn d1_error(message: &str, code: &str) -> StoreError {
    StoreError::Backend(format!("D1_ERROR: {message}: {code}"))
}

/// The `SQLITE_*` name of a primary result code, as D1 appends it to its messages.
fn code_name(e: &rusqlite::Error) -> &'static str {
    let primary = match e {
        rusqlite::Error::SqliteFailure(f, _) => f.extended_code & 0xff,
        _ => return "SQLITE_ERROR",
    };
    match primary {
        5 => "SQLITE_BUSY",
        18 => "SQLITE_TOOBIG",
        19 => "SQLITE_CONSTRAINT",
        20 => "SQLITE_MISMATCH",
        25 => "SQLITE_RANGE",
        _ => "SQLITE_ERROR",
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    d1_error(&e.to_string(), code_name(&e))
}

fn classify(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => {
            let msg = format!("D1_ERROR: {e}: {}", code_name(&e));
            StoreError::Conflict(Constraint::from_message(&msg), msg)
        }
        _ => backend(e),
    }
}

#[async_trait(?Send)]
impl Db for SqliteDb {
    async fn run(&self, stmt: Statement) -> Result<Outcome, StoreError> {
        let conn = self.conn.borrow();
        Self::exec(&conn, &stmt)
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Outcome>, StoreError> {
        let mut conn = self.conn.borrow_mut();
        let tx = conn.transaction().map_err(backend)?;
        let mut out = Vec::with_capacity(stmts.len());
        for s in &stmts {
            out.push(Self::exec(&tx, s)?);
        }
        tx.commit().map_err(backend)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::d1_limits::*;
    use super::*;
    use crate::stmt;
    use futures::executor::block_on;

    fn db() -> SqliteDb {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let db = SqliteDb::in_memory(&dir).expect("migrations apply under D1's limits");
        block_on(db.run(stmt!(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT)"
        )))
        .unwrap();
        db
    }

    fn backend_message(r: Result<Outcome, StoreError>) -> String {
        match r {
            Err(StoreError::Backend(m)) => m,
            other => panic!("expected a backend error, got {other:?}"),
        }
    }

    fn select_params(n: usize) -> Statement {
        let sql = (1..=n)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(" + ");
        Statement::new(format!("SELECT {sql} AS s"), vec![Value::Int(1); n])
    }

    #[test]
    fn bound_parameters_are_limited_like_d1() {
        let db = db();
        let ok = block_on(db.run(select_params(MAX_BOUND_PARAMS))).unwrap();
        assert_eq!(ok.rows[0]["s"], 100);
        let m = backend_message(block_on(db.run(select_params(MAX_BOUND_PARAMS + 1))));
        assert!(m.starts_with("D1_ERROR: too many SQL variables"), "{m}");
        // A placeholder numbered past the limit is refused by SQLite itself.
        let m = backend_message(block_on(db.run(stmt!("SELECT ?101"))));
        assert!(
            m.starts_with("D1_ERROR: ") && m.ends_with(": SQLITE_ERROR"),
            "{m}"
        );
    }

    #[test]
    fn statements_longer_than_d1_accepts_are_refused() {
        let db = db();
        let sql = |len: usize| {
            let mut s = String::from("SELECT 1 AS one -- ");
            s.extend(std::iter::repeat_n('x', len - s.len()));
            s
        };
        assert!(block_on(db.run(Statement::new(sql(MAX_SQL_BYTES), vec![]))).is_ok());
        let m = backend_message(block_on(
            db.run(Statement::new(sql(MAX_SQL_BYTES + 1), vec![])),
        ));
        assert!(m.contains("too long") || m.contains("too big"), "{m}");
        assert!(m.starts_with("D1_ERROR: "), "{m}");
    }

    #[test]
    fn strings_and_rows_are_limited_to_one_megabyte() {
        let db = db();
        let big = "x".repeat(MAX_VALUE_BYTES + 1);
        let m = backend_message(block_on(
            db.run(stmt!("INSERT INTO t (a) VALUES (?1)", big)),
        ));
        assert!(m.ends_with(": SQLITE_TOOBIG"), "{m}");
        // Two values that fit alone make a row that does not.
        let half = "y".repeat(MAX_VALUE_BYTES / 2 + 1);
        let r = block_on(db.run(stmt!(
            "INSERT INTO t (a, b) VALUES (?1, ?2)",
            half.as_str(),
            half.as_str()
        )));
        assert!(backend_message(r).ends_with(": SQLITE_TOOBIG"));
        let count = block_on(db.run(stmt!("SELECT COUNT(*) AS n FROM t"))).unwrap();
        assert_eq!(count.rows[0]["n"], 0);
        let fits = "z".repeat(MAX_VALUE_BYTES / 2);
        assert!(block_on(db.run(stmt!("INSERT INTO t (a) VALUES (?1)", fits))).is_ok());
    }

    #[test]
    fn function_arguments_and_like_patterns_are_limited() {
        let db = db();
        let args = |n: usize| vec!["1"; n].join(", ");
        let sql = format!("SELECT max({}) AS m", args(MAX_FUNCTION_ARGS));
        assert!(block_on(db.run(Statement::new(sql, vec![]))).is_ok());
        let sql = format!("SELECT max({}) AS m", args(MAX_FUNCTION_ARGS + 1));
        backend_message(block_on(db.run(Statement::new(sql, vec![]))));
        let pattern = "%".repeat(MAX_LIKE_PATTERN_BYTES + 1);
        backend_message(block_on(db.run(stmt!("SELECT 'a' LIKE ?1 AS m", pattern))));
    }

    #[test]
    fn integers_d1_would_round_are_refused() {
        let db = db();
        let exact = block_on(db.run(stmt!("SELECT ?1 AS n", MAX_EXACT_INT))).unwrap();
        assert_eq!(exact.rows[0]["n"], MAX_EXACT_INT);
        let m = backend_message(block_on(db.run(stmt!("SELECT ?1 AS n", MAX_EXACT_INT + 1))));
        assert!(m.contains("beyond 2^53"), "{m}");
    }

    #[test]
    fn a_failing_batch_leaves_nothing_behind() {
        let db = db();
        let r = block_on(db.batch(vec![
            stmt!("INSERT INTO t (id, a) VALUES (1, 'first')"),
            stmt!("UPDATE t SET b = 'touched' WHERE id = 1"),
            stmt!("INSERT INTO t (id, a) VALUES (1, 'duplicate')"),
            stmt!("INSERT INTO t (id, a) VALUES (2, 'never')"),
        ]));
        match r {
            Err(StoreError::Conflict(Constraint::Unique, m)) => {
                assert!(m.starts_with("D1_ERROR: UNIQUE constraint failed"), "{m}");
                assert!(m.ends_with(": SQLITE_CONSTRAINT"), "{m}");
            }
            other => panic!("expected a unique violation, got {other:?}"),
        }
        // A limit refused mid-batch rolls back too.
        let r = block_on(db.batch(vec![
            stmt!("INSERT INTO t (id, a) VALUES (3, 'first')"),
            select_params(MAX_BOUND_PARAMS + 1),
        ]));
        assert!(matches!(r, Err(StoreError::Backend(_))));
        let count = block_on(db.run(stmt!("SELECT COUNT(*) AS n FROM t"))).unwrap();
        assert_eq!(count.rows[0]["n"], 0);
        let ok = block_on(db.batch(vec![
            stmt!("INSERT INTO t (id, a) VALUES (1, 'first')"),
            stmt!("UPDATE t SET b = 'touched' WHERE id = 1"),
        ]))
        .unwrap();
        assert_eq!(ok[1].changes, 1);
    }
}
