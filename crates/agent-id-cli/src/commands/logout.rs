//! `agent-id logout`: ends the saved session at the server and deletes it locally.

use serde::Serialize;

use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// `--json`: `{"logged_out": true}`.
#[derive(Debug, Serialize)]
struct LoggedOut {
    logged_out: bool,
}

pub async fn run(ctx: &Context, _args: Args) -> Result<Output, Failure> {
    let client = ctx.client()?;
    let profile = ctx.profile()?;
    let session = profile.load_session()?;
    let human = match client.logout(&session).await {
        Ok(()) => "logged out",
        // Already dead at the server (expired, superseded by a rotation, logged out elsewhere):
        // the goal is reached; forget it too.
        Err(err) if err.server_code() == Some("invalid_session") => {
            "the session had already ended at the server; forgotten"
        }
        Err(err) => return Err(err.into()),
    };
    profile.clear_session()?;
    Output::new(&LoggedOut { logged_out: true }, human)
}
