//! The agent's identity calls (api.md §2.2–2.5): register, log in, me, rotate the key, log out,
//! accept a claim or confirm a shadow claim, OAuth history, overseer.
//!
//! Before signing a `challenge_data`, the client rebuilds it from what it expects (this server's
//! origin as `aud`, its own key, the returned id, expiry and nonce) and refuses to sign anything
//! else: a server (or a proxy) cannot get the agent to sign a challenge for another audience or
//! another key.

use agent_id_protocol::challenge;
use http::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::client::{AgentAuth, Client, Members};
use crate::error::{Error, LocalError, ProtocolError};
use crate::keys::AgentKey;
use crate::session::{Secret, Session};

/// An agent as the server describes it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct AgentInfo {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub public_key: String,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A registered agent and its first session.
#[derive(Debug)]
pub struct Registered {
    pub agent: AgentInfo,
    pub session: Session,
}

/// `GET /v1/agents/me`.
#[derive(Clone, Debug)]
pub struct Me {
    pub agent: AgentInfo,
    /// The agent subscription summary (api.md 1.9), as the server sent it.
    pub subscription: Value,
}

/// A completed rotation: the new session (older ones are dead) and the agent with its new key.
#[derive(Debug)]
pub struct Rotated {
    pub agent: AgentInfo,
    pub session: Session,
}

/// An accepted claim or a confirmed shadow claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimAccepted {
    /// `completed` (human claim) or `awaiting-payment` (shadow claim).
    pub status: String,
    pub message: String,
    pub overseer_id: String,
    pub agent_id: String,
    /// Set for shadow claims.
    pub shadow_overseer_id: Option<String>,
}

/// One OAuth history entry (api.md 1.9).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct HistoryEntry {
    pub id: String,
    pub client_id: String,
    pub client_name: Option<String>,
    pub scopes: Option<String>,
    /// `approved` or `denied`.
    pub status: String,
    pub reason: Option<String>,
    pub created_at: String,
    pub exchanged_at: Option<String>,
}

/// A page of history, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// Pass to the next call for older entries; `None` at the end.
    pub next_cursor: Option<String>,
}

/// The agent's active overseer (its e-mail is never disclosed to agents).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct OverseerInfo {
    pub id: String,
    /// `None` for a shadow sponsor.
    pub name: Option<String>,
    pub is_shadow: bool,
    pub tier: String,
    pub since: Option<String>,
    pub valid_until: Option<String>,
}

/// What the server handed out with a challenge.
struct Challenge {
    id: String,
    data: String,
}

impl Client {
    /// Registers `key` under `name`: initiate, check the `challenge_data`, sign it, complete.
    pub async fn register(
        &self,
        key: &AgentKey,
        name: &str,
        description: Option<&str>,
    ) -> Result<Registered, Error> {
        let mut body = json!({"name": name, "public_key": key.public_b64()});
        if let Some(d) = description {
            body["description"] = d.into();
        }
        let r = self
            .call(
                Method::POST,
                "/v1/agents/register/initiate",
                None,
                Some(body),
            )
            .await?;
        let challenge = self.check_challenge(&r, |id, expires_at, nonce| {
            challenge::registration_data(
                self.server().origin(),
                id,
                expires_at,
                nonce,
                &key.public_b64(),
            )
        })?;
        let r = self
            .call(
                Method::POST,
                &format!("/v1/agents/register/complete/{}", challenge.id),
                None,
                Some(json!({"signature": key.sign_b64(challenge.data.as_bytes())})),
            )
            .await?;
        Ok(Registered {
            agent: r.decode("agent")?,
            session: self.session(&r, None)?,
        })
    }

    /// Logs in with one DPoP proof; `agent_id`, when given, must be the key's agent.
    pub async fn login(&self, key: &AgentKey, agent_id: Option<&str>) -> Result<Session, Error> {
        let body = match agent_id {
            Some(id) => json!({"agent_id": id}),
            None => json!({}),
        };
        let r = self
            .call(
                Method::POST,
                "/v1/agents/login",
                Some(AgentAuth::Proof(key)),
                Some(body),
            )
            .await?;
        self.session(&r, None)
    }

    /// The agent's profile and subscription summary.
    pub async fn me(&self, session: &Session) -> Result<Me, Error> {
        let r = self
            .call(
                Method::GET,
                "/v1/agents/me",
                Some(AgentAuth::Session(session)),
                None,
            )
            .await?;
        Ok(Me {
            agent: r.decode("agent")?,
            subscription: r.get("subscription").cloned().unwrap_or(Value::Null),
        })
    }

    /// Rotates from `old` to `new` on the wire: initiate (session), check the `challenge_data`,
    /// sign it with `new`, complete with a DPoP proof by `old`. Key files are the caller's
    /// business; [`crate::Profile::rotate`] keeps them crash-safe.
    pub async fn rotate_key(
        &self,
        session: &Session,
        old: &AgentKey,
        new: &AgentKey,
    ) -> Result<Rotated, Error> {
        let r = self
            .call(
                Method::POST,
                "/v1/agents/rotate-key/initiate",
                Some(AgentAuth::Session(session)),
                Some(json!({"new_public_key": new.public_b64()})),
            )
            .await?;
        let challenge = self.check_challenge(&r, |id, expires_at, nonce| {
            challenge::rotation_data(
                self.server().origin(),
                &session.agent_id,
                id,
                expires_at,
                nonce,
                &new.public_b64(),
            )
        })?;
        let r = self
            .call(
                Method::POST,
                &format!("/v1/agents/rotate-key/complete/{}", challenge.id),
                Some(AgentAuth::Proof(old)),
                Some(json!({"signature": new.sign_b64(challenge.data.as_bytes())})),
            )
            .await?;
        let agent: AgentInfo = r.decode("agent")?;
        if agent.public_key != new.public_b64() {
            return Err(ProtocolError::UnexpectedBody {
                what: "the rotated agent does not carry the new key".into(),
            }
            .into());
        }
        let session = self.session(&r, Some(&agent.id))?;
        Ok(Rotated { agent, session })
    }

    /// Ends the session at the server.
    pub async fn logout(&self, session: &Session) -> Result<(), Error> {
        self.call(
            Method::POST,
            "/v1/agents/logout",
            Some(AgentAuth::Session(session)),
            None,
        )
        .await?;
        Ok(())
    }

    /// Accepts a claim challenge (`overseer_id` from the overseer) or confirms a shadow claim
    /// (`overseer_id` = the `shadow_overseer_id`).
    pub async fn accept_claim(
        &self,
        auth: AgentAuth<'_>,
        challenge_id: &str,
        overseer_id: &str,
    ) -> Result<ClaimAccepted, Error> {
        let id = path_id(challenge_id, "challenge id")?;
        let r = self
            .call(
                Method::POST,
                &format!("/v1/agents/claim/complete/{id}"),
                Some(auth),
                Some(json!({"overseer_id": overseer_id})),
            )
            .await?;
        Ok(ClaimAccepted {
            status: r.text("status")?,
            message: r.opt_text("message").unwrap_or_default(),
            overseer_id: r.text("overseer_id")?,
            agent_id: r.text("agent_id")?,
            shadow_overseer_id: r.opt_text("shadow_overseer_id"),
        })
    }

    /// A page of the agent's OAuth history (`limit` 1..=100, server default 20).
    pub async fn history(
        &self,
        session: &Session,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<HistoryPage, Error> {
        let mut query = Vec::new();
        if let Some(l) = limit {
            query.push(format!("limit={l}"));
        }
        if let Some(c) = cursor {
            query.push(format!("cursor={}", path_id(c, "cursor")?));
        }
        let path = match query.is_empty() {
            true => "/v1/agents/me/oauth-history".to_owned(),
            false => format!("/v1/agents/me/oauth-history?{}", query.join("&")),
        };
        let r = self
            .call(Method::GET, &path, Some(AgentAuth::Session(session)), None)
            .await?;
        Ok(HistoryPage {
            entries: r.decode("history")?,
            next_cursor: r.opt_text("next_cursor"),
        })
    }

    /// The agent's active overseer, `None` when unclaimed.
    pub async fn overseer(&self, session: &Session) -> Result<Option<OverseerInfo>, Error> {
        let r = self
            .call(
                Method::GET,
                "/v1/agents/me/overseer",
                Some(AgentAuth::Session(session)),
                None,
            )
            .await?;
        r.decode("overseer")
    }

    /// Reads `challenge_id`/`challenge_data`/`expires_at` and checks that `challenge_data` is
    /// exactly what `expected(id, expires_at, nonce)` builds.
    fn check_challenge(
        &self,
        r: &Map<String, Value>,
        expected: impl FnOnce(&str, &str, &str) -> String,
    ) -> Result<Challenge, Error> {
        let id = path_id(&r.text("challenge_id")?, "challenge id")?.to_owned();
        let data = r.text("challenge_data")?;
        let expires_at = r.text("expires_at")?;
        let nonce = serde_json::from_str::<Value>(&data)
            .ok()
            .and_then(|v| v.get("nonce").and_then(Value::as_str).map(str::to_owned))
            .ok_or(ProtocolError::ChallengeMismatch)?;
        if expected(&id, &expires_at, &nonce) != data {
            return Err(ProtocolError::ChallengeMismatch.into());
        }
        Ok(Challenge { id, data })
    }

    /// A session from `session_id` + `expires_in` (+ `agent_id`, or the agent's `id`).
    fn session(&self, r: &Map<String, Value>, agent_id: Option<&str>) -> Result<Session, Error> {
        let agent_id = match agent_id {
            Some(id) => id.to_owned(),
            None => r.text("agent_id").or_else(|_| {
                r.get("agent")
                    .and_then(|a| a.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        Error::from(ProtocolError::UnexpectedBody {
                            what: "no agent id with the session".into(),
                        })
                    })
            })?,
        };
        Ok(Session {
            token: Secret::new(r.text("session_id")?),
            agent_id,
            expires_at: self.now_s() + r.int("expires_in")?,
        })
    }
}

/// An id that goes into a URL path or query: only `[A-Za-z0-9._-]` (what the server issues), so
/// nothing can change the path.
pub(crate) fn path_id<'a>(s: &'a str, what: &str) -> Result<&'a str, Error> {
    let ok = !matches!(s, "" | "." | "..")
        && s.len() <= 256
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(s)
    } else {
        Err(LocalError::Invalid(format!("{what} {s:?} is not a valid id")).into())
    }
}
