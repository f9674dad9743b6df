//! `agent-id overseer`: the agent's active overseer, a human or a shadow sponsor, or none.

use agent_id_client::OverseerInfo;
use serde::Serialize;

use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// The overseer (api.md's `GET /v1/agents/me/overseer` fields; never an e-mail address).
#[derive(Debug, Serialize)]
struct Overseer {
    id: String,
    name: Option<String>,
    is_shadow: bool,
    tier: String,
    since: Option<String>,
    valid_until: Option<String>,
}

impl From<OverseerInfo> for Overseer {
    fn from(o: OverseerInfo) -> Self {
        Self {
            id: o.id,
            name: o.name,
            is_shadow: o.is_shadow,
            tier: o.tier,
            since: o.since,
            valid_until: o.valid_until,
        }
    }
}

/// `--json`: `{"overseer": {...} | null}`.
#[derive(Debug, Serialize)]
struct Shown {
    overseer: Option<Overseer>,
}

pub async fn run(ctx: &Context, _args: Args) -> Result<Output, Failure> {
    let client = ctx.client()?;
    let session = ctx.session(&client)?;
    let shown = Shown {
        overseer: client.overseer(&session).await?.map(Overseer::from),
    };
    let human = match &shown.overseer {
        None => "no active overseer".to_owned(),
        Some(o) if o.is_shadow => format!(
            "sponsored by a shadow overseer {} (tier {}) until {}",
            o.id,
            o.tier,
            o.valid_until.as_deref().unwrap_or("-")
        ),
        Some(o) => format!(
            "overseen by {} ({}), tier {}, since {}",
            o.name.as_deref().unwrap_or("-"),
            o.id,
            o.tier,
            o.since.as_deref().unwrap_or("-")
        ),
    };
    Output::new(&shown, human)
}
