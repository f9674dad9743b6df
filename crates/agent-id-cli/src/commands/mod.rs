//! The subcommands: one file each, one variant each in [`Command`], one arm each in [`run`].
//!
//! Adding a command: a file `commands/<name>.rs` with `pub struct Args` (clap) and
//! `pub async fn run(ctx: &Context, args: Args) -> Result<Output, Failure>`, its `mod` line, a
//! variant and a match arm below — each in the slot of its group, so parallel additions merge.

use clap::Subcommand;

use crate::context::Context;
use crate::exit::Failure;
use crate::output::Output;

mod authorize;
mod claim;
mod history;
mod keygen;
mod login;
mod logout;
mod overseer;
mod register;
mod rotate;
mod shown;
mod whoami;
// OAuth client and resources (token, request, mcp): `mod` lines below.
mod mcp;
mod oauth_client;
mod request;
mod token;

// HTTP message signatures (sign): `mod` lines below.
mod sign;

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate the agent's Ed25519 key into the key file (never overwrites one).
    Keygen(keygen::Args),
    /// Register a new agent with the key: sign the server's challenge, start a session.
    Register(register::Args),
    /// Log in with one DPoP proof signed by the key; saves the session.
    Login(login::Args),
    /// Show the agent and its subscription (the saved session).
    Whoami(whoami::Args),
    /// Replace the agent's key by a new one, proving both (the old one is kept until confirmed).
    Rotate(rotate::Args),
    /// End the saved session at the server and forget it.
    Logout(logout::Args),
    /// The agent's side of a claim by a human overseer or a shadow sponsor.
    #[command(subcommand)]
    Claim(claim::Command),
    /// List the OAuth authorizations the agent gave or was refused, newest first.
    History(history::Args),
    /// Show the agent's active overseer, if any.
    Overseer(overseer::Args),
    /// Approve an OAuth client's authorization request; prints the redirect URL with the code.
    Authorize(authorize::Args),
    // OAuth client and resources (token, request, mcp): variants below.
    /// Print an access token for a protected resource (runs the OAuth flow, or refreshes, or
    /// reuses a live one).
    Token(token::Args),
    /// Send a request to a protected resource with the agent's DPoP-bound token (curl-like).
    Request(request::Args),
    /// Talk to a protected MCP server (streamable HTTP) as the agent.
    #[command(subcommand)]
    Mcp(mcp::Command),
    // HTTP message signatures (sign): variants below.
    /// Print the Web Bot Auth headers (RFC 9421) that sign a request with the agent's key.
    Sign(sign::Args),
}

/// Runs one command.
pub async fn run(command: Command, ctx: &Context) -> Result<Output, Failure> {
    match command {
        Command::Keygen(args) => keygen::run(ctx, args).await,
        Command::Register(args) => register::run(ctx, args).await,
        Command::Login(args) => login::run(ctx, args).await,
        Command::Whoami(args) => whoami::run(ctx, args).await,
        Command::Rotate(args) => rotate::run(ctx, args).await,
        Command::Logout(args) => logout::run(ctx, args).await,
        Command::Claim(command) => claim::run(ctx, command).await,
        Command::History(args) => history::run(ctx, args).await,
        Command::Overseer(args) => overseer::run(ctx, args).await,
        Command::Authorize(args) => authorize::run(ctx, args).await,
        // OAuth client and resources (token, request, mcp): arms below.
        Command::Token(args) => token::run(ctx, args).await,
        Command::Request(args) => request::run(ctx, args).await,
        Command::Mcp(command) => mcp::run(ctx, command).await,
        // HTTP message signatures (sign): arms below.
        Command::Sign(args) => sign::run(ctx, args).await,
    }
}
