//! `agent-id mcp connect [--client-id ID_OR_URL] [--call-tool NAME [--arguments JSON]] URL`:
//! connects to a protected MCP server over streamable HTTP as the agent (the token flow runs on
//! the server's first 401), initializes, lists the tools and optionally calls one. This is what
//! the MCP conformance suite's client scenarios drive (`scripts/conformance-client.sh`).

use agent_id_client::mcp::McpClient;
use agent_id_client::oauth::flow::{ClientIdentity, OAuthAgent};
use serde::Serialize;
use serde_json::{json, Value};
use url::Url;

use super::oauth_client::AgentParts;
use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

/// `agent-id mcp …`
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Connect to an MCP server, list its tools, optionally call one.
    Connect(ConnectArgs),
}

#[derive(clap::Args, Debug)]
pub struct ConnectArgs {
    /// A public client id, or an https URL of the agent's Client ID Metadata Document.
    #[arg(long, value_name = "ID_OR_URL", default_value = "agent-id-cli")]
    pub client_id: String,
    /// Call this tool after listing the tools.
    #[arg(long, value_name = "NAME")]
    pub call_tool: Option<String>,
    /// The tool's arguments, a JSON object.
    #[arg(
        long,
        value_name = "JSON",
        default_value = "{}",
        requires = "call_tool"
    )]
    pub arguments: String,
    /// The MCP server's URL (streamable HTTP endpoint).
    pub url: String,
}

pub async fn run(ctx: &Context, command: Command) -> Result<Output, Failure> {
    let Command::Connect(args) = command;
    let url = Url::parse(&args.url).map_err(|e| Failure::usage(format!("{}: {e}", args.url)))?;
    let arguments: Value = serde_json::from_str(&args.arguments)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| Failure::usage("--arguments must be a JSON object"))?;
    let client = ClientIdentity::parse(&args.client_id)?;
    let parts = AgentParts::load(ctx)?;
    let store = parts.store();
    let agent = OAuthAgent::new(&parts.client, &parts.key.key, Some(&store));
    let mut mcp = McpClient::new(&agent, url, client);
    let init = mcp.initialize().await?;
    let tools = mcp.request("tools/list", json!({})).await?;
    let called = match &args.call_tool {
        Some(name) => Some(
            mcp.request(
                "tools/call",
                json!({ "name": name, "arguments": arguments }),
            )
            .await?,
        ),
        None => None,
    };
    let shown = Connected {
        protocol_version: init.get("protocolVersion").cloned().unwrap_or(Value::Null),
        server: init.get("serverInfo").cloned().unwrap_or(Value::Null),
        tools: tools.get("tools").cloned().unwrap_or(Value::Null),
        call: called,
    };
    let mut human = format!(
        "connected to {} (MCP {})",
        shown
            .server
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("?"),
        shown.protocol_version.as_str().unwrap_or("?")
    );
    for tool in shown.tools.as_array().into_iter().flatten() {
        let name = tool.get("name").and_then(Value::as_str).unwrap_or("?");
        match tool.get("description").and_then(Value::as_str) {
            Some(desc) => human.push_str(&format!("\ntool {name}: {desc}")),
            None => human.push_str(&format!("\ntool {name}")),
        }
    }
    if let (Some(name), Some(result)) = (&args.call_tool, &shown.call) {
        human.push_str(&format!("\n{name} -> {result}"));
    }
    Output::new(&shown, human)
}

/// `--json`: the negotiated protocol version, the server's `serverInfo`, its tools, and the
/// called tool's result (the server's JSON as sent).
#[derive(Debug, Serialize)]
struct Connected {
    protocol_version: Value,
    server: Value,
    tools: Value,
    call: Option<Value>,
}
