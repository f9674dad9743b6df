//! Erasing a deleted account (`POST /v1/overseers/me/delete`): the statements that, in the
//! deletion's batch, move the records that must be kept (subscriptions, audit rows) to a
//! tombstone overseer with a fresh id, strip them of anything personal, and delete the rest.
//!
//! After the batch no table holds the account's id, name, e-mail, password hash, Paddle
//! customer id, session IPs or the IPs of its own actions (`tests/account_settings.rs` checks
//! every table). The tombstone (`deleted_at` set, empty name, `deleted:<id>` instead of an
//! address, a password hash no password matches) can never sign in.

use crate::store::batch::Guard;
use crate::store::Statement;
use crate::{guard, stmt};

/// What [`statements`] needs: the account, its fresh tombstone id and the personal values to
/// scrub from free-text audit details.
#[derive(Debug)]
pub struct Erasure<'a> {
    pub overseer_id: &'a str,
    pub tombstone_id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub now_ms: i64,
}

/// Holds while the account is being deleted by this batch (marked by the first statement), so
/// a second concurrent deletion writes nothing.
pub fn in_progress(e: &Erasure<'_>) -> Guard {
    guard!(
        "EXISTS (SELECT 1 FROM overseers WHERE id = ?1 AND deleted_at = ?2)",
        e.overseer_id,
        e.now_ms
    )
}

/// Marks the account as being deleted; changes nothing if it already is (or is gone).
pub fn mark(e: &Erasure<'_>) -> Statement {
    stmt!(
        "UPDATE overseers SET deleted_at = ?2 WHERE id = ?1 AND kind = 'human' AND deleted_at IS NULL",
        e.overseer_id,
        e.now_ms
    )
}

/// The erasure proper, in order; each statement is guarded by [`in_progress`] except the
/// last, the DELETE of the account row (which cascades to oversights, client blocks, the
/// sessions index and the account's one-time tokens).
pub fn statements(e: &Erasure<'_>) -> Vec<Statement> {
    let (id, t, now) = (e.overseer_id, e.tombstone_id, e.now_ms);
    let tombstone = stmt!(
        "INSERT INTO overseers (id, kind, name, email, password_hash, current_subscription_id, \
           session_epoch, created_at, updated_at, deleted_at) \
         SELECT ?2, 'human', '', 'deleted:' || ?2, '!', current_subscription_id, 0, ?3, ?3, ?3 \
         FROM overseers WHERE id = ?1",
        id,
        t,
        now
    );
    let subscriptions = stmt!(
        "UPDATE subscriptions SET overseer_id = ?2, customer_id = NULL, updated_at = ?3 \
         WHERE overseer_id = ?1",
        id,
        t,
        now
    );
    let shadow_payments = stmt!(
        "UPDATE shadow_payments SET overseer_id = ?2, customer_id = NULL WHERE overseer_id = ?1",
        id,
        t
    );
    // Rows about the account: its id becomes the tombstone's; the IP of its own actions goes;
    // details that name the person are emptied, the rest keep their meaning with the new id.
    let audit = stmt!(
        "UPDATE audit_events SET \
           overseer_id = CASE WHEN overseer_id = ?1 THEN ?2 ELSE overseer_id END, \
           actor_id = CASE WHEN actor_id = ?1 THEN ?2 ELSE actor_id END, \
           subject_id = CASE WHEN subject_id = ?1 THEN ?2 ELSE subject_id END, \
           ip = CASE WHEN actor_type = 'overseer' AND actor_id = ?1 THEN NULL ELSE ip END, \
           details = CASE \
             WHEN instr(lower(details), ?3) > 0 OR (length(?4) > 0 AND instr(details, ?4) > 0) \
               THEN '{}' \
             ELSE replace(details, ?1, ?2) END \
         WHERE overseer_id = ?1 OR actor_id = ?1 OR subject_id = ?1 OR instr(details, ?1) > 0",
        id,
        t,
        e.email.to_lowercase(),
        e.name
    );
    // The account's own OAuth clients go with it (their grants and tokens cascade).
    let clients = stmt!(
        "DELETE FROM oauth_clients WHERE owner_type = 'overseer' AND owner_id = ?1",
        id
    );
    // Messages to or about the account, sent or not, carry its address.
    let mail = stmt!(
        "DELETE FROM mail_outbox WHERE overseer_id = ?1 OR lower(recipient) = ?2",
        id,
        e.email.to_lowercase()
    );
    // Its protected resources go with the account row (cascade); the grants holding them end.
    let resource_grants = super::resources::revoke_grants_of_overseer(id, now);
    let mut out: Vec<Statement> = [
        tombstone,
        subscriptions,
        shadow_payments,
        audit,
        clients,
        resource_grants,
        mail,
    ]
    .into_iter()
    .map(|s| guarded(s, e))
    .collect();
    out.push(stmt!("DELETE FROM overseers WHERE id = ?1", id));
    out
}

/// `s` (an UPDATE/DELETE ending in `WHERE …`, or an `INSERT … SELECT … WHERE …`) taking
/// effect only while [`in_progress`] holds.
fn guarded(s: Statement, e: &Erasure<'_>) -> Statement {
    s.and_if(in_progress(e))
}
