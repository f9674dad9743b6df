//! The production sink: one Workers Analytics Engine data point per request through the optional
//! `METRICS` binding (`analytics_engine_datasets` in `wrangler.toml`). Without the binding the
//! sink is [`Off`]. `writeDataPoint` is fire-and-forget; a refused point is dropped, never a
//! request, and logged once per isolate.
//!
//! The point is built with `js_sys` directly: workers-rs's `AnalyticsEngineDataPointBuilder`
//! copies every array once more, unwraps, and made the module 855 B gzip larger for the same
//! call. This sink costs the release wasm 4.8 KB (2.6 KB gzip).

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use worker::Env;

use super::data_point::{DataPoint, Labels};
use super::{Metrics, Off, RequestRecord};

/// The binding name in `wrangler.toml`.
pub const BINDING: &str = "METRICS";

#[wasm_bindgen]
extern "C" {
    /// The runtime's `AnalyticsEngineDataset`.
    type Dataset;

    #[wasm_bindgen(method, catch, js_name = writeDataPoint)]
    fn write_data_point(this: &Dataset, point: &Object) -> Result<(), JsValue>;
}

/// Writes each [`RequestRecord`] as a [`DataPoint`].
pub struct AnalyticsEngine {
    dataset: Dataset,
    environment: &'static str,
    version: String,
}

thread_local! {
    /// Whether this isolate already logged a refused data point.
    static WARNED: Cell<bool> = const { Cell::new(false) };
}

impl Metrics for AnalyticsEngine {
    fn record(&self, record: &RequestRecord) {
        let point = DataPoint::of(
            record,
            Labels {
                environment: self.environment,
                version: &self.version,
            },
        );
        if let Err(e) = self.dataset.write_data_point(&to_js(&point)) {
            if !WARNED.with(|w| w.replace(true)) {
                let detail = e
                    .dyn_ref::<js_sys::Error>()
                    .map_or_else(|| "not an Error".to_owned(), |e| e.message().into());
                crate::log::warn(&serde_json::json!({
                    "task": "metrics_write", "route": record.route, "detail": detail,
                }));
            }
        }
    }
}

/// `{ indexes: [index], blobs: [...], doubles: [...] }`.
fn to_js(point: &DataPoint<'_>) -> Object {
    let blobs: Array = point.blobs.iter().map(|b| JsValue::from_str(b)).collect();
    let doubles: Array = point
        .doubles
        .iter()
        .map(|d| JsValue::from_f64(*d))
        .collect();
    let out = Object::new();
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(
        &out,
        &"indexes".into(),
        &Array::of1(&point.index.into()).into(),
    );
    let _ = Reflect::set(&out, &"blobs".into(), &blobs.into());
    let _ = Reflect::set(&out, &"doubles".into(), &doubles.into());
    out
}

/// The metrics sink for this Worker: Analytics Engine when the `METRICS` binding exists, else
/// [`Off`].
pub fn sink(env: &Env) -> Rc<dyn Metrics> {
    let binding = Reflect::get(env, &BINDING.into()).unwrap_or(JsValue::UNDEFINED);
    if binding.is_undefined() || binding.is_null() {
        return Rc::new(Off);
    }
    let production = env
        .var("ENVIRONMENT")
        .is_ok_and(|v| v.to_string() == "production");
    Rc::new(AnalyticsEngine {
        dataset: binding.unchecked_into(),
        environment: if production {
            "production"
        } else {
            "development"
        },
        version: crate::config::default_build_version(),
    })
}
