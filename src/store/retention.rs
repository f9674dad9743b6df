//! What the cron job deletes (api.md 5.14): rows past a cutoff, at most [`BATCH`] per table and
//! statement so that one run stays within D1's limits and the next run continues.

use super::{Statement, Value};

/// Rows deleted per table per statement.
pub const BATCH: i64 = 1000;

/// A table whose rows are garbage once one of their timestamps is older than a cutoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    JtiMarkers,
    SessionRevocations,
    AuthorizationCodes,
    RefreshTokens,
    AccessTokens,
    RevokedJtis,
    WebhookEvents,
    AuditEvents,
    OauthRequests,
}

impl Expiry {
    /// Every target, in the order the cron job purges them.
    pub const ALL: [Expiry; 9] = [
        Expiry::JtiMarkers,
        Expiry::SessionRevocations,
        Expiry::AuthorizationCodes,
        Expiry::RefreshTokens,
        Expiry::AccessTokens,
        Expiry::RevokedJtis,
        Expiry::WebhookEvents,
        Expiry::AuditEvents,
        Expiry::OauthRequests,
    ];

    /// The table, its timestamp column, and `table.column` (the name in the run's report).
    const fn parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Expiry::JtiMarkers => ("jti_markers", "expires_at", "jti_markers.expires_at"),
            Expiry::SessionRevocations => (
                "session_revocations",
                "expires_at",
                "session_revocations.expires_at",
            ),
            Expiry::AuthorizationCodes => (
                "authorization_codes",
                "expires_at",
                "authorization_codes.expires_at",
            ),
            Expiry::RefreshTokens => ("refresh_tokens", "expires_at", "refresh_tokens.expires_at"),
            Expiry::AccessTokens => ("access_tokens", "expires_at", "access_tokens.expires_at"),
            Expiry::RevokedJtis => ("revoked_jtis", "expires_at", "revoked_jtis.expires_at"),
            Expiry::WebhookEvents => (
                "webhook_events",
                "received_at",
                "webhook_events.received_at",
            ),
            Expiry::AuditEvents => ("audit_events", "created_at", "audit_events.created_at"),
            Expiry::OauthRequests => ("oauth_requests", "created_at", "oauth_requests.created_at"),
        }
    }

    /// `table.column`, as the run's report names the step.
    pub const fn label(self) -> &'static str {
        self.parts().2
    }

    /// Deletes at most [`BATCH`] rows whose timestamp is before `cutoff_ms`.
    pub fn delete(self, cutoff_ms: i64) -> Statement {
        let (table, column, _) = self.parts();
        Statement::new(
            format!(
                "DELETE FROM {table} WHERE rowid IN \
                 (SELECT rowid FROM {table} WHERE {column} < ?1 LIMIT {BATCH})"
            ),
            vec![Value::Int(cutoff_ms)],
        )
    }
}

/// A grant family nobody can use any more (`?1` = cutoff, `?2` = now): revoked before the
/// cutoff, or unused since the cutoff with no live refresh token.
const DEAD_GRANT: &str = "((g.revoked_at IS NOT NULL AND g.revoked_at < ?1) OR \
     (g.revoked_at IS NULL AND g.last_used_at < ?1 AND NOT EXISTS (SELECT 1 FROM refresh_tokens x \
       WHERE x.grant_id = g.id AND x.rotated_at IS NULL AND x.expires_at > ?2)))";

/// Dead grant families, children first so that every statement deletes at most [`BATCH`] rows
/// itself: the refresh tokens of dead grants, then dead grants left without refresh tokens
/// (their access tokens expired long ago and were purged, so the cascade deletes nothing more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadGrants {
    RefreshTokens,
    Grants,
}

impl DeadGrants {
    /// In the order they must run.
    pub const ORDER: [DeadGrants; 2] = [DeadGrants::RefreshTokens, DeadGrants::Grants];

    pub const fn label(self) -> &'static str {
        match self {
            DeadGrants::RefreshTokens => "refresh_tokens.dead_grant",
            DeadGrants::Grants => "oauth_grants.dead",
        }
    }

    /// Deletes at most [`BATCH`] rows of grants dead at `cutoff_ms`.
    pub fn delete(self, cutoff_ms: i64, now_ms: i64) -> Statement {
        let sql = match self {
            DeadGrants::RefreshTokens => format!(
                "DELETE FROM refresh_tokens WHERE rowid IN (SELECT r.rowid FROM refresh_tokens r \
                 JOIN oauth_grants g ON g.id = r.grant_id WHERE {DEAD_GRANT} LIMIT {BATCH})"
            ),
            DeadGrants::Grants => format!(
                "DELETE FROM oauth_grants WHERE rowid IN (SELECT g.rowid FROM oauth_grants g \
                 WHERE {DEAD_GRANT} AND NOT EXISTS (SELECT 1 FROM refresh_tokens r \
                 WHERE r.grant_id = g.id) LIMIT {BATCH})"
            ),
        };
        Statement::new(sql, vec![Value::Int(cutoff_ms), Value::Int(now_ms)])
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteDb;
    use crate::store::Db;
    use futures::executor::block_on;

    /// Every purge names a table and column of the real schema, and its report label says which.
    #[test]
    fn every_purge_runs_against_the_migrated_schema() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let db = SqliteDb::in_memory(&dir).unwrap();
        for target in Expiry::ALL {
            let (table, column, label) = target.parts();
            assert_eq!(label, format!("{table}.{column}"));
            block_on(db.run(target.delete(0))).unwrap_or_else(|e| panic!("{label}: {e}"));
        }
        for target in DeadGrants::ORDER {
            block_on(db.run(target.delete(0, 0)))
                .unwrap_or_else(|e| panic!("{}: {e}", target.label()));
        }
    }
}
