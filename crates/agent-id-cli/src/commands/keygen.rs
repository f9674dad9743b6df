//! `agent-id keygen`: a fresh Ed25519 key, saved `0600` to `key.jwk` of the server's state
//! directory (or `--key-file`). An existing key is never overwritten: losing it loses the agent.

use serde::Serialize;

use crate::context::Context;
use crate::exit::Failure;
use crate::keyfile;
use crate::output::Output;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// `--json`: the file, the public key and its RFC 7638 thumbprint (never the private key).
#[derive(Debug, Serialize)]
struct Generated {
    key_file: String,
    public_key: String,
    thumbprint: String,
}

pub async fn run(ctx: &Context, _args: Args) -> Result<Output, Failure> {
    let (key, path) = match ctx.key_file() {
        Some(path) => {
            let key = agent_id_client::AgentKey::generate()?;
            keyfile::save_new(path, &key)?;
            (key, path.to_owned())
        }
        None => {
            let profile = ctx.profile()?;
            (profile.generate_key()?, profile.key_path())
        }
    };
    let shown = Generated {
        key_file: path.display().to_string(),
        public_key: key.public_b64(),
        thumbprint: key.thumbprint(),
    };
    let human = format!(
        "generated an Ed25519 key in {}\npublic key: {}\nthumbprint: {}",
        shown.key_file, shown.public_key, shown.thumbprint
    );
    Output::new(&shown, human)
}
