//! Per-request metrics: one record per answered request (endpoint, status, storage calls, wall
//! time). Workers Analytics Engine receives them in production (`analytics_engine`, laid out by
//! [`data_point`]); [`Recording`] keeps them for tests, which also read the storage round-trip
//! budgets from it.

use std::cell::RefCell;

use crate::store::meter::Usage;

#[cfg(target_arch = "wasm32")]
pub mod analytics_engine;
pub mod data_point;

/// What one request cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// The endpoint's name in the route table, `"unmatched"` or `"app"`.
    pub route: &'static str,
    pub method: String,
    pub status: u16,
    /// Storage calls made before the answer (deferred work is not counted).
    pub usage: Usage,
    pub wall_ms: i64,
}

impl RequestRecord {
    /// `"2xx"` … `"5xx"`.
    pub fn status_class(&self) -> &'static str {
        match self.status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        }
    }
}

/// Where request records go. Recording never fails a request.
pub trait Metrics {
    fn record(&self, record: &RequestRecord);
}

/// No metrics binding configured.
pub struct Off;

impl Metrics for Off {
    fn record(&self, _: &RequestRecord) {}
}

/// Keeps every record in memory (tests).
#[derive(Default)]
pub struct Recording(RefCell<Vec<RequestRecord>>);

impl Recording {
    /// Takes the records so far, oldest first.
    pub fn take(&self) -> Vec<RequestRecord> {
        std::mem::take(&mut *self.0.borrow_mut())
    }

    /// The latest record.
    pub fn last(&self) -> Option<RequestRecord> {
        self.0.borrow().last().cloned()
    }
}

impl Metrics for Recording {
    fn record(&self, record: &RequestRecord) {
        self.0.borrow_mut().push(record.clone());
    }
}
