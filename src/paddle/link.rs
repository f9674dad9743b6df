//! Checkout link signatures (`api.md` 7.3, `security.md` PW8). The browser chooses Paddle's
//! `customData`, so a webhook trusts it only when it carries a `link_sig` this service issued.
//!
//! Messages are `|`-joined values the service chose itself (canonical UUIDs, configured price ids,
//! base64url nonces), none of which can contain `|`. Callers pass ids already in canonical
//! lowercase form ([`crate::domain::ids::canonical_uuid`]) when signing and when recomputing a
//! signature for verification; these functions never alter their inputs.

use crate::crypto::mac::{ct_eq, hmac_sha256};
use crate::jose::b64;

/// Derivation label for the link key when `WEBHOOK_LINK_SECRET` is unset.
const LINK_KEY_LABEL: &[u8] = b"agent-id/webhook-link/v1";

/// The link key: UTF-8 of `WEBHOOK_LINK_SECRET` when set, else derived from `SHADOW_SECRET` so no
/// extra secret is required. An empty `WEBHOOK_LINK_SECRET` counts as unset: an empty HMAC key
/// would let anyone forge links.
pub fn link_key(webhook_link_secret: Option<&str>, shadow_secret: &str) -> Vec<u8> {
    match webhook_link_secret {
        Some(secret) if !secret.is_empty() => secret.as_bytes().to_vec(),
        _ => hmac_sha256(shadow_secret.as_bytes(), LINK_KEY_LABEL).to_vec(),
    }
}

/// `link_sig` of a subscription checkout: message `sub|<overseer_id>|<price_id>|<nonce>`.
pub fn subscription_sig(key: &[u8], overseer_id: &str, price_id: &str, nonce: &str) -> String {
    sig(key, &["sub", overseer_id, price_id, nonce])
}

/// `link_sig` of a shadow checkout: message
/// `shadow|<challenge_id>|<agent_id>|<shadow_overseer_id>|<issued_at>`, `issued_at` in Unix
/// seconds (decimal). The issue time binds the link to a validity window ([`ShadowWindow`]), so
/// checkout data kept by a sponsor cannot be paid again months later.
pub fn shadow_sig(
    key: &[u8],
    challenge_id: &str,
    agent_id: &str,
    shadow_overseer_id: &str,
    issued_at_s: i64,
) -> String {
    let issued = issued_at_s.to_string();
    sig(
        key,
        &[
            "shadow",
            challenge_id,
            agent_id,
            shadow_overseer_id,
            &issued,
        ],
    )
}

/// When a signed shadow link may still be paid: from its issue time to `ttl_secs` later, judged
/// at the payment's own time (Paddle's signed `occurred_at`, not the delivery time, so Paddle's
/// retries after an outage still succeed). A link issued more than `skew_secs` after the payment
/// is refused too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShadowWindow {
    pub ttl_secs: i64,
    pub skew_secs: i64,
}

/// Why a shadow link's time does not admit a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkTime {
    Expired,
    FromTheFuture,
}

impl ShadowWindow {
    /// Whether a link issued at `issued_at_s` admits a payment that occurred at `paid_at_s`.
    pub fn check(&self, issued_at_s: i64, paid_at_s: i64) -> Result<(), LinkTime> {
        if issued_at_s > paid_at_s.saturating_add(self.skew_secs) {
            Err(LinkTime::FromTheFuture)
        } else if paid_at_s > issued_at_s.saturating_add(self.ttl_secs) {
            Err(LinkTime::Expired)
        } else {
            Ok(())
        }
    }
}

/// `link_sig` of the `custom_data` sent when creating a Paddle customer: message
/// `customer|<overseer_id>`.
pub fn customer_sig(key: &[u8], overseer_id: &str) -> String {
    sig(key, &["customer", overseer_id])
}

/// Whether `presented` (from `custom_data.link_sig`) equals `expected_b64` (recomputed with one of
/// the functions above). Both are decoded from unpadded base64url and compared in constant time;
/// anything that does not decode is a mismatch.
pub fn verify_sig(expected_b64: &str, presented: &str) -> bool {
    match (
        b64::decode_strict(expected_b64),
        b64::decode_strict(presented),
    ) {
        (Some(expected), Some(presented)) => ct_eq(&expected, &presented),
        _ => false,
    }
}

fn sig(key: &[u8], parts: &[&str]) -> String {
    b64::encode(&hmac_sha256(key, parts.join("|").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hex::encode as hex;
    use crate::paddle::vectors::SHADOW_SECRET;

    // vectors.md §1 and §5.8.
    const OVERSEER: &str = "a4b3c2d1-e5f6-4789-8abc-def012345678";
    const PRICE_BASIC: &str = "pri_01basic000000000000000000";
    const NONCE: &str = "wMHCw8TFxsfIycrLzM3Ozw";
    const SUB_SIG: &str = "qgPm_Df0PqSV3sxduLKrbEIdaFbLky-gPUN0gpUrZec";
    const CHALLENGE: &str = "7c6b5a49-3827-4160-9f8e-7d6c5b4a3928";
    const AGENT: &str = "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f";
    const SHADOW_ID: &str = "e6289310-3422-8521-8f06-42e2ab0d7748";
    const ISSUED: i64 = 1_767_225_600;

    fn key() -> Vec<u8> {
        link_key(None, SHADOW_SECRET)
    }

    #[test]
    fn link_key_vector_and_override() {
        assert_eq!(
            hex(&key()),
            "665b010e6bd78c63fa990543058b5a5c75788e4e041046585e3b3f252779ecc1"
        );
        assert_eq!(link_key(Some("explicit"), SHADOW_SECRET), b"explicit");
        assert_eq!(link_key(Some(""), SHADOW_SECRET), key());
    }

    #[test]
    fn subscription_vector() {
        assert_eq!(
            b64::encode(&[
                0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd,
                0xce, 0xcf
            ]),
            NONCE
        );
        let sig = subscription_sig(&key(), OVERSEER, PRICE_BASIC, NONCE);
        assert_eq!(sig, SUB_SIG);
        assert!(verify_sig(&sig, SUB_SIG));
    }

    /// The signature of an explicit message, computed independently of [`shadow_sig`].
    fn shadow_expected() -> String {
        b64::encode(&hmac_sha256(
            &key(),
            format!("shadow|{CHALLENGE}|{AGENT}|{SHADOW_ID}|{ISSUED}").as_bytes(),
        ))
    }

    #[test]
    fn shadow_sig_signs_its_message_with_the_issue_time() {
        let sig = shadow_sig(&key(), CHALLENGE, AGENT, SHADOW_ID, ISSUED);
        assert_eq!(sig, shadow_expected());
        assert!(verify_sig(&sig, &shadow_expected()));
        // Another issue time is another signature: the time cannot be moved after signing.
        assert!(!verify_sig(
            &shadow_sig(&key(), CHALLENGE, AGENT, SHADOW_ID, ISSUED + 1),
            &shadow_expected()
        ));
        // The unbound v1 form (vectors.md §5.8) no longer verifies.
        assert!(!verify_sig(
            &sig,
            "mdiSfRj25AL6h3ozQk6FWILm8m0OZJ9xXUgbokKiMm8"
        ));
    }

    #[test]
    fn shadow_window_bounds() {
        let w = ShadowWindow {
            ttl_secs: 7200,
            skew_secs: 60,
        };
        assert_eq!(w.check(ISSUED, ISSUED), Ok(()));
        assert_eq!(w.check(ISSUED, ISSUED + 7200), Ok(()));
        assert_eq!(w.check(ISSUED, ISSUED + 7201), Err(LinkTime::Expired));
        assert_eq!(
            w.check(ISSUED, ISSUED + 90 * 86_400),
            Err(LinkTime::Expired)
        );
        assert_eq!(w.check(ISSUED + 60, ISSUED), Ok(()));
        assert_eq!(w.check(ISSUED + 61, ISSUED), Err(LinkTime::FromTheFuture));
        assert_eq!(w.check(i64::MAX, 0), Err(LinkTime::FromTheFuture));
        assert_eq!(w.check(0, i64::MAX), Err(LinkTime::Expired));
    }

    #[test]
    fn customer_sig_matches_its_message() {
        let sig = customer_sig(&key(), OVERSEER);
        let want = b64::encode(&hmac_sha256(
            &key(),
            b"customer|a4b3c2d1-e5f6-4789-8abc-def012345678",
        ));
        assert_eq!(sig, want);
        assert!(verify_sig(&sig, &want));
        assert!(!verify_sig(&customer_sig(&key(), AGENT), &want));
    }

    #[test]
    fn tampered_fields_do_not_verify() {
        // P14: overseer id changed after signing; P15: another price; P18: agent swapped.
        let k = key();
        let other_id = "a4b3c2d1-e5f6-4789-8abc-def012345679";
        for expected in [
            subscription_sig(&k, other_id, PRICE_BASIC, NONCE),
            subscription_sig(&k, OVERSEER, "pri_01pro0000000000000000000", NONCE),
            subscription_sig(&k, OVERSEER, PRICE_BASIC, "AAAAAAAAAAAAAAAAAAAAAA"),
            subscription_sig(
                &link_key(Some("other"), SHADOW_SECRET),
                OVERSEER,
                PRICE_BASIC,
                NONCE,
            ),
        ] {
            assert!(!verify_sig(&expected, SUB_SIG));
        }
        for expected in [
            shadow_sig(&k, CHALLENGE, other_id, SHADOW_ID, ISSUED),
            shadow_sig(&k, AGENT, CHALLENGE, SHADOW_ID, ISSUED),
            shadow_sig(&k, CHALLENGE, AGENT, other_id, ISSUED),
        ] {
            assert!(!verify_sig(&expected, &shadow_expected()));
        }
        // Kinds are domain-separated: a subscription signature is never a customer signature.
        assert_ne!(
            customer_sig(&k, OVERSEER),
            subscription_sig(&k, OVERSEER, "", "")
        );
    }

    #[test]
    fn ids_are_signed_exactly_as_given() {
        // Callers canonicalise; an uppercase id is a different message.
        let upper = OVERSEER.to_ascii_uppercase();
        assert!(!verify_sig(
            &subscription_sig(&key(), &upper, PRICE_BASIC, NONCE),
            SUB_SIG
        ));
    }

    #[test]
    fn malformed_presented_signatures_fail() {
        let mut flipped = SUB_SIG.to_owned();
        flipped.replace_range(0..1, "r");
        for bad in [
            "",
            "garbage!",
            &flipped,
            &SUB_SIG[..42],
            &format!("{SUB_SIG}="),     // padding
            &format!(" {SUB_SIG}"),     // whitespace
            &SUB_SIG.replace('_', "/"), // standard alphabet
            &SUB_SIG.replace('-', "+"),
            "qgPm_Df0PqSV3sxduLKrbEIdaFbLky-gPUN0gpUrZef", // non-zero trailing bits
        ] {
            assert!(!verify_sig(SUB_SIG, bad), "{bad:?}");
        }
        assert!(!verify_sig("not base64!", "not base64!"));
    }
}
