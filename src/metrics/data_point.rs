//! The Analytics Engine data point of one request: a pure function of its [`RequestRecord`], so
//! the layout the dashboards query (`docs/operations.md`) is tested natively.
//!
//! | column | value |
//! |---|---|
//! | `index1` | route (the endpoint's name in the route table, `unmatched` or `app`) |
//! | `blob1` … `blob5` | route, method, status class, environment, build version |
//! | `double1` … `double7` | status, wall ms, D1 round trips, D1 statements, KV reads, KV writes, Durable Object calls |

use super::RequestRecord;

/// Analytics Engine's limit on an index (bytes); a longer one drops the data point.
pub const MAX_INDEX_BYTES: usize = 96;

/// One data point, ready for `writeDataPoint({ indexes, blobs, doubles })`.
#[derive(Clone, Debug, PartialEq)]
pub struct DataPoint<'a> {
    /// The sampling key: one per endpoint, so a busy endpoint never crowds out a quiet one.
    pub index: &'a str,
    pub blobs: [&'a str; 5],
    pub doubles: [f64; 7],
}

/// Which deployment wrote the point: `blob4` and `blob5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Labels<'a> {
    pub environment: &'a str,
    pub version: &'a str,
}

impl<'a> DataPoint<'a> {
    pub fn of(record: &'a RequestRecord, labels: Labels<'a>) -> Self {
        let u = &record.usage;
        Self {
            index: truncate(record.route, MAX_INDEX_BYTES),
            blobs: [
                record.route,
                method_label(&record.method),
                record.status_class(),
                labels.environment,
                labels.version,
            ],
            doubles: [
                f64::from(record.status),
                // Clocks that step back never make a negative duration.
                record.wall_ms.max(0) as f64,
                f64::from(u.d1_round_trips),
                f64::from(u.d1_statements),
                f64::from(u.kv_reads),
                f64::from(u.kv_writes),
                f64::from(u.durable_object_calls),
            ],
        }
    }
}

/// The standard methods by name; any other token a client sends is `OTHER`, so a client cannot
/// grow the dataset's blob values (or its size) with made-up methods.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("OTHER")
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
