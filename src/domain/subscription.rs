//! The overseer's subscription as shown (api.md 1.9), derived from the local mirror of Paddle
//! state only — no request ever asks Paddle.

use serde::{Deserialize, Serialize};

use crate::domain::overseer::OverseerRow;
use crate::domain::payment_problem::PaymentProblem;
use crate::domain::time::{month_bounds_ms, rfc3339_ms};
use crate::store::subscriptions::{self, SubscriptionRow, TierRow, Tiers};
use crate::store::{Db, StoreError};

/// A Paddle subscription status as stored. Paddle may add statuses; an unknown one is kept
/// verbatim (and grants nothing).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum Status {
    Active,
    Trialing,
    PastDue,
    Paused,
    Canceled,
    Other(String),
}

impl Status {
    pub fn as_str(&self) -> &str {
        match self {
            Status::Active => "active",
            Status::Trialing => "trialing",
            Status::PastDue => "past_due",
            Status::Paused => "paused",
            Status::Canceled => "canceled",
            Status::Other(s) => s,
        }
    }

    /// Whether the subscribed tier is in force.
    pub fn is_active(&self) -> bool {
        matches!(self, Status::Active | Status::Trialing | Status::PastDue)
    }
}

impl From<String> for Status {
    fn from(s: String) -> Self {
        match s.as_str() {
            "active" => Status::Active,
            "trialing" => Status::Trialing,
            "past_due" => Status::PastDue,
            "paused" => Status::Paused,
            "canceled" => Status::Canceled,
            _ => Status::Other(s),
        }
    }
}

/// Compares with a status as Paddle spells it.
impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<&str> for Status {
    fn from(s: &str) -> Self {
        Status::from(s.to_owned())
    }
}

impl From<Status> for String {
    fn from(s: Status) -> Self {
        s.as_str().to_owned()
    }
}

/// The scheduled change Paddle reports (`scheduled_change.action`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum ScheduledChange {
    Cancel,
    /// `pause`, `resume`, or anything Paddle adds: none of them ends the subscription.
    Other(String),
}

impl From<String> for ScheduledChange {
    fn from(s: String) -> Self {
        if s == "cancel" {
            ScheduledChange::Cancel
        } else {
            ScheduledChange::Other(s)
        }
    }
}

impl SubscriptionRow {
    /// The tier whose limits are in force: the subscribed one while active, else FREE.
    pub fn effective_tier(&self) -> &str {
        match &self.tier {
            Some(t) if self.status.is_active() => t,
            _ => "FREE",
        }
    }

    /// When the subscription ends without renewing, if it is scheduled to.
    pub fn scheduled_cancel_at(&self) -> Option<i64> {
        match self.scheduled_change_action {
            Some(ScheduledChange::Cancel) => self.scheduled_change_at,
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
    /// Present only while a payment is failing (issue 12 item 6): without one the object is
    /// exactly the v1 one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_problem: Option<PaymentProblem>,
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
                payment_problem: None,
            };
        };
        let is_active = r.status.is_active();
        let scheduled_cancel_at = r.scheduled_cancel_at();
        Self {
            id: Some(r.id.clone()),
            tier: shown.tier.clone(),
            status: r.status.as_str().to_owned(),
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
                .filter(|_| r.status == Status::PastDue)
                .map(rfc3339_ms),
            will_renew: is_active && r.next_billed_at.is_some() && scheduled_cancel_at.is_none(),
            scheduled_cancel_at: scheduled_cancel_at.map(rfc3339_ms),
            created_at: Some(rfc3339_ms(r.created_at)),
            updated_at: Some(rfc3339_ms(r.updated_at)),
            payment_problem: PaymentProblem::from_columns(
                r.payment_problem_kind,
                r.payment_problem_since,
            ),
        }
    }

    /// The tier a subscription row displays: its mapped tier unless canceled or unmapped.
    pub fn shown_tier(row: Option<&SubscriptionRow>) -> &str {
        match row {
            Some(r) if r.status != Status::Canceled => r.tier.as_deref().unwrap_or("FREE"),
            _ => "FREE",
        }
    }
}

/// The overseer's current subscription row, if it has one.
pub async fn current(
    db: &dyn Db,
    overseer: &OverseerRow,
) -> Result<Option<SubscriptionRow>, StoreError> {
    match &overseer.current_subscription_id {
        Some(id) => subscriptions::find(db, id).await,
        None => Ok(None),
    }
}

/// The Subscription object of `current` (api.md 1.9).
pub async fn view(
    db: &dyn Db,
    current: Option<&SubscriptionRow>,
) -> Result<SubscriptionView, StoreError> {
    let tiers = Tiers::load(db).await?;
    let shown = tiers.get(SubscriptionView::shown_tier(current))?;
    Ok(SubscriptionView::new(current, shown))
}

/// Usage against the effective limits (api.md 2.9).
#[derive(Debug, Serialize)]
pub struct Usage {
    pub agents_claimed: i64,
    pub clients_registered: i64,
    pub oauth_count: i64,
    pub max_agents: i64,
    pub max_clients: i64,
    pub max_oauth_per_period: i64,
    period_start: String,
    period_end: String,
    /// Protected resources registered, and the limit (issue 10).
    pub resources_registered: i64,
    pub max_resources: i64,
}

/// An overseer's usage this calendar month against its effective limits (a paused or canceled
/// subscription counts as FREE). Never fails for an overseer without agents, clients or history
/// (security.md §16 item 2).
pub async fn usage(db: &dyn Db, overseer: &OverseerRow, now_ms: i64) -> Result<Usage, StoreError> {
    let current = current(db, overseer).await?;
    let tiers = Tiers::load(db).await?;
    let limits = tiers.get(
        current
            .as_ref()
            .map_or("FREE", SubscriptionRow::effective_tier),
    )?;
    let (start, end) = month_bounds_ms(now_ms);
    let used = subscriptions::usage(db, &overseer.id, start, end).await?;
    Ok(Usage {
        agents_claimed: used.agents,
        clients_registered: used.clients,
        oauth_count: used.oauth,
        max_agents: limits.max_agents,
        max_clients: limits.max_clients,
        max_oauth_per_period: limits.max_oauth_per_period,
        period_start: rfc3339_ms(start),
        period_end: rfc3339_ms(end),
        resources_registered: used.resources,
        max_resources: limits.max_resources,
    })
}

/// What a change of the overseer's current subscription does to its oversights and pool (5.13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Newly paused: suspend every oversight, disable the pool down to FREE (`subscription_paused`).
    Pause,
    /// Newly canceled: suspend every oversight, enforce FREE.
    Cancel,
    /// Active (again): enforce the tier's limits, after restoring what a pause suspended when
    /// `resumed`.
    Activate { resumed: bool },
    /// Nothing to do (no change, or a status that grants nothing new).
    None,
}

impl Transition {
    /// From `old` (`None`: no current subscription before) to `new`.
    pub fn between(old: Option<&Status>, new: &Status) -> Self {
        let was = |s: Status| old == Some(&s);
        match new {
            Status::Paused if !was(Status::Paused) => Transition::Pause,
            Status::Canceled if !was(Status::Canceled) => Transition::Cancel,
            s if s.is_active() => Transition::Activate {
                resumed: was(Status::Paused),
            },
            _ => Transition::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_of_the_current_subscription() {
        use Status::*;
        let t = |old: Option<Status>, new: Status| Transition::between(old.as_ref(), &new);
        assert_eq!(t(None, Paused), Transition::Pause);
        assert_eq!(t(Some(Paused), Paused), Transition::None);
        assert_eq!(t(Some(Active), Canceled), Transition::Cancel);
        assert_eq!(t(Some(Canceled), Canceled), Transition::None);
        assert_eq!(
            t(Some(Paused), PastDue),
            Transition::Activate { resumed: true }
        );
        assert_eq!(t(None, Trialing), Transition::Activate { resumed: false });
        assert_eq!(t(Some(Active), Other("weird".into())), Transition::None);
        assert_eq!(Status::from("weird").as_str(), "weird");
    }
}
