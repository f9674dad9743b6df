//! SQLite adapter for native tests and benches, with the same migration files as D1.

use std::cell::RefCell;
use std::path::Path;

use async_trait::async_trait;
use rusqlite::{types::ValueRef, Connection};
use serde_json::{Number, Value as Json};

use super::{Constraint, Db, Outcome, Row, Statement, StoreError, Value};

/// An SQLite connection that behaves like D1 (foreign keys on, batches are transactions).
pub struct SqliteDb {
    conn: RefCell<Connection>,
}

impl SqliteDb {
    /// A fresh in-memory database with every `migrations/*.sql` file applied in name order.
    pub fn in_memory(migrations_dir: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(backend)?;
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

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn classify(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => {
            let msg = e.to_string();
            StoreError::Conflict(Constraint::from_message(&msg), msg)
        }
        _ => StoreError::Backend(e.to_string()),
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
