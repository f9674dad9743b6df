//! The canonical `challenge_data` an agent signs to register and to rotate its key (api.md 5.1,
//! 5.4): the server builds it, the agent signs its exact bytes, and an SDK can rebuild it to check
//! that the server asks it to sign what it expects (its own key, this server's audience).

use std::collections::BTreeMap;

/// Canonical JSON: keys sorted by code point, no whitespace, serde_json string escaping.
pub fn canonical(members: &BTreeMap<&str, &str>) -> String {
    serde_json::to_string(members).unwrap_or_default()
}

/// `challenge_data` for registration.
pub fn registration_data(
    aud: &str,
    challenge_id: &str,
    expires_at: &str,
    nonce: &str,
    public_key: &str,
) -> String {
    canonical(&BTreeMap::from([
        ("action", "register"),
        ("aud", aud),
        ("challenge_id", challenge_id),
        ("expires_at", expires_at),
        ("nonce", nonce),
        ("public_key", public_key),
    ]))
}

/// `challenge_data` for key rotation.
pub fn rotation_data(
    aud: &str,
    agent_id: &str,
    challenge_id: &str,
    expires_at: &str,
    nonce: &str,
    new_public_key: &str,
) -> String {
    canonical(&BTreeMap::from([
        ("action", "rotate_key"),
        ("agent_id", agent_id),
        ("aud", aud),
        ("challenge_id", challenge_id),
        ("expires_at", expires_at),
        ("new_public_key", new_public_key),
        ("nonce", nonce),
    ]))
}
