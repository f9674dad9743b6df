//! Client-assertion validation (`private_key_jwt`): `peek_client_id` and `verify`.
//!
//! Input: `flags` byte, `clock` byte, then the rest.
//! - `flags & 1 == 0`: the rest is the assertion as received (lossy UTF-8).
//! - `flags & 1 == 1`: the rest is `header JSON \n payload JSON`, signed here with the client key
//!   KC (with KA, the wrong key, when `flags & 2`), so mutations reach the claim checks.
//! - `flags & 4`: the revocation endpoint instead of the token endpoint.
//! - the clock is `T0 + 8 * (clock as i8)` seconds, so `exp`, `iat` and `nbf` edges are reachable.
#![no_main]

use agent_id::jose::ed25519::Ed25519PublicKey;
use agent_id::oauth::assertion::{self, AssertionContext, MAX_ASSERTION_LEN};
use agent_id::oauth::client_metadata::is_url_client_id;
use agent_id_fuzz::*;
use arbitrary::Arbitrary;
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Case<'a> {
    flags: u8,
    clock: u8,
    rest: &'a [u8],
}

fuzz_target!(|case: Case| {
    let value = if case.flags & 1 == 0 {
        String::from_utf8_lossy(case.rest).into_owned()
    } else {
        let seed = if case.flags & 2 == 0 {
            &KC_SEED
        } else {
            &KA_SEED
        };
        let (header, payload) = split_line(case.rest);
        sign_compact(header, payload, seed)
    };
    let kc =
        Ed25519PublicKey::from_bytes(SigningKey::from_bytes(&KC_SEED).verifying_key().as_bytes())
            .expect("KC is a valid key");
    let ctx = AssertionContext {
        issuer: ISSUER,
        endpoint_url: if case.flags & 4 == 0 {
            TOKEN_URL
        } else {
            REVOKE_URL
        },
        now_s: T0 + 8 * i64::from(case.clock as i8),
        max_lifetime_secs: 300,
        skew_secs: 60,
    };

    let peeked = assertion::peek_client_id(&value);
    if let Ok(id) = &peeked {
        // The peeked id is a metadata document's https URL, as sent, or a canonical UUID:
        // lowercase, hyphenated, 36 characters.
        if !is_url_client_id(id) {
            assert_eq!(id.len(), 36);
            assert_eq!(*id, id.to_ascii_lowercase());
        }
    }
    let Ok(verified) = ready(assertion::verify(&value, CLIENT_ID, &kc, &ctx)) else {
        return;
    };
    // Accepted only when signed by KC, within the size limit, for the client it names.
    assert!(
        case.flags & 1 == 0 || case.flags & 2 == 0,
        "verified with the wrong key"
    );
    assert!(value.len() <= MAX_ASSERTION_LEN);
    assert_eq!(peeked.as_deref(), Ok(CLIENT_ID));
    assert!(!verified.jti.is_empty() && verified.jti.chars().count() <= 128);
    assert_eq!(
        verified.replay_hash,
        agent_id::auth::dpop::replay_hash("client_assertion", CLIENT_ID, &verified.jti)
    );
    // Accepted now, and the replay marker lives exactly as long as the assertion is accepted.
    assert!(verified.accepted_through.accepts(ctx.now_s));
    assert_eq!(
        verified.accepted_through.marker_expires_at_ms(),
        (verified.accepted_through.last_s() + 1) * 1000
    );
});
