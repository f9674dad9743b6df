//! `agent-id login`: one DPoP proof signed by the key (the nonce retry is the library's), and the
//! session saved `0600` in the server's state directory.

use serde::Serialize;

use super::shown::SessionTimes;
use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The agent id; the server then checks that the key is this agent's current key.
    #[arg(long, value_name = "ID")]
    pub agent_id: Option<String>,
}

/// `--json`: which agent, and when the session ends.
#[derive(Debug, Serialize)]
struct LoggedIn {
    agent_id: String,
    #[serde(flatten)]
    session: SessionTimes,
}

pub async fn run(ctx: &Context, args: Args) -> Result<Output, Failure> {
    let loaded = ctx.key()?;
    let client = ctx.client()?;
    let profile = ctx.profile()?;
    let session = client.login(&loaded.key, args.agent_id.as_deref()).await?;
    profile.save_session(&session)?;
    let shown = LoggedIn {
        agent_id: session.agent_id.clone(),
        session: SessionTimes::of(&session, client.now_s()),
    };
    let human = format!(
        "logged in as agent {} at {} (session valid for {} s)",
        shown.agent_id,
        client.server(),
        shown.session.expires_in
    );
    Output::new(&shown, human)
}
