//! The cron job (api.md 5.14): purge rows no request depends on any more. Each statement is
//! bounded so one run stays within the Worker's CPU budget; the next run continues.

use crate::store::{Db, Statement, StoreError, Value};

/// Rows deleted per table per run.
const BATCH: i64 = 1000;
const DAY_MS: i64 = 86_400_000;

/// One purge step: a table and the cutoff below which its rows are garbage.
fn purge(table_and_column: &'static str, cutoff_ms: i64) -> Statement {
    let (table, column) = table_and_column
        .split_once('.')
        .unwrap_or((table_and_column, "expires_at"));
    Statement::new(
        format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {column} < ?1 LIMIT {BATCH})"
        ),
        vec![Value::Int(cutoff_ms)],
    )
}

/// What a run deleted, per table, for the log.
pub type Report = Vec<(&'static str, u64)>;

/// Deletes expired markers, codes, tokens, webhook and audit rows. History is never purged.
pub async fn run(
    db: &dyn Db,
    now_ms: i64,
    audit_retention_days: i64,
) -> Result<Report, StoreError> {
    let steps: [(&'static str, i64); 8] = [
        ("jti_markers.expires_at", now_ms),
        ("session_revocations.expires_at", now_ms),
        ("authorization_codes.expires_at", now_ms - DAY_MS),
        ("refresh_tokens.expires_at", now_ms),
        ("access_tokens.expires_at", now_ms),
        ("revoked_jtis.expires_at", now_ms),
        ("webhook_events.received_at", now_ms - 30 * DAY_MS),
        (
            "audit_events.created_at",
            now_ms - audit_retention_days * DAY_MS,
        ),
    ];
    let mut report = Vec::with_capacity(steps.len());
    for (target, cutoff) in steps {
        let outcome = db.run(purge(target, cutoff)).await?;
        report.push((target, outcome.changes));
    }
    Ok(report)
}
