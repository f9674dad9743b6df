//! `agent-id register --name N [--description D]`: registers the key as a new agent (the
//! library checks the server's `challenge_data` before signing it) and saves the first session.

use serde::Serialize;

use super::shown::{Agent, SessionTimes};
use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The agent's display name (1..128 characters).
    #[arg(long, value_name = "N")]
    pub name: String,
    /// What the agent does (up to 1024 characters).
    #[arg(long, value_name = "D")]
    pub description: Option<String>,
}

/// `--json`: the agent as registered and when its session ends.
#[derive(Debug, Serialize)]
struct Registered {
    agent: Agent,
    #[serde(flatten)]
    session: SessionTimes,
}

pub async fn run(ctx: &Context, args: Args) -> Result<Output, Failure> {
    let loaded = ctx.key()?;
    let client = ctx.client()?;
    let profile = ctx.profile()?;
    let registered = client
        .register(&loaded.key, &args.name, args.description.as_deref())
        .await?;
    profile.save_session(&registered.session)?;
    let shown = Registered {
        agent: Agent::from(registered.agent),
        session: SessionTimes::of(&registered.session, client.now_s()),
    };
    let human = format!(
        "registered agent {} ({}) at {}\nlogged in; the session is saved in {}",
        shown.agent.id,
        shown.agent.name,
        client.server(),
        profile.session_path().display()
    );
    Output::new(&shown, human)
}
