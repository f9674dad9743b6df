//! The production sink: one Workers Analytics Engine data point per request through the optional
//! `METRICS` binding (`analytics_engine_datasets` in `wrangler.toml`). Without the binding the
//! sink is [`Off`]. `writeDataPoint` is fire-and-forget; a refused point is dropped, never a
//! request, and logged once per isolate.

use std::cell::Cell;
use std::rc::Rc;

use worker::{AnalyticsEngineDataPointBuilder, AnalyticsEngineDataset, Env};

use super::data_point::{DataPoint, Labels};
use super::{Metrics, Off, RequestRecord};

/// The binding name in `wrangler.toml`.
pub const BINDING: &str = "METRICS";

/// Writes each [`RequestRecord`] as a [`DataPoint`].
pub struct AnalyticsEngine {
    dataset: AnalyticsEngineDataset,
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
        let written = AnalyticsEngineDataPointBuilder::new()
            .indexes([point.index])
            .blobs(point.blobs)
            .doubles(point.doubles)
            .write_to(&self.dataset);
        if let Err(e) = written {
            if !WARNED.with(|w| w.replace(true)) {
                crate::log::warn(&serde_json::json!({
                    "task": "metrics_write", "route": record.route, "detail": e.to_string(),
                }));
            }
        }
    }
}

/// The metrics sink for this Worker: Analytics Engine when the `METRICS` binding exists, else
/// [`Off`].
pub fn sink(env: &Env) -> Rc<dyn Metrics> {
    let Ok(dataset) = env.analytics_engine(BINDING) else {
        return Rc::new(Off);
    };
    let production = env
        .var("ENVIRONMENT")
        .is_ok_and(|v| v.to_string() == "production");
    Rc::new(AnalyticsEngine {
        dataset,
        environment: if production {
            "production"
        } else {
            "development"
        },
        version: crate::config::default_build_version(),
    })
}
