//! The command line: global options shared by every subcommand, and the top-level parser.

use std::path::PathBuf;

use clap::{Args, Parser};

use crate::commands::Command;
use agent_id_client::ServerUrl;

const AFTER_HELP: &str = "\
Exit codes: 0 ok, 1 refused by the server (its error code on stderr), 2 usage, 3 local error
(key file, permissions, state directory, I/O, network).

Secrets never go on the command line: the private key is read from a file (0600) and the session
from the per-server state directory. See docs/cli.md.";

/// `agent-id`: an agent's identity at an agent-id server — keys, registration, DPoP log-in, key
/// rotation, claims and OAuth consent — from a shell or any language.
#[derive(Debug, Parser)]
#[command(name = "agent-id", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts (before or after its name).
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The agent-id server's origin, e.g. https://id.example.com (http only for loopback).
    #[arg(long, env = "AGENT_ID_SERVER", global = true, value_name = "URL",
          value_parser = crate::server::parse)]
    pub server: Option<ServerUrl>,

    /// Print one JSON object on stdout (errors as one JSON object on stderr).
    #[arg(long, global = true)]
    pub json: bool,

    /// The agent's private key file [default: key.jwk in the server's state directory].
    #[arg(long, env = "AGENT_ID_KEY_FILE", global = true, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
}
