//! What `token`, `request` and `mcp` share: the agent as an OAuth client (its DPoP key is its
//! identity key at `--server`, so every token it obtains is bound to the key its agent-id
//! identity proves; tokens are kept in that server's state directory), and how the flow's and
//! MCP's errors map onto the CLI's [`Failure`] kinds and exit codes.

use agent_id_client::mcp::{ConnectError, McpError};
use agent_id_client::oauth::flow::store::TokenStore;
use agent_id_client::oauth::flow::FlowError;
use agent_id_client::{Client, Profile};

use crate::context::{Context, LoadedKey};
use crate::exit::Failure;

/// The pieces an [`agent_id_client::oauth::flow::OAuthAgent`] borrows.
pub struct AgentParts {
    pub client: Client,
    pub key: LoadedKey,
    pub profile: Profile,
}

impl AgentParts {
    pub fn load(ctx: &Context) -> Result<Self, Failure> {
        Ok(Self {
            client: ctx.client()?,
            key: ctx.key()?,
            profile: ctx.profile()?,
        })
    }

    pub fn store(&self) -> TokenStore<'_> {
        TokenStore::new(&self.profile)
    }
}

/// A refusal by the authorization server is the server's (1) with its OAuth `error` as the
/// code; metadata or responses this client must not accept are protocol failures (1); a bad
/// `--client-id` is usage (2); transport and state-directory problems are local (3).
impl From<FlowError> for Failure {
    fn from(err: FlowError) -> Self {
        match err {
            FlowError::Client(e) => e.into(),
            FlowError::TokenRefused {
                status,
                error,
                description,
            } => Failure::Refused {
                status,
                code: error,
                message: description.unwrap_or_default(),
                request_id: None,
            },
            // The authorization endpoint said no through its redirect (a 30x with `error`).
            FlowError::AuthorizationDenied { error, description } => Failure::Refused {
                status: 302,
                code: error,
                message: description.unwrap_or_default(),
                request_id: None,
            },
            FlowError::ClientId(message) => Failure::Usage(format!("--client-id: {message}")),
            other => Failure::Protocol(other.to_string()),
        }
    }
}

/// An MCP server's HTTP error or JSON-RPC error is a refusal (1), its code `http_<status>` or
/// the JSON-RPC error code; a malformed answer is a protocol failure (1).
impl From<ConnectError> for Failure {
    fn from(err: ConnectError) -> Self {
        match err {
            ConnectError::Flow(e) => e.into(),
            ConnectError::Mcp(McpError::Http { status, body }) => Failure::Refused {
                status,
                code: format!("http_{status}"),
                message: body,
                request_id: None,
            },
            ConnectError::Mcp(McpError::Rpc { code, message }) => Failure::Refused {
                status: 200,
                code: code.to_string(),
                message,
                request_id: None,
            },
            ConnectError::Mcp(e @ McpError::Malformed(_)) => Failure::Protocol(e.to_string()),
        }
    }
}
