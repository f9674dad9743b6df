//! Subscriptions, tiers and shadow payments, as Paddle's webhooks report them.
//!
//! Functions here take the database (or return statements for the caller's batch) and plain
//! values, and answer in typed outcomes; they never see the HTTP request or build responses.

// --- used by oversight ---

/// The subscription row `current_subscription_id` names (an overseer's current one), if any.
pub async fn current(
    db: &dyn crate::store::Db,
    current_subscription_id: Option<&str>,
) -> Result<Option<crate::domain::subscription::SubscriptionRow>, crate::store::StoreError> {
    use crate::domain::subscription::SubscriptionRow;
    let Some(id) = current_subscription_id else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {} FROM subscriptions WHERE id = ?1",
        SubscriptionRow::COLUMNS
    );
    db.run(crate::store::Statement::new(sql, vec![id.into()]))
        .await?
        .first()
}
