//! What agent-id publishes for Web Bot Auth (issue 14), free of HTTP: the URLs of an agent's
//! key directory, card and `did:web` document, the keys a directory lists, and the public
//! accountability block.

use serde::Serialize;

use crate::domain::ids::canonical_uuid;
use crate::domain::time::rfc3339_ms;
use crate::jose::ed25519::Ed25519PublicKey;
use crate::store::agent_keys::{Oversight, Published};

/// The key directory's media type (directory draft).
pub const DIRECTORY_MEDIA_TYPE: &str = "application/http-message-signatures-directory+json";
/// The longest a cache may keep a directory, so an immediate removal reaches caches soon.
pub const MAX_DIRECTORY_AGE_SECS: i64 = 300;
/// The longest `expires - created` the verification endpoint accepts.
pub const MAX_SIGNATURE_LIFETIME_SECS: i64 = 86_400;

const DIRECTORY: &str = "http-message-signatures-directory";

/// `{issuer}/v1/agents/{id}/http-message-signatures-directory`
pub fn directory_url(issuer: &str, agent_id: &str) -> String {
    format!("{issuer}/v1/agents/{agent_id}/{DIRECTORY}")
}

/// `{issuer}/v1/agents/{id}/card`: the agent's `Signature-Agent` and CIMD `client_id`.
pub fn card_url(issuer: &str, agent_id: &str) -> String {
    format!("{issuer}/v1/agents/{agent_id}/card")
}

/// The agent's `did:web` DID. did:web maps `did:web:host[%3Aport]:seg:…` to
/// `https://host[:port]/seg/…/did.json`, so `did:web:{host}:v1:agents:{id}` resolves to
/// `{issuer}/v1/agents/{id}/did.json` (a port's `:` is percent-encoded, path `/` become `:`).
pub fn did(issuer: &str, agent_id: &str) -> String {
    let rest = issuer
        .split_once("://")
        .map_or(issuer, |(_, rest)| rest)
        .trim_end_matches('/');
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut did = format!("did:web:{}", host.replace(':', "%3A"));
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        did.push(':');
        did.push_str(segment);
    }
    did.push_str(":v1:agents:");
    did.push_str(agent_id);
    did
}

/// The agent a `Signature-Agent` URL names, if it is this service's card or directory URL of
/// a well-formed agent id.
pub fn agent_of_signature_agent(issuer: &str, url: &str) -> Option<String> {
    let rest = url.strip_prefix(issuer)?.strip_prefix("/v1/agents/")?;
    let (id, what) = rest.split_once('/')?;
    matches!(what, "card" | DIRECTORY)
        .then(|| canonical_uuid(id))
        .flatten()
}

/// One key of a directory: an OKP JWK whose `kid` is its RFC 7638 thumbprint.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DirectoryKey {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub kid: String,
}

impl DirectoryKey {
    fn new(x: &str, kid: &str) -> Self {
        Self {
            kty: "OKP",
            crv: "Ed25519",
            x: x.to_owned(),
            kid: kid.to_owned(),
        }
    }
}

/// Whether a listed key is the agent's current key or one kept for the overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Current,
    Previous,
}

/// The keys `published` lists: the current key first, then previous keys newest first.
pub fn listed_keys(p: &Published) -> Result<Vec<(DirectoryKey, KeyStatus)>, String> {
    let current = Ed25519PublicKey::parse(&p.agent.public_key)
        .map_err(|e| format!("stored agent key invalid: {e}"))?;
    let mut keys = vec![(
        DirectoryKey::new(&p.agent.public_key, &current.thumbprint()),
        KeyStatus::Current,
    )];
    keys.extend(p.previous.iter().map(|k| {
        (
            DirectoryKey::new(&k.public_key, &k.thumbprint),
            KeyStatus::Previous,
        )
    }));
    Ok(keys)
}

/// How long a cache may keep the directory: at most [`MAX_DIRECTORY_AGE_SECS`], at most the
/// overlap, and never past the moment a listed previous key leaves it.
pub fn directory_max_age_secs(p: &Published, overlap_secs: i64, now_ms: i64) -> i64 {
    let until_next_unlisting = p
        .previous
        .iter()
        .map(|k| (k.listed_until - now_ms).div_euclid(1000))
        .min();
    [
        Some(MAX_DIRECTORY_AGE_SECS),
        Some(overlap_secs),
        until_next_unlisting,
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(0)
    .max(0)
}

/// Who answers for the agent, as anyone may know it: the kind of overseer and since when,
/// never who.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Accountability {
    pub overseen_by: OverseenBy,
    pub since: Option<String>,
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OverseenBy {
    Human,
    ShadowSponsor,
    None,
}

/// The block for the agent's active oversight at `now_ms`; a shadow sponsorship counts only
/// while its paid validity lasts (as the agent itself sees it).
pub fn accountability(oversight: Option<&Oversight>, now_ms: i64) -> Accountability {
    match oversight {
        Some(o) if !o.is_shadow => Accountability {
            overseen_by: OverseenBy::Human,
            since: Some(rfc3339_ms(o.activated_at)),
        },
        Some(o) if o.shadow_valid_until.is_some_and(|until| until > now_ms) => Accountability {
            overseen_by: OverseenBy::ShadowSponsor,
            since: Some(rfc3339_ms(o.activated_at)),
        },
        _ => Accountability {
            overseen_by: OverseenBy::None,
            since: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_web_follows_the_host_and_path_rules() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(
            did("https://id.example.com", id),
            format!("did:web:id.example.com:v1:agents:{id}")
        );
        assert_eq!(
            did("http://127.0.0.1:8787", id),
            format!("did:web:127.0.0.1%3A8787:v1:agents:{id}")
        );
        assert_eq!(
            did("https://example.com/idp/", id),
            format!("did:web:example.com:idp:v1:agents:{id}")
        );
    }

    #[test]
    fn only_our_card_and_directory_urls_name_an_agent() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let iss = "https://id.example.com";
        assert_eq!(
            agent_of_signature_agent(iss, &card_url(iss, id)).as_deref(),
            Some(id)
        );
        assert_eq!(
            agent_of_signature_agent(iss, &directory_url(iss, id)).as_deref(),
            Some(id)
        );
        for foreign in [
            format!("https://evil.example/v1/agents/{id}/card"),
            format!("{iss}/v1/agents/{id}/did.json"),
            format!("{iss}/v1/agents/not-a-uuid/card"),
            format!("{iss}.evil/v1/agents/{id}/card"),
        ] {
            assert_eq!(agent_of_signature_agent(iss, &foreign), None, "{foreign}");
        }
    }
}
