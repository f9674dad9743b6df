//! Webhook envelope and event data (`api.md` 7.1 step 7, 7.2). Parsed only after the signature
//! verified. Only the fields the handlers use are read; unknown fields are ignored, present fields
//! of the wrong type are errors.

use std::fmt;

use serde_json::{Map, Value};

use super::fields;
use crate::jose::json::{parse_object, JsonError};

type Object = Map<String, Value>;

/// Why a verified body is not a usable Paddle event (`400 invalid_payload` for the envelope).
/// Field names are static paths, never input text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadError {
    /// Not a duplicate-free JSON object.
    Json(JsonError),
    /// A required field is absent.
    Missing(&'static str),
    /// A field has the wrong JSON type (`expected` describes what is accepted).
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    /// A field that must not be empty is empty.
    Empty(&'static str),
    /// A timestamp field is not RFC 3339.
    BadTimestamp(&'static str),
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadError::Json(err) => write!(f, "invalid JSON: {err}"),
            PayloadError::Missing(field) => write!(f, "missing field `{field}`"),
            PayloadError::WrongType { field, expected } => {
                write!(f, "field `{field}` must be {expected}")
            }
            PayloadError::Empty(field) => write!(f, "field `{field}` must not be empty"),
            PayloadError::BadTimestamp(field) => {
                write!(f, "field `{field}` is not an RFC 3339 timestamp")
            }
        }
    }
}

impl std::error::Error for PayloadError {}

/// The envelope common to all Paddle Billing notifications.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// `evt_…`: the dedup key.
    pub event_id: String,
    /// e.g. `subscription.activated`; see [`EventKind::from_type`].
    pub event_type: String,
    /// `occurred_at` as Unix microseconds: event ordering is compared at that precision.
    pub occurred_at_us: i64,
    /// `ntf_…`, when sent (recorded in `webhook_events`).
    pub notification_id: Option<String>,
    /// The entity the event is about; read with [`subscription`], [`transaction`], [`customer`].
    pub data: Object,
}

impl Envelope {
    /// The handled event type, or [`EventKind::Unknown`].
    pub fn kind(&self) -> EventKind {
        EventKind::from_type(&self.event_type)
    }
}

/// Parses the raw (verified) body. Duplicate member names anywhere are rejected, so the handler and
/// any other reader of the body cannot disagree about a value.
pub fn parse_envelope(raw: &[u8]) -> Result<Envelope, PayloadError> {
    let mut top = parse_object(raw).map_err(PayloadError::Json)?;
    let event_id = fields::string(&top, "event_id")?;
    if event_id.is_empty() {
        return Err(PayloadError::Empty("event_id"));
    }
    let event_type = fields::string(&top, "event_type")?;
    let occurred_at_us = fields::timestamp(&top, "occurred_at")?;
    fields::object(&top, "data")?;
    let notification_id = fields::opt_string(&top, "notification_id")?;
    let Some(Value::Object(data)) = top.remove("data") else {
        return Err(PayloadError::Missing("data"));
    };
    Ok(Envelope {
        event_id,
        event_type,
        occurred_at_us,
        notification_id,
        data,
    })
}

/// The event types the service handles, by their real Paddle Billing names (`security.md` PW11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    SubscriptionCreated,
    SubscriptionActivated,
    SubscriptionUpdated,
    SubscriptionTrialing,
    SubscriptionPastDue,
    SubscriptionPaused,
    SubscriptionResumed,
    SubscriptionCanceled,
    TransactionCompleted,
    /// A payment attempt failed (issue 12 item 6).
    TransactionPaymentFailed,
    /// A subscription's renewal transaction is past due (issue 12 item 6).
    TransactionPastDue,
    CustomerCreated,
    /// Everything else (`subscription.imported`, other `transaction.*`, misspellings): ignored.
    Unknown,
}

impl EventKind {
    /// Exact, case-sensitive match: `subscription.cancelled` (two l) is [`EventKind::Unknown`].
    pub fn from_type(event_type: &str) -> EventKind {
        match event_type {
            "subscription.created" => EventKind::SubscriptionCreated,
            "subscription.activated" => EventKind::SubscriptionActivated,
            "subscription.updated" => EventKind::SubscriptionUpdated,
            "subscription.trialing" => EventKind::SubscriptionTrialing,
            "subscription.past_due" => EventKind::SubscriptionPastDue,
            "subscription.paused" => EventKind::SubscriptionPaused,
            "subscription.resumed" => EventKind::SubscriptionResumed,
            "subscription.canceled" => EventKind::SubscriptionCanceled,
            "transaction.completed" => EventKind::TransactionCompleted,
            "transaction.payment_failed" => EventKind::TransactionPaymentFailed,
            "transaction.past_due" => EventKind::TransactionPastDue,
            "customer.created" => EventKind::CustomerCreated,
            _ => EventKind::Unknown,
        }
    }

    /// Whether `data` is a subscription entity (read it with [`subscription`]).
    pub fn is_subscription(self) -> bool {
        matches!(
            self,
            EventKind::SubscriptionCreated
                | EventKind::SubscriptionActivated
                | EventKind::SubscriptionUpdated
                | EventKind::SubscriptionTrialing
                | EventKind::SubscriptionPastDue
                | EventKind::SubscriptionPaused
                | EventKind::SubscriptionResumed
                | EventKind::SubscriptionCanceled
        )
    }
}

/// `data.scheduled_change` when not `null`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledChange {
    /// `cancel`, `pause` or `resume` (kept as sent).
    pub action: String,
    pub effective_at_us: Option<i64>,
    pub resume_at_us: Option<i64>,
}

/// The subscription entity of `subscription.*` events. Timestamps are Unix microseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriptionData {
    pub id: String,
    pub status: String,
    pub customer_id: Option<String>,
    /// `items[].price.id`, in item order.
    pub price_ids: Vec<String>,
    /// `current_billing_period.starts_at`; `None` when the period is `null`.
    pub period_start_us: Option<i64>,
    /// `current_billing_period.ends_at`; `None` when the period is `null`.
    pub period_end_us: Option<i64>,
    pub next_billed_at_us: Option<i64>,
    pub scheduled_change: Option<ScheduledChange>,
    pub paused_at_us: Option<i64>,
    pub canceled_at_us: Option<i64>,
    /// Untrusted until its `link_sig` verifies (`api.md` 7.3).
    pub custom_data: Option<Object>,
}

/// Reads the subscription entity from an envelope's `data`.
pub fn subscription(data: &Object) -> Result<SubscriptionData, PayloadError> {
    let period = fields::opt_object(data, "data.current_billing_period")?;
    let (period_start_us, period_end_us) = match period {
        Some(p) => (
            fields::opt_timestamp(p, "data.current_billing_period.starts_at")?,
            fields::opt_timestamp(p, "data.current_billing_period.ends_at")?,
        ),
        None => (None, None),
    };
    let scheduled_change = fields::opt_object(data, "data.scheduled_change")?
        .map(|c| {
            Ok(ScheduledChange {
                action: fields::string(c, "data.scheduled_change.action")?,
                effective_at_us: fields::opt_timestamp(c, "data.scheduled_change.effective_at")?,
                resume_at_us: fields::opt_timestamp(c, "data.scheduled_change.resume_at")?,
            })
        })
        .transpose()?;
    Ok(SubscriptionData {
        id: fields::string(data, "data.id")?,
        status: fields::string(data, "data.status")?,
        customer_id: fields::opt_string(data, "data.customer_id")?,
        price_ids: fields::price_ids(data)?,
        period_start_us,
        period_end_us,
        next_billed_at_us: fields::opt_timestamp(data, "data.next_billed_at")?,
        scheduled_change,
        paused_at_us: fields::opt_timestamp(data, "data.paused_at")?,
        canceled_at_us: fields::opt_timestamp(data, "data.canceled_at")?,
        custom_data: custom_data(data)?,
    })
}

/// The transaction entity of `transaction.completed`, `.payment_failed` and `.past_due`.
#[derive(Clone, Debug, PartialEq)]
pub struct TransactionData {
    pub id: String,
    pub status: String,
    pub customer_id: Option<String>,
    /// `None` for one-time payments (shadow claims).
    pub subscription_id: Option<String>,
    /// `items[].price.id`, in item order.
    pub price_ids: Vec<String>,
    /// Untrusted until its `link_sig` verifies (`api.md` 7.3).
    pub custom_data: Option<Object>,
}

/// Reads the transaction entity from an envelope's `data`.
pub fn transaction(data: &Object) -> Result<TransactionData, PayloadError> {
    Ok(TransactionData {
        id: fields::string(data, "data.id")?,
        status: fields::string(data, "data.status")?,
        customer_id: fields::opt_string(data, "data.customer_id")?,
        subscription_id: fields::opt_string(data, "data.subscription_id")?,
        price_ids: fields::price_ids(data)?,
        custom_data: custom_data(data)?,
    })
}

/// The customer entity of `customer.created`.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomerData {
    pub id: String,
    /// Untrusted until its `link_sig` verifies (`api.md` 7.3).
    pub custom_data: Option<Object>,
}

/// Reads the customer entity from an envelope's `data`.
pub fn customer(data: &Object) -> Result<CustomerData, PayloadError> {
    Ok(CustomerData {
        id: fields::string(data, "data.id")?,
        custom_data: custom_data(data)?,
    })
}

fn custom_data(data: &Object) -> Result<Option<Object>, PayloadError> {
    Ok(fields::opt_object(data, "data.custom_data")?.cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paddle::vectors::{SUBSCRIPTION_ACTIVATED, T0};
    use serde_json::json;

    const T0_US: i64 = T0 * 1_000_000;
    const FEB_1_US: i64 = 1_769_904_000_000_000; // 2026-02-01T00:00:00Z

    fn wrong(field: &'static str, expected: &'static str) -> PayloadError {
        PayloadError::WrongType { field, expected }
    }

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(o) => o,
            _ => panic!("not an object"),
        }
    }

    fn envelope_with(patch: impl FnOnce(&mut Object)) -> Result<Envelope, PayloadError> {
        let mut top = parse_object(SUBSCRIPTION_ACTIVATED.as_bytes()).unwrap();
        patch(&mut top);
        parse_envelope(Value::Object(top).to_string().as_bytes())
    }

    fn vector_data() -> Object {
        parse_envelope(SUBSCRIPTION_ACTIVATED.as_bytes())
            .unwrap()
            .data
    }

    #[test]
    fn vector_5_12_envelope() {
        let env = parse_envelope(SUBSCRIPTION_ACTIVATED.as_bytes()).unwrap();
        assert_eq!(env.event_id, "evt_01test000000000000000001");
        assert_eq!(env.event_type, "subscription.activated");
        assert_eq!(env.kind(), EventKind::SubscriptionActivated);
        assert_eq!(env.occurred_at_us, 1_767_225_600_000_000);
        assert_eq!(env.occurred_at_us, T0_US);
        assert_eq!(
            env.notification_id.as_deref(),
            Some("ntf_01test000000000000000001")
        );
        assert_eq!(
            env.data.get("id").and_then(Value::as_str),
            Some("sub_01test000000000000000001")
        );
    }

    #[test]
    fn vector_5_12_subscription() {
        let sub = subscription(&vector_data()).unwrap();
        assert_eq!(sub.id, "sub_01test000000000000000001");
        assert_eq!(sub.status, "active");
        assert_eq!(
            sub.customer_id.as_deref(),
            Some("ctm_01test000000000000000001")
        );
        assert_eq!(
            sub.price_ids,
            vec!["pri_01basic000000000000000000".to_owned()]
        );
        assert_eq!(sub.period_start_us, Some(T0_US));
        assert_eq!(sub.period_end_us, Some(FEB_1_US));
        assert_eq!(sub.next_billed_at_us, Some(FEB_1_US));
        assert_eq!(sub.scheduled_change, None);
        assert_eq!(sub.paused_at_us, None);
        assert_eq!(sub.canceled_at_us, None);
        let custom = sub.custom_data.unwrap();
        assert_eq!(
            Value::Object(custom),
            json!({
                "overseer_id": "a4b3c2d1-e5f6-4789-8abc-def012345678",
                "tier": "BASIC",
                "price_id": "pri_01basic000000000000000000",
                "nonce": "wMHCw8TFxsfIycrLzM3Ozw",
                "link_sig": "qgPm_Df0PqSV3sxduLKrbEIdaFbLky-gPUN0gpUrZec"
            })
        );
    }

    #[test]
    fn subscription_with_nulls_and_a_scheduled_change() {
        let data = obj(json!({
            "id": "sub_1", "status": "canceled", "customer_id": null, "items": [],
            "current_billing_period": null, "next_billed_at": null,
            "scheduled_change": {
                "action": "cancel", "effective_at": "2026-02-01T00:00:00Z", "resume_at": null
            },
            "paused_at": "2026-01-01T00:00:00.000001Z", "canceled_at": "2026-01-01T00:00:00Z",
            "custom_data": null, "unknown_field": {"anything": [1, 2]}
        }));
        let sub = subscription(&data).unwrap();
        assert_eq!(sub.customer_id, None);
        assert_eq!(sub.price_ids, Vec::<String>::new());
        assert_eq!((sub.period_start_us, sub.period_end_us), (None, None));
        assert_eq!(sub.next_billed_at_us, None);
        assert_eq!(
            sub.scheduled_change,
            Some(ScheduledChange {
                action: "cancel".to_owned(),
                effective_at_us: Some(FEB_1_US),
                resume_at_us: None
            })
        );
        assert_eq!(sub.paused_at_us, Some(T0_US + 1));
        assert_eq!(sub.canceled_at_us, Some(T0_US));
        assert_eq!(sub.custom_data, None);
        // Absent optional fields are the same as null.
        let minimal = subscription(&obj(json!({"id": "sub_1", "status": "active"}))).unwrap();
        assert_eq!(minimal.custom_data, None);
        assert_eq!(minimal.scheduled_change, None);
    }

    #[test]
    fn subscription_wrong_types() {
        let base = vector_data();
        for (key, value, want) in [
            ("id", json!(1), wrong("data.id", "a string")),
            ("status", json!(null), wrong("data.status", "a string")),
            (
                "customer_id",
                json!(5),
                wrong("data.customer_id", "a string or null"),
            ),
            (
                "items",
                json!({"price": {"id": "p"}}),
                wrong("data.items", "an array or null"),
            ),
            (
                "current_billing_period",
                json!("2026"),
                wrong("data.current_billing_period", "an object or null"),
            ),
            (
                "current_billing_period",
                json!({"starts_at": "yesterday"}),
                PayloadError::BadTimestamp("data.current_billing_period.starts_at"),
            ),
            (
                "current_billing_period",
                json!({"ends_at": 1_769_904_000}),
                wrong("data.current_billing_period.ends_at", "a string or null"),
            ),
            (
                "next_billed_at",
                json!("2026-02-30T00:00:00Z"),
                PayloadError::BadTimestamp("data.next_billed_at"),
            ),
            (
                "scheduled_change",
                json!({"effective_at": "2026-02-01T00:00:00Z"}),
                PayloadError::Missing("data.scheduled_change.action"),
            ),
            (
                "scheduled_change",
                json!({"action": "cancel", "resume_at": true}),
                wrong("data.scheduled_change.resume_at", "a string or null"),
            ),
            (
                "paused_at",
                json!([]),
                wrong("data.paused_at", "a string or null"),
            ),
            (
                "canceled_at",
                json!("2026-01-01"),
                PayloadError::BadTimestamp("data.canceled_at"),
            ),
            (
                "custom_data",
                json!("{}"),
                wrong("data.custom_data", "an object or null"),
            ),
        ] {
            let mut data = base.clone();
            data.insert(key.to_owned(), value);
            assert_eq!(subscription(&data), Err(want), "{key}");
        }
        let mut data = base;
        data.remove("id");
        assert_eq!(subscription(&data), Err(PayloadError::Missing("data.id")));
    }

    #[test]
    fn transaction_data() {
        let data = obj(json!({
            "id": "txn_1", "status": "completed", "customer_id": "ctm_1", "subscription_id": null,
            "items": [{"price": {"id": "pri_shadow"}, "quantity": 1}, {"price": {"id": "pri_x"}}],
            "custom_data": {"is_shadow_claim": true}, "details": {"totals": {}}
        }));
        let txn = transaction(&data).unwrap();
        assert_eq!(txn.id, "txn_1");
        assert_eq!(txn.status, "completed");
        assert_eq!(txn.customer_id.as_deref(), Some("ctm_1"));
        assert_eq!(txn.subscription_id, None);
        assert_eq!(
            txn.price_ids,
            vec!["pri_shadow".to_owned(), "pri_x".to_owned()]
        );
        assert_eq!(
            txn.custom_data
                .and_then(|c| c.get("is_shadow_claim").cloned()),
            Some(Value::Bool(true))
        );
        let mut bad = data.clone();
        bad.insert("subscription_id".to_owned(), json!(3));
        assert_eq!(
            transaction(&bad),
            Err(wrong("data.subscription_id", "a string or null"))
        );
        let mut bad = data;
        bad.insert("items".to_owned(), json!([{"price_id": "pri_shadow"}]));
        assert_eq!(
            transaction(&bad),
            Err(PayloadError::Missing("data.items[].price"))
        );
    }

    #[test]
    fn customer_data() {
        let c = customer(&obj(
            json!({"id": "ctm_1", "email": "a@b.c", "custom_data": null}),
        ))
        .unwrap();
        assert_eq!(
            c,
            CustomerData {
                id: "ctm_1".to_owned(),
                custom_data: None
            }
        );
        let c = customer(&obj(
            json!({"id": "ctm_1", "custom_data": {"overseer_id": "x"}}),
        ))
        .unwrap();
        assert_eq!(c.custom_data.map(|m| m.len()), Some(1));
        assert_eq!(
            customer(&obj(json!({}))),
            Err(PayloadError::Missing("data.id"))
        );
        assert_eq!(
            customer(&obj(json!({"id": "ctm_1", "custom_data": []}))),
            Err(wrong("data.custom_data", "an object or null"))
        );
    }

    #[test]
    fn envelope_missing_and_wrong_fields() {
        // (member, replacement or None to remove it, expected error)
        for (key, value, want) in [
            ("event_id", None, PayloadError::Missing("event_id")), // P11
            ("event_id", Some(json!("")), PayloadError::Empty("event_id")),
            ("event_id", Some(json!(1)), wrong("event_id", "a string")),
            ("event_id", Some(json!(null)), wrong("event_id", "a string")),
            ("event_type", None, PayloadError::Missing("event_type")),
            (
                "event_type",
                Some(json!(["x"])),
                wrong("event_type", "a string"),
            ),
            ("occurred_at", None, PayloadError::Missing("occurred_at")),
            (
                "occurred_at",
                Some(json!(T0)),
                wrong("occurred_at", "a string"),
            ),
            (
                "occurred_at",
                Some(json!("2026-01-01T00:00:00")),
                PayloadError::BadTimestamp("occurred_at"),
            ),
            ("data", None, PayloadError::Missing("data")),
            ("data", Some(json!(null)), wrong("data", "an object")),
            ("data", Some(json!([])), wrong("data", "an object")),
            ("data", Some(json!("{}")), wrong("data", "an object")),
            (
                "notification_id",
                Some(json!(9)),
                wrong("notification_id", "a string or null"),
            ),
        ] {
            let label = format!("{key} = {value:?}");
            let got = envelope_with(|top| match value {
                Some(v) => {
                    top.insert(key.to_owned(), v);
                }
                None => {
                    top.remove(key);
                }
            });
            assert_eq!(got, Err(want), "{label}");
        }
    }

    #[test]
    fn envelope_optional_and_unknown_fields() {
        let env = envelope_with(|t| {
            t.remove("notification_id");
            t.insert("extra".into(), json!({"x": 1}));
            t.insert("event_type".into(), json!(""));
        })
        .unwrap();
        assert_eq!(env.notification_id, None);
        assert_eq!(env.kind(), EventKind::Unknown);
        let env = envelope_with(|t| {
            t.insert("notification_id".into(), json!(null));
        })
        .unwrap();
        assert_eq!(env.notification_id, None);
        let minimal = parse_envelope(
            concat!(
                r#"{"event_id":"evt_1","event_type":"foo.bar","#,
                r#""occurred_at":"2026-01-01T00:00:00.5+01:00","data":{}}"#
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(minimal.occurred_at_us, T0_US - 3_600_000_000 + 500_000);
        assert!(minimal.data.is_empty());
    }

    #[test]
    fn envelope_bad_json() {
        // P10: body not JSON.
        assert!(matches!(
            parse_envelope(b"not json"),
            Err(PayloadError::Json(JsonError::Syntax(_)))
        ));
        assert_eq!(
            parse_envelope(b"[]"),
            Err(PayloadError::Json(JsonError::NotObject))
        );
        assert_eq!(
            parse_envelope(&[0xff]),
            Err(PayloadError::Json(JsonError::NotUtf8))
        );
        // Duplicates are rejected, also inside data (e.g. a second custom_data).
        let dup = SUBSCRIPTION_ACTIVATED.replacen(
            r#""scheduled_change":null,"#,
            r#""scheduled_change":null,"custom_data":null,"#,
            1,
        );
        assert_eq!(
            parse_envelope(dup.as_bytes()),
            Err(PayloadError::Json(JsonError::DuplicateKey(
                "custom_data".to_owned()
            )))
        );
        assert_eq!(
            parse_envelope(br#"{"event_id":"a","event_id":"b"}"#)
                .unwrap_err()
                .to_string(),
            "invalid JSON: duplicate field `event_id`"
        );
    }

    #[test]
    fn error_messages_name_the_field() {
        assert_eq!(
            PayloadError::Missing("event_id").to_string(),
            "missing field `event_id`"
        );
        assert_eq!(
            wrong("data", "an object").to_string(),
            "field `data` must be an object"
        );
        assert_eq!(
            PayloadError::Empty("event_id").to_string(),
            "field `event_id` must not be empty"
        );
        assert_eq!(
            PayloadError::BadTimestamp("occurred_at").to_string(),
            "field `occurred_at` is not an RFC 3339 timestamp"
        );
    }

    #[test]
    fn event_kinds_use_real_paddle_names() {
        for (name, kind) in [
            ("subscription.created", EventKind::SubscriptionCreated),
            ("subscription.activated", EventKind::SubscriptionActivated),
            ("subscription.updated", EventKind::SubscriptionUpdated),
            ("subscription.trialing", EventKind::SubscriptionTrialing),
            ("subscription.past_due", EventKind::SubscriptionPastDue),
            ("subscription.paused", EventKind::SubscriptionPaused),
            ("subscription.resumed", EventKind::SubscriptionResumed),
            ("subscription.canceled", EventKind::SubscriptionCanceled),
            ("transaction.completed", EventKind::TransactionCompleted),
            (
                "transaction.payment_failed",
                EventKind::TransactionPaymentFailed,
            ),
            ("transaction.past_due", EventKind::TransactionPastDue),
            ("customer.created", EventKind::CustomerCreated),
        ] {
            assert_eq!(EventKind::from_type(name), kind, "{name}");
            assert_eq!(kind.is_subscription(), name.starts_with("subscription."));
        }
        for name in [
            "subscription.cancelled", // P21
            "foo.bar",                // P20
            "subscription.imported",
            "transaction.paid",
            "transaction.updated",
            "payment.succeeded",
            "Subscription.Activated",
            "subscription.activated ",
            "",
        ] {
            assert_eq!(EventKind::from_type(name), EventKind::Unknown, "{name}");
        }
        assert!(!EventKind::Unknown.is_subscription());
    }
}
