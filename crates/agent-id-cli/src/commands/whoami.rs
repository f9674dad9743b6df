//! `agent-id whoami`: the agent and its subscription summary, with the saved session.

use serde::Serialize;
use serde_json::Value;

use super::shown::Agent;
use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// `--json`: the agent and the server's agent subscription summary (api.md 1.9) as sent.
#[derive(Debug, Serialize)]
struct WhoAmI {
    agent: Agent,
    subscription: Value,
}

pub async fn run(ctx: &Context, _args: Args) -> Result<Output, Failure> {
    let client = ctx.client()?;
    let session = ctx.session(&client)?;
    let me = client.me(&session).await?;
    let shown = WhoAmI {
        agent: Agent::from(me.agent),
        subscription: me.subscription,
    };
    let tier = shown
        .subscription
        .get("tier")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let mut human = format!(
        "agent {} ({}) at {}\npublic key: {}\ntier: {tier}",
        shown.agent.id,
        shown.agent.name,
        client.server(),
        shown.agent.public_key
    );
    if let Some(description) = &shown.agent.description {
        human.push_str(&format!("\ndescription: {description}"));
    }
    Output::new(&shown, human)
}
