//! The agent's state for one server, in one private directory:
//!
//! ```text
//! $XDG_CONFIG_HOME/agent-id/<origin-slug>/     (fallback ~/.config/agent-id/…), mode 0700
//!   key.jwk          the agent's Ed25519 private JWK, 0600
//!   key.next.jwk     only during a rotation: the new key, 0600
//!   session.json     the current session (token, agent id, expiry), 0600
//!   <name>           other secrets (refresh tokens, …) through `write_secret`, 0600
//! ```
//!
//! `<origin-slug>` is [`ServerUrl::slug`]: `https_id.example.com`, `http_127.0.0.1_8787`.
//! Every file is created `0600` with `O_EXCL`; replacements are atomic renames; a file that
//! group or others can read is refused with a message that names it and says `chmod 600`.
//!
//! **Rotation and crashes.** [`Profile::rotate`] writes the new key to `key.next.jwk` before
//! asking the server, keeps `key.jwk` until the server confirms, then renames `key.next.jwk` over
//! `key.jwk`. If the process dies in between, `key.next.jwk` remains and it is unknown whether
//! the server switched: [`Profile::recover_rotation`] logs in with the new key; if the server
//! knows it, the new key is promoted, otherwise (the server still has the old key) the new key
//! is discarded. `rotate` refuses to start while `key.next.jwk` exists.

use std::path::{Path, PathBuf};

use crate::client::Client;
use crate::error::{Error, LocalError};
use crate::files;
use crate::identity::Rotated;
use crate::keys::AgentKey;
use crate::server::ServerUrl;
use crate::session::{Secret, Session};

const KEY: &str = "key.jwk";
const NEXT_KEY: &str = "key.next.jwk";
const SESSION: &str = "session.json";

/// The state directory of one server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    dir: PathBuf,
}

/// What [`Profile::recover_rotation`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Recovery {
    /// No rotation was pending.
    NothingPending,
    /// The server had switched: the new key is now `key.jwk` and a new session is saved.
    Promoted,
    /// The server never switched: the new key was discarded; `key.jwk` stays.
    Discarded,
}

impl Profile {
    /// The directory for `server` under `$XDG_CONFIG_HOME/agent-id/` (or
    /// `$HOME/.config/agent-id/`). Nothing is created until something is written.
    pub fn for_server(server: &ServerUrl) -> Result<Self, LocalError> {
        Ok(Self::in_base(&config_base()?, server))
    }

    /// The directory for `server` under an explicit base (`<base>/<origin-slug>`), e.g. a
    /// `--config-dir` option or a test's temporary directory.
    pub fn in_base(base: &Path, server: &ServerUrl) -> Self {
        Self {
            dir: base.join(server.slug()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join(KEY)
    }

    pub fn next_key_path(&self) -> PathBuf {
        self.dir.join(NEXT_KEY)
    }

    pub fn session_path(&self) -> PathBuf {
        self.dir.join(SESSION)
    }

    /// Generates a key and saves it as `key.jwk`; refuses to overwrite an existing key.
    pub fn generate_key(&self) -> Result<AgentKey, LocalError> {
        let key = AgentKey::generate()?;
        self.save_new_key(&key)?;
        Ok(key)
    }

    /// Saves `key` as `key.jwk` (created `0600`; an existing file is never overwritten).
    pub fn save_new_key(&self, key: &AgentKey) -> Result<(), LocalError> {
        files::private_dir(&self.dir)?;
        files::create_new(&self.key_path(), key.to_private_jwk().as_bytes())
    }

    /// Loads `key.jwk`, refusing a file open to group or others, or altered.
    pub fn load_key(&self) -> Result<AgentKey, LocalError> {
        load_key_at(&self.key_path())
    }

    /// Saves the session (atomically replacing the previous one).
    pub fn save_session(&self, session: &Session) -> Result<(), LocalError> {
        files::private_dir(&self.dir)?;
        files::replace(&self.session_path(), session.to_json().as_bytes())
    }

    /// The saved session, if any.
    pub fn load_session(&self) -> Result<Session, LocalError> {
        let path = self.session_path();
        let bytes =
            files::read_private(&path)?.ok_or(LocalError::NoSession { path: path.clone() })?;
        Session::from_json(&bytes).ok_or(LocalError::StateFile {
            path,
            reason: "not a session this tool wrote".into(),
        })
    }

    /// A usable session: the saved one while it has not expired, otherwise a fresh log-in with
    /// `key.jwk` (saved for next time).
    pub async fn session(&self, client: &Client) -> Result<Session, Error> {
        match self.load_session() {
            Ok(s) if !s.is_expired(client.now_s()) => return Ok(s),
            Ok(_) | Err(LocalError::NoSession { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let session = client.login(&self.load_key()?, None).await?;
        self.save_session(&session)?;
        Ok(session)
    }

    /// Forgets the saved session.
    pub fn clear_session(&self) -> Result<(), LocalError> {
        files::remove(&self.session_path())
    }

    /// Writes a named secret (`[a-z0-9._-]`, not starting with `.`) atomically, `0600`.
    pub fn write_secret(&self, name: &str, secret: &Secret) -> Result<(), LocalError> {
        let path = self.secret_path(name)?;
        files::private_dir(&self.dir)?;
        files::replace(&path, secret.expose().as_bytes())
    }

    /// Reads a named secret; `None` when absent.
    pub fn read_secret(&self, name: &str) -> Result<Option<Secret>, LocalError> {
        let path = self.secret_path(name)?;
        match files::read_private(&path)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(|s| Some(Secret::new(s)))
                .map_err(|_| LocalError::StateFile {
                    path,
                    reason: "not UTF-8".into(),
                }),
        }
    }

    /// Removes a named secret; absent is fine.
    pub fn remove_secret(&self, name: &str) -> Result<(), LocalError> {
        files::remove(&self.secret_path(name)?)
    }

    fn secret_path(&self, name: &str) -> Result<PathBuf, LocalError> {
        let ok = !name.is_empty()
            && !name.starts_with('.')
            && ![KEY, NEXT_KEY, SESSION].contains(&name)
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !ok {
            return Err(LocalError::Invalid(format!(
                "{name:?} is not a usable secret name"
            )));
        }
        Ok(self.dir.join(name))
    }

    /// Rotates the key with the server, keeping the files crash-safe (see the module docs):
    /// new key to `key.next.jwk`, the server's confirmation, then the swap and the new session.
    /// A refusal by the server (4xx) discards the new key; a transport failure or a 5xx keeps it for
    /// [`Profile::recover_rotation`].
    pub async fn rotate(&self, client: &Client, session: &Session) -> Result<Rotated, Error> {
        let old = self.load_key()?;
        let next_path = self.next_key_path();
        if next_path.exists() {
            return Err(LocalError::Invalid(format!(
                "a previous rotation did not finish ({} exists): recover it first \
                 (e.g. `agent-id rotate --recover`)",
                next_path.display()
            ))
            .into());
        }
        let new = AgentKey::generate()?;
        files::create_new(&next_path, new.to_private_jwk().as_bytes())?;
        match client.rotate_key(session, &old, &new).await {
            Ok(rotated) => {
                files::rename(&next_path, &self.key_path())?;
                self.save_session(&rotated.session)?;
                Ok(rotated)
            }
            // A 4xx means the server did not switch; after a 5xx it may have: keep the key.
            Err(Error::Server(e)) if e.status < 500 => {
                files::remove(&next_path)?;
                Err(Error::Server(e))
            }
            Err(e) => Err(e),
        }
    }

    /// Finishes a rotation a crash interrupted: promotes `key.next.jwk` if the server knows it,
    /// discards it if the server refuses it as unknown.
    pub async fn recover_rotation(&self, client: &Client) -> Result<Recovery, Error> {
        let next_path = self.next_key_path();
        let Some(_) = files::read_private(&next_path)? else {
            return Ok(Recovery::NothingPending);
        };
        let next = load_key_at(&next_path)?;
        match client.login(&next, None).await {
            Ok(session) => {
                files::rename(&next_path, &self.key_path())?;
                self.save_session(&session)?;
                Ok(Recovery::Promoted)
            }
            Err(Error::Server(e)) if e.code == "invalid_dpop_proof" => {
                files::remove(&next_path)?;
                Ok(Recovery::Discarded)
            }
            Err(e) => Err(e),
        }
    }
}

fn load_key_at(path: &Path) -> Result<AgentKey, LocalError> {
    let bytes = zeroize::Zeroizing::new(files::read_private(path)?.ok_or(LocalError::NoKey {
        path: path.to_owned(),
    })?);
    AgentKey::from_private_jwk(&bytes).map_err(|e| LocalError::KeyFile {
        path: path.to_owned(),
        reason: e.reason(),
    })
}

/// `$XDG_CONFIG_HOME/agent-id` when set to an absolute path (XDG base directory spec), else
/// `$HOME/.config/agent-id`.
fn config_base() -> Result<PathBuf, LocalError> {
    let from = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(xdg) = from("XDG_CONFIG_HOME") {
        return Ok(xdg.join("agent-id"));
    }
    from("HOME")
        .map(|home| home.join(".config").join("agent-id"))
        .ok_or(LocalError::NoConfigDir)
}
