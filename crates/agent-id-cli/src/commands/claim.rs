//! `agent-id claim accept <challenge_id> --overseer-id ID`: the agent's side of a claim by a human
//! overseer, or the confirmation of a shadow claim — the same call, told apart by the server.
//! Authenticated by the saved session, or by a DPoP proof when there is none.

use clap::Subcommand;
use serde::Serialize;

use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Accept a claim (or confirm a shadow claim) whose challenge id the overseer gave you.
    Accept(AcceptArgs),
}

#[derive(Debug, clap::Args)]
pub struct AcceptArgs {
    /// The challenge id the overseer (or the sponsor's page) gave the agent.
    #[arg(value_name = "CHALLENGE_ID")]
    pub challenge_id: String,
    /// The overseer id that came with the challenge (the shadow id for a shadow claim).
    #[arg(long, value_name = "ID")]
    pub overseer_id: String,
}

/// `--json`: `status` (`completed` for a human claim, `awaiting-payment` for a shadow claim),
/// the agent, the overseer, and the shadow overseer id (`null` for a human claim).
#[derive(Debug, Serialize)]
struct Accepted {
    status: String,
    agent_id: String,
    overseer_id: String,
    shadow_overseer_id: Option<String>,
}

pub async fn run(ctx: &Context, command: Command) -> Result<Output, Failure> {
    match command {
        Command::Accept(args) => accept(ctx, args).await,
    }
}

async fn accept(ctx: &Context, args: AcceptArgs) -> Result<Output, Failure> {
    let client = ctx.client()?;
    let auth = ctx.session_or_key(&client)?;
    let accepted = client
        .accept_claim(auth.auth(), &args.challenge_id, &args.overseer_id)
        .await?;
    let human = match &accepted.shadow_overseer_id {
        Some(_) => format!(
            "confirmed the shadow claim of agent {} ({}): {}",
            accepted.agent_id, accepted.status, accepted.message
        ),
        None => format!(
            "agent {} is now overseen by {} ({})",
            accepted.agent_id, accepted.overseer_id, accepted.status
        ),
    };
    let shown = Accepted {
        status: accepted.status,
        agent_id: accepted.agent_id,
        overseer_id: accepted.overseer_id,
        shadow_overseer_id: accepted.shadow_overseer_id,
    };
    Output::new(&shown, human)
}
