//! Known-answer inputs shared by the Paddle tests (`vectors.md` §1, §3, §5.8, §5.12).

/// `T0` = 2026-01-01T00:00:00Z, the frozen clock of the project vectors.
pub(super) const T0: i64 = 1_767_225_600;

/// `PADDLE_WEBHOOK_SECRET` of the project vector (§1).
pub(super) const WEBHOOK_SECRET: &str = "pdl_ntfset_01test_secret_for_vectors_only";

/// `SHADOW_SECRET` of §1.
pub(super) const SHADOW_SECRET: &str = "test-shadow-secret-do-not-use";

/// The signed `subscription.activated` body of §5.12 (751 bytes, no trailing newline).
pub(super) const SUBSCRIPTION_ACTIVATED: &str = r#"{"event_id":"evt_01test000000000000000001","event_type":"subscription.activated","occurred_at":"2026-01-01T00:00:00.000000Z","notification_id":"ntf_01test000000000000000001","data":{"id":"sub_01test000000000000000001","status":"active","customer_id":"ctm_01test000000000000000001","items":[{"price":{"id":"pri_01basic000000000000000000"},"quantity":1}],"current_billing_period":{"starts_at":"2026-01-01T00:00:00.000000Z","ends_at":"2026-02-01T00:00:00.000000Z"},"next_billed_at":"2026-02-01T00:00:00.000000Z","scheduled_change":null,"custom_data":{"overseer_id":"a4b3c2d1-e5f6-4789-8abc-def012345678","tier":"BASIC","price_id":"pri_01basic000000000000000000","nonce":"wMHCw8TFxsfIycrLzM3Ozw","link_sig":"qgPm_Df0PqSV3sxduLKrbEIdaFbLky-gPUN0gpUrZec"}}}"#;

/// Its `Paddle-Signature` header with [`WEBHOOK_SECRET`] at [`T0`].
pub(super) const SUBSCRIPTION_ACTIVATED_SIGNATURE: &str =
    "ts=1767225600;h1=6185794460aa63620a0e81ee0e2546a97b5e0bef06cb97f5dde420393e2907d7";
