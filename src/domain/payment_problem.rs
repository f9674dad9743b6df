//! A subscription's payment problem (issue 12 item 6): what Paddle's payment events say about
//! it, and the rule that enforcement never follows from it directly.
//!
//! **The dunning rule.** agent-id never downgrades on its own while a payment is failing or the
//! subscription is `past_due`: the tier stays in force (`past_due` counts as active). Paddle
//! retries the payment per the dashboard's dunning settings and, when they run out, pauses or
//! cancels the subscription; that arrives as `subscription.paused` / `subscription.canceled` and
//! the existing pause and cancellation enforcement applies. The problem itself only drives the
//! web app's banner and the `payment_problem` field of the subscription answers.

use serde::{Deserialize, Serialize};

use crate::domain::subscription::Status;
use crate::domain::time::rfc3339_ms;

/// What kind of problem the overseer is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A payment attempt failed (`transaction.payment_failed`); Paddle may still collect.
    PaymentFailed,
    /// The subscription is past due (`transaction.past_due`, `subscription.past_due`): Paddle's
    /// dunning is retrying.
    PastDue,
}

impl ProblemKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ProblemKind::PaymentFailed => "payment_failed",
            ProblemKind::PastDue => "past_due",
        }
    }
}

/// What one Paddle event says about the payment state of a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// A problem started or continues.
    Problem(ProblemKind),
    /// The problem, if any, is over (paid, back to active, or ended by Paddle's dunning).
    Resolved,
}

impl Signal {
    /// The signal of a `subscription.*` event's status: `past_due` is a problem; `active`,
    /// `trialing`, `paused` and `canceled` end it; a status Paddle may add says nothing.
    pub fn of_status(status: &Status) -> Option<Signal> {
        match status {
            Status::PastDue => Some(Signal::Problem(ProblemKind::PastDue)),
            Status::Active | Status::Trialing | Status::Paused | Status::Canceled => {
                Some(Signal::Resolved)
            }
            Status::Other(_) => None,
        }
    }

    /// The stored kind this signal asks for (`None`: no problem).
    pub fn kind(self) -> Option<ProblemKind> {
        match self {
            Signal::Problem(k) => Some(k),
            Signal::Resolved => None,
        }
    }
}

/// The problem as the subscription answers show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentProblem {
    pub kind: ProblemKind,
    /// RFC 3339: when the problem started (the first failing event's `occurred_at`).
    pub since: String,
}

impl PaymentProblem {
    /// From the stored columns; a kind without a start (impossible by construction) shows none.
    pub fn from_columns(kind: Option<ProblemKind>, since_ms: Option<i64>) -> Option<Self> {
        Some(PaymentProblem {
            kind: kind?,
            since: rfc3339_ms(since_ms?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_signal_the_problem_or_its_end() {
        assert_eq!(
            Signal::of_status(&Status::PastDue),
            Some(Signal::Problem(ProblemKind::PastDue))
        );
        for s in ["active", "trialing", "paused", "canceled"] {
            assert_eq!(Signal::of_status(&Status::from(s)), Some(Signal::Resolved));
        }
        assert_eq!(Signal::of_status(&Status::from("weird")), None);
        assert_eq!(PaymentProblem::from_columns(None, Some(1)), None);
        assert_eq!(
            PaymentProblem::from_columns(Some(ProblemKind::PastDue), Some(0)),
            Some(PaymentProblem {
                kind: ProblemKind::PastDue,
                since: "1970-01-01T00:00:00.000Z".into()
            })
        );
    }
}
