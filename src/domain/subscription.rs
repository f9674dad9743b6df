//! The overseer's subscription as shown (api.md 1.9), derived from the local mirror of Paddle
//! state only — no request ever asks Paddle.

use serde::{Deserialize, Serialize};

use crate::domain::tier::{is_active_status, TierRow};
use crate::domain::time::rfc3339_ms;

/// Columns selected by [`SubscriptionRow::COLUMNS`].
#[derive(Clone, Debug, Deserialize)]
pub struct SubscriptionRow {
    pub id: String,
    pub status: String,
    pub tier: Option<String>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub next_billed_at: Option<i64>,
    pub scheduled_change_action: Option<String>,
    pub scheduled_change_at: Option<i64>,
    pub cancel_requested_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl SubscriptionRow {
    pub const COLUMNS: &'static str = "id, status, tier, current_period_start, current_period_end, \
         next_billed_at, scheduled_change_action, scheduled_change_at, cancel_requested_at, created_at, updated_at";

    /// The tier whose limits are in force: the subscribed one while active, else FREE.
    pub fn effective_tier(&self) -> &str {
        match &self.tier {
            Some(t) if is_active_status(&self.status) => t,
            _ => "FREE",
        }
    }

    /// When the subscription ends without renewing, if it is scheduled to.
    pub fn scheduled_cancel_at(&self) -> Option<i64> {
        match self.scheduled_change_action.as_deref() {
            Some("cancel") => self.scheduled_change_at,
            _ => self.cancel_requested_at.and(self.current_period_end),
        }
    }
}

/// The Subscription object (overseer view).
#[derive(Debug, Serialize)]
pub struct SubscriptionView {
    pub id: Option<String>,
    pub tier: String,
    pub status: String,
    pub is_active: bool,
    pub is_free_tier: bool,
    pub max_agents: i64,
    pub max_clients: i64,
    pub max_oauth_per_period: i64,
    pub billing_period_start: Option<String>,
    pub billing_period_end: Option<String>,
    pub next_billed_at: Option<String>,
    pub grace_period_end: Option<String>,
    pub will_renew: bool,
    pub scheduled_cancel_at: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl SubscriptionView {
    /// `row` is the overseer's current subscription; `shown` is the tier row of its displayed
    /// tier (the subscribed tier, also while paused; FREE without one or when canceled).
    pub fn new(row: Option<&SubscriptionRow>, shown: &TierRow) -> Self {
        let Some(r) = row else {
            return Self {
                id: None,
                tier: "FREE".into(),
                status: "free".into(),
                is_active: true,
                is_free_tier: true,
                max_agents: shown.max_agents,
                max_clients: shown.max_clients,
                max_oauth_per_period: shown.max_oauth_per_period,
                billing_period_start: None,
                billing_period_end: None,
                next_billed_at: None,
                grace_period_end: None,
                will_renew: false,
                scheduled_cancel_at: None,
                created_at: None,
                updated_at: None,
            };
        };
        let is_active = is_active_status(&r.status);
        let scheduled_cancel_at = r.scheduled_cancel_at();
        Self {
            id: Some(r.id.clone()),
            tier: shown.tier.clone(),
            status: r.status.clone(),
            is_active,
            is_free_tier: shown.tier == "FREE",
            max_agents: shown.max_agents,
            max_clients: shown.max_clients,
            max_oauth_per_period: shown.max_oauth_per_period,
            billing_period_start: r.current_period_start.map(rfc3339_ms),
            billing_period_end: r.current_period_end.map(rfc3339_ms),
            next_billed_at: r.next_billed_at.map(rfc3339_ms),
            grace_period_end: r
                .current_period_end
                .filter(|_| r.status == "past_due")
                .map(rfc3339_ms),
            will_renew: is_active && r.next_billed_at.is_some() && scheduled_cancel_at.is_none(),
            scheduled_cancel_at: scheduled_cancel_at.map(rfc3339_ms),
            created_at: Some(rfc3339_ms(r.created_at)),
            updated_at: Some(rfc3339_ms(r.updated_at)),
        }
    }

    /// The tier a subscription row displays: its mapped tier unless canceled or unmapped.
    pub fn shown_tier(row: Option<&SubscriptionRow>) -> &str {
        match row {
            Some(r) if r.status != "canceled" => r.tier.as_deref().unwrap_or("FREE"),
            _ => "FREE",
        }
    }
}
