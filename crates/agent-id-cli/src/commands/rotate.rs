//! `agent-id rotate`: replaces the agent's key, proving both keys (the new key signs the
//! challenge, the old key signs the DPoP proof). Crash-safe through the library's
//! [`Profile::rotate`](agent_id_client::Profile::rotate): the new key is written to
//! `key.next.jwk` first and replaces `key.jwk` only once the server confirms;
//! `agent-id rotate --recover` finishes a rotation that was interrupted.

use agent_id_client::Recovery;
use serde::Serialize;

use super::shown::{Agent, SessionTimes};
use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Finish a rotation that was interrupted (a `key.next.jwk` was left behind): keep the new
    /// key if the server has it, else discard it.
    #[arg(long)]
    pub recover: bool,
}

/// `--json` of a rotation: the agent, its new and previous public keys, the new session's times.
#[derive(Debug, Serialize)]
struct Rotated {
    agent: Agent,
    public_key: String,
    previous_public_key: String,
    #[serde(flatten)]
    session: SessionTimes,
}

/// `--json` of `--recover`: `nothing_pending`, `promoted` (the new key is now the key) or
/// `discarded` (the server still has the old key, which stays).
#[derive(Debug, Serialize)]
struct Recovered {
    recovery: &'static str,
}

pub async fn run(ctx: &Context, args: Args) -> Result<Output, Failure> {
    if ctx.key_file().is_some() {
        return Err(Failure::usage(
            "rotate works on the key of the server's state directory (so that an interrupted \
             rotation can be recovered); --key-file cannot be used with it",
        ));
    }
    let client = ctx.client()?;
    let profile = ctx.profile()?;
    if args.recover {
        let (recovery, human) = match profile.recover_rotation(&client).await? {
            Recovery::NothingPending => ("nothing_pending", "no rotation was pending"),
            Recovery::Promoted => (
                "promoted",
                "the server had switched to the new key: it is now the key, and a new session is saved",
            ),
            Recovery::Discarded => (
                "discarded",
                "the server never switched: the new key was discarded and the old key stays",
            ),
        };
        return Output::new(&Recovered { recovery }, human);
    }
    let session = ctx.session(&client)?;
    let previous_public_key = profile.load_key()?.public_b64();
    let rotated = profile.rotate(&client, &session).await?;
    let shown = Rotated {
        public_key: rotated.agent.public_key.clone(),
        agent: Agent::from(rotated.agent),
        previous_public_key,
        session: SessionTimes::of(&rotated.session, client.now_s()),
    };
    let human = format!(
        "rotated the key of agent {}\nnew public key: {}\nthe previous key no longer works; a new session is saved",
        shown.agent.id, shown.public_key
    );
    Output::new(&shown, human)
}
