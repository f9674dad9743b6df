//! D1 adapter (wasm only), on the D1 JavaScript API directly. Integers are bound as JS numbers
//! (exact below 2^53). Result rows cross into Rust as one JSON text (`JSON.stringify`, parsed by
//! serde_json), where integral numbers read back as `i64`: workers-rs's `D1Result::results` and
//! `meta` decode through serde-wasm-bindgen instead, whose deserializers cost bundle size
//! (README, "Bundle size and cold start").

use async_trait::async_trait;
use js_sys::{Array, Function, Reflect};
use serde_json::Value as Json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::D1Database;

use super::{Constraint, Db, Outcome, Row, Statement, StoreError, Value};

pub struct D1Db {
    db: D1Database,
}

impl D1Db {
    pub fn new(db: D1Database) -> Self {
        Self { db }
    }

    /// `db.prepare(sql).bind(...params)`, as a JS `D1PreparedStatement`.
    fn prepare(&self, stmt: &Statement) -> Result<JsValue, StoreError> {
        let params: Array = stmt
            .params
            .iter()
            .map(|v| match v {
                Value::Null => JsValue::NULL,
                // D1's integer binding is 32-bit; f64 is exact for our values (< 2^53).
                Value::Int(n) => JsValue::from_f64(*n as f64),
                Value::Text(s) => JsValue::from_str(s),
            })
            .collect();
        let prepared = self.db.prepare(stmt.sql.as_ref());
        let prepared: &JsValue = prepared.inner().as_ref();
        method(prepared, "bind")?
            .apply(prepared, &params)
            .map_err(classify)
    }
}

/// `target[name]`, which must be a function.
fn method(target: &JsValue, name: &str) -> Result<Function, StoreError> {
    Reflect::get(target, &JsValue::from_str(name))
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| StoreError::Backend(format!("D1: no method {name}")))
}

/// Awaits the promise `call` returned (or the error it threw).
async fn settle(call: Result<JsValue, JsValue>) -> Result<JsValue, StoreError> {
    let promise = call.map_err(classify)?;
    JsFuture::from(js_sys::Promise::resolve(&promise))
        .await
        .map_err(classify)
}

/// A thrown D1 error's message with its causes (D1 puts SQLite's text in either).
fn message(e: &JsValue) -> String {
    let mut out = String::new();
    let mut cur = e.clone();
    for _ in 0..4 {
        let Some(err) = cur.dyn_ref::<js_sys::Error>() else {
            if let Some(s) = cur.as_string() {
                push(&mut out, &s);
            }
            break;
        };
        push(&mut out, &String::from(err.message()));
        cur = err.cause();
        if cur.is_null_or_undefined() {
            break;
        }
    }
    if out.is_empty() {
        out.push_str("unknown D1 error");
    }
    out
}

fn push(out: &mut String, part: &str) {
    if !out.is_empty() {
        out.push_str(": ");
    }
    out.push_str(part);
}

fn classify(e: JsValue) -> StoreError {
    let msg = message(&e);
    match Constraint::from_message(&msg) {
        Constraint::Other if !msg.contains("constraint failed") => StoreError::Backend(msg),
        c => StoreError::Conflict(c, msg),
    }
}

fn get(target: &JsValue, name: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// One D1 result object: `{ success, error?, results, meta: { changes } }`.
fn outcome(result: &JsValue) -> Result<Outcome, StoreError> {
    if let Some(err) = get(result, "error").as_string() {
        let c = Constraint::from_message(&err);
        return Err(if c == Constraint::Other {
            StoreError::Backend(err)
        } else {
            StoreError::Conflict(c, err)
        });
    }
    let results = get(result, "results");
    let rows = if results.is_null_or_undefined() {
        Vec::new()
    } else {
        let text = js_sys::JSON::stringify(&results)
            .ok()
            .and_then(|s| s.as_string())
            .ok_or_else(|| StoreError::Decode("D1 results are not JSON".to_owned()))?;
        match serde_json::from_str::<Json>(&text).map_err(StoreError::decode)? {
            Json::Array(rows) => rows
                .into_iter()
                .filter_map(|r| match r {
                    Json::Object(o) => Some(o),
                    _ => None,
                })
                .collect::<Vec<Row>>(),
            _ => return Err(StoreError::Decode("D1 results are not a list".to_owned())),
        }
    };
    let changes = get(&get(result, "meta"), "changes").as_f64().unwrap_or(0.0) as u64;
    Ok(Outcome { rows, changes })
}

#[async_trait(?Send)]
impl Db for D1Db {
    async fn run(&self, stmt: Statement) -> Result<Outcome, StoreError> {
        let prepared = self.prepare(&stmt)?;
        let result = settle(method(&prepared, "all")?.call0(&prepared)).await?;
        outcome(&result)
    }

    async fn batch(&self, stmts: Vec<Statement>) -> Result<Vec<Outcome>, StoreError> {
        let prepared = stmts
            .iter()
            .map(|s| self.prepare(s))
            .collect::<Result<Array, _>>()?;
        let db: &JsValue = self.db.as_ref();
        let results = settle(method(db, "batch")?.call1(db, &prepared)).await?;
        let results = results
            .dyn_into::<Array>()
            .map_err(|_| StoreError::Decode("D1 batch result is not a list".to_owned()))?;
        results.iter().map(|r| outcome(&r)).collect()
    }
}
