//! D1 adapter (wasm only). Integers are bound as JS numbers (exact below 2^53), and numbers
//! read back are normalised so integral values decode as `i64`.

use async_trait::async_trait;
use serde_json::{Number, Value as Json};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result};

use super::{Constraint, Db, Outcome, Row, Statement, StoreError, Value};

pub struct D1Db {
    db: D1Database,
}

impl D1Db {
    pub fn new(db: D1Database) -> Self {
        Self { db }
    }

    fn prepare(&self, stmt: &Statement) -> Result<D1PreparedStatement, StoreError> {
        let params: Vec<JsValue> = stmt
            .params
            .iter()
            .map(|v| match v {
                Value::Null => JsValue::NULL,
                // D1's integer binding is 32-bit; f64 is exact for our values (< 2^53).
                Value::Int(n) => JsValue::from_f64(*n as f64),
                Value::Text(s) => JsValue::from_str(s),
            })
            .collect();
        self.db
            .prepare(stmt.sql.as_ref())
            .bind(&params)
            .map_err(classify)
    }
}

fn classify(e: worker::Error) -> StoreError {
    let msg = e.to_string();
    match Constraint::from_message(&msg) {
        Constraint::Other if !msg.contains("constraint failed") => StoreError::Backend(msg),
        c => StoreError::Conflict(c, msg),
    }
}

/// D1 hands numbers over as JS doubles; turn integral ones back into integers.
fn normalise(v: Json) -> Json {
    match v {
        Json::Number(n) => match n.as_f64() {
            Some(f) if n.as_i64().is_none() && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Json::Number(Number::from(f as i64))
            }
            _ => Json::Number(n),
        },
        Json::Array(a) => Json::Array(a.into_iter().map(normalise).collect()),
        Json::Object(o) => Json::Object(o.into_iter().map(|(k, v)| (k, normalise(v))).collect()),
        other => other,
    }
}

fn outcome(result: &D1Result) -> Result<Outcome, StoreError> {
    if let Some(err) = result.error() {
        let c = Constraint::from_message(&err);
        return Err(if c == Constraint::Other {
            StoreError::Backend(err)
        } else {
            StoreError::Conflict(c, err)
        });
    }
    let rows = result
        .results::<Json>()
        .map_err(|e| StoreError::Decode(e.to_string()))?
        .into_iter()
        .filter_map(|r| match normalise(r) {
            Json::Object(o) => Some(o),
            _ => None,
        })
        .collect::<Vec<Row>>();
    let changes = result
        .meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0) as u64;
    Ok(Outcome { rows, changes })
}

#[async_trait(?Send)]
impl Db for D1Db {
    async fn run(&self, stmt: Statement) -> Result<Outcome, StoreError> {
        let result = self.prepare(&stmt)?.all().await.map_err(classify)?;
        outcome(&result)
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Outcome>, StoreError> {
        let prepared = stmts
            .iter()
            .map(|s| self.prepare(s))
            .collect::<Result<Vec<_>, _>>()?;
        let results = self.db.batch(prepared).await.map_err(classify)?;
        results.iter().map(outcome).collect()
    }
}
