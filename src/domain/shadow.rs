//! Shadow overseer ids (`api.md` 9.9): a keyed UUID v8 of the agent id, so every shadow claim of an
//! agent maps to the same overseer without storage, and nobody without `SHADOW_SECRET` can mint one.

use crate::crypto::mac::{ct_eq, hmac_sha256};
use crate::domain::ids::{canonical_uuid, format_uuid};

/// Domain-separation prefix of the HMAC message.
const LABEL: &str = "agent-id/shadow-overseer/v1|";

/// The shadow overseer id of `agent_id`. The agent id is hashed as lowercase UUID text; ASCII case
/// is folded here so that any spelling of the same id derives the same overseer.
pub fn derive_id(shadow_secret: &str, agent_id: &str) -> String {
    let msg = format!("{LABEL}{}", agent_id.to_ascii_lowercase());
    let m = hmac_sha256(shadow_secret.as_bytes(), msg.as_bytes());
    let mut u = [0u8; 16];
    u.iter_mut().zip(m.iter()).for_each(|(u, m)| *u = *m);
    u[6] = (u[6] & 0x0F) | 0x80; // version 8
    u[8] = (u[8] & 0x3F) | 0x80; // RFC 4122 variant
    format_uuid(&u)
}

/// The shadow overseer id for `agent_id`: the one already stored for it (so rotating
/// `SHADOW_SECRET` never orphans a sponsorship), else the derived one.
pub fn overseer_id(shadow_secret: &str, agent_id: &str, existing: Option<String>) -> String {
    existing.unwrap_or_else(|| derive_id(shadow_secret, agent_id))
}

/// Whether `presented` (any case) is the shadow overseer id of `agent_id`. Compared in constant
/// time; human overseer ids (UUID v4) and anything that is not a UUID never verify.
pub fn verify_id(shadow_secret: &str, agent_id: &str, presented: &str) -> bool {
    let Some(presented) = canonical_uuid(presented) else {
        return false;
    };
    ct_eq(
        derive_id(shadow_secret, agent_id).as_bytes(),
        presented.as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hex::encode as hex;

    // vectors.md §1 and §5.7.
    const SECRET: &str = "test-shadow-secret-do-not-use";
    const AGENT: &str = "6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f";
    const SHADOW_ID: &str = "e6289310-3422-8521-8f06-42e2ab0d7748";
    const ZERO_AGENT: &str = "00000000-0000-4000-8000-000000000000";

    #[test]
    fn vector_5_7() {
        let m = hmac_sha256(
            SECRET.as_bytes(),
            b"agent-id/shadow-overseer/v1|6f1c2b9e-3d4a-4c5b-8e7f-0a1b2c3d4e5f",
        );
        assert_eq!(
            hex(&m),
            "e6289310342265214f0642e2ab0d7748336092dfd878e63706416029e1434273"
        );
        assert_eq!(derive_id(SECRET, AGENT), SHADOW_ID);
        assert!(verify_id(SECRET, AGENT, SHADOW_ID));
    }

    #[test]
    fn vector_5_7_other_agent() {
        let m = hmac_sha256(SECRET.as_bytes(), format!("{LABEL}{ZERO_AGENT}").as_bytes());
        assert_eq!(hex(&m[..16]), "5f19237e5d50bc6ac1dbbbfe12536b80");
        assert!(!verify_id(SECRET, ZERO_AGENT, SHADOW_ID));
        assert_eq!(
            derive_id(SECRET, ZERO_AGENT),
            "5f19237e-5d50-8c6a-81db-bbfe12536b80"
        );
    }

    #[test]
    fn case_is_folded_on_both_sides() {
        assert!(verify_id(SECRET, AGENT, &SHADOW_ID.to_ascii_uppercase()));
        assert_eq!(derive_id(SECRET, &AGENT.to_ascii_uppercase()), SHADOW_ID);
        assert!(verify_id(SECRET, &AGENT.to_ascii_uppercase(), SHADOW_ID));
    }

    #[test]
    fn version_and_variant_are_set() {
        for agent in [AGENT, ZERO_AGENT, "ffffffff-ffff-4fff-bfff-ffffffffffff"] {
            let id = derive_id(SECRET, agent);
            assert_eq!(canonical_uuid(&id).as_deref(), Some(id.as_str()));
            assert_eq!(&id[14..15], "8", "{id}");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        }
    }

    #[test]
    fn other_ids_never_verify() {
        // A v4 id equal to the derived one except for the version nibble.
        let v4 = "e6289310-3422-4521-8f06-42e2ab0d7748";
        for bad in [
            v4,
            "a4b3c2d1-e5f6-4789-8abc-def012345678", // a human overseer id
            AGENT,
            "e6289310342285218f0642e2ab0d7748",
            "{e6289310-3422-8521-8f06-42e2ab0d7748}",
            " e6289310-3422-8521-8f06-42e2ab0d7748",
            "",
        ] {
            assert!(!verify_id(SECRET, AGENT, bad), "{bad}");
        }
        assert!(!verify_id("another secret", AGENT, SHADOW_ID));
    }
}
