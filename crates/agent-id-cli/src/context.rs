//! What a command runs with: the global options, the server, the state directory (the library's
//! [`Profile`]), the key, the saved session and the HTTP transport — each resolved only when the
//! command asks for it, so `keygen --key-file` needs no server and `--help` needs nothing.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use agent_id_client::{
    AgentAuth, AgentKey, Client, LocalError, Profile, ServerUrl, Session, Transport,
};

use crate::cli::Global;
use crate::exit::Failure;
use crate::keyfile;
use crate::output::Format;

/// What the host provides besides the command line. The binary uses the defaults (the native
/// transport, `$XDG_CONFIG_HOME`); tests hand in an in-process transport and a temporary base.
#[derive(Default)]
pub struct Environment {
    /// The HTTP transport; `None`: the library's default (rustls).
    pub transport: Option<Rc<dyn Transport>>,
    /// The base of the per-server directories; `None`: `$XDG_CONFIG_HOME/agent-id` (or
    /// `~/.config/agent-id`).
    pub config_base: Option<PathBuf>,
}

/// One run's context.
pub struct Context {
    global: Global,
    env: Environment,
}

/// A key and the file it came from (printed in messages, never its content).
pub struct LoadedKey {
    pub key: AgentKey,
    pub path: PathBuf,
}

impl Context {
    pub fn new(global: Global, env: Environment) -> Self {
        Self { global, env }
    }

    pub fn format(&self) -> Format {
        match self.global.json {
            true => Format::Json,
            false => Format::Human,
        }
    }

    /// The server, or a usage error saying how to name one.
    pub fn server(&self) -> Result<&ServerUrl, Failure> {
        self.global
            .server
            .as_ref()
            .ok_or_else(|| Failure::usage("no server: pass --server URL or set AGENT_ID_SERVER"))
    }

    /// A client of the server over the environment's transport.
    pub fn client(&self) -> Result<Client, Failure> {
        let server = self.server()?.clone();
        match &self.env.transport {
            Some(transport) => Ok(Client::with_transport(server, transport.clone())),
            None => Ok(Client::new(server)?),
        }
    }

    /// The server's state directory.
    pub fn profile(&self) -> Result<Profile, Failure> {
        let server = self.server()?;
        match &self.env.config_base {
            Some(base) => Ok(Profile::in_base(base, server)),
            None => Ok(Profile::for_server(server)?),
        }
    }

    /// `--key-file`, when given.
    pub fn key_file(&self) -> Option<&Path> {
        self.global.key_file.as_deref()
    }

    /// The agent's key: `--key-file`, else `key.jwk` of the server's state directory.
    pub fn key(&self) -> Result<LoadedKey, Failure> {
        match self.key_file() {
            Some(path) => Ok(LoadedKey {
                key: keyfile::load(path)?,
                path: path.to_owned(),
            }),
            None => {
                let profile = self.profile()?;
                Ok(LoadedKey {
                    key: profile.load_key()?,
                    path: profile.key_path(),
                })
            }
        }
    }

    /// The saved session, refused locally once expired (the server would refuse it anyway).
    pub fn session(&self, client: &Client) -> Result<Session, Failure> {
        let profile = self.profile()?;
        let session = profile.load_session()?;
        if session.is_expired(client.now_s()) {
            return Err(Failure::local(format!(
                "the session saved in {} has expired: log in again (`agent-id login`)",
                profile.session_path().display()
            )));
        }
        Ok(session)
    }

    /// For the endpoints that take either (claim completion, consent): the key of `--key-file`
    /// when given, else the saved session when there is a live one, else a DPoP proof by the key.
    pub fn session_or_key(&self, client: &Client) -> Result<SessionOrKey, Failure> {
        if self.key_file().is_none() {
            match self.profile()?.load_session() {
                Ok(session) if !session.is_expired(client.now_s()) => {
                    return Ok(SessionOrKey::Session(session))
                }
                Ok(_) | Err(LocalError::NoSession { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(SessionOrKey::Key(Box::new(self.key()?)))
    }
}

/// See [`Context::session_or_key`].
pub enum SessionOrKey {
    Session(Session),
    Key(Box<LoadedKey>),
}

impl SessionOrKey {
    pub fn auth(&self) -> AgentAuth<'_> {
        match self {
            SessionOrKey::Session(session) => AgentAuth::Session(session),
            SessionOrKey::Key(loaded) => AgentAuth::Proof(&loaded.key),
        }
    }
}
